/**
 * Every function through SST's real deploy build (esbuild, copyFiles), then loaded the way
 * Lambda loads it: a fresh Node process in the bundle's directory, nothing installed beside
 * it, no AWS credentials. A bundle that imports a package it does not contain, or does I/O
 * when imported, fails here rather than on its first invocation.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Function } from 'sst/constructs';
import { REPO_ROOT, bundleFunction, synthesize, type Bundle } from '../../infra/synth.js';
import { ORCHESTRY_FUNCTIONS, type FunctionKey } from './support.js';

const run = promisify(execFile);
const keys = Object.keys(ORCHESTRY_FUNCTIONS) as FunctionKey[];

let outDir: string;
const bundles = new Map<FunctionKey, Promise<Bundle>>();

beforeAll(async () => {
  outDir = mkdtempSync(path.join(tmpdir(), 'orchestry-bundles-'));
  const synth = await synthesize({ stage: 'bundle', outDir });
  for (const key of keys) {
    const { stack, id } = ORCHESTRY_FUNCTIONS[key];
    const bundle = bundleFunction(synth.stacks[stack].node.findChild(id) as Function);
    // Each test awaits its own; an unobserved rejection must not fail the others first.
    bundle.catch(() => undefined);
    bundles.set(key, bundle);
  }
}, 120_000);

afterAll(() => {
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

/** Import the bundle in a clean process and report what its `handler` export is. */
async function loadInLambdaLikeProcess(bundle: Bundle): Promise<string> {
  const probe = `import(${JSON.stringify(bundle.entry)}).then((m) => console.log(typeof m.handler))`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], {
    cwd: bundle.dir,
    env: { PATH: process.env.PATH ?? '', HOME: bundle.dir, AWS_REGION: 'eu-west-1', LAMBDA_TASK_ROOT: bundle.dir },
    timeout: 30_000,
  });
  return stdout.trim();
}

describe('function bundles', () => {
  it.each(keys)('%s bundles its handler and loads with nothing installed beside it', async (key) => {
    const bundle = await bundles.get(key)!;
    expect(bundle.handler).toBe(ORCHESTRY_FUNCTIONS[key].handler);
    expect(readdirSync(bundle.dir)).not.toContain('node_modules');
    expect(await loadInLambdaLikeProcess(bundle)).toBe('function');
  }, 120_000);

  // PGlite is only for the dev server and tests; db/client.ts imports it so that esbuild leaves
  // it out (521 kB of the API's minified bundle, docs/benchmarks.md).
  it.each(keys)('%s bundle leaves PGlite out', async (key) => {
    const bundle = await bundles.get(key)!;
    expect(readFileSync(bundle.entry, 'utf8')).not.toContain('@electric-sql/pglite');
  }, 120_000);

  it('carries every migration into the migrate bundle', async () => {
    const bundle = await bundles.get('migrate')!;
    const shipped = readdirSync(path.join(bundle.dir, 'migrations')).sort();
    expect(shipped).toEqual(readdirSync(path.join(REPO_ROOT, 'migrations')).sort());
    expect(readdirSync(path.join(bundle.dir, 'migrations', 'meta'))).toContain('_journal.json');
  }, 120_000);
});
