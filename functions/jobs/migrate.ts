/**
 * The migrate Lambda: applies migrations/ (db/migrate.ts, idempotent and locked, so a
 * deploy may invoke it any number of times, even twice at once) and answers what it
 * applied. It needs only the database, so it opens no container runtime.
 */
import { migrate, type MigrateResult } from '../../db/migrate.js';
import { databaseFromEnv } from './job.js';

export async function handler(): Promise<MigrateResult> {
  const handle = await databaseFromEnv();
  try {
    return await migrate(handle.db.$primary);
  } finally {
    await handle.close();
  }
}
