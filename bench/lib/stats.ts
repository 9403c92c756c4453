/** Small statistics over samples, and the result fields every suite computes the same way. */

/** The q-quantile (0..1) by linear interpolation between closest ranks. */
export function quantile(samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export const median = (samples: readonly number[]) => quantile(samples, 0.5);

export interface Spread {
  median: number;
  min: number;
  max: number;
  p95: number;
  n: number;
}

export function spread(samples: readonly number[], digits = 4): Spread {
  return {
    median: round(median(samples), digits),
    min: round(Math.min(...samples), digits),
    max: round(Math.max(...samples), digits),
    p95: round(quantile(samples, 0.95), digits),
    n: samples.length,
  };
}

/** Rounds to `digits` significant digits (figures in reports, not in computation). */
export function round(x: number, digits = 4): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const scale = 10 ** (digits - 1 - Math.floor(Math.log10(Math.abs(x))));
  return Math.round(x * scale) / scale;
}

export const ratioOf = (orchestry: number, reference: number) => round(orchestry / reference, 4);

/** Milliseconds since `began` (a performance.now() reading). */
export const msSince = (began: number) => performance.now() - began;
