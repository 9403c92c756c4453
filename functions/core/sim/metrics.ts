/**
 * What users feel, from a scaler's per-second record: how often its count turned around, and how
 * long load waited for enough ready replicas.
 */

/** Times the count changed direction: up after down, or down after up (holds in between do not count). */
export function reversals(counts: readonly number[]): number {
  let last = 0;
  let turns = 0;
  for (let i = 1; i < counts.length; i++) {
    const direction = Math.sign((counts[i] as number) - (counts[i - 1] as number));
    if (direction === 0) continue;
    if (last !== 0 && direction !== last) turns++;
    last = direction;
  }
  return turns;
}

export interface Reaction {
  /** Median length of the episodes, in seconds (0 when there is none). */
  median: number;
  max: number;
  /** Load steps that found too few replicas ready. */
  episodes: number;
}

/**
 * A load step is a second whose load needs more replicas than are ready (the second before had
 * enough); the reaction is the time from it to the first second with enough ready again. A
 * second "has enough" when its load does not violate the SLO on the ready replicas, so the
 * episodes are exactly the runs of SLO-violation seconds.
 */
export function reactionSeconds(short: readonly boolean[]): Reaction {
  const lengths: number[] = [];
  let run = 0;
  for (const s of short) {
    if (s) run++;
    else if (run > 0) {
      lengths.push(run);
      run = 0;
    }
  }
  if (run > 0) lengths.push(run);
  if (!lengths.length) return { median: 0, max: 0, episodes: 0 };
  const sorted = [...lengths].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, max: sorted.at(-1) as number, episodes: sorted.length };
}
