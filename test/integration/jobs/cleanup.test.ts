import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { appendEvents } from '../../../db/queries/events.js';
import { insertMetrics } from '../../../db/queries/metrics.js';
import {
  events,
  eventsCompressed,
  instances,
  jobRuns,
  metricRollups,
  metrics,
  type NewEvent,
} from '../../../db/schema.js';
import { compressEvents, run, type CleanupSettings } from '../../../functions/jobs/cleanup.js';
import { opsDepsOf } from '../../../functions/jobs/job.js';
import { registerApp } from '../../../functions/ops/apps.js';
import { describeEachTarget } from '../../support/db.js';
import { appDoc, jobDeps, ManualClock, runsOf } from './helpers.js';

const DAY = 86_400_000;
const NOW = new Date(Date.UTC(2030, 5, 1, 12, 30, 0));
const ago = (ms: number) => new Date(NOW.getTime() - ms);
/** 40 days ago, at the start of an hour, plus `minutes`. */
const oldHour = (hour: number, minutes = 0) => new Date(Date.UTC(2030, 3, 22, hour, minutes));

function event(app: string | null, type: NewEvent['eventType'], message: string, timestamp: Date, severity: NewEvent['severity'] = 'info'): NewEvent {
  return { appName: app, eventType: type, message, timestamp, severity, eventCategory: 'application', source: 'test' };
}

describeEachTarget(
  'cleanup job',
  (t) => {
    it('compresses old events into hourly summaries, then deletes them in batches', async () => {
      const clock = new ManualClock(NOW);
      const { deps } = jobDeps(t.db, { clock });
      Object.assign(deps.config.retention, { batchSize: 10 } satisfies Partial<CleanupSettings>);
      await registerApp(opsDepsOf(deps), appDoc('audited'));
      await t.db.$primary.delete(events);
      await appendEvents(t.db.$primary, [
        ...Array.from({ length: 15 }, (_, i) => event('audited', 'scaling', 'scaled out', oldHour(3, i))),
        ...Array.from({ length: 5 }, (_, i) => event('audited', 'scaling', 'scaled in', oldHour(3, 20 + i))),
        ...Array.from({ length: 4 }, (_, i) => event('audited', 'health', 'replica unhealthy', oldHour(3, 30 + i), 'warning')),
        event('audited', 'health', 'replica recovered', oldHour(3, 40)),
        ...Array.from({ length: 10 }, (_, i) => event('audited', 'scaling', 'start failed', oldHour(4, i), 'error')),
        event(null, 'registration', 'Application gone deleted', oldHour(4, 30)),
        ...Array.from({ length: 3 }, (_, i) => event('audited', 'scaling', 'recent', ago((i + 1) * 60_000))),
      ]);

      const tick = await run(deps, clock.now());
      expect(tick.outcome).toBe('succeeded');
      expect(tick.counts).toMatchObject({ events_hours_compressed: 4, events_deleted: 36, events_batches: 4 });

      const left = await t.db.$primary.select().from(events);
      expect(left.map((e) => e.message)).toEqual(['recent', 'recent', 'recent']);
      const summaries = await t.db.$primary
        .select()
        .from(eventsCompressed)
        .orderBy(asc(eventsCompressed.hourBucket), asc(eventsCompressed.eventType));
      expect(summaries.map((s) => [s.hourBucket.toISOString(), s.appName, s.eventType, s.eventCount, s.severityCounts, s.sampleMessages])).toEqual([
        [oldHour(3).toISOString(), 'audited', 'health', 5, { warning: 4, info: 1 }, ['replica unhealthy', 'replica recovered']],
        [oldHour(3).toISOString(), 'audited', 'scaling', 20, { info: 20 }, ['scaled out', 'scaled in']],
        [oldHour(4).toISOString(), null, 'registration', 1, { info: 1 }, ['Application gone deleted']],
        [oldHour(4).toISOString(), 'audited', 'scaling', 10, { error: 10 }, ['start failed']],
      ]);

      // Again: nothing left to compress or delete, the summaries as they were.
      const again = await run(deps, clock.now());
      expect(again.counts).toMatchObject({ events_hours_compressed: 0, events_deleted: 0, events_batches: 1 });
      expect(await t.db.$primary.select().from(eventsCompressed).orderBy(asc(eventsCompressed.hourBucket), asc(eventsCompressed.eventType))).toEqual(summaries);
    });

    it('never shrinks a summary when an hour was only partly deleted (a run that stopped half way)', async () => {
      const clock = new ManualClock(NOW);
      const { deps } = jobDeps(t.db, { clock });
      await t.db.$primary.delete(events);
      await t.db.$primary.delete(eventsCompressed);
      await appendEvents(
        t.db.$primary,
        Array.from({ length: 6 }, (_, i) => event(null, 'warning', `w${i % 2}`, oldHour(7, i), 'warning')),
      );
      expect(await compressEvents(t.db.$primary, oldHour(8))).toBe(1);
      // Half the hour deleted, then the next run.
      await t.db.$primary.execute(sql`DELETE FROM events WHERE message = 'w0'`);
      const tick = await run(deps, clock.now());
      expect(tick.counts).toMatchObject({ events_hours_compressed: 0, events_deleted: 3 });
      const [summary] = await t.db.$primary.select().from(eventsCompressed).where(isNull(eventsCompressed.appName));
      expect(summary).toMatchObject({ eventCount: 6, severityCounts: { warning: 6 } });
    });

    it('applies the retention of metrics, stopped instances, rollups, summaries and job runs', async () => {
      const clock = new ManualClock(NOW);
      const { deps } = jobDeps(t.db, { clock });
      Object.assign(deps.config.retention, {
        instanceMetricsRetentionSeconds: 7 * 86_400,
        appMetricsRetentionSeconds: 30 * 86_400,
        stoppedInstancesRetentionSeconds: 7 * 86_400,
        batchSize: 3,
      });
      await registerApp(opsDepsOf(deps), appDoc('kept'));
      // Only this test's rows: the registration event is years before NOW.
      await t.db.$primary.delete(events);
      await t.db.$primary.delete(eventsCompressed);
      await insertMetrics(t.db.$primary, [
        ...Array.from({ length: 7 }, () => ({ appName: 'kept', metricType: 'cpu_percent' as const, value: 1, timestamp: ago(8 * DAY), aggregationLevel: 'instance' as const })),
        { appName: 'kept', metricType: 'cpu_percent', value: 2, timestamp: ago(6 * DAY), aggregationLevel: 'instance' },
        { appName: 'kept', metricType: 'rps', value: 3, timestamp: ago(8 * DAY), aggregationLevel: 'app' },
        { appName: 'kept', metricType: 'rps', value: 4, timestamp: ago(31 * DAY), aggregationLevel: 'app' },
        { appName: 'kept', metricType: 'rps', value: 5, timestamp: ago(31 * DAY), aggregationLevel: 'system' },
      ]);
      const slot = (index: number, status: 'stopped' | 'running', updatedAt: Date) => ({
        appName: 'kept',
        containerId: `c-${index}`,
        containerName: `orchestry-kept-r${index}-v1`,
        replicaIndex: index,
        ip: '127.0.0.1',
        port: 30_000 + index,
        status,
        updatedAt,
      });
      await t.db.$primary.insert(instances).values([slot(0, 'stopped', ago(8 * DAY)), slot(1, 'stopped', ago(2 * DAY)), slot(2, 'running', ago(30 * DAY))]);
      const rollup = (width: '1m' | '1h', bucketStart: Date) => ({
        appName: 'kept', metricType: 'rps' as const, width, bucketStart, count: 1, sum: 1, min: 1, max: 1, p50: 1, p95: 1, p99: 1,
      });
      await t.db.$primary.insert(metricRollups).values([
        rollup('1m', ago(31 * DAY)),
        rollup('1m', ago(29 * DAY)),
        rollup('1h', ago(401 * DAY)),
        rollup('1h', ago(399 * DAY)),
      ]);
      await t.db.$primary.insert(eventsCompressed).values([
        { hourBucket: ago(401 * DAY), appName: 'kept', eventType: 'scaling', eventCount: 1, severityCounts: { info: 1 }, sampleMessages: ['x'] },
        { hourBucket: ago(399 * DAY), appName: 'kept', eventType: 'scaling', eventCount: 1, severityCounts: { info: 1 }, sampleMessages: ['y'] },
      ]);
      await t.db.$primary.delete(jobRuns);
      await t.db.$primary.insert(jobRuns).values([
        { job: 'metric-rollup', startedAt: ago(20 * DAY), finishedAt: ago(20 * DAY), outcome: 'succeeded', counts: { watermark_id: 5 } },
        { job: 'metric-rollup', startedAt: ago(19 * DAY), finishedAt: ago(19 * DAY), outcome: 'failed', error: 'x' },
        { job: 'scaler', startedAt: ago(10 * DAY), finishedAt: ago(10 * DAY), outcome: 'succeeded' },
        { job: 'scaler', startedAt: ago(9 * DAY), finishedAt: ago(9 * DAY), outcome: 'succeeded' },
        { job: 'scaler', startedAt: ago(9 * DAY), outcome: 'running' },
        { job: 'scaler', startedAt: ago(1 * DAY), finishedAt: ago(1 * DAY), outcome: 'skipped' },
      ]);

      const tick = await run(deps, clock.now());
      expect(tick.outcome).toBe('succeeded');
      expect(tick.counts).toMatchObject({
        instance_metrics_deleted: 7,
        instance_metrics_batches: 3,
        app_metrics_deleted: 2,
        stopped_instances_deleted: 1,
        rollups_1m_deleted: 1,
        rollups_1h_deleted: 1,
        compressed_events_deleted: 1,
        job_runs_deleted: 3,
      });
      const values = (await t.db.$primary.select().from(metrics).where(eq(metrics.appName, 'kept'))).map((m) => m.value).sort();
      expect(values).toEqual([2, 3]);
      expect((await t.db.$primary.select().from(instances).where(eq(instances.appName, 'kept'))).map((i) => i.replicaIndex).sort()).toEqual([1, 2]);
      expect(await t.db.$primary.select().from(metricRollups).where(eq(metricRollups.appName, 'kept'))).toHaveLength(2);
      expect((await t.db.$primary.select().from(eventsCompressed).where(eq(eventsCompressed.appName, 'kept'))).map((s) => s.sampleMessages)).toEqual([['y']]);
      // The latest succeeded run of each job stays, however old: the rollup's watermark is there.
      const rollupRuns = await runsOf(t.db, 'metric-rollup');
      expect(rollupRuns.map((r) => r.outcome)).toEqual(['succeeded']);
      const scalerRuns = await runsOf(t.db, 'scaler');
      expect(scalerRuns.map((r) => r.outcome)).toEqual(['succeeded', 'skipped']);
      expect(scalerRuns[0]!.startedAt.getTime()).toBe(ago(9 * DAY).getTime());
      const cleanupRuns = await t.db.$primary.select().from(jobRuns).where(and(eq(jobRuns.job, 'cleanup')));
      expect(cleanupRuns).toHaveLength(1);
    });

    it('records a run with a wrong setting as failed, with the error', async () => {
      const clock = new ManualClock(NOW);
      const { deps } = jobDeps(t.db, { clock });
      Object.assign(deps.config.retention, { batchSize: 0 });
      const tick = await run(deps, clock.now());
      expect(tick.outcome).toBe('failed');
      expect(tick.error).toMatch(/^VALIDATION_ERROR: .*batchSize must be a whole number, at least 1/);
      const [row] = await t.db.$primary.select().from(jobRuns).where(eq(jobRuns.id, tick.id));
      expect(row).toMatchObject({ outcome: 'failed', error: tick.error });
      expect(row!.finishedAt).not.toBeNull();
    });
  },
  { targets: ['pglite', 'pg'] },
);
