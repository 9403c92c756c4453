/** Instances: one row per replica, with its health counters and latest resource usage. */
import { and, asc, eq, ne, sql } from 'drizzle-orm';
import { queryRows, type Database } from '../client.js';
import { withDbErrors } from '../errors.js';
import { instances, type HealthStatus, type Instance, type InstanceStatus, type NewInstance } from '../schema.js';
import { checkLimit, pageOf, type Page, type PageRequest } from './page.js';

/** An instances row as `row_to_json` spells it. */
export interface InstanceJson {
  id: number;
  app_name: string;
  container_id: string;
  container_name: string;
  replica_index: number;
  ip: string;
  port: number;
  status: InstanceStatus;
  health_status: HealthStatus | null;
  created_at: string | null;
  updated_at: string | null;
  started_at: string | null;
  last_health_check: string | null;
  failure_count: number | null;
  consecutive_failures: number | null;
  last_failure_at: string | null;
  cpu_percent: number | null;
  memory_percent: number | null;
  memory_usage_bytes: number | string | null;
  revision: number;
  consecutive_successes: number;
}

const date = (v: string | null): Date | null => (v === null ? null : new Date(v));

export function instanceFromJson(j: InstanceJson): Instance {
  return {
    id: j.id,
    appName: j.app_name,
    containerId: j.container_id,
    containerName: j.container_name,
    replicaIndex: j.replica_index,
    ip: j.ip,
    port: j.port,
    status: j.status,
    healthStatus: j.health_status,
    createdAt: date(j.created_at),
    updatedAt: date(j.updated_at),
    startedAt: date(j.started_at),
    lastHealthCheck: date(j.last_health_check),
    failureCount: j.failure_count,
    consecutiveFailures: j.consecutive_failures,
    lastFailureAt: date(j.last_failure_at),
    cpuPercent: j.cpu_percent,
    memoryPercent: j.memory_percent,
    memoryUsageBytes: j.memory_usage_bytes === null ? null : Number(j.memory_usage_bytes),
    revision: j.revision,
    consecutiveSuccesses: j.consecutive_successes,
  };
}

/** An app's instances by replica index; stopped ones only when asked. */
export async function listInstances(
  db: Database,
  app: string,
  opts: { includeStopped?: boolean | undefined } = {},
): Promise<Instance[]> {
  return db
    .select()
    .from(instances)
    .where(and(eq(instances.appName, app), opts.includeStopped ? undefined : ne(instances.status, 'stopped')))
    .orderBy(asc(instances.replicaIndex), asc(instances.id));
}

export interface InstanceFilters {
  app?: string | undefined;
  status?: InstanceStatus | undefined;
  health?: HealthStatus | undefined;
}

/** A replica's place in the fleet-wide order: its app, then its index (unique together). */
export type InstanceKey = [appName: string, replicaIndex: number];

/**
 * Replicas of every app (or of one) by app and replica index, a page at a time: keyset on the
 * (app_name, replica_index) unique index; the status and health filters have theirs.
 */
export async function listInstancePage(db: Database, filters: InstanceFilters, page: PageRequest<InstanceKey>): Promise<Page<Instance, InstanceKey>> {
  checkLimit(page.limit);
  const rows = await db
    .select()
    .from(instances)
    .where(
      and(
        filters.app === undefined ? undefined : eq(instances.appName, filters.app),
        filters.status === undefined ? undefined : eq(instances.status, filters.status),
        filters.health === undefined ? undefined : eq(instances.healthStatus, filters.health),
        page.after === undefined
          ? undefined
          : sql`(${instances.appName}, ${instances.replicaIndex}) > (${page.after[0]}, ${page.after[1]}::int)`,
      ),
    )
    .orderBy(asc(instances.appName), asc(instances.replicaIndex))
    .limit(page.limit + 1);
  return pageOf(rows, page.limit, (instance): InstanceKey => [instance.appName, instance.replicaIndex]);
}

/** Records a new replica. A second replica with the same index or container id is a CONFLICT. */
export async function createInstance(tx: Database, row: NewInstance): Promise<Instance> {
  return withDbErrors(
    async () => {
      const [inserted] = await tx.insert(instances).values(row).returning();
      return inserted!;
    },
    { app: row.appName },
  );
}

export type InstanceTransition = Partial<
  Pick<
    NewInstance,
    'status' | 'healthStatus' | 'startedAt' | 'ip' | 'port' | 'containerId' | 'containerName' | 'revision' | 'lastHealthCheck'
  >
>;

/** Moves an instance to a new status or health and stamps updated_at; null when it is gone. */
export async function transitionInstance(tx: Database, id: number, change: InstanceTransition): Promise<Instance | null> {
  return withDbErrors(async () => {
    const [updated] = await tx
      .update(instances)
      .set({ ...change, updatedAt: sql`now()` })
      .where(eq(instances.id, id))
      .returning();
    return updated ?? null;
  });
}

export interface ProbeInput {
  ok: boolean;
  at: Date;
  /** Consecutive failures that make a replica unhealthy. */
  failureThreshold: number;
  /** Consecutive successes that make a replica healthy. */
  successThreshold: number;
}

export interface ProbeOutcome {
  previous: HealthStatus;
  healthStatus: HealthStatus;
  changed: boolean;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  failureCount: number;
}

/**
 * Counts one probe result and derives the health it implies, in one statement on the
 * locked row, so two probers finishing at once both count. A replica turns unhealthy at
 * `failureThreshold` failures in a row and healthy at `successThreshold` successes in a
 * row; in between it keeps its status. Null when the instance is gone.
 */
export async function recordProbe(tx: Database, id: number, probe: ProbeInput): Promise<ProbeOutcome | null> {
  const at = probe.at.toISOString();
  const [row] = await withDbErrors(() => queryRows<{
    previous: HealthStatus | null;
    health_status: HealthStatus;
    consecutive_failures: number;
    consecutive_successes: number;
    failure_count: number;
  }>(
    tx,
    sql`
      WITH old AS (
        SELECT id, health_status, coalesce(consecutive_failures, 0) AS failures, consecutive_successes AS successes
        FROM instances WHERE id = ${id} FOR UPDATE
      ),
      counted AS (
        SELECT id, health_status,
          CASE WHEN ${probe.ok}::boolean THEN 0 ELSE failures + 1 END AS failures,
          CASE WHEN ${probe.ok}::boolean THEN successes + 1 ELSE 0 END AS successes
        FROM old
      ),
      judged AS (
        SELECT c.*, CASE
          WHEN c.failures >= ${probe.failureThreshold}::int THEN 'unhealthy'
          WHEN c.successes >= ${probe.successThreshold}::int THEN 'healthy'
          ELSE coalesce(c.health_status, 'unknown')
        END AS next_health
        FROM counted c
      )
      UPDATE instances i SET
        consecutive_failures = c.failures,
        consecutive_successes = c.successes,
        failure_count = coalesce(i.failure_count, 0) + CASE WHEN ${probe.ok}::boolean THEN 0 ELSE 1 END,
        last_failure_at = CASE WHEN ${probe.ok}::boolean THEN i.last_failure_at ELSE ${at}::timestamptz END,
        last_health_check = ${at}::timestamptz,
        health_status = c.next_health,
        -- Only a change of health is a change of the row: drains and start back-offs are
        -- timed from updated_at, and probes every few seconds must not keep resetting them.
        updated_at = CASE WHEN c.next_health IS DISTINCT FROM c.health_status THEN now() ELSE i.updated_at END
      FROM judged c
      WHERE i.id = c.id
      RETURNING c.health_status AS previous, i.health_status, i.consecutive_failures,
        i.consecutive_successes, i.failure_count`,
  ));
  if (!row) return null;
  const previous = row.previous ?? 'unknown';
  return {
    previous,
    healthStatus: row.health_status,
    changed: previous !== row.health_status,
    consecutiveFailures: Number(row.consecutive_failures),
    consecutiveSuccesses: Number(row.consecutive_successes),
    failureCount: Number(row.failure_count),
  };
}

export interface InstanceStats {
  containerId: string;
  cpuPercent: number;
  memoryPercent: number;
  memoryUsageBytes: number;
}

/**
 * Stores the latest usage of many instances in one statement (arrays bound as four
 * parameters, whatever the count). Returns how many instances were updated. It leaves
 * updated_at alone: drains are timed from it, and samples arrive more often than drains end.
 */
export async function updateInstanceStats(db: Database, rows: InstanceStats[]): Promise<number> {
  if (rows.length === 0) return 0;
  const updated = await withDbErrors(() =>
    queryRows<{ id: number }>(
      db,
      sql`
        UPDATE instances i SET
          cpu_percent = s.cpu, memory_percent = s.mem, memory_usage_bytes = s.bytes
        FROM unnest(
          ${sql.param(rows.map((r) => r.containerId))}::varchar[],
          ${sql.param(rows.map((r) => r.cpuPercent))}::real[],
          ${sql.param(rows.map((r) => r.memoryPercent))}::real[],
          ${sql.param(rows.map((r) => Math.round(r.memoryUsageBytes)))}::bigint[]
        ) AS s(container_id, cpu, mem, bytes)
        WHERE i.container_id = s.container_id
        RETURNING i.id`,
    ),
  );
  return updated.length;
}

/** Forgets an instance; false when it was already gone. */
export async function deleteInstance(tx: Database, id: number): Promise<boolean> {
  const deleted = await withDbErrors(() => tx.delete(instances).where(eq(instances.id, id)).returning({ id: instances.id }));
  return deleted.length > 0;
}
