/**
 * Databases for tests, on the three targets Orchestry runs on:
 *
 * - `pglite`: embedded PGlite in memory (always available; ~4 s to start, so share one per file);
 * - `pg`:     node-postgres on a fresh database of TEST_DATABASE_URL's server;
 * - `neon`:   the Neon serverless driver (Postgres over WebSocket) on a fresh database of the
 *             same server, through test/support/ws-proxy.ts, as in the cloud through Neon's proxy.
 *
 * TEST_DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/postgres when that answers.
 * A target without its server is skipped with the reason, except under CI=true, where it fails.
 *
 *   import { describeEachTarget } from '../../support/db.js';
 *   describeEachTarget('applications', (t) => {
 *     it('inserts', async () => { await insertApp(t.db.$primary, {...}); });
 *   });
 *
 * Each describeEachTarget() opens one migrated database per target before its tests and drops it
 * after them, so test files never share data. Tests within one suite share it: use distinct
 * app names per test.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createDb, queryRows, type Db, type DbConfig, type DriverName } from '../../db/client.js';
import { migrate } from '../../db/migrate.js';
import { startWsProxy } from './ws-proxy.js';

export type TestTarget = DriverName;
export const TEST_TARGETS: readonly TestTarget[] = ['pglite', 'pg', 'neon'];

export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_TEST_REPLICA_URL = 'postgres://postgres@127.0.0.1:5433/postgres';

export interface Availability {
  available: boolean;
  /** Why not, when not: shown in the skip message (or the CI failure). */
  reason?: string | undefined;
}

export interface TargetAvailability extends Availability {
  target: TestTarget;
}

const errorText = (e: unknown) => (e instanceof Error ? e.message || e.constructor.name : String(e));

/** Whether a Postgres answers at `url` (within 3 s), and whether it is a standby. */
async function probe(url: string): Promise<{ ok: true; inRecovery: boolean } | { ok: false; error: string }> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
    return { ok: true, inRecovery: rows[0]!.r };
  } catch (e) {
    return { ok: false, error: errorText(e) };
  } finally {
    await client.end().catch(() => {});
  }
}

/** Where the server for pg/neon tests is, or why there is none. */
async function serverAvailability(): Promise<Availability & { url: string }> {
  const configured = process.env.TEST_DATABASE_URL;
  const url = configured || DEFAULT_TEST_DATABASE_URL;
  const answer = await probe(url);
  if (answer.ok) return { available: true, url };
  return {
    available: false,
    url,
    reason: configured
      ? `TEST_DATABASE_URL (${redact(url)}) does not answer: ${answer.error}`
      : `TEST_DATABASE_URL is unset and no Postgres answers at ${redact(url)} (${answer.error}); start one or set TEST_DATABASE_URL`,
  };
}

async function replicaAvailability(primary: Availability): Promise<Availability & { url: string }> {
  const configured = process.env.TEST_REPLICA_URL;
  const url = configured || DEFAULT_TEST_REPLICA_URL;
  if (!primary.available) return { available: false, url, reason: `no primary: ${primary.reason}` };
  const answer = await probe(url);
  if (!answer.ok) {
    return {
      available: false,
      url,
      reason: configured
        ? `TEST_REPLICA_URL (${redact(url)}) does not answer: ${answer.error}`
        : `TEST_REPLICA_URL is unset and no replica answers at ${redact(url)} (${answer.error}); start one or set TEST_REPLICA_URL`,
    };
  }
  if (!answer.inRecovery) {
    return { available: false, url, reason: `${redact(url)} is not a standby (pg_is_in_recovery() is false)` };
  }
  return { available: true, url };
}

const redact = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');

// Probed once per test file, when this module is first imported.
const server = await serverAvailability();
const replica = await replicaAvailability(server);

/** The three targets and whether each can run here. */
export function testTargets(): TargetAvailability[] {
  return TEST_TARGETS.map((target) =>
    target === 'pglite' ? { target, available: true } : { target, available: server.available, reason: server.reason },
  );
}

export interface TestDb {
  db: Db;
  target: TestTarget;
  /** The database's URL (pg and neon targets). */
  url?: string | undefined;
  /**
   * What opened it (pg and neon targets): `await createDb(config)` gives a second, independent
   * handle on the same database, e.g. to race two clients. Close that one yourself.
   */
  config?: DbConfig | undefined;
  /** Closes the handle and drops the database. */
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Apply migrations/ before returning (default true). */
  migrate?: boolean | undefined;
}

/** A fresh, uniquely named database on the test server; dropped by the returned function. */
export async function createScratchDatabase(serverUrl: string = server.url): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `orchestry_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    // FORCE: a pool the test failed to close must not keep its database alive.
    drop: () => adminQuery(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

async function adminQuery(serverUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** Opens a migrated database on one target. The caller closes it (which drops it). */
export async function openTestDb(target: TestTarget, options: OpenOptions = {}): Promise<TestDb> {
  const finish = async (db: Db) => {
    if (options.migrate !== false) await migrate(db.$primary);
  };
  if (target === 'pglite') {
    const handle = await createDb({ driver: 'pglite' });
    try {
      await finish(handle.db);
    } catch (e) {
      await handle.close();
      throw e;
    }
    return { db: handle.db, target, close: handle.close };
  }
  if (!server.available) throw new Error(`cannot open a ${target} test database: ${server.reason}`);
  const scratch = await createScratchDatabase();
  const proxy = target === 'neon' ? await startWsProxy() : undefined;
  const config: DbConfig = { driver: target, url: scratch.url, neonWsProxy: proxy?.address, poolMax: 5 };
  const handle = await createDb(config);
  const close = async () => {
    await handle.close().catch(() => {});
    await proxy?.close();
    await scratch.drop();
  };
  try {
    await finish(handle.db);
  } catch (e) {
    await close();
    throw e;
  }
  return { db: handle.db, target, url: scratch.url, config, close };
}

/** The open database of a suite; `db` is there from the suite's first test on. */
export interface SuiteContext {
  readonly target: TestTarget;
  readonly db: Db;
  readonly url: string | undefined;
  readonly config: DbConfig | undefined;
}

/**
 * describe() only when `availability` says so; otherwise skipped with the reason, or, when
 * CI=true, a failing test carrying the reason: CI must never pass by skipping.
 */
export function describeIfAvailable(name: string, availability: Availability, suite: () => void): void {
  if (availability.available) {
    describe(name, suite);
  } else if (process.env.CI === 'true') {
    describe(name, () => {
      it('has its database server (required when CI=true)', () => {
        throw new Error(`${name} cannot run: ${availability.reason}`);
      });
    });
  } else {
    console.warn(`[skip] ${name}: ${availability.reason}`);
    describe.skip(`${name} (skipped: ${availability.reason})`, suite);
  }
}

/**
 * The same suite once per target (`name [pglite]`, `name [pg]`, `name [neon]`), each on
 * its own migrated database opened before the suite and dropped after it.
 */
export function describeEachTarget(
  name: string,
  suite: (t: SuiteContext) => void,
  options: OpenOptions & { targets?: readonly TestTarget[] } = {},
): void {
  const wanted = options.targets ?? TEST_TARGETS;
  for (const availability of testTargets().filter((a) => wanted.includes(a.target))) {
    const { target } = availability;
    describeIfAvailable(`${name} [${target}]`, availability, () => {
      let opened: TestDb | undefined;
      beforeAll(async () => {
        opened = await openTestDb(target, options);
      });
      afterAll(async () => {
        await opened?.close();
      });
      suite({
        target,
        get db() {
          if (!opened) throw new Error(`the ${target} test database is not open yet (use it inside tests or hooks)`);
          return opened.db;
        },
        get url() {
          return opened?.url;
        },
        get config() {
          return opened?.config;
        },
      });
    });
  }
}

/** Whether the primary + streaming replica pair can be used, and why not. */
export function replicaPairAvailability(): Availability {
  return { available: replica.available, reason: replica.reason };
}

export interface ReplicaPair {
  /** pg driver with replicaUrl: plain selects read the replica, `$primary` the primary. */
  db: Db;
  primaryUrl: string;
  replicaUrl: string;
  close(): Promise<void>;
}

/** Polls `check` until it returns true or `timeoutMs` passes (then throws `what`). */
export async function pollUntil(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A fresh migrated database on the primary (TEST_DATABASE_URL), and a handle reading it
 * through the streaming replica (TEST_REPLICA_URL), which receives the new database by
 * replication: this waits until the replica has it, migrated.
 */
export async function openReplicaPair(): Promise<ReplicaPair> {
  if (!replica.available) throw new Error(`cannot open a replica pair: ${replica.reason}`);
  const scratch = await createScratchDatabase();
  const replicaUrl = new URL(replica.url);
  replicaUrl.pathname = new URL(scratch.url).pathname;
  const handle = await createDb({ driver: 'pg', url: scratch.url, replicaUrl: replicaUrl.toString(), poolMax: 5 });
  const close = async () => {
    await handle.close().catch(() => {});
    await scratch.drop();
  };
  try {
    await migrate(handle.db.$primary);
    const standby = handle.db.$replicas[0]!;
    await pollUntil(async () => {
      const [row] = await queryRows<{ t: string | null }>(standby, sql`SELECT to_regclass('public.applications')::text AS t`);
      return row?.t === 'applications';
    }, 'the replica to receive the migrated database');
  } catch (e) {
    await close();
    throw e;
  }
  return { db: handle.db, primaryUrl: scratch.url, replicaUrl: replicaUrl.toString(), close };
}
