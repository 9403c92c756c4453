/**
 * `npm run bench` runs and reports: every suite at its tiny size through the real command
 * (databases created and dropped on the test server, the API and probe targets in their own
 * processes, the Lambda bundled), and the results file has the documented shape. No figure is
 * judged here: speed lives in bench/, and tiny sizes measure nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { shapeProblems } from '../../bench/lib/report.js';
import { SUITE_NAMES, type BenchResults } from '../../bench/lib/types.js';
import { DEFAULT_TEST_DATABASE_URL, describeIfAvailable, testTargets } from '../support/db.js';

const run = promisify(execFile);
const REPO = path.resolve(import.meta.dirname, '../..');
const serverUrl = process.env.TEST_DATABASE_URL || DEFAULT_TEST_DATABASE_URL;
const server = testTargets().find((t) => t.target === 'pg')!;

async function benchDatabases(): Promise<string[]> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE 'orchestry_bench_%'`);
    return rows.map((r) => r.datname);
  } finally {
    await client.end();
  }
}

/**
 * Runs the bench command as a user would, with the test server as its database server.
 * Bench databases carry the bench process's pid, which is how this run's are told apart
 * from those of a benchmark someone else runs on the same server at the same time.
 */
async function bench(args: string[]): Promise<{ stdout: string; pid: number }> {
  const running = run(process.execPath, ['--import', 'tsx', 'bench/run.ts', ...args], {
    cwd: REPO,
    env: { ...process.env, BENCH_DATABASE_URL: serverUrl, FORCE_COLOR: '0' },
    timeout: 480_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  const pid = running.child.pid!;
  const { stdout } = await running;
  return { stdout, pid };
}

describeIfAvailable('npm run bench', server, () => {
  let dir: string;
  let results: BenchResults;
  let stdout: string;
  let benchPid: number;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'orchestry-bench-'));
    ({ stdout, pid: benchPid } = await bench(['--tiny', '--out', path.join(dir, 'tiny.json')]));
    results = JSON.parse(readFileSync(path.join(dir, 'tiny.json'), 'utf8')) as BenchResults;
  }, 500_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs every suite at its tiny size and writes well-formed results', () => {
    expect(results.failures ?? {}).toEqual({});
    expect(shapeProblems(results)).toEqual([]);
    expect(Object.keys(results.suites).sort()).toEqual([...SUITE_NAMES].sort());
    expect(results.tiny).toBe(true);
    expect(results.machine.cpus).toBeGreaterThan(0);
  });

  it('reports what each suite counted besides its figure', () => {
    const { scaler_tick_1k, scaler_tick_10k, cold_start, prober_pass } = results.suites;
    // The set-based tick sends as many statements for more apps; the loop one more per app.
    expect(scaler_tick_1k!.statements_per_tick).toBe(scaler_tick_10k!.statements_per_tick);
    expect(scaler_tick_10k!.reference_statements_per_tick).toBeGreaterThan(scaler_tick_1k!.reference_statements_per_tick as number);
    expect(scaler_tick_1k!.decisions_identical).toBe(true);
    expect(cold_start!.bundle_bytes).toBeGreaterThan(cold_start!.reference_bundle_bytes as number);
    expect(prober_pass!.targets).toMatchObject({ ok: expect.any(Number), slow: expect.any(Number) });
  });

  it('prints the table with every suite and leaves no database behind', async () => {
    for (const name of SUITE_NAMES) expect(stdout).toContain(name);
    expect((await benchDatabases()).filter((name) => name.includes(`_${benchPid}_`))).toEqual([]);
  });

  it('refuses an unknown suite, naming the ones there are', async () => {
    const failure = await bench(['--only', 'scaler_tick_1m', '--tiny']).catch((e: { code: number; stderr: string }) => e);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toMatch(/unknown suite "scaler_tick_1m".*scaler_tick_1k/);
  });
});
