/**
 * `npm run dev`: the whole of Orchestry in one process on a laptop. The same API and job
 * functions as in the cloud, with timers in place of EventBridge schedules, the local Docker
 * engine in place of ECS, and the local router in place of the ALB.
 *
 * Startup: migrate the database, make sure there is an admin key, listen (API and router,
 * both on 127.0.0.1), say where everything is, then start the timers. Shutdown: stop the
 * timers and wait for the jobs in flight, close both listeners (requests in flight may
 * finish), then close the database.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { relative } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { migrate } from '../../db/migrate.js';
import { createApp } from '../api/app.js';
import { ensureBootstrapKey, type BootstrapResult } from '../api/keys.js';
import { createDepsFromEnv, opsDeps, type Deps, type DepsHandle } from '../deps.js';
import { run as runCleanup } from '../jobs/cleanup.js';
import { run as runProber } from '../jobs/health-prober.js';
import { run as runCollector } from '../jobs/metric-collector.js';
import { run as runRollup } from '../jobs/metric-rollup.js';
import { run as runScaler } from '../jobs/scaler.js';
import { createLogger, type Logger, type LogLevel } from '../log.js';
import { reconcileAll } from '../ops/reconcile-all.js';
import { createRouter, type Router } from '../router/router.js';
import type { RuntimeHealth } from '../runtime/types.js';
import { lockStateDir, type StateLock } from './lock.js';
import { privateDir } from './private-files.js';
import { localActivator } from './activator.js';
import { routerTargets, storeRouterMetrics } from './router-wiring.js';
import { Scheduler } from './scheduler.js';
import { depsEnv, devSettingsFromEnv, redactUrl, type DevSettings } from './settings.js';

type Env = Record<string, string | undefined>;

export interface DevServer {
  apiUrl: string;
  routerPort: number;
  deps: Deps;
  /** Stops everything in order; safe to call twice (the second call waits for the first). */
  close(reason?: string): Promise<void>;
}

export interface DevServerOptions {
  env?: Env | undefined;
  cwd?: string | undefined;
  /** Where the human-readable lines go (stdout by default). */
  print?: ((text: string) => void) | undefined;
}

/**
 * A logger that holds its lines until release(): the first lines a user sees are the
 * banner, and the JSON logs of the startup follow it.
 */
function heldLogger(): { log: Logger; release(): void } {
  const held: Array<[string, LogLevel]> = [];
  let holding = true;
  const write = (line: string, level: LogLevel) => {
    if (holding) held.push([line, level]);
    else (level === 'error' ? process.stderr : process.stdout).write(line + '\n');
  };
  return {
    log: createLogger({ write }),
    release() {
      holding = false;
      for (const [line, level] of held.splice(0)) write(line, level);
    },
  };
}

/** Listens on host:port; a port in use is an error that says which variable moves it. */
function listen(server: Server, port: number, host: string, variable: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE') {
        reject(new Error(`port ${port} on ${host} is in use (another dev server?); stop it or set ${variable} to a free port`));
      } else reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Stops accepting, lets requests in flight finish for `graceMs`, then cuts what is left. */
function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const cut = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
    server.closeIdleConnections();
  });
}

function describeDatabase(env: Env, settings: DevSettings, cwd: string): string {
  const url = env.DATABASE_URL?.trim();
  if (url) return `Postgres at ${redactUrl(url)}${env.DATABASE_REPLICA_URL?.trim() ? ' (with a read replica)' : ''}`;
  return `PGlite in ${relative(cwd, settings.pgliteDir!) || '.'}`;
}

function banner(input: {
  apiUrl: string;
  routerPort: number;
  bootstrap: BootstrapResult;
  database: string;
  runtime: RuntimeHealth;
  settings: DevSettings;
  deps: Deps;
  cwd: string;
}): string {
  const { apiUrl, routerPort, bootstrap, settings, deps } = input;
  const jobs = deps.config.jobs;
  const key = bootstrap.file ? relative(input.cwd, bootstrap.file) : undefined;
  const keyLines =
    bootstrap.source === 'env'
      ? ['  Admin key  ORCHESTRY_ADMIN_TOKEN (from the environment)']
      : bootstrap.revoked
        ? [`  Admin key  ${key} has been REVOKED; delete it and restart to make a new one`]
        : [
            `  Admin key  ${key}${bootstrap.source === 'created' ? ' (created now; keep it secret)' : ''}`,
            `             export ORCHESTRY_TOKEN=$(cat ${key})`,
          ];
  const runtimeLines = input.runtime.ok
    ? [`  Runtime    ${input.runtime.kind}${input.runtime.detail ? ` (${input.runtime.detail})` : ''}`]
    : [
        '  Runtime    NONE: starting apps needs Docker, and no Docker engine answers.',
        '             Everything else works. Start Docker, then restart the dev server.',
        `             (${input.runtime.detail ?? 'no container runtime'})`,
      ];
  return [
    'Orchestry dev server',
    `  API        ${apiUrl}/api/v1   (health: ${apiUrl}/health)`,
    `  Docs       ${apiUrl}/docs   (OpenAPI: ${apiUrl}/openapi.json)`,
    `  Router     http://<app>.localhost:${routerPort}/  or  http://localhost:${routerPort}/<app>/`,
    ...keyLines,
    `  Database   ${input.database}`,
    ...runtimeLines,
    `  Jobs       scaler ${jobs.scalerPeriodSeconds}s, prober ${jobs.proberPeriodSeconds}s, collector ${jobs.collectorPeriodSeconds}s, ` +
      `rollup ${jobs.rollupPeriodSeconds}s, cleanup ${jobs.cleanupPeriodSeconds}s, reconcile ${settings.reconcilePeriodSeconds}s`,
    `  Try        curl -H "Authorization: Bearer ${bootstrap.source === 'env' ? '$ORCHESTRY_ADMIN_TOKEN' : '$ORCHESTRY_TOKEN'}" ${apiUrl}/api/v1/apps`,
    'JSON logs follow. Ctrl-C stops (the job in flight finishes first).',
    '',
  ].join('\n');
}

export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const print = options.print ?? ((text: string) => process.stdout.write(text));
  const settings = devSettingsFromEnv(env, cwd);
  await privateDir(settings.stateDir);

  const held = heldLogger();
  const log = held.log.child({ component: 'dev' });
  let lock: StateLock | undefined;
  let handle: DepsHandle | undefined;
  let router: Router | undefined;
  let api: Server | undefined;
  const undo = async () => {
    held.release();
    await router?.close().catch(() => {});
    if (api?.listening) await closeServer(api, 0);
    await handle?.close().catch(() => {});
    await lock?.release();
  };

  try {
    if (settings.pgliteDir) {
      await privateDir(settings.pgliteDir);
      // PGlite is one process's files: a second dev server on them would corrupt them.
      lock = await lockStateDir(settings.pgliteDir);
    }
    handle = await createDepsFromEnv(depsEnv(env, settings), { log: held.log });
    const { deps } = handle;
    const migrated = await migrate(deps.db.$primary);
    if (migrated.applied.length > 0) log.info('database migrated', { applied: migrated.applied });
    const bootstrap = await ensureBootstrapKey(deps, { file: settings.adminKeyFile });

    router = createRouter({
      targets: (app) => routerTargets(deps.db, app),
      onMetrics: storeRouterMetrics(deps.db, deps.log.child({ component: 'router' })),
      flushIntervalMs: settings.routerMetricsPeriodSeconds * 1000,
      hosts: settings.routerHosts,
      activate: localActivator(deps),
      holdQueueSize: settings.routerHoldQueueSize,
      holdTimeoutMs: settings.routerHoldTimeoutSeconds * 1000,
      closeTimeoutMs: settings.shutdownGraceSeconds * 1000,
      log: deps.log,
    });
    const routerPort = await router.listen(settings.routerPort, settings.host);

    api = createAdaptorServer({ fetch: createApp(deps).fetch }) as Server;
    const apiPort = await listen(api, settings.apiPort, settings.host, 'PORT');
    const apiUrl = `http://${settings.host}:${apiPort}`;

    const runtime = await deps.runtime.ping();
    const database = describeDatabase(env, settings, cwd);
    print(banner({ apiUrl, routerPort, bootstrap, database, runtime, settings, deps, cwd }));
    held.release();
    if (!runtime.ok) {
      log.warn('starting apps needs Docker: no engine answers; the rest of the API works', { detail: runtime.detail });
    }
    log.info('dev server ready', {
      api_url: apiUrl,
      docs_url: `${apiUrl}/docs`,
      router_port: routerPort,
      router_url: `http://localhost:${routerPort}/<app>/`,
      admin_key_file: bootstrap.source === 'env' ? null : bootstrap.file,
      database,
      runtime: runtime.ok ? runtime.kind : 'none',
      pid: process.pid,
    });

    const scheduler = startTimers(deps, settings);
    const apiServer = api;
    const openRouter = router;
    const openHandle = handle;
    const heldLock = lock;
    let closing: Promise<void> | undefined;
    return {
      apiUrl,
      routerPort,
      deps,
      close(reason = 'close') {
        closing ??= (async () => {
          log.info('shutting down', { reason, jobs_in_flight: scheduler.running() });
          const grace = settings.shutdownGraceSeconds * 1000;
          await Promise.all([scheduler.stop(), closeServer(apiServer, grace), openRouter.close()]);
          await openHandle.close();
          await heldLock?.release();
          log.info('stopped');
        })();
        return closing;
      },
    };
  } catch (error) {
    await undo();
    throw error;
  }
}

/** The scheduled jobs and the reconcile passes, at their local periods. */
function startTimers(deps: Deps, settings: DevSettings): Scheduler {
  const scheduler = new Scheduler(deps.log.child({ component: 'scheduler' }));
  const jobs = deps.config.jobs;
  const ops = opsDeps(deps);
  const seconds = (s: number) => s * 1000;

  scheduler.add({ name: 'scaler', periodMs: seconds(jobs.scalerPeriodSeconds), run: (now) => runScaler(deps, now) });
  scheduler.add({ name: 'health-prober', periodMs: seconds(jobs.proberPeriodSeconds), run: (now) => runProber(deps, now) });
  scheduler.add({ name: 'metric-collector', periodMs: seconds(deps.config.jobs.collectorPeriodSeconds), run: (now) => runCollector(deps, now) });
  scheduler.add({ name: 'metric-rollup', periodMs: seconds(jobs.rollupPeriodSeconds), run: (now) => runRollup(deps, now) });
  scheduler.add({ name: 'cleanup', periodMs: seconds(jobs.cleanupPeriodSeconds), run: (now) => runCleanup(deps, now) });

  // Drains end and failed starts are retried without anyone asking: the scaler and the prober
  // reconcile the apps they change, this pass every other app with work to do (a stop whose
  // drain is over, a start whose back-off expired, what a crash left half done).
  const reconcileLog = deps.log.child({ component: 'reconcile' });
  const report = (pass: string, result: Awaited<ReturnType<typeof reconcileAll>>) => {
    const acted = result.results.filter((r) => r.actions > 0 || r.errors.length > 0);
    if (acted.length === 0 && result.failed.length === 0) return;
    reconcileLog.info('reconcile pass', {
      pass,
      apps: acted.map((r) => ({ app: r.appName, actions: r.actions, desired: r.desired, running: r.running, converged: r.converged, errors: r.errors.length })),
      failed: result.failed,
    });
  };
  scheduler.add({
    name: 'reconcile',
    periodMs: seconds(settings.reconcilePeriodSeconds),
    runAtStart: false,
    run: async (now) => report('pending', await reconcileAll(ops, now)),
  });
  // Also every active app against the runtime, at start first: a container that vanished
  // (removed by hand, or lost with the engine) or one made by a process that died before
  // recording it is found here.
  scheduler.add({
    name: 'reconcile-sweep',
    periodMs: seconds(settings.sweepPeriodSeconds),
    run: async (now) => report('sweep', await reconcileAll(ops, now, { everyActive: true })),
  });
  return scheduler;
}
