/**
 * Databases for the suites: each suite gets a database of its own on the local Postgres,
 * created migrated and dropped by the suite, and a way to count (and time) the SQL statements
 * that reach the server.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDb, type DbHandle } from '../../db/client.js';
import { migrate } from '../../db/migrate.js';

export const DEFAULT_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export const serverUrlFromEnv = (env: NodeJS.ProcessEnv = process.env) =>
  env.BENCH_DATABASE_URL || env.TEST_DATABASE_URL || DEFAULT_SERVER_URL;

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

/** Throws with the reason when no Postgres answers at `serverUrl`. */
export async function checkServer(serverUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5000 });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return rows[0]!.v;
  } catch (e) {
    throw new Error(
      `the benchmarks need a Postgres at ${serverUrl.replace(/:[^:@/]*@/, ':***@')} (set BENCH_DATABASE_URL or TEST_DATABASE_URL): ${
        e instanceof Error ? e.message : String(e)
      }`,
    );
  } finally {
    await client.end().catch(() => {});
  }
}

export interface BenchDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh database named after the suite, migrated; `drop()` removes it whatever holds it open. */
export async function createBenchDatabase(serverUrl: string, suite: string): Promise<BenchDatabase> {
  const name = `orchestry_bench_${suite}_${process.pid}_${randomBytes(3).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const drop = () => adminQuery(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  try {
    const handle = await createDb({ driver: 'pg', url: url.toString(), poolMax: 2 });
    try {
      await migrate(handle.db.$primary);
    } finally {
      await handle.close();
    }
  } catch (e) {
    await drop();
    throw e;
  }
  return { url: url.toString(), name, drop };
}

/** A database of `createBenchDatabase`, opened the way the API and jobs open one (pg driver). */
export function openDb(url: string, poolMax = 10): Promise<DbHandle> {
  return createDb({ driver: 'pg', url, poolMax });
}

/** Runs `body` with a database of its own, dropped afterwards even when `body` throws. */
export async function withBenchDatabase<T>(serverUrl: string, suite: string, body: (db: BenchDatabase) => Promise<T>): Promise<T> {
  const database = await createBenchDatabase(serverUrl, suite);
  try {
    return await body(database);
  } finally {
    await database.drop();
  }
}

export interface RecordedStatement {
  text: string;
  values: unknown[] | undefined;
  /** The statement's name when it was sent as a named (prepared) statement. */
  name?: string | undefined;
  ms: number;
}

type QueryFn = (this: pg.Client, ...args: unknown[]) => unknown;

let recorder: ((statement: RecordedStatement) => void) | null = null;
let patched = false;

/**
 * Every statement that any pg.Client in this process sends (pools hand out pg.Clients, so
 * Drizzle's queries, transactions' BEGIN/COMMIT and raw SQL all pass here), while a recording
 * is on, each timed from the call to its answer.
 */
function patchClientQuery(): void {
  if (patched) return;
  patched = true;
  const original = pg.Client.prototype.query as unknown as QueryFn;
  (pg.Client.prototype as unknown as { query: QueryFn }).query = function (this: pg.Client, ...args: unknown[]) {
    const record = recorder;
    if (!record) return original.apply(this, args);
    const config = args[0];
    const text = typeof config === 'string' ? config : ((config as { text?: string } | null)?.text ?? String(config));
    const values = Array.isArray(args[1]) ? (args[1] as unknown[]) : ((config as { values?: unknown[] } | null)?.values ?? undefined);
    const name = typeof config === 'object' ? ((config as { name?: string } | null)?.name ?? undefined) : undefined;
    const began = performance.now();
    const done = () => record({ text, values, ...(name ? { name } : {}), ms: performance.now() - began });
    // Pool.query hands the client a callback; transactions' clients are called promise-style.
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last] as (...results: unknown[]) => unknown;
      args[last] = (...results: unknown[]) => {
        done();
        return callback(...results);
      };
    }
    const result = original.apply(this, args);
    if (typeof args[last] !== 'function' && result && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<unknown>).then(done, done);
    }
    return result;
  };
}

/** The statements sent while `body` runs (only one recording at a time). */
export async function recordStatements<T>(body: () => Promise<T>): Promise<{ result: T; statements: RecordedStatement[] }> {
  patchClientQuery();
  if (recorder) throw new Error('recordStatements: a recording is already on');
  const statements: RecordedStatement[] = [];
  recorder = (s) => statements.push(s);
  try {
    const result = await body();
    // Let the last answers' then() callbacks run before the list is handed out.
    await new Promise((resolve) => setImmediate(resolve));
    return { result, statements };
  } finally {
    recorder = null;
  }
}
