/** Applications: the desired state of every app, and the summaries listings show. */
import { and, asc, eq, getTableColumns, gt, ne, sql } from 'drizzle-orm';
import { appNotFound } from '../../functions/core/errors.js';
import { preparedQuery, type Database } from '../client.js';
import { withDbErrors } from '../errors.js';
import {
  APP_STATUSES,
  applications,
  instances,
  METRIC_TYPES,
  type MetricType,
  type Application,
  type AppMode,
  type AppStatus,
  type Instance,
  type NewApplication,
} from '../schema.js';
import { instanceFromJson, type InstanceJson } from './instances.js';
import type { LatestMetric } from './metrics.js';
import { checkLimit, pageOf, type Page, type PageRequest } from './page.js';

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

/** A row of GET /apps: what a listing shows of an app, without its spec document. */
export interface AppListItem {
  name: string;
  status: AppStatus;
  mode: AppMode | null;
  image: string | null;
  revision: number;
  desiredReplicas: number;
  /** Replicas running. */
  runningReplicas: number;
  /** Running replicas that pass their health check (every running one when checks are off). */
  readyReplicas: number;
  createdAt: Date | null;
  updatedAt: Date | null;
  lastScaledAt: Date | null;
}

export interface AppListFilters {
  status?: AppStatus | undefined;
  mode?: AppMode | undefined;
  image?: string | undefined;
  /** Every one of these labels, with these values (label selector `key=value`). */
  labels?: Record<string, string> | undefined;
}

const specImage = sql<string | null>`${applications.spec}->'spec'->>'image'`;
const specLabels = sql`${applications.spec}->'metadata'->'labels'`;

/**
 * One page of apps in name order, filtered. Each filter is served by an index that ends with
 * the name (status, mode, image) or by the labels' GIN index, so a page is one index scan of
 * `limit + 1` entries plus, per app, one index scan of its instances, whatever the number of
 * apps (EXPLAIN in test/integration/db/list-plans.test.ts). Every combination of filters is
 * its own prepared statement: one statement with optional conditions would get one generic
 * plan for all of them.
 */
export async function listAppPage(db: Database, filters: AppListFilters, page: PageRequest<string>): Promise<Page<AppListItem, string>> {
  checkLimit(page.limit);
  const labels = filters.labels && Object.keys(filters.labels).length > 0 ? filters.labels : undefined;
  const variant = [filters.status, filters.mode, filters.image, labels, page.after].map((v) => (v === undefined ? 0 : 1)).join('');
  const query = preparedQuery(db, `orchestry_app_page_${variant}`, (db, statement) =>
    db
      .select({
        name: applications.name,
        status: applications.status,
        mode: applications.mode,
        image: specImage,
        revision: applications.revision,
        desiredReplicas: applications.desiredReplicas,
        createdAt: applications.createdAt,
        updatedAt: applications.updatedAt,
        lastScaledAt: applications.lastScaledAt,
        // [running, running and healthy]: one index-only scan of the app's instances.
        // Qualified by hand: Drizzle leaves a one-table query's columns unqualified.
        counts: sql<[number, number]>`(
          SELECT ARRAY[count(*), count(*) FILTER (WHERE i.health_status = 'healthy')]::int[]
          FROM instances i WHERE i.app_name = applications.name AND i.status = 'running')`,
        checksEnabled: sql<boolean | null>`(SELECT hc.enabled FROM health_checks hc WHERE hc.app_name = applications.name)`,
      })
      .from(applications)
      .where(
        and(
          filters.status === undefined ? undefined : eq(applications.status, sql.placeholder('status')),
          filters.mode === undefined ? undefined : eq(applications.mode, sql.placeholder('mode')),
          filters.image === undefined ? undefined : sql`${specImage} = ${sql.placeholder('image')}`,
          labels === undefined ? undefined : sql`${specLabels} @> ${sql.placeholder('labels')}::jsonb`,
          page.after === undefined ? undefined : gt(applications.name, sql.placeholder('after')),
        ),
      )
      .orderBy(asc(applications.name))
      .limit(sql.placeholder('limit'))
      .prepare(statement),
  );
  const rows = await query.execute({
    status: filters.status,
    mode: filters.mode,
    image: filters.image,
    labels: labels === undefined ? undefined : JSON.stringify(labels),
    after: page.after,
    limit: page.limit + 1,
  });
  const items = rows.map(({ counts, checksEnabled, ...row }): AppListItem => {
    const [running, healthy] = counts ?? [0, 0];
    return {
      ...row,
      desiredReplicas: row.desiredReplicas ?? 0,
      runningReplicas: running,
      readyReplicas: checksEnabled === true ? healthy : running,
    };
  });
  return pageOf(items, page.limit, (app) => app.name);
}

/** How many apps there are of each status (every status, 0 when none). */
export async function appStatusCounts(db: Database): Promise<Record<AppStatus, number>> {
  const query = preparedQuery(db, 'orchestry_app_status_counts', (db, statement) =>
    db
      .select({ status: applications.status, count: sql<number>`count(*)::int` })
      .from(applications)
      .groupBy(applications.status)
      .prepare(statement),
  );
  const byStatus = Object.fromEntries(APP_STATUSES.map((s) => [s, 0])) as Record<AppStatus, number>;
  for (const row of await query.execute()) byStatus[row.status] = Number(row.count);
  return byStatus;
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
