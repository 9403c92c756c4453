/**
 * Events (newest first, filters, cursor pages) and metrics (batch ingestion in one statement,
 * current values, history from rollups and raw samples), on PGlite and Postgres.
 */
import { eq } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { appendEvents } from '../../../db/queries/events.js';
import { events, metricRollups, metrics } from '../../../db/schema.js';
import { describeEachTarget } from '../../support/db.js';
import { expectErrorShape, makeHarness, specOf, type Harness } from './harness.js';

const MINUTE = 60_000;

describeEachTarget(
  'API events and metrics',
  (t) => {
    let h: Harness;
    beforeAll(async () => {
      h = makeHarness(t.db);
      for (const name of ['ev-app', 'ev-other', 'm-app', 'm-hist']) {
        expect((await h.call('POST', '/api/v1/apps/register', { body: specOf(name) })).status).toBe(201);
      }
      const now = h.clock.now().getTime();
      // 30 events of ev-app one minute apart (newest a minute ago), half of them `scaling`;
      // 3 of them two days old; one of another app.
      await appendEvents(
        t.db,
        Array.from({ length: 30 }, (_, i) => ({
          eventType: i % 2 === 0 ? ('scaling' as const) : ('health' as const),
          appName: 'ev-app',
          message: `event ${i}`,
          timestamp: new Date(i < 3 ? now - 2 * 86_400_000 - i * MINUTE : now - (30 - i) * MINUTE),
          severity: i === 29 ? ('error' as const) : ('info' as const),
        })),
      );
      await appendEvents(t.db, [{ eventType: 'config', appName: 'ev-other', message: 'other', timestamp: new Date(now - MINUTE) }]);
    });

    describe('events', () => {
      it('pages an app\'s events newest first with an opaque cursor, none repeated or lost', async () => {
        const seen: number[] = [];
        const stamps: number[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const query: string = `limit=7${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
          const answer = await h.call('GET', `/api/v1/apps/ev-app/events?${query}`);
          expect(answer.status).toBe(200);
          expect(answer.body.app_name).toBe('ev-app');
          expect(answer.body.events.length).toBeLessThanOrEqual(7);
          seen.push(...answer.body.events.map((e: { id: number }) => e.id));
          stamps.push(...answer.body.events.map((e: { timestamp: string }) => Date.parse(e.timestamp)));
          cursor = answer.body.next_cursor;
          expect(answer.body.has_more).toBe(cursor !== null);
          pages++;
        } while (cursor && pages < 20);
        const registration = 1;
        expect(seen).toHaveLength(30 + registration);
        expect(new Set(seen).size).toBe(seen.length);
        expect(stamps).toEqual([...stamps].sort((a, b) => b - a));
      });

      it('has the documented event shape', async () => {
        const answer = await h.call('GET', '/api/v1/apps/ev-app/events?type=health&limit=1');
        expect(Object.keys(answer.body.events[0])).toEqual(
          expect.arrayContaining(['id', 'type', 'category', 'severity', 'message', 'details', 'container_id', 'timestamp']),
        );
        expect(answer.body.events[0]).toMatchObject({ type: 'health', severity: 'error', message: 'event 29', category: 'application' });
      });

      it('filters by type, severity and since (duration or ISO time)', async () => {
        const scaling = await h.call('GET', '/api/v1/apps/ev-app/events?type=scaling&limit=100');
        expect(scaling.body.events).toHaveLength(15);
        expect(scaling.body.events.every((e: { type: string }) => e.type === 'scaling')).toBe(true);
        const errors = await h.call('GET', '/api/v1/apps/ev-app/events?severity=error');
        expect(errors.body.events.map((e: { message: string }) => e.message)).toEqual(['event 29']);
        const lastHour = await h.call('GET', '/api/v1/apps/ev-app/events?since=1h&limit=100');
        expect(lastHour.body.events.filter((e: { type: string }) => e.type !== 'registration')).toHaveLength(27);
        const since = new Date(h.clock.now().getTime() - 10.5 * MINUTE).toISOString();
        const iso = await h.call('GET', `/api/v1/apps/ev-app/events?since=${encodeURIComponent(since)}&limit=100`);
        expect(iso.body.events.filter((e: { type: string }) => e.type !== 'registration')).toHaveLength(10);
        const oneDay = await h.call('GET', '/api/v1/apps/ev-app/events?since=1d&type=health&limit=100');
        expect(oneDay.body.events.every((e: { type: string }) => e.type === 'health')).toBe(true);
      });

      it('lists every app\'s events at /events, or one app\'s with ?app=', async () => {
        const all = await h.call('GET', '/api/v1/events?limit=1000');
        expect(all.body.app_name).toBeNull();
        const apps = new Set(all.body.events.map((e: { app_name: string }) => e.app_name));
        expect([...apps]).toEqual(expect.arrayContaining(['ev-app', 'ev-other']));
        const other = await h.call('GET', '/api/v1/events?app=ev-other&type=config');
        expect(other.body.events.map((e: { message: string }) => e.message)).toEqual(['other']);
      });

      it('bounds limit and refuses cursors it did not issue', async () => {
        for (const query of ['limit=0', 'limit=1001', 'limit=abc', 'limit=2.5']) {
          const answer = await h.call('GET', `/api/v1/events?${query}`);
          expect(answer.status, query).toBe(400);
          expect(answer.body.details.issues[0].path).toBe('limit');
        }
        const cursor = await h.call('GET', '/api/v1/events?cursor=not-a-cursor');
        expect(cursor.status).toBe(400);
        expectErrorShape(cursor, 'VALIDATION_ERROR');
        expect(cursor.body.details.issues[0].path).toBe('cursor');
      });
    });

    describe('metrics', () => {
      it('ingests a batch and answers 201 with the count stored', async () => {
        const at = new Date(h.clock.now().getTime() - 30_000).toISOString();
        const samples = [
          { metric_type: 'cpu_percent', value: 55.5, timestamp: at, container_id: 'c-1', labels: { zone: 'a', shard: 2, canary: false } },
          { metric_type: 'rps', value: 120, unit: 'req/s', aggregation_level: 'app' },
          { metric_type: 'memory_bytes', value: 1_048_576 },
        ];
        const answer = await h.call('POST', '/api/v1/apps/m-app/metrics', { body: { samples } });
        expect(answer.status).toBe(201);
        expect(answer.body).toMatchObject({ app_name: 'm-app', accepted: 3 });
        const rows = await t.db.$primary.select().from(metrics).where(eq(metrics.appName, 'm-app'));
        expect(rows).toHaveLength(3);
        const cpu = rows.find((r) => r.metricType === 'cpu_percent')!;
        expect(cpu).toMatchObject({ value: 55.5, containerId: 'c-1', labels: { zone: 'a', shard: 2, canary: false }, aggregationLevel: 'instance' });
        expect(cpu.timestamp!.toISOString()).toBe(at);
        expect(rows.find((r) => r.metricType === 'rps')).toMatchObject({ unit: 'req/s', aggregationLevel: 'app' });
      });

      it('takes the largest batch allowed (5000 samples)', async () => {
        const samples = Array.from({ length: 5000 }, (_, i) => ({ metric_type: 'rps', value: i % 100 }));
        const answer = await h.call('POST', '/api/v1/apps/m-app/metrics', { body: { samples } });
        expect(answer.status).toBe(201);
        expect(answer.body.accepted).toBe(5000);
      });

      it('refuses the whole batch when one sample is bad, naming it', async () => {
        const before = await t.db.$primary.select().from(metrics).where(eq(metrics.appName, 'm-app'));
        const answer = await h.call('POST', '/api/v1/apps/m-app/metrics', {
          body: { samples: [{ metric_type: 'rps', value: 1 }, { metric_type: 'memory_percent', value: 140 }, { metric_type: 'bogus', value: 1 }] },
        });
        expect(answer.status).toBe(400);
        const paths = answer.body.details.issues.map((i: { path: string }) => i.path);
        expect(paths).toEqual(expect.arrayContaining(['samples[1].value', 'samples[2].metric_type']));
        const after = await t.db.$primary.select().from(metrics).where(eq(metrics.appName, 'm-app'));
        expect(after).toHaveLength(before.length);
      });

      it('answers current values and raw history in interval buckets', async () => {
        const now = h.clock.now().getTime();
        const samples = [0, 1, 2, 3].flatMap((m) => [
          { metric_type: 'cpu_percent', value: 10 * (m + 1), timestamp: new Date(now - (m * 2 + 1) * MINUTE).toISOString() },
        ]);
        await h.call('POST', '/api/v1/apps/m-hist/metrics', { body: { samples } });
        const answer = await h.call('GET', '/api/v1/apps/m-hist/metrics?interval=2m&history=10m');
        expect(answer.status).toBe(200);
        expect(answer.body).toMatchObject({ app_name: 'm-hist', interval: '2m', interval_seconds: 120, source: 'raw' });
        expect(answer.body.current.cpu_percent.value).toBe(10);
        const points = answer.body.history.cpu_percent;
        expect(points.map((p: { count: number }) => p.count).reduce((a: number, b: number) => a + b, 0)).toBe(4);
        expect(points.map((p: { timestamp: string }) => Date.parse(p.timestamp) % (2 * MINUTE))).toEqual(points.map(() => 0));
      });

      it('reads history from rollups where they exist and raw samples after them', async () => {
        const now = h.clock.now().getTime();
        const minute = (n: number) => new Date(Math.floor(now / MINUTE) * MINUTE - n * MINUTE);
        // Rollups for minutes 30..10 ago: 2 samples each at avg 50 (rps); raw samples only after them.
        await t.db.insert(metricRollups).values(
          Array.from({ length: 21 }, (_, i) => ({
            appName: 'm-hist',
            metricType: 'rps' as const,
            width: '1m' as const,
            bucketStart: minute(30 - i),
            count: 2,
            sum: 100,
            min: 40,
            max: 60,
            p50: 50,
            p95: 59,
            p99: 60,
          })),
        );
        await h.call('POST', '/api/v1/apps/m-hist/metrics', {
          body: { samples: [{ metric_type: 'rps', value: 500, timestamp: minute(2).toISOString() }] },
        });
        const answer = await h.call('GET', '/api/v1/apps/m-hist/metrics?interval=1h&history=2h&type=rps');
        expect(answer.body.source).toBe('rollup+raw');
        expect(Object.keys(answer.body.history)).toEqual(['rps']);
        const points = answer.body.history.rps as Array<{ avg: number; min: number; max: number; count: number }>;
        const total = points.reduce((n, p) => n + p.count, 0);
        expect(total).toBe(21 * 2 + 1);
        const weighted = points.reduce((n, p) => n + p.avg * p.count, 0) / total;
        expect(weighted).toBeCloseTo((21 * 100 + 500) / 43, 6);
        expect(Math.max(...points.map((p) => p.max))).toBe(500);
        expect(Math.min(...points.map((p) => p.min))).toBe(40);
        const rollupOnly = await h.call('GET', '/api/v1/apps/m-hist/metrics?interval=5m&history=1h&type=rps');
        expect(rollupOnly.body.source).toMatch(/^rollup/);
      });

      it('bounds the number of history points', async () => {
        const answer = await h.call('GET', '/api/v1/apps/m-hist/metrics?interval=10s&history=30d');
        expect(answer.status).toBe(400);
        expect(answer.body.details.issues.map((i: { path: string }) => i.path)).toContain('interval');
      });
    });

    describe('system metrics', () => {
      it('totals apps, replicas, recent samples and events', async () => {
        const answer = await h.call('GET', '/api/v1/metrics');
        expect(answer.status).toBe(200);
        expect(answer.body.apps.total).toBeGreaterThanOrEqual(4);
        expect(answer.body.metric_samples_last_5m).toBeGreaterThanOrEqual(5003);
        expect(answer.body.events_last_hour.errors).toBeGreaterThanOrEqual(1);
        const direct = await t.db.$primary.select().from(events);
        expect(answer.body.events_last_hour.total).toBeLessThanOrEqual(direct.length);
      });
    });
  },
  { targets: ['pglite', 'pg'] },
);
