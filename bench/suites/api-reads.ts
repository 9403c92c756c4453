/**
 * api_get_app / api_list_apps: GET /api/v1/apps/{name} (random apps) and one page of
 * GET /api/v1/apps (100 apps after a random one, through a cursor) over HTTP against the API
 * process, 64 connections (autocannon), with 10,000 apps of 3 replicas and their metrics,
 * authenticated with a stored read key as a client would be.
 *
 * The reference sends the same SQL through the bare driver at the same concurrency: the
 * statements one request makes are recorded (the app built in this process on the same
 * database), then replayed by 64 workers on a pool of the API's size, with the app name
 * swapped per request; a statement the API sends prepared (named) is replayed under its
 * name, so the server parses and plans it once per connection on both sides. The difference is everything the API adds: HTTP, routing,
 * authentication, validation, Drizzle, shaping and serializing the answer, logging.
 */
import pg from 'pg';
import { insertApiKey } from '../../db/queries/api-keys.js';
import { createApp } from '../../functions/api/app.js';
import { CURSORS } from '../../functions/api/cursor.js';
import { generateKey } from '../../functions/api/keys.js';
import { DEFAULT_CONFIG, NoRuntime, type Deps } from '../../functions/deps.js';
import { silentLogger } from '../../functions/log.js';
import { startApiServer } from '../lib/api-server.js';
import { openDb, recordStatements, withBenchDatabase } from '../lib/db.js';
import { driverLoad, httpLoad, type LoadResult, type Statement } from '../lib/load.js';
import { appName, seedFleet } from '../lib/seed.js';
import { ratioOf, round } from '../lib/stats.js';
import type { BenchContext, Suite, SuiteName, SuiteResult } from '../lib/types.js';

const SIZES = { apps: 10_000, connections: 64, seconds: 10, warmupSeconds: 2 };
const TINY = { apps: 20, connections: 4, seconds: 1, warmupSeconds: 0.5 };
/** The API's own pool size (DATABASE_POOL_MAX unset): the reference gets as many connections. */
const API_POOL_SIZE = 10;

interface Route {
  name: 'api_get_app' | 'api_list_apps';
  title: string;
  pathFor(n: number): string;
  goals: { ratio: number; p99Ms: number };
}

const ROUTES: Route[] = [
  { name: 'api_get_app', title: 'GET /api/v1/apps/{name}', pathFor: (n) => `/api/v1/apps/${appName(n)}`, goals: { ratio: 0.6, p99Ms: 20 } },
  {
    name: 'api_list_apps',
    title: 'GET /api/v1/apps (a page of 100)',
    // The page after app n, as a client paging through the list asks for it.
    pathFor: (n) => `/api/v1/apps?cursor=${CURSORS.apps.encode([appName(n)], {})}`,
    goals: { ratio: 0.5, p99Ms: 25 },
  },
];

/** The statements one request of `route` sends, as the API sends them. */
async function statementsOf(app: ReturnType<typeof createApp>, path: string, headers: Record<string, string>): Promise<{ statements: Statement[]; bytes: number }> {
  // The first request also records the key's use (once a minute): not what the load sees.
  const warm = await app.request(path, { headers });
  if (warm.status !== 200) throw new Error(`${path} answered ${warm.status}: ${await warm.text()}`);
  const { result, statements } = await recordStatements(async () => {
    const answer = await app.request(path, { headers });
    return answer.text();
  });
  return { statements: statements.map(({ text, values, name }) => ({ text, values, name })), bytes: Buffer.byteLength(result) };
}

/** The recorded statements with the recorded app's name replaced by another's. */
function withApp(statements: Statement[], from: string, to: string): Statement[] {
  return statements.map((s) => ({ ...s, values: s.values?.map((v) => (v === from ? to : v)) }));
}

function resultOf(route: Route, apps: number, connections: number, orchestry: LoadResult, reference: LoadResult, extra: Record<string, unknown>): SuiteResult {
  const ratio = ratioOf(orchestry.per_second, reference.per_second);
  return {
    orchestry: round(orchestry.per_second, 4),
    reference: round(reference.per_second, 4),
    unit: 'req/s',
    ratio,
    higher_is_better: true,
    orchestry_does: `${route.title} over HTTP, ${connections} connections, ${apps} apps`,
    reference_does: `the same SQL through the bare pg driver, ${connections} workers, pool of ${API_POOL_SIZE}`,
    goals: [
      { goal: `>= ${route.goals.ratio} x the bare driver`, actual: `${ratio} x`, met: ratio >= route.goals.ratio },
      { goal: `p99 <= ${route.goals.p99Ms} ms`, actual: `p99 ${orchestry.latency_ms.p99} ms`, met: orchestry.latency_ms.p99 <= route.goals.p99Ms },
    ],
    latency_ms: orchestry.latency_ms,
    reference_latency_ms: reference.latency_ms,
    completed: orchestry.completed,
    reference_completed: reference.completed,
    ...extra,
  };
}

export const apiReadsSuite: Suite = {
  names: ['api_get_app', 'api_list_apps'],
  async run(ctx: BenchContext, only) {
    const size = ctx.tiny ? TINY : SIZES;
    const routes = ROUTES.filter((r) => only.has(r.name));
    return withBenchDatabase(ctx.serverUrl, 'api_reads', async (database) => {
      ctx.log(`api reads: seeding ${size.apps} apps`);
      await seedFleet(database.url, { apps: size.apps, replicas: 3, start: new Date() });
      const handle = await openDb(database.url, API_POOL_SIZE);
      const pool = new pg.Pool({ connectionString: database.url, max: API_POOL_SIZE, options: '-c jit=off' });
      pool.on('error', () => {});
      const server = await startApiServer(database.url);
      try {
        const key = generateKey();
        await insertApiKey(handle.db.$primary, { name: 'bench', prefix: key.prefix, keyHash: key.keyHash, scope: 'read' });
        const headers = { authorization: `Bearer ${key.key}` };
        const deps: Deps = {
          db: handle.db,
          runtime: new NoRuntime('the API benchmark starts nothing'),
          log: silentLogger,
          now: () => new Date(),
          config: { ...structuredClone(DEFAULT_CONFIG), rateLimitPerMinute: 0 },
        };
        const inProcess = createApp(deps);
        const results: Partial<Record<SuiteName, SuiteResult>> = {};
        const failures: Partial<Record<SuiteName, unknown>> = {};
        for (const route of routes) {
          try {
            const recorded = appName(1);
            const { statements, bytes } = await statementsOf(inProcess, route.pathFor(1), headers);
            // Every connection walks the apps from its own place in a shuffled order.
            const order = Array.from({ length: size.apps }, (_, i) => i + 1).sort(() => Math.random() - 0.5);
            const requests = order.map((n) => ({ method: 'GET' as const, path: route.pathFor(n) }));
            const load = { url: server.url, connections: size.connections, headers, requests };
            await httpLoad({ ...load, seconds: size.warmupSeconds });
            ctx.log(`${route.name}: Orchestry over HTTP for ${size.seconds} s`);
            const orchestry = await httpLoad({ ...load, seconds: size.seconds });
            if (orchestry.non_2xx > 0 || orchestry.errors > 0) {
              throw new Error(`${route.title}: ${orchestry.non_2xx} answers were not 2xx and ${orchestry.errors} failed`);
            }
            ctx.log(`${route.name}: the same SQL through the driver for ${size.seconds} s`);
            const reference = await driverLoad({
              pool,
              workers: size.connections,
              seconds: size.seconds,
              sequenceFor: (n) => withApp(statements, recorded, appName(order[n % order.length]!)),
            });
            results[route.name] = resultOf(route, size.apps, size.connections, orchestry, reference, {
              statements_per_request: statements.length,
              answer_bytes: bytes,
            });
          } catch (e) {
            failures[route.name] = e;
          }
        }
        return { results, failures };
      } finally {
        await server.stop();
        await pool.end();
        await handle.close();
      }
    });
  },
};
