import { eq } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { instances, metrics } from '../../../db/schema.js';
import { run } from '../../../functions/jobs/metric-collector.js';
import type { ReplicaStats } from '../../../functions/runtime/types.js';
import { describeEachTarget } from '../../support/db.js';
import { FakeRuntime } from '../../support/fake-runtime.js';
import { jobDeps, ManualClock, startedApp } from './helpers.js';

/** Stats per container id; a missing one throws (an engine that lost the container). */
class StatsRuntime extends FakeRuntime {
  readonly values = new Map<string, Omit<ReplicaStats, 'at'>>();
  override async stats(replica: { id: string; app: string }): Promise<ReplicaStats | null> {
    const value = this.values.get(replica.id);
    if (!value) throw new Error(`no such container ${replica.id}`);
    return { ...value, at: new Date() };
  }
}

describeEachTarget(
  'metric collector job',
  (t) => {
    it("stores every running replica's stats as instance metrics and on its instance row", async () => {
      const clock = new ManualClock();
      const runtime = new StatsRuntime({ now: () => clock.now() });
      const { deps } = jobDeps(t.db, { runtime, clock });
      await startedApp(deps, 'measured', 3);
      const rows = await t.db.$primary.select().from(instances).where(eq(instances.appName, 'measured'));
      const [a, b, c] = rows.sort((x, y) => x.replicaIndex - y.replicaIndex);
      runtime.values.set(a!.containerId, { cpuPercent: 12.5, memoryPercent: 40, memoryBytes: 100 * 1024 * 1024 });
      // Over the limit (a burst above the share) is kept for CPU; memory percent stays within 0..100.
      runtime.values.set(b!.containerId, { cpuPercent: 180, memoryPercent: 101, memoryBytes: 70 * 1024 * 1024 });
      // c: the engine no longer knows it; the others are still collected.

      clock.advance(5);
      const tick = await run(deps, clock.now());
      expect(tick.outcome).toBe('succeeded');
      expect(tick.counts).toMatchObject({ replicas: 3, collected: 2, samples: 6, instances_updated: 2, stats_failures: 1 });

      const samples = await t.db.$primary.select().from(metrics).where(eq(metrics.appName, 'measured'));
      expect(samples).toHaveLength(6);
      expect(samples.every((s) => s.aggregationLevel === 'instance' && s.timestamp!.getTime() === clock.now().getTime())).toBe(true);
      const of = (container: string, type: string) => samples.find((s) => s.containerId === container && s.metricType === type)?.value;
      expect(of(a!.containerId, 'cpu_percent')).toBeCloseTo(12.5);
      expect(of(a!.containerId, 'memory_percent')).toBeCloseTo(40);
      expect(of(a!.containerId, 'memory_bytes')).toBe(100 * 1024 * 1024);
      expect(of(b!.containerId, 'cpu_percent')).toBeCloseTo(180);
      expect(of(b!.containerId, 'memory_percent')).toBe(100);
      expect(samples.some((s) => s.containerId === c!.containerId)).toBe(false);

      const [rowA] = await t.db.$primary.select().from(instances).where(eq(instances.id, a!.id));
      expect(rowA).toMatchObject({ cpuPercent: 12.5, memoryPercent: 40, memoryUsageBytes: 100 * 1024 * 1024 });
      const [rowC] = await t.db.$primary.select().from(instances).where(eq(instances.id, c!.id));
      expect(rowC!.cpuPercent).toBe(0);
    });
  },
  { targets: ['pglite', 'pg'] },
);
