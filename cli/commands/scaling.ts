/** scaling get | set NAME key=value..., and explain NAME: the policy and why it did (not) scale. */
import { Command } from 'commander';
import { seg } from '../api.js';
import { api, outputOption, type OutputOptions } from '../context.js';
import { usageError } from '../errors.js';
import { c, fields, num, print, printJson, table } from '../ui.js';

type Policy = Record<string, number | null>;

interface LastDecision {
  evaluated_at: string;
  reason: string;
  current_replicas: number;
  desired_replicas: number;
  decision?: { message?: string } | null;
}

interface ScalingAnswer {
  app_name: string;
  mode: string;
  policy: Policy | null;
  last_decision?: LastDecision | null;
}

interface PolicyChange extends ScalingAnswer {
  message: string;
  changes: Record<string, { old: number | string; new: number | string }>;
  desired_replicas: number;
  runtime_errors: string[];
}

/** `minReplicas`, `min-replicas` and `min_replicas` all name the policy field min_replicas. */
function policyKey(raw: string): string {
  return raw
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toLowerCase();
}

/** key=value pairs as the body of PUT /scaling: numbers as numbers, `null` to clear, words as words. */
function policyPatch(pairs: readonly string[]): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0 || at === pair.length - 1) {
      throw usageError(`"${pair}" is not key=value; e.g. orchestry scaling set web min_replicas=2 max_replicas=10 mode=auto`);
    }
    const key = policyKey(pair.slice(0, at));
    const value = pair.slice(at + 1).trim();
    if (key in patch) throw usageError(`${key} is given twice`);
    patch[key] = value === 'null' ? null : /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  }
  return patch;
}

function printPolicy(answer: ScalingAnswer): void {
  print(fields([
    ['App', c.bold(answer.app_name)],
    ['Mode', answer.mode],
  ]));
  print();
  if (answer.policy) {
    print(table(['SETTING', 'VALUE'], Object.entries(answer.policy).map(([key, value]) => [key, value === null ? '-' : String(value)])));
  }
  const last = answer.last_decision;
  if (last) {
    print();
    print(`Last decision (${last.evaluated_at}): ${last.reason}, ${last.current_replicas} → ${last.desired_replicas}${last.decision?.message ? `: ${last.decision.message}` : ''}`);
  }
}

async function get(name: string, options: OutputOptions): Promise<void> {
  const client = await api();
  const answer = await client.get<ScalingAnswer>(`/apps/${seg(name)}/scaling`);
  if (options.output === 'json') return printJson(answer);
  printPolicy(answer);
}

async function set(name: string, pairs: string[], options: OutputOptions): Promise<void> {
  const patch = policyPatch(pairs);
  const client = await api();
  const answer = await client.put<PolicyChange>(`/apps/${seg(name)}/scaling`, patch);
  if (options.output === 'json') return printJson(answer);
  print(answer.message);
  const changes = Object.entries(answer.changes);
  if (changes.length > 0) print(table(['SETTING', 'OLD', 'NEW'], changes.map(([key, change]) => [key, String(change.old), String(change.new)])));
  for (const error of answer.runtime_errors) print(c.yellow(`warning: ${error}`));
}

export function registerScalingCommands(program: Command): void {
  const scaling = program.command('scaling').description("an app's scaling policy");
  scaling.command('get').description('show the policy and the last decision').argument('<name>', 'the app').addOption(outputOption()).action(get);
  scaling
    .command('set')
    .description('change policy settings (any of: mode, min_replicas, max_replicas, target_rps_per_replica, max_p95_latency_ms, max_cpu_percent, ...)')
    .argument('<name>', 'the app')
    .argument('<key=value...>', 'settings, e.g. min_replicas=2 max_replicas=10 (camelCase and kebab-case work too)')
    .addOption(outputOption())
    .action(set);

  program
    .command('explain')
    .description('why an app did or did not scale: the decision run now, with every input')
    .argument('<name>', 'the app')
    .addOption(outputOption())
    .action(explain);
}

interface MetricInput {
  observed: number | null;
  target: number;
  utilization: number | null;
  proposal: number | null;
  weighted_proposal: number | null;
  weight: number;
  stale: boolean;
  ignored: boolean;
}

interface Decision {
  desired_replicas: number;
  current_replicas: number;
  reason: string;
  message: string;
  inputs: Record<string, MetricInput>;
  replicas: { current: number; ready: number; starting: number };
}

interface Explanation {
  app_name: string;
  mode: string;
  status: string;
  evaluated_by_scaler: boolean;
  note: string | null;
  decision: Decision;
}

function inputState(input: MetricInput): string {
  if (input.ignored) return c.dim('ignored');
  if (input.stale) return c.yellow('stale');
  return 'used';
}

async function explain(name: string, options: OutputOptions): Promise<void> {
  const client = await api();
  const answer = await client.get<Explanation>(`/apps/${seg(name)}/scaling/explain`);
  if (options.output === 'json') return printJson(answer);
  const d = answer.decision;
  const verdict =
    d.desired_replicas > d.current_replicas
      ? c.green(`scale out ${d.current_replicas} → ${d.desired_replicas}`)
      : d.desired_replicas < d.current_replicas
        ? c.yellow(`scale in ${d.current_replicas} → ${d.desired_replicas}`)
        : `stay at ${d.current_replicas}`;
  print(
    fields([
      ['App', `${c.bold(answer.app_name)} (mode ${answer.mode}, ${answer.status})`],
      ['Decision', `${verdict} (${d.reason})`],
      ['Why', d.message],
      ['Replicas', `${d.replicas.current} desired, ${d.replicas.ready} ready, ${d.replicas.starting} starting`],
    ]),
  );
  print();
  print(
    table(
      ['METRIC', 'OBSERVED', 'TARGET', 'UTILIZATION', 'PROPOSAL', 'WEIGHT', 'INPUT'],
      Object.entries(d.inputs).map(([metric, input]) => [
        metric,
        num(input.observed),
        num(input.target),
        input.utilization === null ? '-' : num(input.utilization * 100, '%'),
        input.weighted_proposal ?? input.proposal ?? '-',
        num(input.weight),
        inputState(input),
      ]),
    ),
  );
  if (answer.note) {
    print();
    print(c.yellow(answer.note));
  }
}
