/**
 * `npm run bench [-- --only NAME[,NAME]] [--tiny] [--out FILE]`: every suite (or the ones
 * named), each timing Orchestry and its reference in the same run; a table on stdout, progress
 * on stderr. A full run writes bench/results/latest.json and latest.md (the README's table);
 * runs with --only or --tiny write only where --out says, so a partial or tiny run never
 * replaces the full results.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { checkServer, serverUrlFromEnv } from './lib/db.js';
import { cpuCalibrationMs, loadAverage, machineInfo } from './lib/machine.js';
import { markdownTable, terminalTable } from './lib/report.js';
import { round } from './lib/stats.js';
import { SUITE_NAMES, type BenchContext, type BenchResults, type Suite, type SuiteName, type SuiteRun } from './lib/types.js';
import { apiReadsSuite } from './suites/api-reads.js';
import { coldStartSuite } from './suites/cold-start.js';
import { ingestionSuite } from './suites/ingestion.js';
import { proberSuite } from './suites/prober.js';
import { scalerTickSuite } from './suites/scaler-tick.js';
import { specLimitsSuite } from './suites/spec-limits.js';

export const RESULTS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), 'results');

const SUITES: Suite[] = [scalerTickSuite, ingestionSuite, apiReadsSuite, coldStartSuite, proberSuite, specLimitsSuite];

export interface RunOptions {
  only?: readonly SuiteName[] | undefined;
  tiny?: boolean | undefined;
  log?: ((message: string) => void) | undefined;
}

/** Runs the suites in order; a suite that throws is reported as failed and the others still run. */
export async function runBench(options: RunOptions = {}): Promise<BenchResults> {
  const only = new Set<SuiteName>(options.only?.length ? options.only : SUITE_NAMES);
  const log = options.log ?? ((m: string) => process.stderr.write(`[bench] ${m}\n`));
  const serverUrl = serverUrlFromEnv();
  const postgres = await checkServer(serverUrl);
  const ctx: BenchContext = { tiny: options.tiny ?? false, serverUrl, log };
  const startedAt = new Date();
  const began = performance.now();
  const results: BenchResults = {
    machine: machineInfo(postgres),
    started_at: startedAt.toISOString(),
    duration_seconds: 0,
    tiny: ctx.tiny,
    suites: {},
  };
  for (const suite of SUITES) {
    const wanted = suite.names.filter((n) => only.has(n));
    if (wanted.length === 0) continue;
    const suiteBegan = performance.now();
    let outcome: SuiteRun;
    try {
      outcome = await suite.run(ctx, only);
    } catch (e) {
      outcome = { results: {}, failures: Object.fromEntries(wanted.map((name) => [name, e])) };
    }
    Object.assign(results.suites, outcome.results);
    for (const [name, error] of Object.entries(outcome.failures ?? {}) as Array<[SuiteName, unknown]>) {
      log(`${name} failed: ${errorText(error, true)}`);
      results.failures ??= {};
      results.failures[name] = errorText(error, false);
    }
    log(`${wanted.join(', ')}: ${round((performance.now() - suiteBegan) / 1000, 3)} s`);
  }
  results.duration_seconds = round((performance.now() - began) / 1000, 4);
  results.machine.load_average_at_end = loadAverage();
  results.machine.cpu_calibration_ms_at_end = cpuCalibrationMs();
  return results;
}

/** The error's message and its causes (a DATABASE_ERROR's driver error), with the stack when asked. */
function errorText(error: unknown, stack: boolean): string {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && depth < 4; depth++) {
    if (e instanceof Error) {
      parts.push(stack && depth === 0 ? (e.stack ?? e.message) : `${e.name}: ${e.message}`);
      e = e.cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join('\n  caused by ');
}

function suiteList(value: string, previous: SuiteName[] = []): SuiteName[] {
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!(SUITE_NAMES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(`unknown suite "${name}"; the suites are ${SUITE_NAMES.join(', ')}`);
    }
  }
  return [...previous, ...(names as SuiteName[])];
}

function write(file: string, text: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('bench')
    .description('Orchestry against a reference doing the same work, in the same run')
    .option('--only <names>', `suites to run, comma-separated (${SUITE_NAMES.join(', ')})`, suiteList)
    .option('--tiny', 'tiny sizes: checks that every suite runs and reports; measures nothing')
    .option('--out <file>', 'where to write the JSON results (a full run writes bench/results/latest.json)')
    .parse(argv);
  const opts = program.opts<{ only?: SuiteName[]; tiny?: boolean; out?: string }>();
  const results = await runBench({ only: opts.only, tiny: opts.tiny });
  const json = JSON.stringify(results, null, 2) + '\n';
  const full = !opts.tiny && !opts.only;
  const out = opts.out ? resolve(opts.out) : full ? resolve(RESULTS_DIR, 'latest.json') : undefined;
  if (out) write(out, json);
  if (full && !opts.out) write(resolve(RESULTS_DIR, 'latest.md'), markdownTable(results) + '\n');
  process.stdout.write(terminalTable(results) + '\n');
  process.stdout.write(`${results.duration_seconds} s${out ? `; results in ${out}` : ''}\n`);
  if (results.failures) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv).catch((e) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
