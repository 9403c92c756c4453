import { afterEach, describe, expect, it } from 'vitest';
import { appNotFound } from '../../../functions/core/errors.js';
import { createLogger, silentLogger } from '../../../functions/log.js';
import { createRouter, type Router, type RouterMetricsSample, type RouterOptions, type Target } from '../../../functions/router/router.js';
import { closedPort, open, pollUntil, send, startResetter, startUpstream, type Upstream } from './support.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function upstream(id: string, options?: Parameters<typeof startUpstream>[1]): Promise<Upstream> {
  const server = await startUpstream(id, options);
  cleanups.push(() => server.close());
  return server;
}

interface Harness {
  router: Router;
  port: number;
  samples: Array<{ app: string; sample: RouterMetricsSample }>;
  logs: Array<Record<string, any>>;
  samplesOf: (app: string) => RouterMetricsSample[];
}

async function startRouter(options: Partial<RouterOptions> & Pick<RouterOptions, 'targets'>): Promise<Harness> {
  const samples: Harness['samples'] = [];
  const logs: Harness['logs'] = [];
  const router = createRouter({
    flushIntervalMs: 60_000,
    onMetrics: (app, sample) => {
      samples.push({ app, sample });
    },
    log: createLogger({ level: 'debug', write: (line) => logs.push(JSON.parse(line)) }),
    ...options,
  });
  const port = await router.listen(0);
  cleanups.push(() => router.close());
  return { router, port, samples, logs, samplesOf: (app) => samples.filter((s) => s.app === app).map((s) => s.sample) };
}

const deadTarget = async (id: string): Promise<Target> => ({ id, host: '127.0.0.1', port: await closedPort() });

describe('routing', () => {
  it('routes <app>.localhost by Host header, passing path and query unchanged, with X-Forwarded-*', async () => {
    const shop = await upstream('shop-1');
    const { port } = await startRouter({ targets: (app) => (app === 'shop' ? [shop.target] : []) });

    const reply = await send(port, { host: `shop.localhost:${port}`, path: '/cart/items?page=2&sort=asc' });

    expect(reply.status).toBe(200);
    const seen = reply.json();
    expect(seen.id).toBe('shop-1');
    expect(seen.url).toBe('/cart/items?page=2&sort=asc');
    expect(seen.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen.headers['x-forwarded-host']).toBe(`shop.localhost:${port}`);
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-prefix']).toBeUndefined();
    // The replica's own headers come back, repeated ones included.
    expect(reply.headers['x-upstream-id']).toBe('shop-1');
    expect(reply.headers['set-cookie']).toEqual(['a=1', 'b=2']);
  });

  it('routes localhost/<app>/... by the first path segment, strips it and keeps the query', async () => {
    const shop = await upstream('shop-1');
    const { port } = await startRouter({ targets: (app) => (app === 'shop' ? [shop.target] : []) });

    const deep = (await send(port, { path: '/shop/cart/items?page=2', headers: { 'x-forwarded-for': '10.0.0.9' } })).json();
    expect(deep.url).toBe('/cart/items?page=2');
    expect(deep.headers['x-forwarded-prefix']).toBe('/shop');
    // The router is the edge: what a client claims under a forwarding name is replaced.
    expect(deep.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect((await send(port, { path: '/shop' })).json().url).toBe('/');
    expect((await send(port, { path: '/shop?q=1' })).json().url).toBe('/?q=1');
    expect((await send(port, { host: `127.0.0.1:${port}`, path: '/shop/x' })).json().url).toBe('/x');
  });

  it('answers 404 APP_NOT_FOUND naming both URL forms when the URL names no app', async () => {
    const { port } = await startRouter({ targets: () => [] });

    for (const path of ['/', '/Not_A_Label/x', '//x']) {
      const reply = await send(port, { path });
      expect(reply.status).toBe(404);
      expect(reply.headers['content-type']).toMatch(/^application\/json/);
      const body = reply.json();
      expect(body.code).toBe('APP_NOT_FOUND');
      expect(body.error).toContain(`http://<app>.localhost:${port}/`);
      expect(body.error).toContain(`http://localhost:${port}/<app>/`);
      expect(body.details.url_forms).toHaveLength(2);
      expect(Number.isNaN(Date.parse(body.timestamp))).toBe(false);
    }
  });

  it('answers with the OrchestryError that targets() throws, e.g. 404 for an unknown app', async () => {
    const { port } = await startRouter({
      targets: (app) => {
        throw appNotFound(app);
      },
    });
    const reply = await send(port, { path: '/ghost/' });
    expect(reply.status).toBe(404);
    expect(reply.json()).toMatchObject({ code: 'APP_NOT_FOUND', details: { app_name: 'ghost' } });
  });

  it('answers 503 with Retry-After when an app has no healthy replica', async () => {
    const { port } = await startRouter({ targets: () => [] });
    const reply = await send(port, { host: 'shop.localhost' });
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('5');
    expect(reply.json()).toMatchObject({ code: 'RUNTIME_UNAVAILABLE', details: { app_name: 'shop', reason: 'no_healthy_replica' } });
  });

  it('answers 503 and logs when targets() fails or returns nonsense', async () => {
    let answer: () => unknown = () => {
      throw new Error('database is down');
    };
    const { port, logs } = await startRouter({ targets: () => answer() as Target[], targetsCacheMs: 0 });

    const failed = await send(port, { path: '/shop/' });
    expect(failed.status).toBe(503);
    expect(failed.headers['retry-after']).toBe('5');
    answer = () => [{ id: 'x', host: '127.0.0.1', port: 70_000 }];
    expect((await send(port, { path: '/shop/' })).status).toBe(503);
    const errors = logs.filter((l) => l.level === 'error' && l.app === 'shop');
    expect(errors.map((l) => l.error.message)).toEqual([
      'database is down',
      expect.stringContaining("targets('shop')[0] must be {id: non-empty string, host: non-empty string, port: 1..65535}"),
    ]);
  });
});

describe('balancing', () => {
  it('sends the next request to the replica with the fewest requests in flight', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    let targets = [a.target];
    const { router, port } = await startRouter({ targets: () => targets, targetsCacheMs: 0 });

    const held = Array.from({ length: 3 }, () => open(port, { path: '/shop/hold/1' }));
    await pollUntil('3 requests held on a', () => a.heldCount === 3);
    expect(router.snapshot().targets).toEqual({ a: 3 });

    targets = [a.target, b.target];
    for (let i = 0; i < 4; i++) expect((await send(port, { path: '/shop/quick' })).json().id).toBe('b');

    a.release();
    expect((await Promise.all(held.map((h) => h.reply))).map((r) => r.json().id)).toEqual(['a', 'a', 'a']);
    expect(router.snapshot().targets).toEqual({});
  });

  it('spreads sequential requests round-robin over idle replicas', async () => {
    const replicas = [await upstream('a'), await upstream('b'), await upstream('c')];
    const { port } = await startRouter({ targets: () => replicas.map((r) => r.target) });

    const served: string[] = [];
    for (let i = 0; i < 9; i++) served.push((await send(port, { path: '/shop/' })).json().id);

    expect(replicas.map((r) => served.filter((id) => id === r.id).length)).toEqual([3, 3, 3]);
  });

  it('counts a request out of its replica when the client gives up on it', async () => {
    const a = await upstream('a');
    const { router, port } = await startRouter({ targets: () => [a.target] });

    const request = open(port, { path: '/shop/hold/1' });
    request.reply.catch(() => {});
    await pollUntil('the request to reach a', () => a.heldCount === 1);
    expect(router.snapshot().targets).toEqual({ a: 1 });

    request.abort();
    await pollUntil('a to have nothing in flight', () => router.snapshot().targets.a === undefined);
    await pollUntil('the abandoned request to be counted', () => router.snapshot().apps.shop?.requests === 1);
    expect(router.snapshot().apps.shop).toMatchObject({ active_connections: 0, errors: 0 });
  });
});

describe('request bodies', () => {
  it('streams bodies through: a large POST, a PUT over the retry buffer, chunked PUT and DELETE', async () => {
    const replica = await upstream('a');
    const { port } = await startRouter({ targets: () => [replica.target], retryBodyLimitBytes: 1024 });

    const large = 'x'.repeat(1024 * 1024);
    expect((await send(port, { method: 'POST', path: '/shop/upload', body: large })).json().body).toHaveLength(large.length);
    expect((await send(port, { method: 'PUT', path: '/shop/doc', body: large.slice(0, 4096) })).json().body).toHaveLength(4096);
    const chunks = ['first,', 'second,', 'third'];
    expect((await send(port, { method: 'PUT', path: '/shop/doc', chunks })).json().body).toBe('first,second,third');
    const del = await send(port, { method: 'DELETE', path: '/shop/doc', chunks, headers: { 'transfer-encoding': 'chunked' } });
    expect(del.json()).toMatchObject({ method: 'DELETE', body: 'first,second,third' });
    expect(replica.seen.map((r) => r.method)).toEqual(['POST', 'PUT', 'PUT', 'DELETE']);
  });
});

describe('retries', () => {
  it('retries an idempotent request once on another replica when the first refuses the connection', async () => {
    const live = await upstream('live');
    const dead = await deadTarget('dead');
    const { router, port, logs } = await startRouter({ targets: () => [dead, live.target] });

    for (let i = 0; i < 4; i++) {
      const reply = await send(port, { path: '/shop/x' });
      expect(reply.status).toBe(200);
      expect(reply.json().id).toBe('live');
    }
    expect(live.seen).toHaveLength(4);
    expect(logs.some((l) => l.level === 'warn' && l.target === 'dead' && l.error === 'ECONNREFUSED')).toBe(true);
    expect(router.snapshot().targets).toEqual({});
  });

  it('retries when a replica resets the connection before answering, and replays a small PUT body', async () => {
    const live = await upstream('live');
    const resetter = await startResetter();
    cleanups.push(() => resetter.close());
    const { port } = await startRouter({ targets: () => [{ id: 'reset', host: '127.0.0.1', port: resetter.port }, live.target] });

    for (let i = 0; i < 4; i++) {
      const reply = await send(port, { method: 'PUT', path: '/shop/doc', body: `version ${i}`, headers: { 'content-type': 'text/plain' } });
      expect(reply.status).toBe(200);
      expect(reply.json()).toMatchObject({ id: 'live', method: 'PUT', body: `version ${i}` });
    }
    expect(resetter.accepted()).toBeGreaterThan(0);
  });

  it('does not retry a POST: the request that hit the dead replica fails with 502', async () => {
    const live = await upstream('live');
    const dead = await deadTarget('dead');
    const { port } = await startRouter({ targets: () => [dead, live.target] });

    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await send(port, { method: 'POST', path: '/shop/orders', body: `order ${i}` })).status);

    const failed = statuses.filter((s) => s === 502).length;
    expect(failed).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 200)).toHaveLength(live.seen.length);
    expect(failed + live.seen.length).toBe(4);
    expect(live.seen.every((r) => r.method === 'POST' && r.body.startsWith('order '))).toBe(true);
  });

  it('answers 502 RUNTIME_ERROR after trying two different replicas that are both down', async () => {
    const targets = [await deadTarget('dead-1'), await deadTarget('dead-2')];
    const { router, port } = await startRouter({ targets: () => targets });

    const reply = await send(port, { path: '/shop/x' });
    expect(reply.status).toBe(502);
    const body = reply.json();
    expect(body.code).toBe('RUNTIME_ERROR');
    expect(body.details.attempts.map((a: { target: string }) => a.target).sort()).toEqual(['dead-1', 'dead-2']);
    expect(body.details.attempts.every((a: { error: string }) => a.error === 'ECONNREFUSED')).toBe(true);
    expect(router.snapshot().targets).toEqual({});
  });

  it('answers 504 when a replica stays silent past the upstream timeout, without retrying', async () => {
    const slow = await upstream('slow');
    const other = await upstream('other');
    const { router, port } = await startRouter({ targets: () => [slow.target, other.target], upstreamTimeoutMs: 200 });

    // Whichever replica the first request lands on holds it; the timeout answers for it.
    const reply = await send(port, { path: '/shop/hold/forever' });
    expect(reply.status).toBe(504);
    expect(reply.json().code).toBe('RUNTIME_ERROR');
    expect(slow.seen.length + other.seen.length).toBe(1);
    expect(router.snapshot().targets).toEqual({});
  });
});

describe('targets cache', () => {
  it('asks targets() once per cache period, once for a burst, and again after expiry', async () => {
    const a = await upstream('a');
    const b = await upstream('b');
    let calls = 0;
    let current = [a.target];
    const lookup = async () => {
      calls += 1;
      return current;
    };

    const cached = await startRouter({ targets: lookup, targetsCacheMs: 60_000 });
    await Promise.all(Array.from({ length: 5 }, () => send(cached.port, { path: '/shop/' })));
    for (let i = 0; i < 5; i++) await send(cached.port, { path: '/shop/' });
    expect(calls).toBe(1);

    calls = 0;
    const refreshing = await startRouter({ targets: lookup, targetsCacheMs: 50 });
    expect((await send(refreshing.port, { path: '/shop/' })).json().id).toBe('a');
    current = [b.target];
    await pollUntil('the router to pick up the new target list', async () => (await send(refreshing.port, { path: '/shop/' })).json().id === 'b');
    expect(calls).toBeGreaterThanOrEqual(2);
  });
});

describe('metrics', () => {
  it('reports exact rps, latency percentiles and error rate for a known set of requests', async () => {
    let now = Date.UTC(2025, 0, 1);
    const start = now;
    const replica = await upstream('a', {
      // The replica "takes" ?ms= milliseconds on the router's clock.
      onRequest: (request) => {
        now += Number(new URL(request.url, 'http://x').searchParams.get('ms'));
      },
    });
    const { router, port, samplesOf } = await startRouter({ targets: () => [replica.target], clock: () => now });

    for (let ms = 1; ms <= 100; ms++) {
      const status = ms % 10 === 0 ? 500 : 200;
      expect((await send(port, { path: `/shop/work?ms=${ms}&status=${status}` })).status).toBe(status);
    }
    expect(router.snapshot().apps.shop).toMatchObject({ requests: 100, errors: 10, active_connections: 0 });

    now = start + 10_000;
    await router.flush();

    expect(samplesOf('shop')).toEqual([
      {
        at: new Date(start + 10_000),
        interval_ms: 10_000,
        requests: 100,
        errors: 10,
        rps: 10,
        latency_p50: 50,
        latency_p95: 95,
        latency_p99: 99,
        active_connections: 0,
        max_active_connections: 1,
        error_rate: 0.1,
      },
    ]);
  });

  it('counts proxy errors (503, 502) in the error rate but not in latency', async () => {
    let now = 1_000_000;
    const dead = await deadTarget('dead');
    const { router, port, samplesOf } = await startRouter({
      targets: (app) => (app === 'empty' ? [] : [dead]),
      clock: () => now,
    });
    for (let i = 0; i < 3; i++) await send(port, { path: '/empty/' });
    for (let i = 0; i < 2; i++) await send(port, { path: '/broken/' });
    now += 1_000;
    await router.flush();

    expect(samplesOf('empty')).toEqual([expect.objectContaining({ requests: 3, errors: 3, error_rate: 1, rps: 3, latency_p50: null })]);
    expect(samplesOf('broken')).toEqual([expect.objectContaining({ requests: 2, errors: 2, error_rate: 1, rps: 2, latency_p95: null })]);
  });

  it('keeps sending rps-0 samples for quietReportingMs after traffic stops, then goes silent', async () => {
    let now = 2_000_000;
    const replica = await upstream('a');
    const { router, port, samplesOf } = await startRouter({ targets: () => [replica.target], clock: () => now, quietReportingMs: 3_000 });
    await send(port, { path: '/calm/x' });
    for (let i = 0; i < 6; i++) {
      now += 1_000;
      await router.flush();
    }
    expect(samplesOf('calm').map((s) => s.requests)).toEqual([1, 0, 0, 0]);
    expect(samplesOf('calm').slice(1).every((s) => s.rps === 0)).toBe(true);
  });

  it('reports open connections every interval, then one rps-0 sample when traffic stops, then nothing', async () => {
    const replica = await upstream('a');
    const { port, samplesOf } = await startRouter({ targets: () => [replica.target], flushIntervalMs: 200, quietReportingMs: 0 });

    const held = Array.from({ length: 3 }, () => open(port, { path: '/busy/hold/1' }));
    const open3 = await pollUntil('a sample with 3 open connections', () =>
      samplesOf('busy').find((s) => s.active_connections === 3),
    );
    expect(open3).toMatchObject({ max_active_connections: 3, requests: 0, rps: 0 });

    // A second app keeps a request open so flushes keep coming; they mark time for "quiet".
    const clockKeeper = open(port, { path: '/keeper/hold/1' });
    replica.release();
    await Promise.all(held.map((h) => h.reply));
    await pollUntil('the quiet sample after traffic stopped', () => {
      const samples = samplesOf('busy');
      const last = samples[samples.length - 1];
      return last !== undefined && last.requests === 0 && last.active_connections === 0;
    });
    const counted = samplesOf('busy').reduce((sum, s) => sum + s.requests, 0);
    expect(counted).toBe(3);
    const afterQuiet = samplesOf('keeper').length;
    await pollUntil('three more flushes', () => samplesOf('keeper').length >= afterQuiet + 3);

    const busy = samplesOf('busy');
    const quiet = busy.filter((s) => s.requests === 0 && s.active_connections === 0);
    expect(quiet).toHaveLength(1);
    expect(quiet[0]).toMatchObject({ rps: 0, error_rate: 0, latency_p50: null, latency_p95: null, latency_p99: null });
    expect(busy[busy.length - 1]).toBe(quiet[0]);

    // Traffic returns: reporting resumes.
    const before = busy.length;
    await send(port, { path: '/busy/again' });
    await pollUntil('a sample for the new request', () => samplesOf('busy').slice(before).some((s) => s.requests === 1));
    replica.release();
    await clockKeeper.reply;
  });

  it('logs an onMetrics failure as structured JSON and keeps routing', async () => {
    const replica = await upstream('a');
    const lines: string[] = [];
    const { port } = await startRouter({
      targets: () => [replica.target],
      flushIntervalMs: 100,
      onMetrics: async () => {
        throw new Error('metrics table is gone');
      },
      log: createLogger({ write: (line) => lines.push(line) }),
    });
    await send(port, { path: '/shop/' });
    const failure = await pollUntil('the onMetrics failure in the log', () =>
      lines.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'onMetrics failed; the sample is lost'),
    );
    expect(failure).toMatchObject({ level: 'error', component: 'router', app: 'shop', error: { message: 'metrics table is gone' } });
    expect((await send(port, { path: '/shop/' })).status).toBe(200);
  });

  it('keeps the latency reservoir bounded and its percentiles within what was recorded', async () => {
    let now = 0;
    const replica = await upstream('a', {
      onRequest: (request) => {
        now += Number(new URL(request.url, 'http://x').searchParams.get('ms'));
      },
    });
    const { router, port, samplesOf } = await startRouter({ targets: () => [replica.target], clock: () => now, latencyReservoirSize: 8 });
    for (let i = 0; i < 40; i++) await send(port, { path: `/shop/?ms=${i % 2 === 0 ? 10 : 20}` });
    await router.flush();
    const [sample] = samplesOf('shop');
    expect(sample!.requests).toBe(40);
    for (const value of [sample!.latency_p50, sample!.latency_p95, sample!.latency_p99]) expect([10, 20]).toContain(value);
  });
});

describe('close()', () => {
  it('lets a request in flight finish, stops accepting, and flushes once', async () => {
    const replica = await upstream('a');
    const { router, port, samplesOf } = await startRouter({ targets: () => [replica.target], log: silentLogger });

    for (let i = 0; i < 3; i++) await send(port, { path: '/shop/' });
    const inFlight = open(port, { path: '/shop/hold/1' });
    await pollUntil('the request to reach the replica', () => replica.heldCount === 1);

    const closing = router.close();
    replica.release();
    const last = await inFlight.reply;
    expect(last.status).toBe(200);
    expect(last.headers.connection).toBe('close');
    await closing;

    expect(router.server.listening).toBe(false);
    await expect(send(port, { path: '/shop/' })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    expect(samplesOf('shop')).toEqual([expect.objectContaining({ requests: 4, errors: 0, active_connections: 0 })]);
    await router.close();
    expect(samplesOf('shop')).toHaveLength(1);
  });
});

describe('options', () => {
  it('rejects a bad option naming it', () => {
    const base = { targets: () => [], onMetrics: () => {} };
    expect(() => createRouter({ ...base, flushIntervalMs: 0 })).toThrow(/flushIntervalMs must be a number above 0 \(got 0\)/);
    expect(() => createRouter({ ...base, targetsCacheMs: -1 })).toThrow(/targetsCacheMs must be a number of 0 or more/);
  });
});
