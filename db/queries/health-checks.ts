/** Health checks: how each app's replicas are probed, one row per app. */
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { Database } from '../client.js';
import { withDbErrors } from '../errors.js';
import { healthChecks, type HealthCheck, type NewHealthCheck } from '../schema.js';
import { checkLimit, pageOf, type Page, type PageRequest } from './page.js';

export async function getHealthCheck(db: Database, app: string): Promise<HealthCheck | null> {
  const [row] = await db.select().from(healthChecks).where(eq(healthChecks.appName, app)).limit(1);
  return row ?? null;
}

/** Every app's health check by app name, a page at a time; `enabled` filters on idx_health_checks_enabled. */
export async function listHealthChecks(
  db: Database,
  filters: { enabled?: boolean | undefined },
  page: PageRequest<string>,
): Promise<Page<HealthCheck, string>> {
  checkLimit(page.limit);
  const rows = await db
    .select()
    .from(healthChecks)
    .where(
      and(
        filters.enabled === undefined ? undefined : eq(healthChecks.enabled, filters.enabled),
        page.after === undefined ? undefined : gt(healthChecks.appName, page.after),
      ),
    )
    .orderBy(asc(healthChecks.appName))
    .limit(page.limit + 1);
  return pageOf(rows, page.limit, (check) => check.appName);
}

export type HealthCheckFields = Omit<NewHealthCheck, 'id' | 'appName' | 'createdAt' | 'updatedAt'>;

/**
 * Sets the app's health check: the given columns replace the stored ones, columns not
 * given keep theirs (or take their defaults on first insert).
 */
export async function upsertHealthCheck(tx: Database, app: string, fields: HealthCheckFields): Promise<HealthCheck> {
  return withDbErrors(
    async () => {
      const [row] = await tx
        .insert(healthChecks)
        .values({ ...fields, appName: app })
        .onConflictDoUpdate({ target: healthChecks.appName, set: { ...fields, updatedAt: sql`now()` } })
        .returning();
      return row!;
    },
    { app },
  );
}
