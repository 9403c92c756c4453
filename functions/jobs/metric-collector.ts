/**
 * Metric collection: the runtime's stats of every running replica (Docker stats locally,
 * Container Insights on ECS), a bounded number at once, into `metrics` (cpu_percent,
 * memory_percent, memory_bytes per instance, stamped with the tick's time so that the
 * scaler combines one collection's replicas) and the latest values onto `instances`, one
 * statement each whatever the number of replicas.
 */
import { eq } from 'drizzle-orm';
import pLimit from 'p-limit';
import { updateInstanceStats, type InstanceStats } from '../../db/queries/instances.js';
import { insertMetrics, MAX_METRIC_BATCH, type MetricSample } from '../../db/queries/metrics.js';
import { instances } from '../../db/schema.js';
import type { Deps } from '../deps.js';
import type { ReplicaStats } from '../runtime/types.js';
import { runJob, scheduledHandler, type JobCounts, type JobRunSummary } from './job.js';

/** Stats calls in flight at once. */
export const STATS_CONCURRENCY = 8;

const clampPercent = (v: number) => Math.min(100, Math.max(0, v));

/** One collection of every running replica's stats; the body of a collector run. */
export async function collect(deps: Deps, now: Date): Promise<JobCounts> {
  const running = await deps.db.$primary
    .select({ appName: instances.appName, containerId: instances.containerId, replicaIndex: instances.replicaIndex })
    .from(instances)
    .where(eq(instances.status, 'running'));
  const limit = pLimit(STATS_CONCURRENCY);
  let failures = 0;
  const collected = await Promise.all(
    running.map((replica) =>
      limit(async (): Promise<{ replica: typeof replica; stats: ReplicaStats } | null> => {
        try {
          const stats = await deps.runtime.stats({ id: replica.containerId, app: replica.appName });
          return stats ? { replica, stats } : null;
        } catch (error) {
          failures++;
          deps.log.warn('stats failed', { app: replica.appName, container: replica.containerId, error });
          return null;
        }
      }),
    ),
  );
  const got = collected.filter((c) => c !== null);
  const samples: MetricSample[] = got.flatMap(({ replica, stats }) => {
    const common = {
      appName: replica.appName,
      timestamp: now,
      aggregationLevel: 'instance' as const,
      containerId: replica.containerId,
      labels: { source: 'runtime', replica_index: replica.replicaIndex },
    };
    return [
      { ...common, metricType: 'cpu_percent' as const, value: Math.max(0, stats.cpuPercent), unit: '%' },
      { ...common, metricType: 'memory_percent' as const, value: clampPercent(stats.memoryPercent), unit: '%' },
      { ...common, metricType: 'memory_bytes' as const, value: Math.max(0, stats.memoryBytes), unit: 'bytes' },
    ];
  });
  for (let i = 0; i < samples.length; i += MAX_METRIC_BATCH) await insertMetrics(deps.db, samples.slice(i, i + MAX_METRIC_BATCH));
  const latest: InstanceStats[] = got.map(({ replica, stats }) => ({
    containerId: replica.containerId,
    cpuPercent: Math.max(0, stats.cpuPercent),
    memoryPercent: clampPercent(stats.memoryPercent),
    memoryUsageBytes: Math.max(0, stats.memoryBytes),
  }));
  const updated = await updateInstanceStats(deps.db, latest);
  return { replicas: running.length, collected: got.length, samples: samples.length, instances_updated: updated, stats_failures: failures };
}

export async function run(deps: Deps, now: Date): Promise<JobRunSummary> {
  return runJob(deps, 'metric-collector', now, () => collect(deps, now));
}

export const handler = scheduledHandler('metric-collector', run);
