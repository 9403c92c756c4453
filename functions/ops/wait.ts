/**
 * Waiting for an app to reach a state: poll with a deadline, reconciling between polls so
 * that drains end, back-offs expire and starts are retried while the caller waits (the
 * reconciler itself never sleeps).
 */
import { getHealthCheck } from '../../db/queries/health-checks.js';
import { getApp } from '../../db/queries/applications.js';
import { listInstances } from '../../db/queries/instances.js';
import type { HealthStatus, InstanceStatus } from '../../db/schema.js';
import { appNotFound } from '../core/errors.js';
import type { OpsDeps } from './deps.js';
import { reconcile, type ReconcileResult } from './reconcile.js';

export const DEFAULT_POLL_MS = 250;
/** The shortest pause between polls, so a deadline in the past never spins. */
const MIN_POLL_MS = 10;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * How long to pause before the next poll: until the reconciler's next check when that is
 * sooner than the poll interval, and never past the deadline. The deadline is wall time
 * (it bounds how long a caller waits); `nextCheckAt` is on the deps' clock.
 */
function pauseMs(deps: OpsDeps, result: ReconcileResult, pollMs: number, deadline: number): number {
  const untilNextCheck = result.nextCheckAt ? result.nextCheckAt.getTime() - deps.clock.now().getTime() : pollMs;
  return Math.max(MIN_POLL_MS, Math.min(pollMs, untilNextCheck, deadline - Date.now()));
}

export interface NotReadyReplica {
  replica_index: number;
  status: InstanceStatus | 'missing';
  health: HealthStatus | null;
  revision: number | null;
}

export interface Readiness {
  ready: boolean;
  desired: number;
  /** Wanted slots running the current revision. */
  running: number;
  /** Of those, the healthy ones (all of them when health checks are disabled). */
  healthy: number;
  healthChecksEnabled: boolean;
  notReady: NotReadyReplica[];
}

/** Whether every wanted slot runs the current revision (and is healthy, when asked and checks are enabled). */
export async function readiness(deps: OpsDeps, name: string, requireHealthy: boolean): Promise<Readiness> {
  const primary = deps.db.$primary;
  const app = await getApp(primary, name);
  if (!app) throw appNotFound(name);
  const rows = await listInstances(primary, name);
  const check = await getHealthCheck(primary, name);
  const healthChecksEnabled = check?.enabled === true;
  const desired = app.desiredReplicas ?? 0;
  const bySlot = new Map(rows.map((r) => [r.replicaIndex, r]));
  const notReady: NotReadyReplica[] = [];
  let running = 0;
  let healthy = 0;
  for (let index = 0; index < desired; index++) {
    const row = bySlot.get(index);
    const isRunning = row !== undefined && row.status === 'running' && row.revision === app.revision;
    const isHealthy = isRunning && (!healthChecksEnabled || row.healthStatus === 'healthy');
    if (isRunning) running++;
    if (isHealthy) healthy++;
    if (!isRunning || (requireHealthy && !isHealthy)) {
      notReady.push({
        replica_index: index,
        status: row?.status ?? 'missing',
        health: row?.healthStatus ?? null,
        revision: row?.revision ?? null,
      });
    }
  }
  return { ready: notReady.length === 0, desired, running, healthy, healthChecksEnabled, notReady };
}

export interface WaitOptions {
  timeoutMs: number;
  /** Also wait for health checks to pass (when the app has them enabled). Default true. */
  healthy?: boolean | undefined;
  pollMs?: number | undefined;
}

export interface WaitResult extends Readiness {
  timedOut: boolean;
  /** Runtime failures met while waiting (each also recorded as an event). */
  errors: ReconcileResult['errors'];
}

/** Polls until the desired count runs (and is healthy), or the timeout passes. */
export async function waitForReplicas(deps: OpsDeps, name: string, options: WaitOptions): Promise<WaitResult> {
  const deadline = Date.now() + options.timeoutMs;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  const requireHealthy = options.healthy ?? true;
  const errors: ReconcileResult['errors'] = [];
  for (;;) {
    const result = await reconcile(deps, name);
    if (!result.exists) throw appNotFound(name);
    errors.push(...result.errors);
    const state = await readiness(deps, name, requireHealthy);
    if (state.ready) return { ...state, timedOut: false, errors };
    if (Date.now() >= deadline) return { ...state, timedOut: true, errors };
    await sleep(pauseMs(deps, result, pollMs, deadline));
  }
}

/**
 * Reconciles until the app converges (drains included), the app is gone, or the timeout
 * passes; the last result says which.
 */
export async function reconcileUntilConverged(
  deps: OpsDeps,
  name: string,
  options: { timeoutMs: number; force?: boolean | undefined; pollMs?: number | undefined },
): Promise<ReconcileResult & { timedOut: boolean; allErrors: ReconcileResult['errors'] }> {
  const deadline = Date.now() + options.timeoutMs;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  const allErrors: ReconcileResult['errors'] = [];
  for (;;) {
    const result = await reconcile(deps, name, undefined, { force: options.force });
    allErrors.push(...result.errors);
    if (!result.exists || result.converged) return { ...result, timedOut: false, allErrors };
    if (Date.now() >= deadline) return { ...result, timedOut: true, allErrors };
    await sleep(pauseMs(deps, result, pollMs, deadline));
  }
}
