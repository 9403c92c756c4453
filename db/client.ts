/**
 * The one factory that turns configuration into a database handle.
 *
 * - no DATABASE_URL: embedded PGlite (a directory for dev, memory for tests);
 * - a URL on a Neon host: @neondatabase/serverless Pool over WebSocket;
 * - any other Postgres URL: node-postgres;
 * - DATABASE_DRIVER overrides the choice (pglite | pg | neon);
 * - DATABASE_REPLICA_URL: Drizzle withReplicas, so plain selects read the replica while
 *   writes, transactions and raw `execute` go to the primary, and `db.$primary` serves
 *   reads that must see a write just made.
 */
import type { SQL } from 'drizzle-orm';
import { withReplicas, type PgDatabase, type PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from './schema.js';

export type Schema = typeof schema;
/** A database handle, whatever the driver underneath. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
/** The handle every module receives: reads may go to a replica; `$primary` never does. */
export type Db = Database & { $primary: Database; $replicas: Database[] };

export type DriverName = 'pglite' | 'pg' | 'neon';

export interface DbConfig {
  /** Primary URL; absent means embedded PGlite. */
  url?: string | undefined;
  replicaUrl?: string | undefined;
  driver?: DriverName | undefined;
  /** PGlite data directory; absent means in memory. */
  pgliteDir?: string | undefined;
  /** Largest number of connections per pool (pg and neon). */
  poolMax?: number | undefined;
  /**
   * For the Neon driver against a plain Postgres: the address of a WebSocket-to-TCP proxy
   * (`host:port/path`), reached without TLS. Unset in the cloud, where Neon terminates it.
   */
  neonWsProxy?: string | undefined;
}

export interface DbHandle {
  db: Db;
  driver: DriverName;
  hasReplica: boolean;
  close(): Promise<void>;
}

export function dbConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DbConfig {
  const driver = env.DATABASE_DRIVER;
  if (driver !== undefined && driver !== '' && !isDriverName(driver)) {
    throw new Error(`DATABASE_DRIVER must be one of pglite, pg, neon (got '${driver}')`);
  }
  return {
    url: env.DATABASE_URL || undefined,
    replicaUrl: env.DATABASE_REPLICA_URL || undefined,
    driver: driver ? driver : undefined,
    pgliteDir: env.PGLITE_DIR || undefined,
    poolMax: env.DATABASE_POOL_MAX ? Number(env.DATABASE_POOL_MAX) : undefined,
    neonWsProxy: env.DATABASE_NEON_WS_PROXY || undefined,
  };
}

const isDriverName = (s: string): s is DriverName => s === 'pglite' || s === 'pg' || s === 'neon';

/** Which driver a configuration selects. */
export function chooseDriver(config: DbConfig): DriverName {
  if (config.driver) return config.driver;
  if (!config.url) return 'pglite';
  const host = new URL(config.url).hostname;
  return /(^|\.)neon\.(tech|build)$/.test(host) ? 'neon' : 'pg';
}

export interface Opened {
  db: Database;
  close(): Promise<void>;
}

/**
 * PGlite's module. Its name goes through a variable so that esbuild (the Lambda bundles) leaves
 * this import alone, as functions/deps.ts does for the Docker runtime: PGlite was 521 kB of the
 * API's 1.65 MB minified bundle (bench cold_start), and a Lambda always has a DATABASE_URL.
 */
const PGLITE_MODULE = './pglite.js';

async function loadPglite(): Promise<typeof import('./pglite.js')> {
  try {
    return (await import(PGLITE_MODULE)) as typeof import('./pglite.js');
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new Error('embedded PGlite is not part of this build (a Lambda bundle): set DATABASE_URL', { cause: error });
  }
}

async function openOne(driver: DriverName, url: string | undefined, config: DbConfig): Promise<Opened> {
  switch (driver) {
    case 'pglite': {
      const { openPglite } = await loadPglite();
      return openPglite(config.pgliteDir);
    }
    case 'pg':
      // Written out in each branch (not through a variable or a function) so that esbuild,
      // folding the defined name, drops the other driver's import() as it parses.
      if (process.env.ORCHESTRY_BUNDLED_DRIVER === undefined || process.env.ORCHESTRY_BUNDLED_DRIVER === 'pg') {
        return (await import('./drivers/pg.js')).openPg(url, config);
      }
      throw notBundled('pg');
    case 'neon':
      if (process.env.ORCHESTRY_BUNDLED_DRIVER === undefined || process.env.ORCHESTRY_BUNDLED_DRIVER === 'neon') {
        return (await import('./drivers/neon.js')).openNeon(url, config);
      }
      throw notBundled('neon');
  }
}

/**
 * A Lambda bundle ships one server driver: the build (infra/functions.ts, bundlingFor) defines
 * `process.env.ORCHESTRY_BUNDLED_DRIVER` as that driver's name, which leaves the branches of
 * the other one dead, so esbuild drops its code (pg ~85 kB minified, Neon's with ws ~200 kB).
 * Unset (the dev server, tests, the CLI), every driver is there.
 */
const notBundled = (driver: DriverName) => {
  const bundled = String(process.env.ORCHESTRY_BUNDLED_DRIVER);
  return new Error(
    `the ${driver} driver is not part of this build, which ships only ${bundled}: ` +
      `set DATABASE_DRIVER=${bundled}, or deploy with ORCHESTRY_DATABASE_DRIVER=${driver}`,
  );
};

/**
 * A handle on the database `config` names. Async because PGlite is imported only when chosen;
 * the server drivers connect lazily, on the first query, as before.
 */
export async function createDb(config: DbConfig = dbConfigFromEnv()): Promise<DbHandle> {
  const driver = chooseDriver(config);
  const primary = await openOne(driver, config.url, config);
  if (!config.replicaUrl) {
    // withReplicas over the primary alone keeps one handle shape (with $primary) for
    // every configuration.
    const db = withReplicas(primary.db, [primary.db]) as Db;
    return { db, driver, hasReplica: false, close: primary.close };
  }
  const replicaDriver = driver === 'pglite' ? 'pg' : driver;
  const replica = await openOne(replicaDriver, config.replicaUrl, config);
  const db = withReplicas(primary.db, [replica.db]) as Db;
  return {
    db,
    driver,
    hasReplica: true,
    close: async () => {
      await Promise.allSettled([primary.close(), replica.close()]);
    },
  };
}

/**
 * Rows of a raw SQL statement. Every driver answers `execute` with `{ rows }`, but the
 * shared handle type cannot know which driver's result type it is.
 */
export async function queryRows<T>(db: Pick<Database, 'execute'>, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

const preparedByHandle = new WeakMap<Database, Map<string, unknown>>();

/**
 * A statement Drizzle builds once per handle and `name`, for reads on a hot path: Drizzle
 * turning a query into SQL cost more than the driver did on GET /apps/{name} (bench
 * api_get_app), and the server parses and plans a named statement once per connection.
 * `build` gets the handle and the name to pass to `.prepare(name)`; values go in as
 * `sql.placeholder`s. The handle is the one the statement runs on: give `db.$primary` for a
 * read that must see the primary (a withReplicas handle would pin one replica). pg and the
 * Neon driver send it as a named statement; PGlite ignores the name. The SQL text of a name
 * must never change within a process (pg refuses a name reused for other text).
 */
export function preparedQuery<T>(db: Database, name: string, build: (db: Database, name: string) => T): T {
  let byName = preparedByHandle.get(db);
  if (!byName) {
    byName = new Map();
    preparedByHandle.set(db, byName);
  }
  let query = byName.get(name) as T | undefined;
  if (query === undefined) {
    query = build(db, name);
    byName.set(name, query);
  }
  return query;
}
