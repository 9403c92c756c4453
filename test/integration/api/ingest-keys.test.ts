/**
 * Ingest keys (bound to one app, allowed only to post its metrics) and idempotent metric
 * batches (a retried batch is stored once), on PGlite and Postgres.
 */
import { eq, sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../../db/client.js';
import { apiKeys, metricBatches } from '../../../db/schema.js';
import { cleanup } from '../../../functions/jobs/cleanup.js';
import { describeEachTarget } from '../../support/db.js';
import { expectErrorShape, makeHarness, specOf, type Harness } from './harness.js';

const batch = (value: number, container = 'web-1') => ({
  samples: [
    { metric_type: 'rps', value, container_id: container, aggregation_level: 'instance' },
    { metric_type: 'latency_p95', value: 12.5, container_id: container, aggregation_level: 'instance' },
  ],
});

describeEachTarget(
  'ingest keys and idempotent metric batches',
  (t) => {
    let h: Harness;
    let ingest: { id: number; key: string };
    const storedRps = async (app: string) =>
      Number(
        (await queryRows<{ n: string | number }>(t.db.$primary, sql`SELECT count(*) AS n FROM metrics WHERE app_name = ${app} AND metric_type = 'rps'`))[0]!.n,
      );

    beforeAll(async () => {
      h = makeHarness(t.db);
      for (const name of ['ing-web', 'ing-other']) {
        expect((await h.call('POST', '/api/v1/apps/register', { body: specOf(name) })).status).toBe(201);
      }
      const made = await h.call('POST', '/api/v1/keys', { body: { name: 'meter ing-web', scope: 'ingest', app: 'ing-web' } });
      expect(made.status).toBe(201);
      expect(made.body).toMatchObject({ scope: 'ingest', app: 'ing-web' });
      ingest = { id: made.body.id, key: made.body.key };
    });

    describe('making one', () => {
      it('needs the app for scope ingest, refuses it for other scopes, and names a missing app', async () => {
        const without = await h.call('POST', '/api/v1/keys', { body: { name: 'x', scope: 'ingest' } });
        expect(without.status).toBe(400);
        expect(without.body.details.issues).toMatchObject([{ path: 'app', message: expect.stringContaining('bound to one app') }]);
        const misplaced = await h.call('POST', '/api/v1/keys', { body: { name: 'x', scope: 'read', app: 'ing-web' } });
        expect(misplaced.status).toBe(400);
        expect(misplaced.body.details.issues[0].path).toBe('app');
        const missing = await h.call('POST', '/api/v1/keys', { body: { name: 'x', scope: 'ingest', app: 'no-such-app' } });
        expect(missing.status).toBe(404);
        expectErrorShape(missing, 'APP_NOT_FOUND');
        const list = await h.call('GET', '/api/v1/keys');
        expect(list.body.keys.find((k: { id: number }) => k.id === ingest.id)).toMatchObject({ scope: 'ingest', app: 'ing-web' });
        expect(list.body.keys.filter((k: { app: string | null }) => k.app === null).length).toBe(list.body.keys.length - 1);
      });

      it('keeps the database consistent: only ingest keys have an app', async () => {
        await expect(
          t.db.$primary.insert(apiKeys).values({ name: 'bad', prefix: 'orch_bad', keyHash: 'f'.repeat(64), scope: 'ingest' }),
        ).rejects.toThrow();
      });
    });

    describe('what it may do', () => {
      it('posts its own app\'s metrics', async () => {
        const before = await storedRps('ing-web');
        const answer = await h.call('POST', '/api/v1/apps/ing-web/metrics', { key: ingest.key, body: batch(40) });
        expect(answer.status).toBe(201);
        expect(answer.body).toMatchObject({ accepted: 2, replayed: false });
        expect(await storedRps('ing-web')).toBe(before + 1);
      });

      it('answers 403 for another app\'s metrics, every GET and every other change', async () => {
        const before = await storedRps('ing-other');
        for (const [method, path, body] of [
          ['POST', '/api/v1/apps/ing-other/metrics', batch(1)],
          ['GET', '/api/v1/apps/ing-web/metrics', undefined],
          ['GET', '/api/v1/apps/ing-web', undefined],
          ['GET', '/api/v1/apps', undefined],
          ['GET', '/api/v1/metrics', undefined],
          ['GET', '/api/v1/keys', undefined],
          ['POST', '/api/v1/keys', { name: 'escalate', scope: 'admin' }],
          ['POST', '/api/v1/apps/ing-web/scale', { replicas: 3 }],
          ['DELETE', '/api/v1/apps/ing-web', undefined],
          ['PUT', '/api/v1/apps/ing-web/metrics', batch(1)],
          ['POST', '/api/v1/apps/ing-web/metrics/', batch(1)],
        ] as const) {
          const answer = await h.call(method, path, { key: ingest.key, body });
          expect(answer.status, `${method} ${path}`).toBe(403);
          expectErrorShape(answer, 'FORBIDDEN');
          expect(answer.body.details).toEqual({ scope: 'ingest', app_name: 'ing-web' });
        }
        expect(await storedRps('ing-other')).toBe(before);
        expect((await h.call('GET', '/api/v1/apps/ing-web')).body.desired_replicas ?? 0).not.toBe(3);
      });

      it('goes with its app: deleting the app deletes the key', async () => {
        await h.call('POST', '/api/v1/apps/register', { body: specOf('ing-gone') });
        const made = await h.call('POST', '/api/v1/keys', { body: { name: 'gone', scope: 'ingest', app: 'ing-gone' } });
        expect((await h.call('POST', '/api/v1/apps/ing-gone/metrics', { key: made.body.key, body: batch(1) })).status).toBe(201);
        expect((await h.call('DELETE', '/api/v1/apps/ing-gone?force=true')).status).toBeLessThan(300);
        const after = await h.call('POST', '/api/v1/apps/ing-gone/metrics', { key: made.body.key, body: batch(1) });
        expect(after.status).toBe(401);
        expect(await t.db.$primary.select().from(apiKeys).where(eq(apiKeys.id, made.body.id))).toEqual([]);
      });
    });

    describe('Idempotency-Key', () => {
      it('stores a retried batch once and answers the retry like the first post', async () => {
        const before = await storedRps('ing-web');
        const headers = { 'idempotency-key': 'web-1-000001' };
        const first = await h.call('POST', '/api/v1/apps/ing-web/metrics', { key: ingest.key, body: batch(7), headers });
        const again = await h.call('POST', '/api/v1/apps/ing-web/metrics', { key: ingest.key, body: batch(7), headers });
        expect(first.status).toBe(201);
        expect(first.body).toMatchObject({ accepted: 2, replayed: false });
        expect(again.status).toBe(201);
        expect(again.body).toMatchObject({ accepted: 2, replayed: true });
        expect(await storedRps('ing-web')).toBe(before + 1);
      });

      it('stores a batch once when its retries arrive at the same time', async () => {
        const before = await storedRps('ing-web');
        const headers = { 'idempotency-key': 'web-1-concurrent' };
        const answers = await Promise.all(
          Array.from({ length: 6 }, () => h.call('POST', '/api/v1/apps/ing-web/metrics', { key: ingest.key, body: batch(9), headers })),
        );
        expect(answers.map((a) => a.status)).toEqual(Array(6).fill(201));
        expect(answers.filter((a) => a.body.replayed === false)).toHaveLength(1);
        expect(await storedRps('ing-web')).toBe(before + 1);
      });

      it('refuses the same key with other samples, and keys of one app do not collide with another\'s', async () => {
        const headers = { 'idempotency-key': 'shared-key' };
        expect((await h.call('POST', '/api/v1/apps/ing-web/metrics', { key: ingest.key, body: batch(1), headers })).status).toBe(201);
        const changed = await h.call('POST', '/api/v1/apps/ing-web/metrics', { key: ingest.key, body: batch(2), headers });
        expect(changed.status).toBe(409);
        expectErrorShape(changed, 'CONFLICT');
        expect(changed.body.details).toEqual({ app_name: 'ing-web', idempotency_key: 'shared-key' });
        const other = await h.call('POST', '/api/v1/apps/ing-other/metrics', { body: batch(2), headers });
        expect(other.body).toMatchObject({ accepted: 2, replayed: false });
      });

      it('names the header when the key is malformed, and stores nothing', async () => {
        const before = await storedRps('ing-web');
        for (const key of ['has space', 'x'.repeat(256), 'naïve']) {
          const answer = await h.call('POST', '/api/v1/apps/ing-web/metrics', { key: ingest.key, body: batch(3), headers: { 'idempotency-key': key } });
          expect(answer.status, key).toBe(400);
          expect(answer.body.details.issues[0].path).toBe('idempotency-key');
        }
        expect(await storedRps('ing-web')).toBe(before);
      });

      it('answers 404 for an unknown app with a key, storing no key', async () => {
        const answer = await h.call('POST', '/api/v1/apps/ing-none/metrics', { body: batch(1), headers: { 'idempotency-key': 'k-none' } });
        expect(answer.status).toBe(404);
        expect(await t.db.$primary.select().from(metricBatches).where(eq(metricBatches.idempotencyKey, 'k-none'))).toEqual([]);
      });

      it('is forgotten by cleanup after a day', async () => {
        await h.call('POST', '/api/v1/apps/ing-web/metrics', { key: ingest.key, body: batch(5), headers: { 'idempotency-key': 'old-key' } });
        const counts = await cleanup(h.deps, new Date(Date.now() + 2 * 86_400_000));
        expect(counts.metric_batch_keys_deleted).toBeGreaterThanOrEqual(1);
        expect(await t.db.$primary.select().from(metricBatches).where(eq(metricBatches.idempotencyKey, 'old-key'))).toEqual([]);
      });
    });
  },
);
