/**
 * `npm run sim -- [--trace FILE] [--json] [--markdown] [--bounds [--allow-violations N]] [--frontier [--out DIR]]`: Orchestry's decide() against
 * an HPA-style baseline, the legacy scaler and a clairvoyant oracle, on one trace or on every
 * trace in bench/traces/ and the real traces in ../shared/traces/real/ (skipped with a note when
 * that directory is absent); `--bounds` prints instead the fewest replica-seconds the threshold
 * rules allow any scaler (bench/sim/bounds.ts).
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Table from 'cli-table3';
import { Command } from 'commander';
import pc from 'picocolors';
import { blindBound, ruleBound, stabilizedBound } from './bounds.js';
import { frontier, frontierSvg, type Frontier } from './frontier.js';
import { allowedViolationSeconds, checkGoals } from './goals.js';
import { SCALER_NAMES, simulate, type ScalerResult, type SimulationResult } from './simulate.js';
import { readTrace, type Trace } from './trace.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const TRACES_DIR = join(REPO_ROOT, 'bench', 'traces');
/**
 * The three real public traces (NASA-HTTP, WorldCup98, Azure LLM inference; SOURCES.md there
 * says where each comes from) live beside the repository, not in it: /work/shared/traces/real
 * seen from a checkout in /work/<anything>.
 */
export const REAL_TRACES_DIR = resolve(REPO_ROOT, '..', 'shared', 'traces', 'real');
export const FRONTIER_DIR = join(REPO_ROOT, 'docs', 'img');

const COLUMNS = ['slo_violation_seconds', 'replica_seconds', 'oracle_ratio', 'rules_bound_ratio', 'scale_changes', 'reversals', 'reaction_seconds'] as const;

export interface SimOptions {
  trace?: string;
  json?: boolean;
  markdown?: boolean;
  bounds?: boolean;
  /** --bounds: the violation seconds the stabilized bound allows (default: Orchestry's own in this run). */
  allowViolations?: string;
  /** Sweep each scaler's target and write docs/img/frontier-<trace>.svg (or into `out`). */
  frontier?: boolean;
  out?: string;
  /** Where the real traces are looked for (tests point it elsewhere). */
  realDir?: string;
}

const csvFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .map((f) => join(dir, f));

export interface TraceSet {
  traces: Trace[];
  /** Why some traces were left out, for people (never part of --json output). */
  notes: string[];
}

/** The traces a run covers: the one given, or bench/traces/*.csv and then the real ones if present. */
export function tracesFor(options: SimOptions): TraceSet {
  if (options.trace) return { traces: [{ ...readTrace(options.trace), name: options.trace }], notes: [] };
  const realDir = options.realDir ?? REAL_TRACES_DIR;
  const real = existsSync(realDir) ? csvFiles(realDir) : [];
  const notes = real.length
    ? []
    : [`real traces: none in ${relative(process.cwd(), realDir) || realDir} (NASA-HTTP, WorldCup98, Azure LLM; see docs/scaling.md), skipped`];
  return { traces: [...csvFiles(TRACES_DIR), ...real].map(readTrace), notes };
}

const cell = (r: ScalerResult, column: (typeof COLUMNS)[number]): string =>
  column === 'reaction_seconds' ? `${r.reaction_seconds.median} / ${r.reaction_seconds.max}` : String(r[column]);

function tableOf(result: SimulationResult): string {
  const table = new Table({ head: ['scaler', ...COLUMNS.map((c) => (c === 'reaction_seconds' ? 'reaction_seconds (median / max)' : c))] });
  for (const name of SCALER_NAMES) table.push([name, ...COLUMNS.map((c) => cell(result.results[name], c))]);
  const goals = checkGoals(result)
    .map((g) => `${g.met ? pc.green('met') : pc.red('MISSED')} ${g.goal}: ${g.detail}`)
    .join('\n');
  return `${pc.bold(result.trace)}\n${table.toString()}\n${goals}`;
}

function markdownOf(result: SimulationResult): string {
  const rows = SCALER_NAMES.map((name) => `| ${name} | ${COLUMNS.map((c) => cell(result.results[name], c)).join(' | ')} |`);
  const head = COLUMNS.map((c) => (c === 'reaction_seconds' ? 'reaction s (median / max)' : c));
  return [`**${result.trace}**`, '', `| scaler | ${head.join(' | ')} |`, `| --- |${' ---: |'.repeat(COLUMNS.length)}`, ...rows].join('\n');
}

/** The SVG file of one trace's frontier: frontier-<trace file name without .csv>.svg. */
export const frontierFile = (dir: string, trace: string) => join(dir, `frontier-${basename(trace).replace(/\.csv$/, '')}.svg`);

function frontierTable(f: Frontier): string {
  const table = new Table({ head: ['scaler', 'target', 'replica_seconds', 'slo_violation_seconds', 'dominated_by'] });
  for (const p of f.hpa) {
    table.push(['hpa', p.target, p.replica_seconds, p.slo_violation_seconds, p.dominated_by ?? (p.below_every_rules_bound ? 'none can (below every rules bound)' : '-')]);
  }
  for (const p of f.orchestry) table.push(['orchestry', p.target, p.replica_seconds, p.slo_violation_seconds, '']);
  return `${pc.bold(f.trace)}: ${f.dominated} of ${f.hpa.length} HPA points dominated, ${f.undominatable} below every rules bound\n${table.toString()}`;
}

/** What the command prints for these options (notes about skipped traces go to `note`). */
export function runSim(options: SimOptions, note: (line: string) => void = () => {}): string {
  const { traces, notes } = tracesFor(options);
  notes.forEach(note);
  if (options.frontier) {
    const dir = options.out ?? FRONTIER_DIR;
    mkdirSync(dir, { recursive: true });
    const frontiers = traces.map((trace) => {
      const f = frontier(trace);
      const file = frontierFile(dir, trace.name);
      writeFileSync(file, frontierSvg(f));
      note(`wrote ${relative(process.cwd(), file) || file}`);
      return f;
    });
    if (options.json) return JSON.stringify(options.trace ? frontiers[0] : frontiers);
    return frontiers.map(frontierTable).join('\n\n');
  }
  if (options.bounds) {
    const allowance = options.allowViolations === undefined ? undefined : Number(options.allowViolations);
    if (allowance !== undefined && !(Number.isInteger(allowance) && allowance >= 0)) {
      throw new Error(`--allow-violations must be a whole number of seconds, 0 or more (got ${JSON.stringify(options.allowViolations)})`);
    }
    const bounds = traces.map((trace) => {
      const rules = ruleBound(trace);
      const simulated = simulate(trace, rules);
      const blind = blindBound(trace, rules.oracle_replica_seconds, allowedViolationSeconds(simulated));
      const stabilized = stabilizedBound(trace, allowance ?? simulated.results.orchestry.slo_violation_seconds, rules);
      return {
        ...rules,
        ...blind,
        stabilized_violation_seconds: stabilized.allowed_violation_seconds,
        stabilized_replica_seconds: stabilized.stabilized_replica_seconds,
        stabilized_rules_ratio: stabilized.stabilized_rules_ratio,
      };
    });
    if (options.json) return JSON.stringify(options.trace ? bounds[0] : bounds);
    const table = new Table({
      head: ['trace', 'oracle_replica_seconds', 'bound_oracle_ratio', 'stabilized_violation_seconds', 'stabilized_rules_ratio', 'load_autocorrelation', 'allowed_violation_seconds', 'blind_oracle_ratio'],
    });
    for (const b of bounds) {
      table.push([
        b.trace,
        b.oracle_replica_seconds,
        b.bound_oracle_ratio,
        b.stabilized_violation_seconds,
        b.stabilized_rules_ratio,
        b.load_autocorrelation,
        b.allowed_violation_seconds,
        b.blind_oracle_ratio ?? '-',
      ]);
    }
    return [
      table.toString(),
      'bound_oracle_ratio: the fewest replica-seconds any scaler obeying the threshold rules can spend (dynamic program, clairvoyant).',
      'stabilized_rules_ratio: the fewest under the rules AND the stabilization window with at most stabilized_violation_seconds',
      "of SLO violation (default: Orchestry's own in this run), over the rules bound; above 1.25 no such scaler is within 1.25 × the rules bound.",
      'blind_oracle_ratio: on a memoryless trace (|load_autocorrelation| < 0.1), the fewest any scaler that cannot see a second',
      'before it happens can expect to spend while violating the SLO in no more than allowed_violation_seconds.',
    ].join('\n');
  }
  const results = traces.map((trace) => simulate(trace));
  if (options.json) return JSON.stringify(options.trace ? results[0] : results);
  return results.map(options.markdown ? markdownOf : tableOf).join('\n\n');
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  new Command()
    .name('sim')
    .description('Simulate Orchestry, an HPA-style baseline, the legacy scaler and an oracle over rps traces')
    .option('--trace <file>', 'a t,rps CSV (default: every trace in bench/traces/ and ../shared/traces/real/)')
    .option('--json', 'print {"trace", "results"} as JSON instead of tables')
    .option('--markdown', 'print Markdown tables (as in docs/scaling.md)')
    .option('--bounds', 'print the fewest replica-seconds the threshold rules allow any scaler')
    .option('--frontier', "sweep HPA's and Orchestry's targets; print the points and write docs/img/frontier-<trace>.svg")
    .option('--out <dir>', 'with --frontier: where the SVG charts go (default docs/img)')
    .option('--allow-violations <seconds>', "with --bounds: the SLO-violation seconds the stabilized bound may spend (default: Orchestry's own)")
    .action((options: SimOptions) => {
      try {
        process.stdout.write(`${runSim(options, (line) => process.stderr.write(`${line}\n`))}\n`);
      } catch (error) {
        process.stderr.write(`sim: ${error instanceof Error ? error.message : String(error)}\n`);
        process.exitCode = 1;
      }
    })
    .parse();
}
