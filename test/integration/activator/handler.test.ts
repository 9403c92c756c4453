/**
 * The activator Lambda with real ALB event shapes (multi-value headers and query, base64
 * bodies), a real database and a real HTTP replica: it wakes the app with the shared wake,
 * waits for a healthy target, points the rule back and proxies the request once; or answers
 * 503 with Retry-After within its budget, the request unsent.
 */
import type { ALBEvent } from 'aws-lambda';
import { eq } from 'drizzle-orm';
import { afterEach, expect, it } from 'vitest';
import { updateApp } from '../../../db/queries/applications.js';
import { applications } from '../../../db/schema.js';
import { createActivator } from '../../../functions/activator/handler.js';
import { describeEachTarget } from '../../support/db.js';
import { startUpstream, type Upstream } from '../router/support.js';
import { eventsOf, jobDeps, startedApp } from '../jobs/helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const TG = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/orch-activator/2';

function albEvent(app: string, overrides: Partial<ALBEvent> = {}): ALBEvent {
  return {
    requestContext: { elb: { targetGroupArn: TG } },
    httpMethod: 'POST',
    path: '/orders',
    multiValueQueryStringParameters: { q: ['a%20b'], tag: ['1', '2'] },
    multiValueHeaders: {
      host: [`${app}.apps.example.com`],
      cookie: ['a=1', 'b=2'],
      'content-type': ['application/octet-stream'],
      'x-forwarded-for': ['203.0.113.9'],
      connection: ['keep-alive'],
    },
    body: Buffer.from([0, 1, 2, 255]).toString('base64'),
    isBase64Encoded: true,
    ...overrides,
  };
}

/** A Lambda context whose budget runs down as time passes. */
const budget = (ms: number) => {
  const until = Date.now() + ms;
  return { getRemainingTimeInMillis: () => until - Date.now() };
};

describeEachTarget(
  'activator Lambda',
  (t) => {
    async function setup(name: string) {
      const { deps, runtime } = jobDeps(t.db);
      const replica: Upstream = await startUpstream('task-1');
      cleanups.push(() => replica.close());
      let healthyAfter = 2;
      const routed: string[] = [];
      Object.assign(runtime, {
        readyAddress: async () => (--healthyAfter <= 0 ? { ip: '127.0.0.1', port: replica.port } : null),
        routeTrafficTo: async (_app: string, to: string) => void routed.push(to),
      });
      await startedApp(deps, name, 1, { minReplicas: 0, maxReplicas: 2 });
      await updateApp(t.db.$primary, name, { desiredReplicas: 0, status: 'scaled_to_zero' });
      return { deps, replica, routed, never: () => (healthyAfter = Infinity) };
    }

    it('wakes an app at zero, waits for a healthy target, points the rule back and proxies the request once', async () => {
      const { deps, replica, routed } = await setup('shop');
      const activate = createActivator(deps, { pollMs: 10, reserveMs: 100 });
      const result = await activate(albEvent('shop'), budget(10_000));

      expect(result.statusCode).toBe(200);
      expect(result.isBase64Encoded).toBe(true);
      expect(result.multiValueHeaders?.['set-cookie']).toEqual(['a=1', 'b=2']);
      expect(result.multiValueHeaders?.['x-upstream-id']).toEqual(['task-1']);
      const answered = JSON.parse(Buffer.from(result.body!, 'base64').toString('utf8'));
      expect(answered.url).toBe('/orders?q=a%20b&tag=1&tag=2');
      expect(replica.seen).toHaveLength(1);
      const seen = replica.seen[0]!;
      expect(seen.method).toBe('POST');
      // The base64 body arrives as its four bytes (the test replica reads it as UTF-8 text).
      expect(seen.headers['content-length']).toBe('4');
      expect(seen.body.slice(0, 3)).toBe('\u0000\u0001\u0002');
      expect(seen.headers['cookie']).toBe('a=1; b=2');
      expect(seen.headers['x-forwarded-for']).toBe('203.0.113.9');
      expect(routed).toEqual(['replicas']);

      const [app] = await t.db.$primary.select().from(applications).where(eq(applications.name, 'shop'));
      expect(app).toMatchObject({ desiredReplicas: 1, status: expect.stringMatching(/starting|running/) });
      expect(app!.lastWakeSeconds).not.toBeNull();
      const wakes = (await eventsOf(t.db, 'shop')).filter((e) => (e.details as { reason?: string } | null)?.reason === 'activated');
      expect(wakes).toHaveLength(1);
      expect(wakes[0]).toMatchObject({ source: 'activator' });
    });

    it('answers 503 with Retry-After when no replica is healthy within its budget, and sends nothing', async () => {
      const { deps, replica, routed, never } = await setup('slow');
      never();
      const activate = createActivator(deps, { pollMs: 10, reserveMs: 100 });
      const result = await activate(albEvent('slow'), budget(400));
      expect(result.statusCode).toBe(503);
      expect(result.multiValueHeaders?.['retry-after']).toEqual(['10']);
      expect(JSON.parse(result.body!)).toMatchObject({ code: 'RUNTIME_UNAVAILABLE', details: { app_name: 'slow', reason: 'hold_timeout' } });
      expect(replica.seen).toHaveLength(0);
      expect(routed).toEqual([]);
    });

    it('answers 503 for a stopped app and 404 for an unknown one, waking nothing', async () => {
      const { deps } = await setup('paused');
      await updateApp(t.db.$primary, 'paused', { status: 'stopped' });
      const activate = createActivator(deps, { pollMs: 10, reserveMs: 100 });
      const stopped = await activate(albEvent('paused', { httpMethod: 'GET', body: '', isBase64Encoded: false }), budget(1_000));
      expect(stopped.statusCode).toBe(503);
      expect(JSON.parse(stopped.body!)).toMatchObject({ details: { status: 'stopped' } });
      const unknown = await activate(albEvent('ghost'), budget(1_000));
      expect(unknown.statusCode).toBe(404);
    });
  },
  { targets: ['pglite', 'pg'] },
);
