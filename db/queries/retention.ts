/** Retention: the cleanup job's deletes, done by the SQL function of migrations/0001. */
import { sql } from 'drizzle-orm';
import { validationError } from '../../functions/core/errors.js';
import { queryRows, type Database } from '../client.js';
import { withDbErrors } from '../errors.js';

export interface RetentionPeriods {
  eventsRetentionSeconds: number;
  instanceMetricsRetentionSeconds: number;
  appMetricsRetentionSeconds: number;
  stoppedInstancesRetentionSeconds: number;
}

export interface CleanupCount {
  /** 'events', 'metrics (instance)', 'metrics (app)', 'instances (stopped)'. */
  table: string;
  deleted: number;
}

/** Deletes what is older than each period (relative to the database's clock). */
export async function cleanupOldData(db: Database, periods: RetentionPeriods): Promise<CleanupCount[]> {
  for (const [field, seconds] of Object.entries(periods)) {
    if (!(Number.isFinite(seconds) && seconds >= 0)) {
      throw validationError([{ path: field, message: `${field} must be a number of seconds, 0 or more` }]);
    }
  }
  const interval = (seconds: number) => sql`make_interval(secs => ${seconds}::float8)`;
  const rows = await withDbErrors(() =>
    queryRows<{ table_name: string; deleted_count: number | string }>(
      db,
      sql`SELECT table_name, deleted_count FROM cleanup_old_data(
        ${interval(periods.eventsRetentionSeconds)},
        ${interval(periods.instanceMetricsRetentionSeconds)},
        ${interval(periods.appMetricsRetentionSeconds)},
        ${interval(periods.stoppedInstancesRetentionSeconds)})`,
    ),
  );
  return rows.map((r) => ({ table: r.table_name, deleted: Number(r.deleted_count) }));
}
