/**
 * What the local router learns from the database and gives back to it: where an app's
 * replicas are (`targets`) and the traffic it measured (`onMetrics`), stored as the app-level
 * metrics the scaler reads (docs/router.md, "How the scaler uses them").
 */
import { sql } from 'drizzle-orm';
import { queryRows, type Db } from '../../db/client.js';
import { insertMetrics, type MetricSample } from '../../db/queries/metrics.js';
import type { MetricType } from '../../db/schema.js';
import { appNotFound, isOrchestryError } from '../core/errors.js';
import type { Logger } from '../log.js';
import { PLACEHOLDER_IP } from '../ops/reconcile.js';
import type { RouterMetricsSample, Target } from '../router/router.js';

/** Docker publishes every replica's port here; the instance row's ip says the same. */
const LOOPBACK = '127.0.0.1';

interface TargetRow {
  instance_id: number | null;
  port: number | null;
}

/**
 * The app's replicas that may take traffic: running (so not draining, stopping or starting)
 * and healthy. An app with health checks turned off has no health to wait for: its running
 * replicas take traffic unless a probe made on request found them unhealthy.
 * Unknown app: APP_NOT_FOUND; an app without such replicas: [] (the router answers 503).
 *
 * Read on the primary: a replica the prober just marked unhealthy, or the reconciler just
 * started draining, must stop getting requests now, not after a read replica catches up.
 */
export async function routerTargets(db: Db, app: string): Promise<Target[]> {
  const rows = await queryRows<TargetRow>(
    db.$primary,
    sql`
      SELECT i.id AS instance_id, i.port
      FROM applications a
      LEFT JOIN health_checks h ON h.app_name = a.name
      LEFT JOIN instances i ON i.app_name = a.name
        AND i.status = 'running'
        AND i.ip <> ${PLACEHOLDER_IP}::inet
        AND i.port > 0
        AND (i.health_status = 'healthy'
             OR (coalesce(h.enabled, true) = false AND i.health_status IS DISTINCT FROM 'unhealthy'))
      WHERE a.name = ${app}
      ORDER BY i.replica_index`,
  );
  if (rows.length === 0) throw appNotFound(app);
  return rows
    .filter((row): row is { instance_id: number; port: number } => row.instance_id !== null && row.port !== null)
    .map((row) => ({ id: String(row.instance_id), host: LOOPBACK, port: Number(row.port) }));
}

/** One router sample as app-level metric rows; latencies without answered requests are left out. */
export function routerSampleToMetrics(app: string, sample: RouterMetricsSample): MetricSample[] {
  const values: Array<[MetricType, number | null, string]> = [
    ['rps', sample.rps, 'req/s'],
    ['latency_p50', sample.latency_p50, 'ms'],
    ['latency_p95', sample.latency_p95, 'ms'],
    ['latency_p99', sample.latency_p99, 'ms'],
    ['active_connections', sample.active_connections, 'connections'],
    ['error_rate', sample.error_rate, 'ratio'],
  ];
  return values
    .filter((entry): entry is [MetricType, number, string] => entry[1] !== null)
    .map(([metricType, value, unit]) => ({
      appName: app,
      metricType,
      value,
      unit,
      timestamp: sample.at,
      aggregationLevel: 'app',
      labels: { source: 'router', interval_ms: sample.interval_ms, requests: sample.requests },
    }));
}

/**
 * The router's onMetrics: stores the sample, or logs why it could not. Routing never waits on
 * or fails with the database; a sample of an app deleted meanwhile is dropped (the metrics
 * table refers to the app).
 */
export function storeRouterMetrics(db: Db, log: Logger): (app: string, sample: RouterMetricsSample) => Promise<void> {
  return async (app, sample) => {
    try {
      await insertMetrics(db.$primary, routerSampleToMetrics(app, sample));
    } catch (error) {
      // The last sample of an app deleted while it had traffic has nowhere to go: expected.
      if (isOrchestryError(error) && error.code === 'APP_NOT_FOUND') {
        log.debug('router metrics of a deleted app dropped', { app });
        return;
      }
      log.warn('router metrics not stored; sample dropped', { app, error: error instanceof Error ? error.message : String(error) });
    }
  };
}
