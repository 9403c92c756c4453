/**
 * The local router: what the ALB does in the cloud, for `npm run dev`. It sends
 * `http://<app>.localhost:8080/...` and `http://localhost:8080/<app>/...` to the app's healthy
 * replicas (least connections, one retry of idempotent requests that could not connect) and
 * measures each app's traffic for the scaler. It knows nothing of the database: the dev
 * server injects where the replicas are (`targets`) and where the measurements go (`onMetrics`).
 */
import http, { type ClientRequest, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import pLimit from 'p-limit';
import { isOrchestryError, type ErrorCode, type OrchestryError } from '../core/errors.js';
import { createLogger, type Logger } from '../log.js';
import { Balancer, type Target } from './balancer.js';
import { responseHeaders, upstreamHeaders } from './headers.js';
import { Holds, type Activate } from './hold.js';
import { hostnameOf, hostPolicy } from './hosts.js';
import { AppMeter, type RouterMetricsSample } from './meter.js';
import { resolveRoute, type Route } from './routing.js';

export type { Target } from './balancer.js';
export type { RouterMetricsSample } from './meter.js';

export interface RouterOptions {
  /**
   * The app's replicas that may take traffic now (running, healthy, not draining). Throw an
   * OrchestryError (e.g. appNotFound) to answer with its code; return [] for an app that
   * exists but has no healthy replica (503).
   */
  targets: (app: string) => Promise<Target[]> | Target[];
  /**
   * The activator: wakes an app with no replica ready (at zero, or one still starting) and
   * resolves with its targets once one is ready, [] when none is coming or the signal aborts.
   * With it, such requests are held (see hold.ts); without it they are answered 503 at once.
   */
  activate?: Activate | undefined;
  /** Requests held per app at most while it wakes; one more is answered 503 (default 100). */
  holdQueueSize?: number | undefined;
  /** How long a request is held for a replica to become ready (default 30 s, as Knative's activator). */
  holdTimeoutMs?: number | undefined;
  /** Called every flush interval for each app with traffic (see RouterMetricsSample). */
  onMetrics: (app: string, sample: RouterMetricsSample) => Promise<void> | void;
  /**
   * Host names served besides loopback (localhost, *.localhost, 127.0.0.0/8, [::1]); each
   * also serves `<app>.<name>`. Any other Host is refused with 403 (DNS rebinding).
   */
  hosts?: readonly string[] | undefined;
  /** How long an app that `targets` did not find is answered 404 without asking again. */
  notFoundCacheMs?: number | undefined;
  /** Lookups (`targets` calls) in flight at once, over every app: a flood of names waits its turn. */
  lookupConcurrency?: number | undefined;
  flushIntervalMs?: number | undefined;
  /** How long an app's target list is reused before `targets` is asked again; 0 asks every request. */
  targetsCacheMs?: number | undefined;
  /** A replica silent this long (no response bytes) gets the request answered with 504. */
  upstreamTimeoutMs?: number | undefined;
  /** A TCP connect to a replica taking longer than this counts as a failure to connect. */
  connectTimeoutMs?: number | undefined;
  /** Bodies of idempotent requests up to this size are held so the request can be retried. */
  retryBodyLimitBytes?: number | undefined;
  /**
   * After an app's traffic stops, it keeps getting rps-0 samples for this long (default
   * 2 hours). An app whose scaling window holds no samples has no rps input at all, and
   * missing data never lets the scaler scale in (or to zero); zero samples keep the window
   * full for longer than the longest stabilization window or scale-to-zero time plus the
   * longest evaluation window (1 h each), then stop so idle apps cost nothing. An app this
   * quiet is then forgotten (its meter and rotation), so the router's state stays bounded.
   */
  quietReportingMs?: number | undefined;
  /** Latencies kept per app and interval for the percentiles (exact below this many requests). */
  latencyReservoirSize?: number | undefined;
  /** close() waits this long for requests in flight before cutting their connections. */
  closeTimeoutMs?: number | undefined;
  log?: Logger | undefined;
  /** Milliseconds since the epoch; latencies, intervals and cache ages are measured with it. */
  clock?: (() => number) | undefined;
}

export interface AppCounters {
  /** In the current interval. */
  requests: number;
  errors: number;
  active_connections: number;
  max_active_connections: number;
  /** Since the router started. */
  requests_total: number;
  errors_total: number;
}

export interface RouterSnapshot {
  at: Date;
  interval_started_at: Date;
  apps: Record<string, AppCounters>;
  /** Requests in flight per target id; targets with none are absent. */
  targets: Record<string, number>;
  /** App names answered 404 from the negative cache until their entry expires. */
  not_found_cached: number;
  /** Requests held per app while it wakes; apps with none are absent. */
  held: Record<string, number>;
}

export interface Router {
  server: http.Server;
  /** Resolves to the port listened on (useful with port 0). */
  listen(port: number, host?: string): Promise<number>;
  /** Stops accepting, lets requests in flight finish (up to closeTimeoutMs), flushes once. */
  close(): Promise<void>;
  /** Reports the current interval now (close() and the timer call it too). */
  flush(): Promise<void>;
  snapshot(): RouterSnapshot;
}

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);
// Errors meaning the request never reached a replica able to answer it. Only raised before
// any response byte arrived (a reset mid-response is a broken response, never retried).
const CONNECT_FAILURES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL',
  'CONNECT_TIMEOUT',
]);
const RETRY_AFTER_SECONDS = '5';
/** Beyond this many names the oldest negative-cache entry goes first: a flood of names stays bounded. */
const NOT_FOUND_CACHE_ENTRIES = 10_000;

class UpstreamError extends Error {
  constructor(
    readonly code: 'CONNECT_TIMEOUT' | 'UPSTREAM_TIMEOUT',
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

type Body = { kind: 'none' } | { kind: 'held'; data: Buffer } | { kind: 'streamed' };

type Attempt =
  | { kind: 'answered'; status: number }
  | { kind: 'broken'; error?: unknown }
  | { kind: 'aborted' }
  | { kind: 'unanswered'; error: NodeJS.ErrnoException };

/** One client request on its way through the router. */
interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  startedAt: number;
  clientGone: boolean;
  upstream: ClientRequest | null;
}

export function createRouter(options: RouterOptions): Router {
  const flushIntervalMs = positive('flushIntervalMs', options.flushIntervalMs, 10_000);
  const quietReportingMs = options.quietReportingMs ?? 2 * 60 * 60_000;
  if (!Number.isFinite(quietReportingMs) || quietReportingMs < 0) {
    throw new Error(`quietReportingMs must be a number of milliseconds >= 0 (got ${quietReportingMs})`);
  }
  const targetsCacheMs = nonNegative('targetsCacheMs', options.targetsCacheMs, 1_000);
  const upstreamTimeoutMs = positive('upstreamTimeoutMs', options.upstreamTimeoutMs, 30_000);
  const connectTimeoutMs = positive('connectTimeoutMs', options.connectTimeoutMs, 5_000);
  const retryBodyLimitBytes = nonNegative('retryBodyLimitBytes', options.retryBodyLimitBytes, 64 * 1024);
  const latencyReservoirSize = Math.floor(positive('latencyReservoirSize', options.latencyReservoirSize, 10_000));
  const closeTimeoutMs = nonNegative('closeTimeoutMs', options.closeTimeoutMs, 10_000);
  const notFoundCacheMs = nonNegative('notFoundCacheMs', options.notFoundCacheMs, 5_000);
  const lookupLimit = pLimit(Math.floor(positive('lookupConcurrency', options.lookupConcurrency, 4)));
  const hosts = hostPolicy(options.hosts ?? []);
  const clock = options.clock ?? (() => performance.timeOrigin + performance.now());
  const log = (options.log ?? createLogger()).child({ component: 'router' });
  const holds = options.activate
    ? new Holds(
        options.activate,
        Math.floor(positive('holdQueueSize', options.holdQueueSize, 100)),
        positive('holdTimeoutMs', options.holdTimeoutMs, 30_000),
      )
    : null;

  const balancer = new Balancer();
  const meters = new Map<string, AppMeter>();
  const targetCache = new Map<string, { targets: Target[]; expiresAt: number }>();
  const notFound = new Map<string, { error: OrchestryError; expiresAt: number }>();
  const lookups = new Map<string, Promise<Target[]>>();
  const agent = new http.Agent({ keepAlive: true, scheduling: 'lifo' });
  const server = http.createServer();
  let closing = false;
  let closed: Promise<void> | undefined;
  let intervalStartedAt = clock();
  let flushChain: Promise<void> = Promise.resolve();
  let flushesQueued = 0;

  const meterFor = (app: string): AppMeter => {
    let meter = meters.get(app);
    if (!meter) {
      meter = new AppMeter(latencyReservoirSize);
      meters.set(app, meter);
    }
    return meter;
  };

  /** An app that is gone takes its meter and rotation with it (requests in flight keep theirs until they end). */
  function forget(app: string): void {
    const meter = meters.get(app);
    if (meter && meter.active === 0) meters.delete(app);
    balancer.forget(app);
    targetCache.delete(app);
  }

  function targetsFor(app: string): Promise<Target[]> | Target[] {
    const now = clock();
    const cached = targetCache.get(app);
    if (cached && cached.expiresAt > now) return cached.targets;
    // An unknown name is answered from memory for a while: every request for it would
    // otherwise be a query on the primary (PGlite has one connection for everything).
    const missing = notFound.get(app);
    if (missing && missing.expiresAt > now) throw missing.error;
    if (missing) notFound.delete(app);
    // One lookup per app at a time: a burst of requests must not become a burst of queries.
    const running = lookups.get(app);
    if (running) return running;
    // Started on a later tick even when `targets` answers synchronously, so the cleanup
    // below always runs after the lookup is registered.
    const lookup = lookupLimit(() => options.targets(app))
      .then((answer) => {
        const targets = checkTargets(app, answer);
        targetCache.set(app, { targets, expiresAt: clock() + targetsCacheMs });
        return targets;
      })
      .catch((error: unknown) => {
        if (isOrchestryError(error) && error.code === 'APP_NOT_FOUND') rememberNotFound(app, error);
        throw error;
      })
      .finally(() => lookups.delete(app));
    lookups.set(app, lookup);
    return lookup;
  }

  function rememberNotFound(app: string, error: OrchestryError): void {
    forget(app);
    if (notFoundCacheMs === 0) return;
    notFound.delete(app);
    if (notFound.size >= NOT_FOUND_CACHE_ENTRIES) notFound.delete(notFound.keys().next().value!);
    notFound.set(app, { error, expiresAt: clock() + notFoundCacheMs });
  }

  const listeningPort = () => (server.address() as AddressInfo | null)?.port ?? 8080;

  function sendError(
    ex: Exchange,
    status: number,
    code: ErrorCode,
    message: string,
    details: unknown,
    headers: OutgoingHttpHeaders = {},
  ): void {
    const { res } = ex;
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const body = JSON.stringify({ error: message, details, code, timestamp: new Date().toISOString() });
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      ...(closing ? { connection: 'close' } : {}),
      ...headers,
    });
    res.end(body);
  }

  /** Reads a small body of an idempotent request so a retry can send it again. */
  async function prepareBody(req: IncomingMessage, idempotent: boolean): Promise<Body | null> {
    const declared = req.headers['content-length'];
    const length = declared === undefined ? undefined : Number(declared);
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (!chunked && (length === undefined || length === 0)) return { kind: 'none' };
    if (!idempotent || chunked || length === undefined || length > retryBodyLimitBytes) return { kind: 'streamed' };
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      return null; // the client went away while sending
    }
    return { kind: 'held', data: Buffer.concat(chunks) };
  }

  function forward(ex: Exchange, route: Route, meter: AppMeter, target: Target, body: Body): Promise<Attempt> {
    const { req, res } = ex;
    return new Promise<Attempt>((resolve) => {
      let settled = false;
      let responseStarted = false;
      balancer.acquire(target.id);
      meter.opened();
      const settle = (attempt: Attempt) => {
        if (settled) return;
        settled = true;
        // Counted down before the client can see the end of the response, so its next
        // request already finds this target free.
        balancer.release(target.id);
        meter.closed();
        ex.upstream = null;
        if (attempt.kind === 'broken') res.destroy();
        resolve(attempt);
      };

      const upstream = http.request({
        host: target.host,
        port: target.port,
        method: req.method,
        path: route.path,
        headers: upstreamHeaders(req, route, listeningPort()),
        agent,
      });
      ex.upstream = upstream;

      upstream.setTimeout(upstreamTimeoutMs, () =>
        upstream.destroy(new UpstreamError('UPSTREAM_TIMEOUT', `replica ${target.id} sent nothing for ${upstreamTimeoutMs} ms`)),
      );
      upstream.on('socket', (socket: Socket) => {
        if (!socket.connecting) return; // a kept-alive socket, already connected
        const timer = setTimeout(
          () => upstream.destroy(new UpstreamError('CONNECT_TIMEOUT', `connecting to replica ${target.id} took over ${connectTimeoutMs} ms`)),
          connectTimeoutMs,
        );
        socket.once('connect', () => clearTimeout(timer));
        upstream.once('close', () => clearTimeout(timer));
      });

      const endedWithoutResponse = (error: NodeJS.ErrnoException) => {
        if (ex.clientGone) settle({ kind: 'aborted' });
        else if (responseStarted) settle({ kind: 'broken', error });
        else settle({ kind: 'unanswered', error });
      };
      upstream.on('error', endedWithoutResponse);
      upstream.on('close', () => {
        if (!responseStarted) endedWithoutResponse(Object.assign(new Error('socket closed before a response'), { code: 'ECONNRESET' }));
      });

      upstream.on('response', (upstreamRes) => {
        responseStarted = true;
        // Registered before pipe(), so it runs before pipe ends the client's response.
        upstreamRes.on('end', () => settle({ kind: 'answered', status: upstreamRes.statusCode ?? 502 }));
        upstreamRes.on('error', () => {}); // reported through 'close' below
        upstreamRes.on('close', () => {
          if (upstreamRes.complete) return;
          settle(ex.clientGone ? { kind: 'aborted' } : { kind: 'broken', error: new Error('replica closed the response early') });
        });
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, responseHeaders(upstreamRes.rawHeaders, closing));
        upstreamRes.pipe(res);
      });

      if (body.kind === 'none') upstream.end();
      else if (body.kind === 'held') upstream.end(body.data);
      else req.pipe(upstream);
    });
  }

  /**
   * Holds a request for an app with no ready replica while it wakes. Returns the targets to
   * forward it to, or null once it has been answered (503, never forwarded) or its client left.
   */
  async function holdForReplica(ex: Exchange, app: string, meter: AppMeter): Promise<Target[] | null> {
    const gone = new Promise<void>((resolve) => ex.res.once('close', () => resolve()));
    // A held request is in flight: the app must not look idle (and go back to zero) meanwhile.
    meter.opened();
    const outcome = await holds!.hold(app, gone).finally(() => meter.closed());
    if (outcome.kind === 'ready') {
      targetCache.set(app, { targets: outcome.targets, expiresAt: clock() + targetsCacheMs });
      return outcome.targets;
    }
    if (outcome.kind === 'gone') {
      meter.record({ error: false });
      return null;
    }
    meter.record({ error: true });
    const retryAfter = { 'retry-after': RETRY_AFTER_SECONDS };
    if (outcome.kind === 'full') {
      log.warn('hold queue full; request answered 503', { app, queue_size: outcome.queueSize });
      sendError(ex, 503, 'RUNTIME_UNAVAILABLE', `App '${app}' is waking up and ${outcome.queueSize} requests already wait for it; try again shortly`, { app_name: app, reason: 'hold_queue_full', queue_size: outcome.queueSize }, retryAfter);
    } else if (outcome.kind === 'timeout') {
      log.warn('no replica ready within the hold time; request answered 503', { app, waited_ms: outcome.waitedMs });
      sendError(ex, 503, 'RUNTIME_UNAVAILABLE', `App '${app}' had no replica ready within ${holds!.timeoutMs} ms; try again shortly`, { app_name: app, reason: 'hold_timeout', waited_ms: outcome.waitedMs }, retryAfter);
    } else {
      if (outcome.error !== undefined) log.error('could not wake an app', { app, error: outcome.error });
      return [];
    }
    return null;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ex: Exchange = { req, res, startedAt: clock(), clientGone: false, upstream: null };
    res.on('close', () => {
      if (res.writableFinished) return;
      ex.clientGone = true;
      ex.upstream?.destroy();
    });
    // A keep-alive connection whose response started before close() began goes idle only
    // now; close it then instead of waiting out its keep-alive timeout.
    res.on('finish', () => {
      if (closing) setImmediate(() => server.closeIdleConnections());
    });

    if (!hosts.allows(req.headers.host)) {
      const host = hostnameOf(req.headers.host);
      sendError(
        ex,
        403,
        'FORBIDDEN',
        `This router serves loopback names only (localhost, <app>.localhost, 127.0.0.1, [::1])${hosts.suffixes.length > 1 ? ` and ${hosts.suffixes.slice(1).join(', ')}` : ''}; ` +
          `${host ? `'${host}' is not one of them` : 'the request has no Host header'} (list more names in the dev server's ROUTER_HOSTS)`,
        { host: req.headers.host ?? null, allowed: hosts.suffixes },
      );
      return;
    }
    const route = resolveRoute(req.headers.host, req.url ?? '/', hosts.suffixes);
    if (!route) {
      const port = listeningPort();
      const forms = [`http://<app>.localhost:${port}/<path>`, `http://localhost:${port}/<app>/<path>`];
      sendError(ex, 404, 'APP_NOT_FOUND', `This URL names no app; use ${forms[0]} or ${forms[1]}`, {
        host: req.headers.host ?? null,
        path: req.url ?? null,
        url_forms: forms,
      });
      return;
    }
    const { app } = route;
    const retryAfter = { 'retry-after': RETRY_AFTER_SECONDS };

    let targets: Target[];
    try {
      targets = await targetsFor(app);
    } catch (error) {
      if (isOrchestryError(error)) {
        sendError(ex, error.status, error.code, error.message, error.details, error.status === 503 ? retryAfter : {});
        return;
      }
      log.error('could not look up the replicas of an app', { app, error });
      sendError(ex, 503, 'RUNTIME_UNAVAILABLE', `Could not look up the replicas of app '${app}'; try again shortly`, { app_name: app }, retryAfter);
      return;
    }
    if (ex.clientGone) return;

    const meter = meterFor(app);
    if (targets.length === 0 && holds) {
      const held = await holdForReplica(ex, app, meter);
      if (held === null) return;
      targets = held;
    }
    if (targets.length === 0) {
      meter.record({ error: true });
      sendError(
        ex,
        503,
        'RUNTIME_UNAVAILABLE',
        `App '${app}' has no healthy replica to take this request; start or scale it, or wait for its health checks to pass`,
        { app_name: app, reason: 'no_healthy_replica' },
        retryAfter,
      );
      return;
    }

    const method = req.method ?? 'GET';
    const idempotent = IDEMPOTENT_METHODS.has(method);
    const body = await prepareBody(req, idempotent);
    if (body === null || ex.clientGone) return;
    const attempts = idempotent && body.kind !== 'streamed' ? 2 : 1;

    const tried = new Set<string>();
    const failures: Array<{ target: string; error: string }> = [];
    let lastError: NodeJS.ErrnoException | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const target = balancer.pick(app, targets, tried)!;
      tried.add(target.id);
      const result = await forward(ex, route, meter, target, body);
      if (result.kind === 'answered') {
        meter.record({ latencyMs: clock() - ex.startedAt, error: result.status >= 500 });
        return;
      }
      if (result.kind === 'aborted') {
        meter.record({ error: false });
        return;
      }
      if (result.kind === 'broken') {
        meter.record({ error: true });
        log.warn('replica broke off its response', { app, target: target.id, method, error: result.error });
        return;
      }
      lastError = result.error;
      failures.push({ target: target.id, error: errorCode(result.error) });
      if (!CONNECT_FAILURES.has(errorCode(result.error))) break;
      if (attempt < attempts) {
        log.warn('could not reach a replica; retrying on another', { app, target: target.id, method, error: errorCode(result.error) });
      }
    }

    meter.record({ error: true });
    const timedOut = lastError !== undefined && errorCode(lastError) === 'UPSTREAM_TIMEOUT';
    log.warn('request failed at the replicas', { app, method, path: route.path, failures });
    sendError(
      ex,
      timedOut ? 504 : 502,
      'RUNTIME_ERROR',
      timedOut
        ? `App '${app}' did not answer within ${upstreamTimeoutMs} ms`
        : `App '${app}' could not be reached${attempts > 1 ? ' (retried on another replica)' : ''}`,
      { app_name: app, attempts: failures },
    );
  }

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((error: unknown) => {
      log.error('router failed on a request', { url: req.url, error });
      if (res.headersSent) res.destroy();
      else {
        const body = JSON.stringify({ error: 'The router failed on this request', details: null, code: 'INTERNAL', timestamp: new Date().toISOString() });
        res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' }).end(body);
      }
    });
  });

  async function flushOnce(): Promise<void> {
    const now = clock();
    const at = new Date(now);
    const intervalMs = now - intervalStartedAt;
    intervalStartedAt = now;
    const due: Array<{ app: string; sample: RouterMetricsSample }> = [];
    for (const [app, meter] of meters) {
      const busy = meter.busy;
      if (busy) meter.lastBusyAt = now;
      // An app that went quiet keeps getting rps-0 samples for a while (at least one), so
      // the scaler sees the drop and its window does not empty before it can scale in.
      const recentlyBusy = meter.lastBusyAt !== null && now - meter.lastBusyAt <= quietReportingMs;
      if (busy || meter.reportedLastFlush || recentlyBusy) due.push({ app, sample: meter.take(at, intervalMs) });
      else forget(app);
      meter.reportedLastFlush = busy;
    }
    for (const [app, entry] of targetCache) if (entry.expiresAt <= now) targetCache.delete(app);
    for (const [app, entry] of notFound) if (entry.expiresAt <= now) notFound.delete(app);

    const results = await Promise.allSettled(due.map(async ({ app, sample }) => options.onMetrics(app, sample)));
    results.forEach((result, i) => {
      if (result.status === 'rejected') log.error('onMetrics failed; the sample is lost', { app: due[i]!.app, error: result.reason });
    });
  }

  function flush(): Promise<void> {
    flushesQueued += 1;
    flushChain = flushChain.then(flushOnce).finally(() => {
      flushesQueued -= 1;
    });
    return flushChain;
  }

  // A slow onMetrics must not pile up flushes; the skipped interval just runs longer.
  const timer = setInterval(() => {
    if (flushesQueued === 0) void flush();
  }, flushIntervalMs);
  timer.unref();

  return {
    server,
    listen(port: number, host = '127.0.0.1') {
      return new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve(listeningPort());
        });
      });
    },
    close() {
      closed ??= (async () => {
        closing = true;
        clearInterval(timer);
        if (server.listening) {
          const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeIdleConnections();
          const force = setTimeout(() => server.closeAllConnections(), closeTimeoutMs);
          await stopped;
          clearTimeout(force);
        }
        agent.destroy();
        await flush();
      })();
      return closed;
    },
    flush,
    snapshot() {
      const apps: Record<string, AppCounters> = {};
      for (const [app, meter] of meters) {
        apps[app] = {
          requests: meter.requests,
          errors: meter.errors,
          active_connections: meter.active,
          max_active_connections: meter.maxActive,
          requests_total: meter.requestsTotal,
          errors_total: meter.errorsTotal,
        };
      }
      return {
        at: new Date(clock()),
        interval_started_at: new Date(intervalStartedAt),
        apps,
        targets: balancer.snapshot(),
        not_found_cached: notFound.size,
        held: holds?.snapshot() ?? {},
      };
    },
  };
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'UNKNOWN';
}

function checkTargets(app: string, value: unknown): Target[] {
  if (!Array.isArray(value)) throw new TypeError(`targets('${app}') must return an array of {id, host, port}; got ${typeof value}`);
  value.forEach((target: Partial<Target> | null, i) => {
    const ok =
      target !== null &&
      typeof target === 'object' &&
      typeof target.id === 'string' && target.id !== '' &&
      typeof target.host === 'string' && target.host !== '' &&
      Number.isInteger(target.port) && target.port! >= 1 && target.port! <= 65_535;
    if (!ok) throw new TypeError(`targets('${app}')[${i}] must be {id: non-empty string, host: non-empty string, port: 1..65535}; got ${JSON.stringify(target)}`);
  });
  return value as Target[];
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`createRouter: ${name} must be a number above 0 (got ${value})`);
  return value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`createRouter: ${name} must be a number of 0 or more (got ${value})`);
  return value;
}
