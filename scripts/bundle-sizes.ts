/**
 * Builds every function as `sst deploy` would (offline, through infra/synth.ts) and prints
 * each bundle's size unzipped and zipped, the two numbers Lambda limits (250 MB and, for a
 * direct upload, 50 MB). Run: `npx tsx scripts/bundle-sizes.ts`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import type { Function } from 'sst/constructs';
import { bundleFunction, synthesize, type StackName } from '../infra/synth.js';

const FUNCTIONS: Array<{ stack: StackName; id: string }> = [
  { stack: 'Api', id: 'ApiHandler' },
  { stack: 'Jobs', id: 'Scaler' },
  { stack: 'Jobs', id: 'HealthProber' },
  { stack: 'Jobs', id: 'MetricRollup' },
  { stack: 'Jobs', id: 'Cleanup' },
  { stack: 'Database', id: 'Migrate' },
];

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : [full];
  });
}

const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

const outDir = mkdtempSync(path.join(tmpdir(), 'orchestry-bundle-sizes-'));
try {
  const synth = await synthesize({ stage: 'sizes', outDir });
  const rows: string[][] = [];
  for (const { stack, id } of FUNCTIONS) {
    const bundle = await bundleFunction(synth.stacks[stack].node.findChild(id) as Function);
    const files = filesUnder(bundle.dir);
    const unzipped = files.reduce((sum, f) => sum + statSync(f).size, 0);
    // A zip stores each file deflated; the per-entry headers are a few dozen bytes.
    const zipped = files.reduce((sum, f) => sum + deflateRawSync(readFileSync(f), { level: 9 }).length, 0);
    rows.push([bundle.handler, String(files.length), megabytes(unzipped), megabytes(zipped)]);
  }
  const header = ['handler', 'files', 'unzipped', 'zipped'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log([line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n'));
} finally {
  rmSync(outDir, { recursive: true, force: true });
}
