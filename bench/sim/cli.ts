/**
 * `npm run sim -- [--trace FILE] [--json] [--markdown] [--bounds]`: Orchestry's decide() against
 * an HPA-style baseline, the legacy scaler and a clairvoyant oracle, on one trace or on every
 * trace in bench/traces/; `--bounds` prints instead the fewest replica-seconds the threshold rules
 * allow any scaler (bench/sim/bounds.ts).
 */
import { readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { Command } from 'commander';
import pc from 'picocolors';
import { blindBound, ruleBound } from './bounds.js';
import { allowedViolationSeconds, checkGoals } from './goals.js';
import { SCALER_NAMES, simulate, type SimulationResult } from './simulate.js';
import { readTrace } from './trace.js';

const TRACES_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'traces');
const COLUMNS = ['slo_violation_seconds', 'replica_seconds', 'oracle_ratio', 'scale_changes'] as const;

export interface SimOptions {
  trace?: string;
  json?: boolean;
  markdown?: boolean;
  bounds?: boolean;
}

function tableOf(result: SimulationResult): string {
  const table = new Table({ head: ['scaler', ...COLUMNS] });
  for (const name of SCALER_NAMES) {
    const r = result.results[name];
    table.push([name, ...COLUMNS.map((c) => String(r[c]))]);
  }
  const goals = checkGoals(result)
    .map((g) => `${g.met ? pc.green('met') : pc.red('MISSED')} ${g.goal}: ${g.detail}`)
    .join('\n');
  return `${pc.bold(result.trace)}\n${table.toString()}\n${goals}`;
}

function markdownOf(result: SimulationResult): string {
  const rows = SCALER_NAMES.map((name) => {
    const r = result.results[name];
    return `| ${name} | ${COLUMNS.map((c) => r[c]).join(' | ')} |`;
  });
  return [`**${result.trace}**`, '', `| scaler | ${COLUMNS.join(' | ')} |`, `| --- |${' ---: |'.repeat(COLUMNS.length)}`, ...rows].join('\n');
}

/** What the command prints for these options. */
export function runSim(options: SimOptions): string {
  const files = options.trace
    ? [options.trace]
    : readdirSync(TRACES_DIR)
        .filter((f) => f.endsWith('.csv'))
        .sort()
        .map((f) => join(TRACES_DIR, f));
  const traces = files.map((file) => {
    const trace = readTrace(file);
    return options.trace ? { ...trace, name: file } : trace;
  });
  if (options.bounds) {
    const bounds = traces.map((trace) => {
      const rules = ruleBound(trace);
      const blind = blindBound(trace, rules.oracle_replica_seconds, allowedViolationSeconds(simulate(trace)));
      return { ...rules, ...blind };
    });
    if (options.json) return JSON.stringify(options.trace ? bounds[0] : bounds);
    const table = new Table({
      head: ['trace', 'oracle_replica_seconds', 'bound_oracle_ratio', 'load_autocorrelation', 'allowed_violation_seconds', 'blind_oracle_ratio'],
    });
    for (const b of bounds) {
      table.push([b.trace, b.oracle_replica_seconds, b.bound_oracle_ratio, b.load_autocorrelation, b.allowed_violation_seconds, b.blind_oracle_ratio ?? '-']);
    }
    return [
      table.toString(),
      'bound_oracle_ratio: the fewest replica-seconds any scaler obeying the threshold rules can spend (dynamic program, clairvoyant).',
      'blind_oracle_ratio: on a memoryless trace (|load_autocorrelation| < 0.1), the fewest any scaler that cannot see a second',
      'before it happens can expect to spend while violating the SLO in no more than allowed_violation_seconds.',
    ].join('\n');
  }
  const results = traces.map(simulate);
  if (options.json) return JSON.stringify(options.trace ? results[0] : results);
  return results.map(options.markdown ? markdownOf : tableOf).join('\n\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  new Command()
    .name('sim')
    .description('Simulate Orchestry, an HPA-style baseline, the legacy scaler and an oracle over rps traces')
    .option('--trace <file>', 'a t,rps CSV (default: every trace in bench/traces/)')
    .option('--json', 'print {"trace", "results"} as JSON instead of tables')
    .option('--markdown', 'print Markdown tables (as in docs/scaling.md)')
    .option('--bounds', 'print the fewest replica-seconds the threshold rules allow any scaler')
    .action((options: SimOptions) => {
      try {
        process.stdout.write(`${runSim(options)}\n`);
      } catch (error) {
        process.stderr.write(`sim: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
      }
    })
    .parse();
}
