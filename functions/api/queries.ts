/**
 * Reads the API needs that the shared query modules (db/queries/) do not have: the latest
 * scaling decision, history from metric rollups, system totals and active admin keys.
 */
import { and, asc, count, eq, gte, inArray, isNull, lt, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import type { HistoryPoint } from '../../db/queries/metrics.js';
import {
  apiKeys,
  applications,
  events,
  instances,
  metricRollups,
  metrics,
  scalingDecisions,
  type MetricType,
  type RollupWidth,
  type ScalingDecisionRow,
} from '../../db/schema.js';

export async function lastDecision(db: Database, app: string): Promise<ScalingDecisionRow | null> {
  const [row] = await db.select().from(scalingDecisions).where(eq(scalingDecisions.appName, app)).limit(1);
  return row ?? null;
}

export interface RollupHistory {
  points: HistoryPoint[];
  /** The end of the newest rollup bucket read; raw samples fill in after it. Null when none. */
  coveredUntil: Date | null;
}

/**
 * Rollups of `width` in [from, to) merged into buckets of `intervalSeconds` (a multiple of
 * the width) aligned to the Unix epoch: count-weighted averages, min of mins, max of maxes.
 */
export async function rollupHistory(
  db: Database,
  app: string,
  opts: { from: Date; to: Date; width: RollupWidth; intervalSeconds: number; metricTypes?: MetricType[] | undefined },
): Promise<RollupHistory> {
  const widthSeconds = opts.width === '1h' ? 3600 : 60;
  const bucket = sql`to_timestamp(floor(extract(epoch FROM ${metricRollups.bucketStart}) / ${opts.intervalSeconds}::int) * ${opts.intervalSeconds}::int)`;
  const where = and(
    eq(metricRollups.appName, app),
    eq(metricRollups.width, opts.width),
    gte(metricRollups.bucketStart, opts.from),
    lt(metricRollups.bucketStart, opts.to),
    opts.metricTypes && opts.metricTypes.length > 0 ? inArray(metricRollups.metricType, opts.metricTypes) : undefined,
  );
  const rows = await db
    .select({
      metricType: metricRollups.metricType,
      bucketStart: bucket.mapWith(metricRollups.bucketStart),
      avg: sql<number>`sum(${metricRollups.sum}) / sum(${metricRollups.count})`.mapWith(Number),
      min: sql<number>`min(${metricRollups.min})`.mapWith(Number),
      max: sql<number>`max(${metricRollups.max})`.mapWith(Number),
      count: sql<number>`sum(${metricRollups.count})`.mapWith(Number),
      newest: sql<Date>`max(${metricRollups.bucketStart})`.mapWith(metricRollups.bucketStart),
    })
    .from(metricRollups)
    .where(where)
    .groupBy(metricRollups.metricType, sql`2`)
    .orderBy(asc(metricRollups.metricType), sql`2`);
  const newest = rows.reduce<number | null>((max, r) => (max === null || r.newest.getTime() > max ? r.newest.getTime() : max), null);
  return {
    points: rows.map(({ newest: _newest, ...point }) => point),
    coveredUntil: newest === null ? null : new Date(newest + widthSeconds * 1000),
  };
}

export interface SystemTotals {
  apps: Record<string, number>;
  instances: { byStatus: Record<string, number>; byHealth: Record<string, number> };
  desiredReplicas: number;
  metricSamplesLast5m: number;
  eventsLastHour: { total: number; errors: number };
}

export async function systemTotals(db: Database, now: Date): Promise<SystemTotals> {
  const fiveMinutesAgo = new Date(now.getTime() - 5 * 60_000);
  const hourAgo = new Date(now.getTime() - 3600_000);
  const [appRows, instanceRows, desired, samples, eventRows] = await Promise.all([
    db.select({ status: applications.status, n: count() }).from(applications).groupBy(applications.status),
    db
      .select({ status: instances.status, health: instances.healthStatus, n: count() })
      .from(instances)
      .groupBy(instances.status, instances.healthStatus),
    db.select({ n: sql<number>`coalesce(sum(${applications.desiredReplicas}), 0)`.mapWith(Number) }).from(applications),
    db.select({ n: count() }).from(metrics).where(gte(metrics.timestamp, fiveMinutesAgo)),
    db
      .select({
        total: count(),
        errors: sql<number>`count(*) FILTER (WHERE ${events.severity} IN ('error', 'critical'))`.mapWith(Number),
      })
      .from(events)
      .where(gte(events.timestamp, hourAgo)),
  ]);
  const byStatus: Record<string, number> = {};
  const byHealth: Record<string, number> = {};
  for (const r of instanceRows) {
    byStatus[r.status] = (byStatus[r.status] ?? 0) + r.n;
    if (r.status !== 'stopped') byHealth[r.health ?? 'unknown'] = (byHealth[r.health ?? 'unknown'] ?? 0) + r.n;
  }
  return {
    apps: Object.fromEntries(appRows.map((r) => [r.status, r.n])),
    instances: { byStatus, byHealth },
    desiredReplicas: desired[0]?.n ?? 0,
    metricSamplesLast5m: samples[0]?.n ?? 0,
    eventsLastHour: { total: eventRows[0]?.total ?? 0, errors: eventRows[0]?.errors ?? 0 },
  };
}

/** Application counts by status, for GET /health. */
export async function appCounts(db: Database): Promise<Record<string, number>> {
  const rows = await db.select({ status: applications.status, n: count() }).from(applications).groupBy(applications.status);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Locks the active admin keys (so two revocations cannot both remove "the other" last one) and returns their ids. */
export async function lockActiveAdminKeys(tx: Database): Promise<number[]> {
  const rows = await tx
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(and(eq(apiKeys.scope, 'admin'), isNull(apiKeys.revokedAt)))
    .for('update');
  return rows.map((r) => r.id);
}
