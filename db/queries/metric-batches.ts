/**
 * Idempotent metric batches: a batch posted with an Idempotency-Key is stored once, however
 * often it is retried, and concurrent retries of one batch store it once too.
 */
import { and, eq, sql } from 'drizzle-orm';
import { OrchestryError } from '../../functions/core/errors.js';
import type { Database } from '../client.js';
import { withDbErrors } from '../errors.js';
import { metricBatches } from '../schema.js';

export interface BatchOutcome {
  accepted: number;
  /** The batch had been stored before under this key; nothing was stored now. */
  replayed: boolean;
}

/**
 * Runs `store` (which writes the samples on the transaction it is given and answers how many)
 * unless a batch with this key was stored for the app before. The key row is claimed first in
 * the same transaction: a concurrent retry waits on it, then finds it, so the samples go in
 * once. The same key with other samples is refused (CONFLICT): that is a sender bug, and
 * storing or dropping either batch silently would lose data.
 */
export async function storeBatchOnce(
  db: Database,
  batch: { appName: string; idempotencyKey: string; bodyHash: string },
  store: (tx: Database) => Promise<number>,
): Promise<BatchOutcome> {
  return withDbErrors(
    () =>
      db.transaction(async (tx) => {
        const claimed = await tx
          .insert(metricBatches)
          .values({ appName: batch.appName, idempotencyKey: batch.idempotencyKey, bodyHash: batch.bodyHash, accepted: 0 })
          .onConflictDoNothing()
          .returning({ key: metricBatches.idempotencyKey });
        if (claimed.length === 1) {
          const accepted = await store(tx);
          await tx
            .update(metricBatches)
            .set({ accepted })
            .where(and(eq(metricBatches.appName, batch.appName), eq(metricBatches.idempotencyKey, batch.idempotencyKey)));
          return { accepted, replayed: false };
        }
        const [earlier] = await tx
          .select({ bodyHash: metricBatches.bodyHash, accepted: metricBatches.accepted })
          .from(metricBatches)
          .where(and(eq(metricBatches.appName, batch.appName), eq(metricBatches.idempotencyKey, batch.idempotencyKey)))
          .limit(1);
        if (!earlier) throw new Error('metric batch key vanished between its conflict and its read');
        if (earlier.bodyHash !== batch.bodyHash) {
          throw new OrchestryError(
            'CONFLICT',
            `Idempotency-Key '${batch.idempotencyKey}' was used before for a different batch of '${batch.appName}'; send a new key for new samples`,
            { app_name: batch.appName, idempotency_key: batch.idempotencyKey },
          );
        }
        return { accepted: earlier.accepted, replayed: true };
      }),
    { app: batch.appName },
  );
}

/** Keys older than this are forgotten by cleanup: a retry comes within minutes, not a day. */
export const METRIC_BATCH_KEY_SECONDS = 86_400;

export const expiredBatchKeys = (now: Date) =>
  sql`created_at < ${new Date(now.getTime() - METRIC_BATCH_KEY_SECONDS * 1000).toISOString()}::timestamptz`;
