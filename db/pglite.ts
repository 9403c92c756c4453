/**
 * Embedded PGlite, the dev server's and the tests' database. A module of its own so that only
 * a process that chooses PGlite loads it: `db/client.ts` imports it on demand, through a
 * variable, which keeps it (521 kB minified) out of the Lambda bundles, where DATABASE_URL is
 * always set.
 */
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import type { Database } from './client.js';
import * as schema from './schema.js';

/** A PGlite database in `dir`, or in memory when `dir` is undefined. */
export function openPglite(dir: string | undefined): { db: Database; close(): Promise<void> } {
  const client = new PGlite(dir);
  return { db: drizzle({ client, schema }) as unknown as Database, close: () => client.close() };
}
