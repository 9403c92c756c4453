/** Scaling policies: one row per app. */
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../client.js';
import { withDbErrors } from '../errors.js';
import { scalingPolicies, type NewScalingPolicy, type ScalingPolicy } from '../schema.js';

export async function getPolicy(db: Database, app: string): Promise<ScalingPolicy | null> {
  const [row] = await db.select().from(scalingPolicies).where(eq(scalingPolicies.appName, app)).limit(1);
  return row ?? null;
}

export type PolicyFields = Partial<Omit<NewScalingPolicy, 'appName' | 'createdAt' | 'updatedAt'>>;

/**
 * Creates the app's policy (columns not given take their defaults) or changes the given
 * columns of the existing one. A policy breaking a rule (min > max, ...) is a
 * VALIDATION_ERROR naming the fields; an unknown app is APP_NOT_FOUND.
 */
export async function upsertPolicy(tx: Database, app: string, fields: PolicyFields): Promise<ScalingPolicy> {
  return withDbErrors(
    async () => {
      const [row] = await tx
        .insert(scalingPolicies)
        .values({ ...fields, appName: app })
        .onConflictDoUpdate({ target: scalingPolicies.appName, set: { ...fields, updatedAt: sql`now()` } })
        .returning();
      return row!;
    },
    { app },
  );
}
