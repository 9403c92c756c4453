/**
 * Every failure answers the one error format with the right status: unknown routes, wrong
 * methods, oversized bodies (refused before they are read whole), content types, malformed
 * JSON, a database that is down, a runtime that fails or is absent, and unexpected errors,
 * which never leak their text or stack.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type DbHandle } from '../../../db/client.js';
import { jobRuns } from '../../../db/schema.js';
import { NoRuntime } from '../../../functions/deps.js';
import { describeEachTarget } from '../../support/db.js';
import { expectErrorShape, makeHarness, specOf, type Harness } from './harness.js';

describeEachTarget(
  'API errors',
  (t) => {
    let h: Harness;
    beforeAll(async () => {
      h = makeHarness(t.db);
      await h.call('POST', '/api/v1/apps/register', { body: specOf('err-app') });
    });

    it('answers 404 NOT_FOUND for an unknown route, inside and outside the API prefix', async () => {
      for (const [path, key] of [['/api/v1/nothing/here', undefined], ['/nothing', null], ['/api/v1/apps/err-app/nope', undefined]] as const) {
        const answer = await h.call('GET', path, { key });
        expect(answer.status, path).toBe(404);
        expectErrorShape(answer, 'NOT_FOUND');
      }
    });

    it('answers 405 METHOD_NOT_ALLOWED with an Allow header for a known path', async () => {
      const cases: Array<[string, string, string]> = [
        ['PATCH', '/api/v1/apps/err-app', 'DELETE, GET, HEAD'],
        ['PUT', '/api/v1/apps', 'GET, HEAD'],
        ['GET', '/api/v1/keys/3', 'DELETE'],
        ['DELETE', '/api/v1/apps/err-app/spec', 'GET, HEAD, PUT'],
        ['POST', '/api/v1/apps/err-app/scaling/explain', 'GET, HEAD'],
        ['DELETE', '/health', 'GET, HEAD'],
      ];
      for (const [method, path, allow] of cases) {
        const answer = await h.call(method, path);
        expect(answer.status, `${method} ${path}`).toBe(405);
        expectErrorShape(answer, 'METHOD_NOT_ALLOWED');
        expect(answer.headers.get('allow')).toBe(allow);
      }
    });

    it('answers 413 PAYLOAD_TOO_LARGE for a body over the limit', async () => {
      const huge = { ...specOf('huge'), padding: 'x'.repeat(1024 * 1024) };
      const answer = await h.call('POST', '/api/v1/apps/register', { body: huge });
      expect(answer.status).toBe(413);
      expectErrorShape(answer, 'PAYLOAD_TOO_LARGE');
      expect(answer.body.details.max_bytes).toBe(256 * 1024);
    });

    it('gives metric batches their own, larger limit', async () => {
      // Fewer than the 10,000 entries a list may hold (document limits), more than a batch may.
      const samples = Array.from({ length: 9_000 }, () => ({ metric_type: 'rps', value: 1, unit: 'requests/s' }));
      const body = JSON.stringify({ samples });
      expect(body.length).toBeGreaterThan(256 * 1024);
      expect(body.length).toBeLessThan(2 * 1024 * 1024);
      const withinSize = await h.call('POST', '/api/v1/apps/err-app/metrics', { body });
      expect(withinSize.status).toBe(400);
      expect(withinSize.body.details.issues[0].path).toBe('samples');
      const tooBig = await h.call('POST', '/api/v1/apps/err-app/metrics', { body: 'x'.repeat(3 * 1024 * 1024) });
      expect(tooBig.status).toBe(413);
    });

    it('stops reading a streamed body once it passes the limit', async () => {
      let pulled = 0;
      const chunk = new Uint8Array(64 * 1024).fill(0x20);
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          pulled++;
          if (pulled > 1000) controller.close();
          else controller.enqueue(chunk);
        },
      });
      const res = await h.app.request('/api/v1/apps/register', {
        method: 'POST',
        headers: { authorization: `Bearer ${h.deps.config.adminToken}`, 'content-type': 'application/json' },
        body: stream,
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(413);
      expect(pulled).toBeLessThan(20);
    });

    it('answers 415 UNSUPPORTED_MEDIA_TYPE for a content type the route does not take', async () => {
      const cases: Array<[string, string, string]> = [
        ['/api/v1/apps/register', 'text/plain', 'hello'],
        ['/api/v1/apps/register', 'application/xml', '<app/>'],
        ['/api/v1/apps/err-app/scale', 'application/yaml', 'replicas: 2'],
        ['/api/v1/apps/err-app/metrics', 'application/x-www-form-urlencoded', 'samples=1'],
      ];
      for (const [path, type, body] of cases) {
        const answer = await h.call('POST', path, { body, contentType: type });
        expect(answer.status, `${type} to ${path}`).toBe(415);
        expectErrorShape(answer, 'UNSUPPORTED_MEDIA_TYPE');
      }
    });

    it('answers 400 VALIDATION_ERROR for a body that is not JSON', async () => {
      const answer = await h.call('POST', '/api/v1/apps/err-app/scale', { body: '{"replicas": 2', contentType: 'application/json' });
      expect(answer.status).toBe(400);
      expectErrorShape(answer, 'VALIDATION_ERROR');
      expect(answer.body.details.issues[0]).toMatchObject({ path: 'body' });
    });

    it('answers 502 RUNTIME_ERROR when the runtime fails, saying what failed', async () => {
      await h.call('POST', '/api/v1/apps/register', { body: specOf('err-runtime') });
      h.runtime.failStarts(2, 'image registry.example.com/web:1.0.0 not found in the engine');
      const answer = await h.call('POST', '/api/v1/apps/err-runtime/start', { body: { replicas: 1 } });
      expect(answer.status).toBe(502);
      expectErrorShape(answer, 'RUNTIME_ERROR');
      expect(answer.body.error).toContain('not found in the engine');
      expect(answer.body.details.failures[0]).toMatchObject({ action: 'start', replica_index: 0 });
    });

    it('answers 503 RUNTIME_UNAVAILABLE without a runtime, while reads keep working', async () => {
      const none = makeHarness(t.db, { runtime: new NoRuntime('no Docker engine answered') });
      await none.call('POST', '/api/v1/apps/register', { body: specOf('err-none') });
      const start = await none.call('POST', '/api/v1/apps/err-none/start');
      expect(start.status).toBe(503);
      expectErrorShape(start, 'RUNTIME_UNAVAILABLE');
      expect(start.body.error).toMatch(/^Starting apps needs a Docker engine/);
      expect((await none.call('GET', '/api/v1/apps/err-none')).status).toBe(200);
      const health = await none.call('GET', '/health', { key: null });
      expect(health.status).toBe(200);
      expect(health.body.runtime).toMatchObject({ kind: 'none', ok: false });
    });

    it('answers 500 INTERNAL for an unexpected error without its text, and logs it with the stack', async () => {
      const probe = makeHarness(t.db);
      probe.app.get('/api/v1/boom', () => {
        throw new TypeError('secret internals at /srv/orchestry/config.ts');
      });
      const answer = await probe.call('GET', '/api/v1/boom');
      expect(answer.status).toBe(500);
      expectErrorShape(answer, 'INTERNAL');
      expect(answer.text).not.toContain('secret');
      const logged = probe.logs.find((l) => l.msg === 'unhandled error');
      expect(logged).toMatchObject({ request_id: answer.body.request_id, error: 'secret internals at /srv/orchestry/config.ts' });
      expect(String(logged!.stack)).toContain('TypeError');
    });

    it('answers /health 503 naming a job whose last run failed', async () => {
      const [run] = await t.db
        .insert(jobRuns)
        .values({ job: 'cleanup', outcome: 'failed', startedAt: h.clock.now(), finishedAt: h.clock.now(), error: 'boom' })
        .returning();
      const answer = await h.call('GET', '/health', { key: null });
      expect(answer.status).toBe(503);
      expect(answer.body.failing).toEqual(['jobs.cleanup']);
      expect(answer.body.jobs.find((j: { job: string }) => j.job === 'cleanup')).toMatchObject({ state: 'failed', last_run: { id: run!.id, error: 'boom' } });
      await t.db.insert(jobRuns).values({ job: 'cleanup', outcome: 'succeeded', startedAt: new Date(h.clock.now().getTime() + 1000) });
      expect((await h.call('GET', '/health', { key: null })).status).toBe(200);
    });
  },
  { targets: ['pglite', 'pg'] },
);

describe('API with the database down', () => {
  let handle: DbHandle;
  let h: Harness;
  beforeAll(async () => {
    // Nothing listens on port 1: every connection is refused.
    handle = await createDb({ driver: 'pg', url: 'postgres://postgres@127.0.0.1:1/orchestry', poolMax: 1 });
    h = makeHarness(handle.db);
  });
  afterAll(async () => {
    await handle.close();
  });

  it('answers 503 DATABASE_ERROR without driver text', async () => {
    for (const [method, path, body] of [
      ['GET', '/api/v1/apps', undefined],
      ['GET', '/api/v1/apps/web', undefined],
      ['POST', '/api/v1/apps/register', specOf('web')],
      ['GET', '/api/v1/events', undefined],
    ] as const) {
      const answer = await h.call(method, path, { body });
      expect(answer.status, `${method} ${path}`).toBe(503);
      expectErrorShape(answer, 'DATABASE_ERROR');
      expect(answer.text).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|select|insert|postgres/i);
    }
    expect(h.logs.some((l) => l.msg === 'request failed' && l.code === 'DATABASE_ERROR')).toBe(true);
  });

  it('reports the primary failing on /health with 503', async () => {
    const answer = await h.call('GET', '/health', { key: null });
    expect(answer.status).toBe(503);
    expect(answer.body.failing).toContain('database.primary');
    expect(answer.body.database.primary).toMatchObject({ ok: false, response_ms: null });
    expect(answer.text).not.toMatch(/ECONNREFUSED/);
    expect(answer.body.apps).toBeNull();
  });
});
