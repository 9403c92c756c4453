/**
 * Builds every Lambda minified (infra/bundles.ts) and prints each bundle's size against its
 * budget and issue 17's goal (infra/bundle-budgets.ts), with its largest packages.
 * Run: `npm run bundles`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { LAMBDA_BUDGETS, type LambdaKey } from '../infra/bundle-budgets.js';
import { buildLambda, REPO } from '../infra/bundles.js';

const kB = (bytes: number) => `${(bytes / 1000).toFixed(1)} kB`;

// Inside the repository, so that @aws-sdk/* resolves as it does from the Lambda runtime.
const outDir = mkdtempSync(path.join(REPO, 'node_modules/.cache/orchestry-bundles-'));
try {
  const rows: string[][] = [];
  for (const [key, budget] of Object.entries(LAMBDA_BUDGETS) as Array<[LambdaKey, (typeof LAMBDA_BUDGETS)[LambdaKey]]>) {
    const bundle = await buildLambda(budget.source, path.join(outDir, key), budget.driver);
    const largest = bundle.packages.slice(0, 5).map((p) => `${p.package} ${kB(p.bytes)}`);
    rows.push([key, kB(bundle.bytes), kB(bundle.entryBytes), String(bundle.files.length), kB(budget.budgetBytes), kB(budget.goalBytes), bundle.bytes <= budget.goalBytes ? 'met' : 'missed', largest.join(', ')]);
  }
  const header = ['function', 'bytes', 'entry', 'files', 'budget', 'goal', 'goal met', 'largest'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log([line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n'));
} finally {
  rmSync(outDir, { recursive: true, force: true });
}
