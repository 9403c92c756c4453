/**
 * The router as a target (issue 13, items 9 and 10): it serves only loopback and its
 * configured host names (a DNS-rebinding page cannot read local apps), sets the forwarding
 * headers itself instead of passing on what a client claimed, answers unknown app names from
 * a negative cache instead of a lookup each, and forgets the state of apps that are gone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { appNotFound } from '../../../functions/core/errors.js';
import { silentLogger } from '../../../functions/log.js';
import { createRouter, type Router, type RouterOptions } from '../../../functions/router/router.js';
import { pollUntil, send, startUpstream, type Upstream } from './support.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function upstream(id: string): Promise<Upstream> {
  const server = await startUpstream(id);
  cleanups.push(() => server.close());
  return server;
}

async function startRouter(options: Partial<RouterOptions> & Pick<RouterOptions, 'targets'>): Promise<{ router: Router; port: number }> {
  const router = createRouter({ flushIntervalMs: 60_000, onMetrics: () => {}, log: silentLogger, ...options });
  const port = await router.listen(0);
  cleanups.push(() => router.close());
  return { router, port };
}

describe('Host allow-list', () => {
  it('refuses a Host that is neither loopback nor configured with 403, before any lookup', async () => {
    const shop = await upstream('shop-1');
    let lookups = 0;
    const { port } = await startRouter({
      targets: () => {
        lookups += 1;
        return [shop.target];
      },
    });
    for (const host of ['evil.example', `evil.example:${port}`, 'shop.evil.example', 'localhost.evil.example', '10.0.0.1']) {
      const reply = await send(port, { host, path: '/shop/secret' });
      expect(reply.status, host).toBe(403);
      expect(reply.json()).toMatchObject({ code: 'FORBIDDEN', details: { allowed: ['localhost'] } });
      expect(reply.json().error).toContain('ROUTER_HOSTS');
    }
    expect(shop.seen).toHaveLength(0);
    expect(lookups).toBe(0);
  });

  it('serves localhost, <app>.localhost, 127.0.0.0/8 and [::1]', async () => {
    const shop = await upstream('shop-1');
    const { port } = await startRouter({ targets: (app) => (app === 'shop' ? [shop.target] : []) });
    for (const [host, path] of [
      [`localhost:${port}`, '/shop/a'],
      [`shop.localhost:${port}`, '/a'],
      [`127.0.0.1:${port}`, '/shop/a'],
      [`127.1.2.3:${port}`, '/shop/a'],
      [`[::1]:${port}`, '/shop/a'],
      ['LOCALHOST.', '/shop/a'],
    ] as const) {
      const reply = await send(port, { host, path });
      expect(reply.status, host).toBe(200);
      expect(reply.json().url).toBe('/a');
    }
  });

  it('serves configured names in both URL forms, and refuses a bad one at creation', async () => {
    const shop = await upstream('shop-1');
    const { port } = await startRouter({ hosts: ['apps.test'], targets: (app) => (app === 'shop' ? [shop.target] : []) });
    expect((await send(port, { host: 'shop.apps.test', path: '/a?b=1' })).json().url).toBe('/a?b=1');
    expect((await send(port, { host: `apps.test:${port}`, path: '/shop/a' })).json().url).toBe('/a');
    expect((await send(port, { host: 'other.test', path: '/shop/a' })).status).toBe(403);
    expect(() => createRouter({ hosts: ['*.apps.test'], targets: () => [], onMetrics: () => {} })).toThrow(/hosts "\*\.apps\.test" is not a host name/);
  });
});

describe('forwarding headers', () => {
  it('drops what the client sent under forwarding names and sets its own', async () => {
    const shop = await upstream('shop-1');
    const { port } = await startRouter({ targets: () => [shop.target] });
    const reply = await send(port, {
      host: `shop.localhost:${port}`,
      path: '/a',
      headers: {
        'x-forwarded-for': '10.9.9.9',
        'x-forwarded-host': 'admin.example',
        'x-forwarded-proto': 'https',
        'x-forwarded-prefix': '/admin',
        'x-forwarded-port': '443',
        'x-forwarded-server': 'trusted',
        forwarded: 'for=10.9.9.9;proto=https',
        'x-real-ip': '10.9.9.9',
        'x-app-header': 'kept',
      },
    });
    const headers = reply.json().headers;
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-real-ip']).toBe('127.0.0.1');
    expect(headers['x-forwarded-host']).toBe(`shop.localhost:${port}`);
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-port']).toBe(String(port));
    expect(headers['x-forwarded-prefix']).toBeUndefined();
    expect(headers['x-forwarded-server']).toBeUndefined();
    expect(headers.forwarded).toBe(`for=127.0.0.1;host="shop.localhost:${port}";proto=http`);
    expect(headers['x-app-header']).toBe('kept');

    const pathForm = (await send(port, { path: '/shop/a', headers: { 'x-forwarded-prefix': '/admin' } })).json().headers;
    expect(pathForm['x-forwarded-prefix']).toBe('/shop');
  });
});

describe('unknown names and forgotten apps', () => {
  it('asks targets() once for a name it does not know, then answers 404 from memory until the entry expires', async () => {
    let now = 1_000_000;
    const asked: string[] = [];
    const { router, port } = await startRouter({
      clock: () => now,
      notFoundCacheMs: 5_000,
      targets: (app) => {
        asked.push(app);
        throw appNotFound(app);
      },
    });
    for (let i = 0; i < 20; i++) {
      const reply = await send(port, { path: '/ghost/x' });
      expect(reply.status).toBe(404);
      expect(reply.json()).toMatchObject({ code: 'APP_NOT_FOUND', details: { app_name: 'ghost' } });
    }
    expect(asked).toEqual(['ghost']);
    expect(router.snapshot().not_found_cached).toBe(1);
    now += 5_001;
    expect((await send(port, { path: '/ghost/x' })).status).toBe(404);
    expect(asked).toEqual(['ghost', 'ghost']);
  });

  it('keeps at most lookupConcurrency lookups in flight when many names arrive at once', async () => {
    let inFlight = 0;
    let most = 0;
    const { port } = await startRouter({
      lookupConcurrency: 2,
      targets: async (app) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inFlight -= 1;
        throw appNotFound(app);
      },
    });
    const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => send(port, { path: `/ghost-${i}/` })));
    expect(replies.map((r) => r.status)).toEqual(Array(12).fill(404));
    expect(most).toBe(2);
  });

  it('forgets the meter and rotation of an app once targets() says it is gone', async () => {
    const shop = await upstream('shop-1');
    let exists = true;
    const { router, port } = await startRouter({
      targetsCacheMs: 0,
      targets: (app) => {
        if (!exists) throw appNotFound(app);
        return [shop.target];
      },
    });
    expect((await send(port, { path: '/shop/' })).status).toBe(200);
    expect(Object.keys(router.snapshot().apps)).toEqual(['shop']);
    exists = false;
    expect((await send(port, { path: '/shop/' })).status).toBe(404);
    expect(router.snapshot().apps).toEqual({});
  });

  it('forgets an app that stayed quiet past quietReportingMs, so deleted apps do not pile up', async () => {
    const shop = await upstream('shop-1');
    const { router, port } = await startRouter({ quietReportingMs: 0, targets: () => [shop.target] });
    for (let i = 0; i < 30; i++) expect((await send(port, { path: `/app-${i}/` })).status).toBe(200);
    expect(Object.keys(router.snapshot().apps)).toHaveLength(30);
    await router.flush(); // reports the traffic
    await router.flush(); // the one zero sample each
    await router.flush(); // quiet past quietReportingMs: forgotten
    await pollUntil('quiet apps forgotten', () => Object.keys(router.snapshot().apps).length === 0);
  });
});
