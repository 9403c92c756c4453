import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** Offered load, one value per second from t = 0: `rps[t]` requests per second at second t. */
export interface Trace {
  name: string;
  rps: number[];
}

/**
 * Parses a `t,rps` CSV: a header line, then one row per second, t = 0, 1, 2, … with no gaps
 * (the simulator steps in seconds, so a gap would be a silent zero).
 */
export function parseTrace(name: string, csv: string): Trace {
  const lines = csv.split(/\r?\n/).filter((line) => line.trim() !== '');
  const header = lines.shift()?.trim().toLowerCase();
  if (header !== 't,rps') {
    throw new Error(`${name}: the first line must be the header "t,rps" (found ${JSON.stringify(header ?? '')})`);
  }
  const rps: number[] = [];
  lines.forEach((line, i) => {
    const lineNo = i + 2;
    const [tText, rpsText, ...rest] = line.split(',');
    const t = Number(tText);
    const value = Number(rpsText);
    if (rest.length || !Number.isInteger(t) || rpsText === undefined || !Number.isFinite(value) || value < 0) {
      throw new Error(`${name}:${lineNo}: expected "t,rps" with an integer t and a non-negative rps, got ${JSON.stringify(line)}`);
    }
    if (t !== rps.length) {
      throw new Error(`${name}:${lineNo}: t must count seconds from 0 without gaps; expected ${rps.length}, got ${t}`);
    }
    rps.push(value);
  });
  if (!rps.length) throw new Error(`${name}: no rows after the header`);
  return { name, rps };
}

export function readTrace(path: string): Trace {
  let csv: string;
  try {
    csv = readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(error);
    throw new Error(`cannot read trace ${path}: ${reason} (pass --trace a t,rps CSV, or none for bench/traces/*.csv)`);
  }
  return parseTrace(basename(path), csv);
}
