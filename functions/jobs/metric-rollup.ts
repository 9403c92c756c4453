/**
 * Metric rollup: raw samples into 1-minute and 1-hour rollups (db/queries/rollups.ts),
 * idempotent and late-sample aware.
 *
 * Each run takes the raw rows inserted since the previous run (by id, above the watermark
 * the previous succeeded run recorded in its job_runs counts; at most MAX_ROWS_PER_RUN, the
 * rest next run) and recomputes every bucket they fall in, of either width, from all of the
 * bucket's raw rows. It also recomputes every bucket of the last RECENT_WINDOW_SECONDS,
 * which covers rows whose ids were taken before the previous run read but committed after.
 *
 * The lateness bound: a sample is rolled up however late it arrives, as long as its bucket
 * is still within the raw retention (instance metrics' or app metrics', the shorter); a
 * sample older than that is kept raw until cleanup deletes it, and its bucket keeps the
 * rollup computed while its raw rows were all there.
 */
import { newRawRows, rollupBuckets, rollupWatermark } from '../../db/queries/rollups.js';
import type { Deps } from '../deps.js';
import { runJob, scheduledHandler, type JobCounts, type JobRunSummary } from './job.js';

/** Raw rows taken per run; a backlog (a first run over days of samples) goes in steps. */
export const MAX_ROWS_PER_RUN = 200_000;
/** Buckets with samples this recent are always rolled again. */
export const RECENT_WINDOW_SECONDS = 300;

const HOUR_MS = 3600_000;

/** One rollup pass; the body of a rollup run. */
export async function rollup(deps: Deps, now: Date): Promise<JobCounts> {
  const db = deps.db.$primary;
  const afterId = await rollupWatermark(db);
  const next = await newRawRows(db, afterId, MAX_ROWS_PER_RUN);
  const { instanceMetricsRetentionSeconds, appMetricsRetentionSeconds } = deps.config.retention;
  const rawKeptFrom = now.getTime() - Math.min(instanceMetricsRetentionSeconds, appMetricsRetentionSeconds) * 1000;
  const common = {
    afterId,
    uptoId: next.uptoId,
    recentFrom: new Date(now.getTime() - RECENT_WINDOW_SECONDS * 1000),
    at: now,
  };
  // A bucket is rolled only when it starts after the oldest raw row retention keeps: every
  // raw row of it is still there.
  const minute = await rollupBuckets(db, { ...common, width: '1m', oldestBucket: new Date(Math.ceil(rawKeptFrom / 60_000) * 60_000) });
  const hour = await rollupBuckets(db, { ...common, width: '1h', oldestBucket: new Date(Math.ceil(rawKeptFrom / HOUR_MS) * HOUR_MS) });
  return {
    raw_rows: next.rows,
    more_pending: next.rows >= MAX_ROWS_PER_RUN ? 1 : 0,
    rollups_1m_inserted: minute.inserted,
    rollups_1m_updated: minute.updated,
    rollups_1h_inserted: hour.inserted,
    rollups_1h_updated: hour.updated,
    watermark_id: next.uptoId,
  };
}

export async function run(deps: Deps, now: Date): Promise<JobRunSummary> {
  return runJob(deps, 'metric-rollup', now, () => rollup(deps, now));
}

export const handler = scheduledHandler('metric-rollup', run);
