/** Applications: the desired state of every app, and the summaries listings show. */
import { and, asc, eq, getTableColumns, ne, sql } from 'drizzle-orm';
import { appNotFound } from '../../functions/core/errors.js';
import { preparedQuery, type Database } from '../client.js';
import { withDbErrors } from '../errors.js';
import {
  APP_STATUSES,
  applications,
  healthChecks,
  instances,
  METRIC_TYPES,
  type MetricType,
  type Application,
  type AppStatus,
  type Instance,
  type NewApplication,
} from '../schema.js';
import { instanceFromJson, type InstanceJson } from './instances.js';
import type { LatestMetric } from './metrics.js';

export async function getApp(db: Database, name: string): Promise<Application | null> {
  const [row] = await db.select().from(applications).where(eq(applications.name, name)).limit(1);
  return row ?? null;
}

export interface AppWithInstances {
  app: Application;
  /** Every instance not stopped, by replica index. */
  instances: Instance[];
}

/** Joined to an app: its instances that are not stopped. */
const liveInstancesOfApp = and(eq(instances.appName, applications.name), ne(instances.status, 'stopped'));

/** Those instances as one JSON array by replica index (empty, not null, when there are none). */
const liveInstancesJson = () => sql<InstanceJson[]>`coalesce(
  json_agg(row_to_json(${instances}) ORDER BY ${instances.replicaIndex}, ${instances.id})
    FILTER (WHERE ${instances.id} IS NOT NULL),
  '[]'::json)`;

/** The app and its live instances in one round trip (the document's json_agg query). */
export async function getAppWithInstances(db: Database, name: string): Promise<AppWithInstances | null> {
  const [row] = await db
    .select({
      app: getTableColumns(applications),
      instances: liveInstancesJson(),
    })
    .from(applications)
    .leftJoin(instances, liveInstancesOfApp)
    .where(eq(applications.name, name))
    .groupBy(applications.name);
  if (!row) return null;
  return { app: row.app, instances: row.instances.map(instanceFromJson) };
}

export interface AppDetail extends AppWithInstances {
  /** Whether the app has a health check and it is enabled. */
  healthChecksEnabled: boolean;
  /** The newest sample of each metric type (latestMetrics). */
  latest: Partial<Record<MetricType, LatestMetric>>;
}

/**
 * What GET /apps/{name} shows, in one statement: the app with its live instances (as
 * getAppWithInstances), whether its health check is enabled (getHealthCheck) and the newest
 * sample of each metric type (latestMetrics, the same one index scan per type). Three
 * statements before, all on the primary; one round trip now.
 */
export async function getAppDetail(db: Database, name: string): Promise<AppDetail | null> {
  // Prepared once per handle (preparedQuery): every GET /apps/{name} sends it.
  const query = preparedQuery(db, 'orchestry_app_detail', (db, statement) =>
    db
      .select({
        app: getTableColumns(applications),
        instances: liveInstancesJson(),
        healthChecksEnabled: sql<boolean | null>`(
          SELECT hc.enabled FROM health_checks hc WHERE hc.app_name = ${applications.name} LIMIT 1)`,
        latest: sql<Array<[MetricType, number, string, string | null]> | null>`(
          SELECT json_agg(json_build_array(t.metric_type, m.value, m."timestamp", m.container_id))
          FROM unnest(${sql.param([...METRIC_TYPES])}::varchar[]) AS t(metric_type)
          CROSS JOIN LATERAL (
            SELECT value, "timestamp", container_id FROM metrics
            WHERE app_name = ${applications.name} AND metric_type = t.metric_type
            ORDER BY "timestamp" DESC, id DESC
            LIMIT 1
          ) m)`,
      })
      .from(applications)
      .leftJoin(instances, liveInstancesOfApp)
      .where(eq(applications.name, sql.placeholder('name')))
      .groupBy(applications.name)
      .prepare(statement),
  );
  const [row] = await query.execute({ name });
  if (!row) return null;
  const latest: Partial<Record<MetricType, LatestMetric>> = {};
  for (const [type, value, at, containerId] of row.latest ?? []) latest[type] = { value: Number(value), at: new Date(at), containerId };
  return {
    app: row.app,
    instances: row.instances.map(instanceFromJson),
    healthChecksEnabled: row.healthChecksEnabled === true,
    latest,
  };
}

export interface AppSummary {
  app: Application;
  runningInstances: number;
  healthyInstances: number;
  /** Averages over running instances; null when none runs. */
  avgCpuPercent: number | null;
  avgMemoryPercent: number | null;
}

export interface AppsSummary {
  apps: AppSummary[];
  /** Over every application, whatever the status filter. */
  totals: { total: number; byStatus: Record<AppStatus, number> };
}

const nullableNumber = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** Every app (or those of one status) by name, with instance counts and averages. */
export async function listAppsSummary(db: Database, opts: { status?: AppStatus | undefined } = {}): Promise<AppsSummary> {
  const running = sql`${instances.status} = 'running'`;
  const appsQuery = db
    .select({
      app: getTableColumns(applications),
      runningInstances: sql<number>`count(${instances.id}) FILTER (WHERE ${running})`.mapWith(Number),
      healthyInstances: sql<number>`count(${instances.id}) FILTER (WHERE ${instances.healthStatus} = 'healthy')`.mapWith(Number),
      avgCpuPercent: sql<string | null>`avg(${instances.cpuPercent}) FILTER (WHERE ${running})`,
      avgMemoryPercent: sql<string | null>`avg(${instances.memoryPercent}) FILTER (WHERE ${running})`,
    })
    .from(applications)
    .leftJoin(instances, eq(instances.appName, applications.name))
    .where(opts.status ? eq(applications.status, opts.status) : undefined)
    .groupBy(applications.name)
    .orderBy(asc(applications.name));
  const totalsQuery = db
    .select({ status: applications.status, count: sql<number>`count(*)`.mapWith(Number) })
    .from(applications)
    .groupBy(applications.status);
  const [rows, totals] = await Promise.all([appsQuery, totalsQuery]);
  const byStatus = Object.fromEntries(APP_STATUSES.map((s) => [s, 0])) as Record<AppStatus, number>;
  for (const t of totals) byStatus[t.status] = t.count;
  return {
    apps: rows.map((r) => ({
      app: r.app,
      runningInstances: r.runningInstances,
      healthyInstances: r.healthyInstances,
      avgCpuPercent: nullableNumber(r.avgCpuPercent),
      avgMemoryPercent: nullableNumber(r.avgMemoryPercent),
    })),
    totals: { total: totals.reduce((n, t) => n + t.count, 0), byStatus },
  };
}

/** Registers an app; a second app of the same name is APP_ALREADY_EXISTS. */
export async function insertApp(tx: Database, row: NewApplication): Promise<Application> {
  return withDbErrors(
    async () => {
      const [inserted] = await tx.insert(applications).values(row).returning();
      return inserted!;
    },
    { app: row.name },
  );
}

export type AppPatch = Partial<Omit<NewApplication, 'name' | 'createdAt' | 'updatedAt'>>;

/** Changes an app and stamps updated_at; APP_NOT_FOUND when there is no such app. */
export async function updateApp(tx: Database, name: string, patch: AppPatch): Promise<Application> {
  return withDbErrors(
    async () => {
      const [updated] = await tx
        .update(applications)
        .set({ ...patch, updatedAt: sql`now()` })
        .where(eq(applications.name, name))
        .returning();
      if (!updated) throw appNotFound(name);
      return updated;
    },
    { app: name },
  );
}

/**
 * Locks the app's row until the transaction ends, so two requests or jobs acting on one
 * app take turns. Null when there is no such app.
 */
export async function lockApp(tx: Database, name: string): Promise<Application | null> {
  const [row] = await tx.select().from(applications).where(eq(applications.name, name)).for('update');
  return row ?? null;
}

/** Removes an app (its instances, metrics, policy... go with it). False when there was none. */
export async function deleteApp(tx: Database, name: string): Promise<boolean> {
  const deleted = await withDbErrors(() =>
    tx.delete(applications).where(eq(applications.name, name)).returning({ name: applications.name }),
  );
  return deleted.length > 0;
}
