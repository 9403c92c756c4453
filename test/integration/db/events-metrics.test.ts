import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { queryRows } from '../../../db/client.js';
import { insertApp } from '../../../db/queries/applications.js';
import { appendEvent, appendEvents, listEvents, type EventKey } from '../../../db/queries/events.js';
import {
  insertMetrics,
  latestMetrics,
  metricHistory,
  metricWindow,
  metricWindows,
  type MetricSample,
} from '../../../db/queries/metrics.js';
import { eventToApi } from '../../../db/queries/serialize.js';
import type { Event } from '../../../db/schema.js';
import { describeEachTarget } from '../../support/db.js';
import { rejection, spec } from './helpers.js';

describeEachTarget('events and metrics queries', (t) => {
  it('appendEvent stores an event with the defaults; eventToApi gives the API shape', async () => {
    await insertApp(t.db.$primary, { name: 'ev-app', spec: spec('a:1') });
    const event = await appendEvent(t.db.$primary, {
      eventType: 'scaling',
      appName: 'ev-app',
      containerId: 'c-1',
      message: 'scaled from 1 to 2',
      details: { from: 1, to: 2, reason: 'high_cpu' },
    });
    expect(event).toMatchObject({ eventCategory: 'application', severity: 'info', source: 'controller', nodeId: null });
    expect(event.timestamp).toBeInstanceOf(Date);
    expect(eventToApi(event)).toEqual({
      id: event.id,
      type: 'scaling',
      category: 'application',
      severity: 'info',
      message: 'scaled from 1 to 2',
      details: { from: 1, to: 2, reason: 'high_cpu' },
      container_id: 'c-1',
      timestamp: event.timestamp!.toISOString(),
      app_name: 'ev-app',
      source: 'controller',
      node_id: null,
    });
  });

  it('appendEvents writes a batch in one statement, in the order given; an empty batch writes nothing', async () => {
    const rows = await appendEvents(
      t.db.$primary,
      ['first', 'second', 'third'].map((message) => ({ eventType: 'config' as const, message, eventCategory: 'system' as const })),
    );
    expect(rows.map((r) => r.message)).toEqual(['first', 'second', 'third']);
    expect(rows[1]!.id).toBeGreaterThan(rows[0]!.id);
    expect(await appendEvents(t.db.$primary, [])).toEqual([]);
    const invalid = await rejection(appendEvents(t.db.$primary, [{ eventType: 'nonsense' as 'config', message: 'x' }]));
    expect(invalid.details).toMatchObject({ issues: [{ path: 'type' }], constraint: 'valid_event_type' });
  });

  describe('listEvents', () => {
    const app = 'page-app';
    const base = Date.UTC(2025, 0, 1);
    let all: Event[] = [];

    it('lists newest first with filters', async () => {
      await insertApp(t.db.$primary, { name: app, spec: spec('a:1') });
      // 25 events, 5 of them sharing one timestamp, so ordering needs the id too.
      all = await appendEvents(
        t.db.$primary,
        Array.from({ length: 25 }, (_, i) => ({
          eventType: i % 2 ? ('health' as const) : ('scaling' as const),
          severity: i % 5 === 0 ? ('error' as const) : ('info' as const),
          appName: app,
          message: `e${i}`,
          timestamp: new Date(base + (i < 5 ? 0 : i) * 1000),
        })),
      );
      const page = await listEvents(t.db.$primary, { app }, { limit: 100 });
      const expected = [...all].sort((a, b) => b.timestamp!.getTime() - a.timestamp!.getTime() || b.id - a.id);
      expect(page.items.map((e) => e.id)).toEqual(expected.map((e) => e.id));
      expect(page.next).toBeNull();

      const errors = await listEvents(t.db.$primary, { app, severity: 'error' }, { limit: 100 });
      expect(errors.items.map((e) => e.message).sort()).toEqual(['e0', 'e10', 'e15', 'e20', 'e5']);
      const health = await listEvents(t.db.$primary, { app, type: 'health', severity: 'info' }, { limit: 100 });
      expect(health.items.every((e) => e.eventType === 'health' && e.severity === 'info')).toBe(true);
      expect(health.items).toHaveLength(10);
      const since = await listEvents(t.db.$primary, { app, since: new Date(base + 20_000) }, { limit: 100 });
      expect(since.items.map((e) => e.message)).toEqual(['e24', 'e23', 'e22', 'e21', 'e20']);
    });

    it('pages through every event exactly once, even as new events arrive between pages', async () => {
      const seen: number[] = [];
      let after: EventKey | undefined;
      let pages = 0;
      do {
        const page = await listEvents(t.db.$primary, { app }, { limit: 4, after });
        seen.push(...page.items.map((e) => e.id));
        after = page.next ?? undefined;
        pages += 1;
        // A concurrent writer: newer events land above the pages already read.
        await appendEvent(t.db.$primary, { eventType: 'config', appName: app, message: `late${pages}` });
      } while (after && pages < 20);
      expect(pages).toBe(7);
      expect(seen).toEqual(
        [...all].sort((a, b) => b.timestamp!.getTime() - a.timestamp!.getTime() || b.id - a.id).map((e) => e.id),
      );
    });

    it('keeps microsecond order: events a microsecond apart are neither skipped nor repeated', async () => {
      await insertApp(t.db.$primary, { name: 'us-app', spec: spec('a:1') });
      await t.db.$primary.execute(sql`
        INSERT INTO events (event_type, app_name, message, "timestamp")
        SELECT 'config', 'us-app', 'us' || g, timestamptz '2025-01-01 00:00:00.000100+00' + g * interval '1 microsecond'
        FROM generate_series(1, 6) g`);
      const messages: string[] = [];
      let after: EventKey | undefined;
      do {
        const page = await listEvents(t.db.$primary, { app: 'us-app' }, { limit: 1, after });
        messages.push(...page.items.map((e) => e.message));
        after = page.next ?? undefined;
      } while (after);
      expect(messages).toEqual(['us6', 'us5', 'us4', 'us3', 'us2', 'us1']);
    });

    it('rejects a bad limit naming the field', async () => {
      expect((await rejection(listEvents(t.db.$primary, {}, { limit: 0 }))).details).toMatchObject({ issues: [{ path: 'limit' }] });
      expect((await rejection(listEvents(t.db.$primary, {}, { limit: 1.5 }))).details).toMatchObject({ issues: [{ path: 'limit' }] });
    });
  });

  describe('metrics', () => {
    const now = new Date('2025-06-01T12:00:00.000Z');
    const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000);

    it('insertMetrics stores every field of a batch and defaults the rest', async () => {
      await insertApp(t.db.$primary, { name: 'mi-app', spec: spec('a:1') });
      const inserted = await insertMetrics(t.db.$primary, [
        { appName: 'mi-app', metricType: 'rps', value: 12.5, timestamp: ago(5), labels: { route: '/a"b', n: 1 }, unit: 'req/s', aggregationLevel: 'app' },
        { appName: 'mi-app', metricType: 'cpu_percent', value: 40, containerId: 'c-9' },
      ]);
      expect(inserted).toBe(2);
      const rows = await queryRows<Record<string, unknown>>(
        t.db,
        sql`SELECT metric_type, value, labels, unit, aggregation_level, container_id, "timestamp" > now() - interval '1 hour' AS recent
            FROM metrics WHERE app_name = 'mi-app' ORDER BY metric_type`,
      );
      expect(rows).toEqual([
        { metric_type: 'cpu_percent', value: 40, labels: null, unit: null, aggregation_level: 'instance', container_id: 'c-9', recent: true },
        { metric_type: 'rps', value: 12.5, labels: { route: '/a"b', n: 1 }, unit: 'req/s', aggregation_level: 'app', container_id: null, recent: false },
      ]);
      expect(await insertMetrics(t.db.$primary, [])).toBe(0);
    });

    it('insertMetrics takes 10,000 samples in one statement (more values than a statement may have parameters)', async () => {
      await insertApp(t.db.$primary, { name: 'bulk-app', spec: spec('a:1') });
      const samples: MetricSample[] = Array.from({ length: 10_000 }, (_, i) => ({
        appName: 'bulk-app',
        metricType: 'latency_p95',
        value: i,
        timestamp: new Date(now.getTime() - i),
      }));
      expect(await insertMetrics(t.db.$primary, samples)).toBe(10_000);
      const [row] = await queryRows<{ n: number; total: number }>(
        t.db,
        sql`SELECT count(*)::int AS n, sum(value::float8) AS total FROM metrics WHERE app_name = 'bulk-app'`,
      );
      expect(row).toEqual({ n: 10_000, total: (9_999 * 10_000) / 2 });
    });

    it('insertMetrics rejects bad samples naming them, and writes none of the batch', async () => {
      await insertApp(t.db.$primary, { name: 'bad-app', spec: spec('a:1') });
      const ok = { appName: 'bad-app', metricType: 'rps' as const, value: 1 };
      const nan = await rejection(insertMetrics(t.db.$primary, [ok, { ...ok, value: Number.NaN }]));
      expect(nan.details).toMatchObject({ issues: [{ path: 'samples[1].value' }] });
      const type = await rejection(insertMetrics(t.db.$primary, [ok, { ...ok, metricType: 'bogus' as 'rps' }]));
      expect(type.details).toMatchObject({ issues: [{ path: 'metric_type' }] });
      const app = await rejection(insertMetrics(t.db.$primary, [{ ...ok, appName: 'bad-missing' }]));
      expect(app.code).toBe('APP_NOT_FOUND');
      const [row] = await queryRows<{ n: number }>(t.db, sql`SELECT count(*)::int AS n FROM metrics WHERE app_name = 'bad-app'`);
      expect(row!.n).toBe(0);
    });

    it('metricWindow aggregates each scaling metric over (now - window, now]', async () => {
      await insertApp(t.db.$primary, { name: 'win-app', spec: spec('a:1') });
      await insertApp(t.db.$primary, { name: 'win-other', spec: spec('a:1') });
      const cpu = [10, 20, 30, 40, 50];
      await insertMetrics(t.db.$primary, [
        ...cpu.map((value, i) => ({ appName: 'win-app', metricType: 'cpu_percent' as const, value, timestamp: ago(50 - i * 10) })),
        { appName: 'win-app', metricType: 'cpu_percent', value: 1000, timestamp: ago(60) }, // just outside
        { appName: 'win-app', metricType: 'cpu_percent', value: 1000, timestamp: ago(-1) }, // after now
        { appName: 'win-app', metricType: 'rps', value: 7, timestamp: ago(0) },
        { appName: 'win-app', metricType: 'error_rate', value: 3, timestamp: ago(1) }, // not a scaling metric
        { appName: 'win-other', metricType: 'cpu_percent', value: 99, timestamp: ago(1) },
      ]);
      const window = await metricWindow(t.db, 'win-app', { windowSeconds: 60, now });
      expect(Object.keys(window).sort()).toEqual(['cpu_percent', 'rps']);
      expect(window.cpu_percent).toEqual({
        avg: 30,
        min: 10,
        max: 50,
        p50: 30,
        p95: expect.closeTo(48, 6),
        count: 5,
        latestAt: ago(10),
      });
      expect(window.rps).toEqual({ avg: 7, min: 7, max: 7, p50: 7, p95: 7, count: 1, latestAt: now });

      const many = await metricWindows(t.db, ['win-app', 'win-other', 'win-none'], { windowSeconds: 60, now });
      expect(many.get('win-other')?.cpu_percent?.avg).toBe(99);
      expect(many.get('win-none')).toEqual({});
      expect(many.get('win-app')).toEqual(window);
      const bad = await rejection(metricWindow(t.db, 'win-app', { windowSeconds: 0, now }));
      expect(bad.details).toMatchObject({ issues: [{ path: 'windowSeconds' }] });
    });

    it('latestMetrics gives the newest sample of each type', async () => {
      await insertApp(t.db.$primary, { name: 'lat-app', spec: spec('a:1') });
      await insertMetrics(t.db.$primary, [
        { appName: 'lat-app', metricType: 'rps', value: 1, timestamp: ago(30) },
        { appName: 'lat-app', metricType: 'rps', value: 2, timestamp: ago(10), containerId: 'c-2' },
        { appName: 'lat-app', metricType: 'memory_percent', value: 55, timestamp: ago(20) },
      ]);
      expect(await latestMetrics(t.db, 'lat-app')).toEqual({
        rps: { value: 2, at: ago(10), containerId: 'c-2' },
        memory_percent: { value: 55, at: ago(20), containerId: null },
      });
      expect(await latestMetrics(t.db, 'lat-missing')).toEqual({});
    });

    it('metricHistory buckets raw samples by interval and type over [from, to)', async () => {
      await insertApp(t.db.$primary, { name: 'hist-app', spec: spec('a:1') });
      const start = new Date('2025-06-01T11:00:00.000Z').getTime();
      const at = (s: number) => new Date(start + s * 1000);
      await insertMetrics(t.db.$primary, [
        { appName: 'hist-app', metricType: 'rps', value: 10, timestamp: at(0) },
        { appName: 'hist-app', metricType: 'rps', value: 20, timestamp: at(59) },
        { appName: 'hist-app', metricType: 'rps', value: 40, timestamp: at(60) },
        { appName: 'hist-app', metricType: 'rps', value: 99, timestamp: at(180) }, // at `to`: excluded
        { appName: 'hist-app', metricType: 'cpu_percent', value: 5, timestamp: at(61) },
      ]);
      const history = await metricHistory(t.db, 'hist-app', { from: at(0), to: at(180), intervalSeconds: 60 });
      expect(history).toEqual([
        { metricType: 'cpu_percent', bucketStart: at(60), avg: 5, min: 5, max: 5, count: 1 },
        { metricType: 'rps', bucketStart: at(0), avg: 15, min: 10, max: 20, count: 2 },
        { metricType: 'rps', bucketStart: at(60), avg: 40, min: 40, max: 40, count: 1 },
      ]);
      const rpsOnly = await metricHistory(t.db, 'hist-app', { from: at(0), to: at(180), intervalSeconds: 3600, metricTypes: ['rps'] });
      expect(rpsOnly).toEqual([{ metricType: 'rps', bucketStart: at(0), avg: 70 / 3, min: 10, max: 40, count: 3 }]);

      expect((await rejection(metricHistory(t.db, 'hist-app', { from: at(0), to: at(60), intervalSeconds: 0 }))).details).toMatchObject({
        issues: [{ path: 'interval' }],
      });
      expect((await rejection(metricHistory(t.db, 'hist-app', { from: at(60), to: at(0), intervalSeconds: 60 }))).details).toMatchObject({
        issues: [{ path: 'from' }],
      });
      expect(
        (await rejection(metricHistory(t.db, 'hist-app', { from: at(0), to: at(86_400 * 365), intervalSeconds: 1 }))).details,
      ).toMatchObject({ issues: [{ path: 'interval' }] });
    });
  });
});
