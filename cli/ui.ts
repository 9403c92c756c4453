/**
 * What the CLI prints: colours (only on a terminal, never with NO_COLOR), borderless tables
 * that read well and split on whitespace, JSON for scripts, and a spinner (on a terminal) or
 * progress lines (elsewhere) while something is awaited.
 */
import Table from 'cli-table3';
import { createColors } from 'picocolors';

const colorWanted = (stream: NodeJS.WriteStream) =>
  !process.env.NO_COLOR && process.env.TERM !== 'dumb' && (Boolean(process.env.FORCE_COLOR) || stream.isTTY === true);

/** Colours for stdout. */
export const c = createColors(colorWanted(process.stdout));
/** Colours for stderr (errors, progress). */
export const ce = createColors(colorWanted(process.stderr));

export type OutputFormat = 'table' | 'json';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json'];

export function print(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** One JSON document per line: what a --follow/--watch stream prints with --output json. */
export function printJsonLine(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

const BORDERLESS = {
  top: '', 'top-mid': '', 'top-left': '', 'top-right': '',
  bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
  left: '', 'left-mid': '', mid: '', 'mid-mid': '',
  right: '', 'right-mid': '', middle: '  ',
};

/** A table with a header row, columns separated by two spaces, no borders. */
export function table(head: string[], rows: Array<Array<string | number>>): string {
  const t = new Table({
    head: head.map((h) => c.bold(h)),
    chars: BORDERLESS,
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
  });
  for (const row of rows) t.push(row.map((cell) => String(cell)));
  // cli-table3 pads the last column too; trailing blanks only get in the way of scripts.
  return t
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

const ANSI = /\x1b\[[0-9;]*m/g;
const width = (text: string) => text.replace(ANSI, '').length;

/**
 * A table printed a batch of rows at a time (the pages of a list), in the style of table():
 * the columns take their widths from the header and the first batch, and later rows keep them
 * (a longer cell pushes only its own row).
 */
export function streamTable(head: string[]): { rows(rows: Array<Array<string | number>>): void } {
  let widths: number[] | undefined;
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(Math.max(0, widths![i]! - width(cell)))))
      .join('  ')
      .trimEnd();
  return {
    rows(batch) {
      const cells = batch.map((row) => row.map(String));
      if (!widths) {
        widths = head.map((h, i) => Math.max(width(h), ...cells.map((row) => width(row[i] ?? ''))));
        print(line(head.map((h) => c.bold(h))));
      }
      for (const row of cells) print(line(row));
    },
  };
}

/** `Label:  value` lines, aligned. */
export function fields(pairs: Array<[string, string]>): string {
  const width = Math.max(...pairs.map(([label]) => label.length)) + 1;
  return pairs.map(([label, value]) => `${`${label}:`.padEnd(width)}  ${value}`).join('\n');
}

const GOOD = new Set(['running', 'healthy', 'ok', 'active', 'info', 'success', 'up']);
const BAD = new Set(['error', 'failed', 'unhealthy', 'critical', 'revoked', 'down', 'degraded']);
const MOVING = new Set(['starting', 'stopping', 'updating', 'draining', 'pending', 'warning', 'scaling']);

/** A status word coloured by what it means. */
export function status(word: string | null | undefined): string {
  const text = word ?? 'unknown';
  // Up but with no replica until its next request: neither stopped (dim) nor running (green).
  if (text === 'scaled_to_zero') return c.cyan('scaled to zero');
  if (GOOD.has(text)) return c.green(text);
  if (BAD.has(text)) return c.red(text);
  if (MOVING.has(text)) return c.yellow(text);
  return c.dim(text);
}

/** How long ago: `42s`, `5m`, `3h`, `2d`; `-` for no time. */
export function ago(iso: string | null | undefined, now: number = Date.now()): string {
  if (!iso) return '-';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (!Number.isFinite(seconds)) return '-';
  if (seconds < 90) return `${seconds}s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)}m`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}

/** A local time for a log or an event line: `2025-01-31 14:03:07`. */
export function clock(iso: string | null | undefined): string {
  if (!iso) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A number for people: at most one decimal, `-` for none. */
export function num(value: number | null | undefined, unit = ''): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  const rounded = Math.abs(value) >= 100 || Number.isInteger(value) ? Math.round(value) : Math.round(value * 10) / 10;
  return `${rounded}${unit}`;
}

export interface Progress {
  update(text: string): void;
  succeed(text: string): void;
  fail(text: string): void;
  stop(): void;
}

/**
 * A spinner on stderr when stderr is a terminal; otherwise one line per change of the
 * text, so that logs of scripts still show what was awaited.
 */
export async function progress(text: string): Promise<Progress> {
  // A terminal that reports no width (some pseudo-terminals) sends ora's line arithmetic astray.
  if (process.stderr.isTTY && (process.stderr.columns ?? 0) > 0) {
    const { default: ora } = await import('ora');
    const spinner = ora({ text, stream: process.stderr }).start();
    return {
      update: (next) => {
        spinner.text = next;
      },
      succeed: (done) => void spinner.succeed(done),
      fail: (done) => void spinner.fail(done),
      stop: () => void spinner.stop(),
    };
  }
  let last = '';
  const line = (next: string) => {
    if (next === last) return;
    last = next;
    process.stderr.write(`${next}\n`);
  };
  line(text);
  return {
    update: line,
    succeed: (done) => line(`${ce.green('✔')} ${done}`),
    fail: (done) => line(`${ce.red('✖')} ${done}`),
    stop: () => {},
  };
}
