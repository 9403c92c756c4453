/**
 * The counts by status that every page of GET /apps carries, read at most once a second per
 * API process. Counting is a scan of the whole status index: 1.7 ms of database time at 10,000
 * apps, more than the page itself, on every request. Requests that arrive while a count is
 * being read share it. A change made through this process's API starts a fresh count; a change
 * made elsewhere (a job, another Lambda instance) shows within `maxAgeMs`.
 */
import { appStatusCounts } from '../../db/queries/applications.js';
import type { AppStatus } from '../../db/schema.js';
import type { Deps } from '../deps.js';

export interface AppTotals {
  get(): Promise<Record<AppStatus, number>>;
  /** Forget the counts: the next get() reads them again. */
  invalidate(): void;
}

export function appTotals(deps: Pick<Deps, 'db'>, maxAgeMs = 1000): AppTotals {
  let cached: { at: number; counts: Record<AppStatus, number> } | null = null;
  let reading: Promise<Record<AppStatus, number>> | null = null;
  // A count read across an invalidation may predate the change: it is returned, not kept.
  let generation = 0;
  return {
    get() {
      if (cached && performance.now() - cached.at < maxAgeMs) return Promise.resolve(cached.counts);
      if (reading) return reading;
      const started = generation;
      const at = performance.now();
      const read: Promise<Record<AppStatus, number>> = appStatusCounts(deps.db).then(
        (counts) => {
          if (generation === started) cached = { at, counts };
          if (reading === read) reading = null;
          return counts;
        },
        (error: unknown) => {
          if (reading === read) reading = null;
          throw error;
        },
      );
      reading = read;
      return read;
    },
    invalidate() {
      generation++;
      cached = null;
      reading = null;
    },
  };
}
