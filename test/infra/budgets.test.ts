/**
 * Each Lambda's minified bundle (infra/bundles.ts) within its budget (infra/bundle-budgets.ts),
 * and no HTTP or OpenAPI code in a scheduled function. On failure the message lists the
 * bundle's largest packages: the place to look for what grew.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORBIDDEN_IN_SCHEDULED, LAMBDA_BUDGETS, type LambdaKey } from '../../infra/bundle-budgets.js';
import { buildLambda, packageOf, REPO, type BuiltBundle } from '../../infra/bundles.js';
import { ORCHESTRY_FUNCTIONS } from './support.js';

const keys = Object.keys(LAMBDA_BUDGETS) as LambdaKey[];
const scheduled = keys.filter((key) => LAMBDA_BUDGETS[key].kind === 'scheduled');

let outDir: string;
const bundles = new Map<LambdaKey, Promise<BuiltBundle>>();

beforeAll(() => {
  outDir = mkdtempSync(path.join(REPO, 'node_modules/.cache/orchestry-budgets-'));
  for (const key of keys) {
    const bundle = buildLambda(LAMBDA_BUDGETS[key].source, path.join(outDir, key), LAMBDA_BUDGETS[key].driver);
    // Each test awaits its own; an unobserved rejection must not fail the others first.
    bundle.catch(() => undefined);
    bundles.set(key, bundle);
  }
});

afterAll(() => {
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

const largest = (bundle: BuiltBundle) =>
  bundle.packages
    .slice(0, 8)
    .map((p) => `${p.package} ${(p.bytes / 1000).toFixed(1)} kB`)
    .join(', ');

describe('bundle budgets', () => {
  it('has a budget for every function the stacks define, built from its handler', () => {
    const sources = Object.values(ORCHESTRY_FUNCTIONS).map((f) => `${f.handler.slice(0, f.handler.lastIndexOf('.'))}.ts`);
    expect(keys.map((key) => LAMBDA_BUDGETS[key].source).sort()).toEqual(sources.sort());
  });

  it.each(keys)('%s stays within its budget', async (key) => {
    const bundle = await bundles.get(key)!;
    const { budgetBytes } = LAMBDA_BUDGETS[key];
    expect(bundle.bytes, `${key} is ${bundle.bytes} bytes, over its budget of ${budgetBytes}; largest: ${largest(bundle)}`).toBeLessThanOrEqual(
      budgetBytes,
    );
  }, 60_000);

  it.each(keys)('%s ships only the database driver its stack chose', async (key) => {
    const bundle = await bundles.get(key)!;
    const other = LAMBDA_BUDGETS[key].driver === 'pg' ? ['@neondatabase/serverless', 'ws'] : ['pg', 'pg-pool'];
    const packages = new Set(bundle.inputs.map(packageOf));
    expect(other.filter((p) => packages.has(p))).toEqual([]);
    expect(packages.has(LAMBDA_BUDGETS[key].driver === 'pg' ? 'pg' : '@neondatabase/serverless')).toBe(true);
  }, 60_000);

  it.each(scheduled)('%s carries no HTTP or OpenAPI code', async (key) => {
    const bundle = await bundles.get(key)!;
    const found = [...new Set(bundle.inputs.map(packageOf).filter((p) => FORBIDDEN_IN_SCHEDULED.includes(p)))];
    expect(found, `${key} bundles ${found.join(', ')}`).toEqual([]);
  }, 60_000);
});
