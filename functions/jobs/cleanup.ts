/**
 * Cleanup: the retention of the data model, plus rollups, compressed event summaries and
 * job runs, every period configurable.
 *
 * Events are compressed before they go: each whole hour past the events' retention becomes
 * one `events_compressed` row per (hour, app, event type) with the count, the count per
 * severity and a few sample messages (the most frequent), so the audit trail keeps its
 * shape for a year at a fraction of the rows. A summary is written once, from the complete
 * hour (ON CONFLICT DO NOTHING on the (hour, app, type) key): events are deleted by whole
 * hours only after that, and nothing stamps an event that far in the past, so a summary
 * never needs recomputing and a run that stopped half way through an hour's delete cannot
 * shrink it.
 *
 * Every delete goes in batches (ctids of at most `batchSize` rows, then the next batch), so
 * a large backlog never holds a long lock or one huge transaction.
 */
import { sql, type SQL } from 'drizzle-orm';
import { queryRows, type Database } from '../../db/client.js';
import { withDbErrors } from '../../db/errors.js';
import { expiredBatchKeys } from '../../db/queries/metric-batches.js';
import { validationError, type FieldIssue } from '../core/errors.js';
import type { Deps, RetentionConfig } from '../deps.js';
import { runJob, scheduledHandler, type JobCounts, type JobRunSummary } from './job.js';

const DAY = 86_400;

/** What cleanup keeps besides RetentionConfig's four periods, and how it deletes. */
export interface CleanupSettings {
  rollups1mRetentionSeconds: number;
  rollups1hRetentionSeconds: number;
  compressedEventsRetentionSeconds: number;
  jobRunsRetentionSeconds: number;
  /** Rows per DELETE statement. */
  batchSize: number;
  /** Batches per table and run: the most one run deletes is batchSize × this. */
  maxBatchesPerTable: number;
}

export const CLEANUP_DEFAULTS: CleanupSettings = {
  rollups1mRetentionSeconds: 30 * DAY,
  rollups1hRetentionSeconds: 400 * DAY,
  compressedEventsRetentionSeconds: 400 * DAY,
  jobRunsRetentionSeconds: 7 * DAY,
  batchSize: 5000,
  maxBatchesPerTable: 1000,
};

/** How many sample messages a compressed summary keeps. */
export const SAMPLE_MESSAGES = 5;

export type CleanupConfig = RetentionConfig & CleanupSettings;

/** The effective settings: the configuration's retention over the defaults, checked. */
export function cleanupConfig(retention: RetentionConfig & Partial<CleanupSettings>): CleanupConfig {
  const config: CleanupConfig = { ...CLEANUP_DEFAULTS, ...retention };
  const issues: FieldIssue[] = [];
  for (const [field, value] of Object.entries(config)) {
    const positive = field === 'batchSize' || field === 'maxBatchesPerTable';
    if (!(Number.isFinite(value) && (positive ? Number.isInteger(value) && value >= 1 : value >= 0))) {
      issues.push({ path: `retention.${field}`, message: positive ? `${field} must be a whole number, at least 1` : `${field} must be a number of seconds, 0 or more` });
    }
  }
  if (issues.length > 0) throw validationError(issues);
  return config;
}

const at = (d: Date) => sql`${d.toISOString()}::timestamptz`;
const before = (now: Date, seconds: number) => new Date(now.getTime() - seconds * 1000);
const hourFloor = (d: Date) => new Date(Math.floor(d.getTime() / 3600_000) * 3600_000);

export interface BatchedDelete {
  deleted: number;
  batches: number;
  /** The batch limit stopped it with rows left: the next run goes on. */
  incomplete: boolean;
}

/**
 * Deletes the rows of `table` matching `where` in batches of `batchSize`, each its own
 * short statement (a TID scan over the batch's ctids), until a batch comes back short.
 */
export async function deleteInBatches(db: Database, table: string, where: SQL, config: Pick<CleanupConfig, 'batchSize' | 'maxBatchesPerTable'>): Promise<BatchedDelete> {
  let deleted = 0;
  for (let batches = 1; ; batches++) {
    const [row] = await withDbErrors(() =>
      queryRows<{ n: number | string }>(
        db,
        sql`WITH gone AS (
              DELETE FROM ${sql.identifier(table)}
              WHERE ctid = ANY(ARRAY(SELECT ctid FROM ${sql.identifier(table)} WHERE ${where} LIMIT ${config.batchSize}::int))
              RETURNING 1)
            SELECT count(*) AS n FROM gone`,
      ),
    );
    const n = Number(row?.n ?? 0);
    deleted += n;
    if (n < config.batchSize) return { deleted, batches, incomplete: false };
    if (batches >= config.maxBatchesPerTable) return { deleted, batches, incomplete: true };
  }
}

/** Summarizes every whole hour of events before `cutoff` that has no summary yet. */
export async function compressEvents(db: Database, cutoff: Date): Promise<number> {
  const rows = await withDbErrors(() =>
    queryRows<{ id: number }>(
      db,
      sql`
        WITH old AS (
          SELECT date_bin('1 hour'::interval, "timestamp", TIMESTAMPTZ '1970-01-01 00:00:00+00') AS hour_bucket,
            app_name, event_type, coalesce(severity, 'info') AS severity, message, "timestamp", id
          FROM events WHERE "timestamp" < ${at(cutoff)}
        ),
        by_severity AS (
          SELECT hour_bucket, app_name, event_type, severity, count(*) AS n FROM old GROUP BY 1, 2, 3, 4
        ),
        by_message AS (
          SELECT hour_bucket, app_name, event_type, message, count(*) AS n, min("timestamp") AS first_at, min(id) AS first_id
          FROM old GROUP BY 1, 2, 3, 4
        ),
        summaries AS (
          SELECT hour_bucket, app_name, event_type, sum(n)::int AS event_count, jsonb_object_agg(severity, n) AS severity_counts
          FROM by_severity GROUP BY 1, 2, 3
        ),
        samples AS (
          SELECT hour_bucket, app_name, event_type,
            (array_agg(message ORDER BY n DESC, first_at, first_id))[1:${SAMPLE_MESSAGES}::int] AS sample_messages
          FROM by_message GROUP BY 1, 2, 3
        )
        INSERT INTO events_compressed (hour_bucket, app_name, event_type, event_count, severity_counts, sample_messages)
        SELECT s.hour_bucket, s.app_name, s.event_type, s.event_count, s.severity_counts, m.sample_messages
        FROM summaries s JOIN samples m
          ON m.hour_bucket = s.hour_bucket AND m.app_name IS NOT DISTINCT FROM s.app_name AND m.event_type = s.event_type
        ON CONFLICT ON CONSTRAINT events_compressed_bucket_key DO NOTHING
        RETURNING id`,
    ),
  );
  return rows.length;
}

/** One cleanup pass; the body of a cleanup run. */
export async function cleanup(deps: Deps, now: Date): Promise<JobCounts> {
  const config = cleanupConfig(deps.config.retention);
  const db = deps.db.$primary;
  const counts: JobCounts = {};
  const remove = async (name: string, table: string, where: SQL) => {
    const result = await deleteInBatches(db, table, where, config);
    counts[`${name}_deleted`] = result.deleted;
    counts[`${name}_batches`] = result.batches;
    if (result.incomplete) counts[`${name}_incomplete`] = 1;
  };

  // Whole hours only: an hour is summarized complete, then deleted.
  const eventsCutoff = hourFloor(before(now, config.eventsRetentionSeconds));
  counts.events_hours_compressed = await compressEvents(db, eventsCutoff);
  await remove('events', 'events', sql`"timestamp" < ${at(eventsCutoff)}`);
  await remove(
    'instance_metrics',
    'metrics',
    sql`aggregation_level = 'instance' AND "timestamp" < ${at(before(now, config.instanceMetricsRetentionSeconds))}`,
  );
  // System-level samples live as long as app-level ones.
  await remove(
    'app_metrics',
    'metrics',
    sql`aggregation_level IN ('app', 'system') AND "timestamp" < ${at(before(now, config.appMetricsRetentionSeconds))}`,
  );
  await remove(
    'stopped_instances',
    'instances',
    sql`status = 'stopped' AND updated_at < ${at(before(now, config.stoppedInstancesRetentionSeconds))}`,
  );
  await remove('rollups_1m', 'metric_rollups', sql`width = '1m' AND bucket_start < ${at(before(now, config.rollups1mRetentionSeconds))}`);
  await remove('rollups_1h', 'metric_rollups', sql`width = '1h' AND bucket_start < ${at(before(now, config.rollups1hRetentionSeconds))}`);
  await remove(
    'compressed_events',
    'events_compressed',
    sql`hour_bucket < ${at(before(now, config.compressedEventsRetentionSeconds))}`,
  );
  await remove('metric_batch_keys', 'metric_batches', expiredBatchKeys(now));
  // The latest succeeded run of each job stays: the rollup keeps its watermark there, and
  // GET /jobs shows when each job last worked. A 'running' row that old is a crashed run
  // whose lease ran out long ago.
  await remove(
    'job_runs',
    'job_runs',
    sql`started_at < ${at(before(now, config.jobRunsRetentionSeconds))}
        AND id NOT IN (SELECT max(id) FROM job_runs WHERE outcome = 'succeeded' GROUP BY job)`,
  );
  return counts;
}

export async function run(deps: Deps, now: Date): Promise<JobRunSummary> {
  return runJob(deps, 'cleanup', now, () => cleanup(deps, now));
}

export const handler = scheduledHandler('cleanup', run);
