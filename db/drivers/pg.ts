/**
 * The node-postgres driver, imported by db/client.ts only when chosen: a process uses one
 * driver, and initializing pg took ~26 ms of the API bundle's import (node --cpu-prof on
 * bench cold_start's bundle).
 */
import pg from 'pg';
import { drizzle } from 'drizzle-orm/node-postgres';
import type { Database, DbConfig, Opened } from '../client.js';
import * as schema from '../schema.js';

export async function openPg(url: string | undefined, config: DbConfig): Promise<Opened> {
  if (!url) throw new Error('DATABASE_URL is required for the pg driver');
  // JIT compilation (on by default) costs more than it saves on Orchestry's statements,
  // which are many and short: on the scaler's one large read it took a third of the time
  // (bench/, scaler_tick_10k). An `options` in the URL still wins over this default.
  const pool = new pg.Pool({ connectionString: url, max: config.poolMax ?? 10, options: '-c jit=off' });
  // An idle client that loses its server emits 'error'; without a listener that
  // would end the process. The next query gets a fresh connection.
  pool.on('error', () => {});
  return { db: drizzle({ client: pool, schema }) as unknown as Database, close: () => pool.end() };
}
