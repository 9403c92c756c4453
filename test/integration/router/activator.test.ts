/**
 * The router as activator, over real HTTP: requests for an app with no ready replica are
 * held while it wakes, released in order once one is ready, each forwarded once; a full
 * queue or an expired hold is answered 503 with Retry-After and never forwarded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../functions/log.js';
import type { Activate } from '../../../functions/router/hold.js';
import { createRouter, type Router, type RouterOptions, type Target } from '../../../functions/router/router.js';
import { open, pollUntil, send, startUpstream, type Upstream } from './support.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function upstream(id: string): Promise<Upstream> {
  const server = await startUpstream(id);
  cleanups.push(() => server.close());
  return server;
}

async function startRouter(options: Partial<RouterOptions>): Promise<{ router: Router; port: number }> {
  const router = createRouter({ targets: () => [], onMetrics: () => {}, flushIntervalMs: 60_000, targetsCacheMs: 0, log: silentLogger, ...options });
  const port = await router.listen(0);
  cleanups.push(() => router.close());
  return { router, port };
}

/** An activator the test finishes by hand: ready(targets) releases every activation in flight. */
function manualActivator(): { activate: Activate; calls: string[]; ready(targets: Target[]): void } {
  const calls: string[] = [];
  const waiting: Array<(targets: Target[]) => void> = [];
  return {
    calls,
    activate: (app, signal) => {
      calls.push(app);
      return new Promise<Target[]>((resolve) => {
        waiting.push(resolve);
        signal.addEventListener('abort', () => resolve([]));
      });
    },
    ready: (targets) => {
      for (const resolve of waiting.splice(0)) resolve(targets);
    },
  };
}

const heldOf = (router: Router, app: string) => router.snapshot().held[app] ?? 0;

describe('router: hold while an app wakes', () => {
  it('holds requests, wakes the app once, and forwards each once, in arrival order, when a replica is ready', async () => {
    const replica = await upstream('r0');
    const activator = manualActivator();
    const { router, port } = await startRouter({ activate: activator.activate });
    const replies = [];
    for (let i = 0; i < 5; i++) {
      replies.push(send(port, { path: `/shop/item/${i}` }));
      await pollUntil(`request ${i} held`, () => heldOf(router, 'shop') === i + 1);
    }
    const posted = send(port, { path: '/shop/orders', method: 'POST', body: '{"n":1}', headers: { 'content-type': 'application/json' } });
    await pollUntil('the POST held', () => heldOf(router, 'shop') === 6);
    expect(activator.calls).toEqual(['shop']);
    expect(replica.seen).toHaveLength(0);

    activator.ready([replica.target]);
    const answered = await Promise.all([...replies, posted]);
    expect(answered.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(replica.seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /item/0', 'GET /item/1', 'GET /item/2', 'GET /item/3', 'GET /item/4', 'POST /orders',
    ]);
    expect(replica.seen[5]!.body).toBe('{"n":1}');
    expect(heldOf(router, 'shop')).toBe(0);
  });

  it('answers 503 with Retry-After to a request beyond the queue, and never forwards it', async () => {
    const replica = await upstream('r0');
    const activator = manualActivator();
    const { router, port } = await startRouter({ activate: activator.activate, holdQueueSize: 2 });
    const first = send(port, { path: '/shop/a' });
    const second = send(port, { path: '/shop/b' });
    await pollUntil('two held', () => heldOf(router, 'shop') === 2);
    const third = await send(port, { path: '/shop/c' });
    expect(third.status).toBe(503);
    expect(third.headers['retry-after']).toBe('5');
    expect(third.json()).toMatchObject({ code: 'RUNTIME_UNAVAILABLE', details: { app_name: 'shop', reason: 'hold_queue_full', queue_size: 2 } });

    activator.ready([replica.target]);
    expect((await Promise.all([first, second])).map((r) => r.status)).toEqual([200, 200]);
    expect(replica.seen.map((r) => r.url)).toEqual(['/a', '/b']);
  });

  it('answers 503 with Retry-After when no replica is ready within the hold time, and never forwards it later', async () => {
    const replica = await upstream('r0');
    const activator = manualActivator();
    const { port } = await startRouter({ activate: activator.activate, holdTimeoutMs: 200 });
    const reply = await send(port, { path: '/shop/late' });
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('5');
    expect(reply.json()).toMatchObject({ details: { reason: 'hold_timeout' } });
    activator.ready([replica.target]);
    expect(replica.seen).toHaveLength(0);
  });

  it('lets a held client leave: its request is dropped from the queue and never forwarded', async () => {
    const replica = await upstream('r0');
    const activator = manualActivator();
    const { router, port } = await startRouter({ activate: activator.activate });
    const leaving = open(port, { path: '/shop/leaving' });
    leaving.reply.catch(() => {});
    const staying = send(port, { path: '/shop/staying' });
    await pollUntil('two held', () => heldOf(router, 'shop') === 2);
    leaving.abort();
    await pollUntil('one held', () => heldOf(router, 'shop') === 1);
    activator.ready([replica.target]);
    expect((await staying).status).toBe(200);
    expect(replica.seen.map((r) => r.url)).toEqual(['/staying']);
  });

  it('answers 503 at once when nothing is coming up (a stopped app), and when the wake fails', async () => {
    let calls = 0;
    const { port } = await startRouter({
      activate: async (app) => {
        calls++;
        if (app === 'broken') throw new Error('database is down');
        return [];
      },
    });
    const stopped = await send(port, { path: '/stopped/' });
    expect(stopped.status).toBe(503);
    expect(stopped.json()).toMatchObject({ details: { reason: 'no_healthy_replica' } });
    expect((await send(port, { path: '/broken/' })).status).toBe(503);
    expect(calls).toBe(2);
  });

  it('holds requests arriving while the first replica still starts, without a second wake', async () => {
    const replica = await upstream('r0');
    const activator = manualActivator();
    const { router, port } = await startRouter({ activate: activator.activate });
    const early = send(port, { path: '/shop/1' });
    await pollUntil('one held', () => heldOf(router, 'shop') === 1);
    const later = send(port, { path: '/shop/2' });
    await pollUntil('two held', () => heldOf(router, 'shop') === 2);
    expect(activator.calls).toHaveLength(1);
    activator.ready([replica.target]);
    expect((await Promise.all([early, later])).map((r) => r.status)).toEqual([200, 200]);
  });

  it('counts held requests as in flight, so the app does not look idle while it wakes', async () => {
    const samples: Array<{ app: string; active: number }> = [];
    const activator = manualActivator();
    const { router, port } = await startRouter({
      activate: activator.activate,
      onMetrics: (app, sample) => {
        samples.push({ app, active: sample.active_connections });
      },
    });
    const held = open(port, { path: '/shop/' });
    held.reply.catch(() => {});
    await pollUntil('held', () => heldOf(router, 'shop') === 1);
    await router.flush();
    expect(samples).toEqual([{ app: 'shop', active: 1 }]);
    held.abort();
  });
});
