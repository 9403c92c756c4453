import { asc, eq } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { insertMetrics } from '../../../db/queries/metrics.js';
import { metricRollups } from '../../../db/schema.js';
import { run } from '../../../functions/jobs/metric-rollup.js';
import { opsDepsOf } from '../../../functions/jobs/job.js';
import { registerApp } from '../../../functions/ops/apps.js';
import { describeEachTarget } from '../../support/db.js';
import { appDoc, jobDeps, ManualClock } from './helpers.js';

const NOON = Date.UTC(2030, 0, 1, 12, 0, 0);
const at = (minute: number, second = 0) => new Date(NOON + minute * 60_000 + second * 1000);

describeEachTarget(
  'metric rollup job',
  (t) => {
    const rollupsOf = (app: string) =>
      t.db.$primary
        .select()
        .from(metricRollups)
        .where(eq(metricRollups.appName, app))
        .orderBy(asc(metricRollups.width), asc(metricRollups.bucketStart), asc(metricRollups.metricType));

    it('rolls raw samples into 1-minute and 1-hour buckets with count, sum, min, max and percentiles', async () => {
      const clock = new ManualClock(at(5));
      const { deps } = jobDeps(t.db, { clock });
      await registerApp(opsDepsOf(deps), appDoc('rolled'));
      await insertMetrics(t.db.$primary, [
        ...Array.from({ length: 10 }, (_, i) => ({ appName: 'rolled', metricType: 'rps' as const, value: i + 1, timestamp: at(0, i), aggregationLevel: 'app' as const })),
        { appName: 'rolled', metricType: 'rps', value: 100, timestamp: at(1, 30), aggregationLevel: 'app' },
        { appName: 'rolled', metricType: 'rps', value: 200, timestamp: at(1, 45), aggregationLevel: 'app' },
      ]);
      const tick = await run(deps, clock.now());
      expect(tick.outcome).toBe('succeeded');
      expect(tick.counts).toMatchObject({ raw_rows: 12, rollups_1m_inserted: 2, rollups_1h_inserted: 1 });

      const rows = await rollupsOf('rolled');
      expect(rows.map((r) => [r.width, r.bucketStart.toISOString()])).toEqual([
        ['1h', at(0).toISOString()],
        ['1m', at(0).toISOString()],
        ['1m', at(1).toISOString()],
      ]);
      const minute0 = rows.find((r) => r.width === '1m' && r.bucketStart.getTime() === at(0).getTime())!;
      expect(minute0).toMatchObject({ count: 10, sum: 55, min: 1, max: 10, p50: 5.5 });
      expect(minute0.p95).toBeCloseTo(9.55);
      expect(minute0.p99).toBeCloseTo(9.91);
      const hour = rows.find((r) => r.width === '1h')!;
      expect(hour).toMatchObject({ count: 12, sum: 355, min: 1, max: 200 });
    });

    it('gives identical rows when run again, and a late sample updates its bucket', async () => {
      const clock = new ManualClock(at(5));
      const { deps } = jobDeps(t.db, { clock });
      await registerApp(opsDepsOf(deps), appDoc('late'));
      await insertMetrics(t.db.$primary, [
        { appName: 'late', metricType: 'cpu_percent', value: 10, timestamp: at(0, 10) },
        { appName: 'late', metricType: 'cpu_percent', value: 30, timestamp: at(0, 20) },
        { appName: 'late', metricType: 'cpu_percent', value: 50, timestamp: at(4, 0) },
      ]);
      await run(deps, clock.now());
      const first = await rollupsOf('late');
      expect(first).toHaveLength(3);

      // Again, with the recent buckets (minute 4) rolled a second time: nothing changes, not even updated_at.
      clock.advance(30);
      const again = await run(deps, clock.now());
      expect(again.counts).toMatchObject({ raw_rows: 0, rollups_1m_inserted: 0, rollups_1m_updated: 0, rollups_1h_updated: 0 });
      expect(await rollupsOf('late')).toEqual(first);

      // Ten minutes later a sample for minute 0 arrives: its minute and its hour are recomputed.
      clock.advance(600);
      await insertMetrics(t.db.$primary, [{ appName: 'late', metricType: 'cpu_percent', value: 90, timestamp: at(0, 40) }]);
      const late = await run(deps, clock.now());
      expect(late.counts).toMatchObject({ raw_rows: 1, rollups_1m_updated: 1, rollups_1h_updated: 1, rollups_1m_inserted: 0 });
      const after = await rollupsOf('late');
      const minute0 = after.find((r) => r.width === '1m' && r.bucketStart.getTime() === at(0).getTime())!;
      expect(minute0).toMatchObject({ count: 3, sum: 130, min: 10, max: 90, p50: 30 });
      expect(minute0.updatedAt.getTime()).toBe(clock.now().getTime());
      const hour = after.find((r) => r.width === '1h')!;
      expect(hour).toMatchObject({ count: 4, sum: 180, max: 90 });
      const minute4 = after.find((r) => r.width === '1m' && r.bucketStart.getTime() === at(4).getTime())!;
      expect(minute4).toEqual(first.find((r) => r.width === '1m' && r.bucketStart.getTime() === at(4).getTime()));
    });

    it('leaves buckets older than the raw retention alone', async () => {
      const clock = new ManualClock(at(5));
      const { deps } = jobDeps(t.db, { clock });
      await registerApp(opsDepsOf(deps), appDoc('ancient'));
      const retention = deps.config.retention.instanceMetricsRetentionSeconds;
      await insertMetrics(t.db.$primary, [
        { appName: 'ancient', metricType: 'memory_percent', value: 10, timestamp: new Date(at(5).getTime() - (retention + 7200) * 1000) },
      ]);
      const tick = await run(deps, clock.now());
      expect(tick.counts).toMatchObject({ raw_rows: 1, rollups_1m_inserted: 0, rollups_1h_inserted: 0 });
      expect(await rollupsOf('ancient')).toEqual([]);
    });
  },
  { targets: ['pglite', 'pg'] },
);
