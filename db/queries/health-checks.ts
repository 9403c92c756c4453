/** Health checks: how each app's replicas are probed, one row per app. */
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../client.js';
import { withDbErrors } from '../errors.js';
import { healthChecks, type HealthCheck, type NewHealthCheck } from '../schema.js';

export async function getHealthCheck(db: Database, app: string): Promise<HealthCheck | null> {
  const [row] = await db.select().from(healthChecks).where(eq(healthChecks.appName, app)).limit(1);
  return row ?? null;
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
