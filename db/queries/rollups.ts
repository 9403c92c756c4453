/**
 * Metric rollups: raw samples aggregated per app, metric type and 1-minute or 1-hour bucket
 * (count, sum, min, max, p50, p95, p99), always recomputed from the raw rows of the whole
 * bucket, so re-rolling a bucket gives the same row and a late sample updates its bucket.
 *
 * Which buckets to roll: those holding a raw row inserted since the last run (rows with an
 * id above the watermark, which the rollup job keeps in its job_runs counts), plus every
 * bucket of the last few minutes (a row whose id was taken before the last run but whose
 * transaction committed after it has a recent timestamp in practice). Buckets older than
 * the raw retention are never rolled again: their raw rows may be partly deleted.
 */
import { sql } from 'drizzle-orm';
import { queryRows, type Database } from '../client.js';
import { withDbErrors } from '../errors.js';
import type { RollupWidth } from '../schema.js';

export const ROLLUP_INTERVALS: Record<RollupWidth, string> = { '1m': '1 minute', '1h': '1 hour' };

/** The latest watermark a succeeded rollup run recorded (0 before the first). */
export async function rollupWatermark(db: Database): Promise<number> {
  const [row] = await queryRows<{ watermark: string | number | null }>(
    db,
    sql`SELECT (counts->>'watermark_id')::bigint AS watermark FROM job_runs
        WHERE job = 'metric-rollup' AND outcome = 'succeeded' AND counts->>'watermark_id' IS NOT NULL
        ORDER BY id DESC LIMIT 1`,
  );
  return Number(row?.watermark ?? 0);
}

export interface NewRows {
  /** The highest id among the rows taken (the next watermark); the old one when none. */
  uptoId: number;
  rows: number;
}

/** The next `limit` raw rows above the watermark, by id: how far this run goes. */
export async function newRawRows(db: Database, afterId: number, limit: number): Promise<NewRows> {
  const [row] = await queryRows<{ upto: string | number | null; n: string | number }>(
    db,
    sql`SELECT max(id) AS upto, count(*) AS n
        FROM (SELECT id FROM metrics WHERE id > ${afterId}::bigint ORDER BY id LIMIT ${limit}::int) next_rows`,
  );
  return { uptoId: row?.upto == null ? afterId : Number(row.upto), rows: Number(row?.n ?? 0) };
}

export interface RollupRange {
  width: RollupWidth;
  /** Raw rows with afterId < id <= uptoId mark their buckets for rolling. */
  afterId: number;
  uptoId: number;
  /** Every bucket with a raw row at or after this is rolled too. */
  recentFrom: Date;
  /** Buckets starting before this are never rolled (their raw rows may be partly gone). */
  oldestBucket: Date;
  at: Date;
}

export interface RollupOutcome {
  /** Rows inserted or changed; a bucket rolled again to the same values counts in neither. */
  inserted: number;
  updated: number;
}

/**
 * Recomputes every touched bucket of one width from its raw rows, in one statement. Buckets
 * are aligned to the Unix epoch (date_bin), whatever the session's time zone. Sums are
 * taken exactly (numeric) so that the order rows are read in never changes a bucket.
 */
export async function rollupBuckets(db: Database, range: RollupRange): Promise<RollupOutcome> {
  const width = sql`${ROLLUP_INTERVALS[range.width]}::interval`;
  const bucketOf = sql`date_bin(${width}, "timestamp", TIMESTAMPTZ '1970-01-01 00:00:00+00')`;
  const oldest = sql`${range.oldestBucket.toISOString()}::timestamptz`;
  const rows = await withDbErrors(() =>
    queryRows<{ inserted: boolean }>(
      db,
      sql`
        WITH touched AS (
          SELECT DISTINCT app_name, metric_type, ${bucketOf} AS bucket
          FROM metrics WHERE id > ${range.afterId}::bigint AND id <= ${range.uptoId}::bigint
          UNION
          SELECT DISTINCT app_name, metric_type, ${bucketOf} AS bucket
          FROM metrics WHERE "timestamp" >= ${range.recentFrom.toISOString()}::timestamptz
        ),
        aggregated AS (
          SELECT t.app_name, t.metric_type, t.bucket,
            count(*) AS n,
            sum(m.value::numeric)::float8 AS total,
            min(m.value)::float8 AS lowest,
            max(m.value)::float8 AS highest,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY m.value::float8) AS p50,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY m.value::float8) AS p95,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY m.value::float8) AS p99
          FROM touched t
          JOIN metrics m ON m.app_name = t.app_name AND m.metric_type = t.metric_type
            AND m."timestamp" >= t.bucket AND m."timestamp" < t.bucket + ${width}
          WHERE t.bucket >= ${oldest}
          GROUP BY t.app_name, t.metric_type, t.bucket
        )
        INSERT INTO metric_rollups AS r
          (app_name, metric_type, width, bucket_start, count, sum, min, max, p50, p95, p99, updated_at)
        SELECT app_name, metric_type, ${range.width}, bucket, n, total, lowest, highest, p50, p95, p99,
          ${range.at.toISOString()}::timestamptz
        FROM aggregated
        ON CONFLICT (app_name, metric_type, width, bucket_start) DO UPDATE SET
          count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max,
          p50 = excluded.p50, p95 = excluded.p95, p99 = excluded.p99, updated_at = excluded.updated_at
        WHERE (r.count, r.sum, r.min, r.max, r.p50, r.p95, r.p99)
          IS DISTINCT FROM (excluded.count, excluded.sum, excluded.min, excluded.max, excluded.p50, excluded.p95, excluded.p99)
        RETURNING (xmax = 0) AS inserted`,
    ),
  );
  const inserted = rows.filter((r) => r.inserted).length;
  return { inserted, updated: rows.length - inserted };
}
