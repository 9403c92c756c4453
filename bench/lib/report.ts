/** The results as a table for the terminal, as Markdown for the README, and their shape check. */
import Table from 'cli-table3';
import pc from 'picocolors';
import { SUITE_NAMES, type BenchResults, type SuiteName, type SuiteResult } from './types.js';

const figure = (x: number) => (Number.isInteger(x) ? x.toLocaleString('en-US') : String(x));

function goalsText(result: SuiteResult, color: boolean): string {
  return result.goals
    .map((g) => {
      const mark = g.met ? 'met' : 'MISSED';
      return `${color ? (g.met ? pc.green(mark) : pc.red(mark)) : mark}: ${g.goal} (${g.actual})`;
    })
    .join('\n');
}

export function terminalTable(results: BenchResults): string {
  const table = new Table({ head: ['suite', 'Orchestry', 'reference', 'unit', 'ratio O/R', 'goals'], wordWrap: true, colWidths: [17, 12, 12, 11, 10, 70] });
  for (const name of SUITE_NAMES) {
    const r = results.suites[name];
    if (r) table.push([name, figure(r.orchestry), figure(r.reference), r.unit, String(r.ratio), goalsText(r, true)]);
    const failure = results.failures?.[name];
    if (failure) table.push([name, { colSpan: 5, content: pc.red(`failed: ${failure}`) }]);
  }
  return table.toString();
}

export function machineLine(results: BenchResults): string {
  const m = results.machine;
  const load = `load average ${m.load_average_at_start[0]}${m.load_average_at_end ? ` → ${m.load_average_at_end[0]}` : ''}`;
  const calibration = `calibration loop ${m.cpu_calibration_ms_at_start} ms${m.cpu_calibration_ms_at_end ? ` → ${m.cpu_calibration_ms_at_end} ms` : ''}`;
  return `${m.cpus} × ${m.cpu_model}, ${m.memory_gb} GB, ${m.os}, Node ${m.node}, PostgreSQL ${m.postgres}, commit ${m.git_commit ?? 'unknown'}, ${results.started_at}; ${load}, ${calibration}`;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, '<br>');

export function markdownTable(results: BenchResults): string {
  const lines = [
    `Machine: ${machineLine(results)}${results.tiny ? ' (tiny sizes: not a measurement)' : ''}`,
    '',
    '| suite | Orchestry | reference (same run) | unit | ratio O/R | goals |',
    '| --- | ---: | ---: | --- | ---: | --- |',
  ];
  for (const name of SUITE_NAMES) {
    const r = results.suites[name];
    if (r) lines.push(`| ${name} | ${figure(r.orchestry)} | ${figure(r.reference)} | ${r.unit} | ${r.ratio} | ${cell(goalsText(r, false))} |`);
    const failure = results.failures?.[name];
    if (failure) lines.push(`| ${name} | | | | | failed: ${cell(failure)} |`);
  }
  return lines.join('\n');
}

const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Why `value` is not a well-formed results file, or an empty list when it is. */
export function shapeProblems(value: unknown, expected: readonly SuiteName[] = SUITE_NAMES): string[] {
  const problems: string[] = [];
  if (typeof value !== 'object' || value === null) return ['not an object'];
  const v = value as Partial<BenchResults>;
  if (typeof v.machine !== 'object' || v.machine === null) problems.push('machine is missing');
  else if (!isNumber(v.machine.cpus) || typeof v.machine.node !== 'string') problems.push('machine lacks cpus or node');
  if (typeof v.suites !== 'object' || v.suites === null) return [...problems, 'suites is missing'];
  for (const name of Object.keys(v.suites)) {
    if (!(SUITE_NAMES as readonly string[]).includes(name)) problems.push(`unknown suite ${name}`);
  }
  for (const name of expected) {
    const r = v.suites[name];
    if (!r) {
      problems.push(`suite ${name} is missing`);
      continue;
    }
    for (const key of ['orchestry', 'reference', 'ratio'] as const) {
      if (!isNumber(r[key]) || r[key] < 0) problems.push(`${name}.${key} is not a non-negative number (${String(r[key])})`);
    }
    if (isNumber(r.orchestry) && isNumber(r.reference) && r.reference > 0 && Math.abs(r.ratio - r.orchestry / r.reference) > 1e-3 * Math.max(1, r.ratio)) {
      problems.push(`${name}.ratio ${r.ratio} is not orchestry / reference`);
    }
    if (typeof r.unit !== 'string' || r.unit === '') problems.push(`${name}.unit is not a text`);
    if (!Array.isArray(r.goals) || r.goals.length === 0 || r.goals.some((g) => typeof g.goal !== 'string' || typeof g.met !== 'boolean')) {
      problems.push(`${name}.goals is not a list of {goal, actual, met}`);
    }
  }
  return problems;
}
