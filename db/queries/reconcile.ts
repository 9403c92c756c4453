/**
 * The reconciler's own statements: instance transitions that carry the reconciler's clock
 * (drain ends and retry back-offs are measured from `updated_at`, and tests move that
 * clock by hand) and only apply while the row is still in the state the decision saw, and
 * the query that finds apps with work to do.
 */
import { and, eq, gte, inArray, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../client.js';
import { withDbErrors } from '../errors.js';
import { applications, events, instances, type EventType, type Instance, type InstanceStatus, type NewInstance } from '../schema.js';

export type SlotChange = Partial<
  Pick<
    NewInstance,
    | 'status'
    | 'healthStatus'
    | 'containerId'
    | 'containerName'
    | 'ip'
    | 'port'
    | 'revision'
    | 'startedAt'
    | 'lastHealthCheck'
    | 'consecutiveFailures'
    | 'consecutiveSuccesses'
  >
>;

export interface SlotExpectation {
  status?: readonly InstanceStatus[] | undefined;
  containerId?: string | undefined;
  containerName?: string | undefined;
}

/**
 * Applies `change` to instance `id` and stamps `updated_at = at`, only while the row still
 * matches `expected`. Null when it no longer does (another reconciler moved it, or it is gone).
 */
export async function transitionSlot(
  tx: Database,
  id: number,
  expected: SlotExpectation,
  change: SlotChange,
  at: Date,
): Promise<Instance | null> {
  const conditions: SQL[] = [eq(instances.id, id)];
  if (expected.status) conditions.push(inArray(instances.status, [...expected.status]));
  if (expected.containerId !== undefined) conditions.push(eq(instances.containerId, expected.containerId));
  if (expected.containerName !== undefined) conditions.push(eq(instances.containerName, expected.containerName));
  return withDbErrors(async () => {
    const [row] = await tx
      .update(instances)
      .set({ ...change, updatedAt: at })
      .where(and(...conditions))
      .returning();
    return row ?? null;
  });
}

/** Claims a slot that has no row yet; the UNIQUE(app_name, replica_index) makes a second claim fail. */
export async function insertSlot(tx: Database, row: NewInstance & { updatedAt: Date }): Promise<Instance> {
  return withDbErrors(
    async () => {
      const [inserted] = await tx
        .insert(instances)
        .values({ ...row, createdAt: row.updatedAt })
        .returning();
      return inserted!;
    },
    { app: row.appName },
  );
}

/**
 * Apps whose actual state may differ from the desired one: a status announcing work, a
 * replica count out of date, an instance that is not a settled running replica of the
 * current revision in a wanted slot, or a wanted slot without one. With `everyActive`,
 * every app that wants replicas or still has some (for a periodic full comparison with
 * the runtime, which is the only way to notice a container removed behind Orchestry's back
 * before its health checks fail).
 */
export async function appsToReconcile(db: Database, opts: { everyActive?: boolean | undefined } = {}): Promise<string[]> {
  const active = sql`EXISTS (SELECT 1 FROM ${instances} i WHERE i.app_name = ${applications.name} AND i.status <> 'stopped')`;
  const runningWanted = sql`(SELECT count(*) FROM ${instances} i
      WHERE i.app_name = ${applications.name} AND i.status = 'running'
        AND i.revision = ${applications.revision} AND i.replica_index < ${applications.desiredReplicas})`;
  const unsettled = sql`EXISTS (SELECT 1 FROM ${instances} i
      WHERE i.app_name = ${applications.name} AND i.status <> 'stopped'
        AND (i.status <> 'running' OR i.health_status = 'unhealthy' OR i.revision <> ${applications.revision}
             OR i.replica_index >= ${applications.desiredReplicas}))`;
  const running = sql`(SELECT count(*) FROM ${instances} i WHERE i.app_name = ${applications.name} AND i.status = 'running')`;
  const where = opts.everyActive
    ? sql`${applications.desiredReplicas} > 0 OR ${active}`
    : sql`${applications.status} IN ('starting', 'stopping', 'updating', 'error')
          OR coalesce(${applications.replicas}, 0) <> ${running}
          OR coalesce(${applications.desiredReplicas}, 0) <> ${runningWanted}
          OR ${unsettled}`;
  const rows = await db
    .select({ name: applications.name })
    .from(applications)
    .where(where)
    .orderBy(applications.name);
  return rows.map((r) => r.name);
}

/**
 * Whether the app got an event of this type and message in the last `withinSeconds` (by the
 * database's clock, which stamps events), so that a failure repeating on every tick is
 * recorded once a while rather than once a tick.
 */
export async function hasRecentEvent(tx: Database, app: string, type: EventType, message: string, withinSeconds: number): Promise<boolean> {
  const [row] = await tx
    .select({ id: events.id })
    .from(events)
    .where(
      and(
        eq(events.appName, app),
        eq(events.eventType, type),
        eq(events.message, message),
        gte(events.timestamp, sql`now() - make_interval(secs => ${withinSeconds})`),
      ),
    )
    .limit(1);
  return row !== undefined;
}
