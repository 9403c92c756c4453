/**
 * The health prober: every tick, each running replica whose probe is due (core/health.ts
 * isProbeDue: initial delay, then every period) is probed as its app's health check says
 * (HTTP method, path, headers, body and expected status codes, or a TCP connect), within the
 * check's timeout, a bounded number at once. The results move each replica's counters and
 * health (core/health.ts nextHealth: failure and success thresholds) in one short
 * transaction with their `health` events and `response_time` samples. A replica that turns
 * unhealthy is taken out of routing at once; the reconcilers that close the tick replace it
 * (and finish drains, retry failed starts: whatever needs no user request).
 *
 * probeApp() probes one app's replicas now, due or not: POST /apps/{name}/health/check.
 */
import { connect } from 'node:net';
import { and, eq, inArray, sql } from 'drizzle-orm';
import pLimit from 'p-limit';
import { queryRows, type Database } from '../../db/client.js';
import { getApp } from '../../db/queries/applications.js';
import { appendEvents } from '../../db/queries/events.js';
import { insertMetrics, MAX_METRIC_BATCH, type MetricSample } from '../../db/queries/metrics.js';
import { applications, healthChecks, instances, type HealthCheck, type HealthStatus, type Instance, type NewEvent } from '../../db/schema.js';
import { appNotFound } from '../core/errors.js';
import { isProbeDue, nextHealth, type Health } from '../core/health.js';
import type { Deps } from '../deps.js';
import { reconcileAll } from '../ops/reconcile-all.js';
import { handleOf, reconcile } from '../ops/reconcile.js';
import { opsDepsOf, runJob, scheduledHandler, type JobRunSummary } from './job.js';

/**
 * Probes in flight at once, over every app. Slow replicas must not hold the others up: at 32,
 * a pass over 1,000 replicas of which 100 answer in 1 s took 4.4 s (the slow probes alone fill
 * 32 slots for 3.1 s); at 256 it takes about as long as every probe at once (bench/, prober_pass).
 * Each probe holds one socket: 256 stays far inside a Lambda's 1,024 descriptors.
 */
export const PROBE_CONCURRENCY = 256;

export interface ProbeTarget {
  instance: Instance;
  check: HealthCheck;
  /** The app's first container port: the one the runtime publishes. */
  mainPort: number | null;
}

export interface ProbeResult {
  ok: boolean;
  /** The HTTP status answered (HTTP checks that got an answer). */
  statusCode: number | null;
  /** Until the status line (HTTP) or the connection (TCP); null when nothing answered. */
  responseTimeMs: number | null;
  /** Why the probe failed, in words. */
  error: string | null;
}

/** Running replicas with their app's health check; every enabled one, or one app's whatever. */
async function probeTargets(db: Database, app?: string): Promise<ProbeTarget[]> {
  return db
    .select({
      instance: instances,
      check: healthChecks,
      mainPort: sql<number | null>`(${applications.spec}->'spec'->'ports'->0->>'containerPort')::int`,
    })
    .from(instances)
    .innerJoin(healthChecks, eq(healthChecks.appName, instances.appName))
    .innerJoin(applications, eq(applications.name, instances.appName))
    .where(and(eq(instances.status, 'running'), app === undefined ? eq(healthChecks.enabled, true) : eq(instances.appName, app)))
    .orderBy(instances.appName, instances.replicaIndex);
}

/**
 * Where the check reaches the replica. Locally only the app's first port is published (on a
 * loopback port of its own); on ECS the task's address takes every declared port as is.
 */
function probeAddress(target: ProbeTarget): { host: string; port: number } | { error: string } {
  const { instance, check, mainPort } = target;
  if (mainPort === null || check.port === mainPort) return { host: instance.ip, port: instance.port };
  if (instance.port === mainPort) return { host: instance.ip, port: check.port };
  return {
    error: `health check port ${check.port} is not reachable: the runtime publishes only the app's first port (${mainPort}); check that port instead`,
  };
}

const elapsed = (began: number) => Math.round((performance.now() - began) * 100) / 100;

function failureText(error: unknown, timeoutSeconds: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return `no answer within the ${timeoutSeconds}s timeout`;
  }
  const cause = error instanceof Error ? (error.cause as { code?: string; message?: string } | undefined) : undefined;
  const detail = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
  return `connection failed (${detail})`;
}

async function probeHttp(check: HealthCheck, host: string, port: number): Promise<ProbeResult> {
  const timeoutSeconds = check.timeoutSeconds ?? 5;
  const method = check.method ?? 'GET';
  const expected = check.expectedStatusCodes ?? [200];
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}${check.path ?? '/'}`;
  const began = performance.now();
  try {
    const response = await fetch(url, {
      method,
      headers: check.headers ?? {},
      body: method === 'GET' || method === 'HEAD' ? undefined : (check.body ?? undefined),
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutSeconds * 1000),
    });
    const responseTimeMs = elapsed(began);
    await response.body?.cancel().catch(() => {});
    const ok = expected.includes(response.status);
    return {
      ok,
      statusCode: response.status,
      responseTimeMs,
      error: ok ? null : `${method} ${check.path ?? '/'} answered ${response.status}; expected ${expected.join(' or ')}`,
    };
  } catch (error) {
    return { ok: false, statusCode: null, responseTimeMs: null, error: failureText(error, timeoutSeconds) };
  }
}

function probeTcp(check: HealthCheck, host: string, port: number): Promise<ProbeResult> {
  const timeoutSeconds = check.timeoutSeconds ?? 5;
  const began = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (result: ProbeResult) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ ok: false, statusCode: null, responseTimeMs: null, error: `no connection within the ${timeoutSeconds}s timeout` }),
      timeoutSeconds * 1000,
    );
    socket.once('connect', () => finish({ ok: true, statusCode: null, responseTimeMs: elapsed(began), error: null }));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      finish({ ok: false, statusCode: null, responseTimeMs: null, error: `connection failed (${error.code ?? error.message})` }),
    );
  });
}

/** One probe of one replica, as its app's health check says. */
export async function probeReplica(target: ProbeTarget): Promise<ProbeResult> {
  const address = probeAddress(target);
  if ('error' in address) return { ok: false, statusCode: null, responseTimeMs: null, error: address.error };
  return target.check.protocol === 'TCP'
    ? probeTcp(target.check, address.host, address.port)
    : probeHttp(target.check, address.host, address.port);
}

export interface RecordedProbe {
  target: ProbeTarget;
  result: ProbeResult;
  previous: HealthStatus;
  health: HealthStatus;
  changed: boolean;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
}

function healthEvent(p: RecordedProbe): NewEvent | null {
  if (!p.changed) return null;
  const { instance, check } = p.target;
  const base = {
    eventType: 'health' as const,
    eventCategory: 'application' as const,
    appName: instance.appName,
    containerId: instance.containerId,
    source: 'health-prober',
  };
  const details = {
    replica_index: instance.replicaIndex,
    container_name: instance.containerName,
    from: p.previous,
    to: p.health,
    consecutive_failures: p.consecutiveFailures,
    consecutive_successes: p.consecutiveSuccesses,
    status_code: p.result.statusCode,
    response_time_ms: p.result.responseTimeMs,
    error: p.result.error,
  };
  if (p.health === 'unhealthy') {
    return {
      ...base,
      severity: 'warning',
      message: `Replica ${instance.replicaIndex} unhealthy after ${p.consecutiveFailures} failed health checks in a row (${p.result.error}); taken out of routing and replaced`,
      details: { ...details, failure_threshold: check.failureThreshold },
    };
  }
  return {
    ...base,
    severity: 'info',
    message:
      p.previous === 'unhealthy'
        ? `Replica ${instance.replicaIndex} recovered: ${p.consecutiveSuccesses} health checks passed in a row`
        : `Replica ${instance.replicaIndex} healthy: ${p.consecutiveSuccesses} health checks passed in a row`,
    details: { ...details, success_threshold: check.successThreshold },
  };
}

function responseTimeSample(p: RecordedProbe, at: Date): MetricSample | null {
  if (p.result.responseTimeMs === null) return null;
  const { instance, check } = p.target;
  return {
    appName: instance.appName,
    metricType: 'response_time',
    value: p.result.responseTimeMs,
    timestamp: at,
    unit: 'ms',
    aggregationLevel: 'instance',
    containerId: instance.containerId,
    labels: { source: 'health-check', protocol: check.protocol, replica_index: instance.replicaIndex, ok: p.result.ok },
  };
}

/**
 * Counts the probes on their replicas (health per the thresholds), appends the `health`
 * events of those whose health changed and the `response_time` samples, all in one short
 * transaction with a constant number of statements. A replica that stopped, or whose slot
 * now holds another container, since it was probed is left as it is.
 */
async function recordProbes(db: Database, probes: Array<{ target: ProbeTarget; result: ProbeResult }>, at: Date): Promise<RecordedProbe[]> {
  if (probes.length === 0) return [];
  return db.transaction(async (tx) => {
    const current = await tx
      .select({
        id: instances.id,
        containerId: instances.containerId,
        healthStatus: instances.healthStatus,
        consecutiveFailures: instances.consecutiveFailures,
        consecutiveSuccesses: instances.consecutiveSuccesses,
      })
      .from(instances)
      .where(and(inArray(instances.id, probes.map((p) => p.target.instance.id)), eq(instances.status, 'running')))
      .for('update');
    const byId = new Map(current.map((row) => [row.id, row]));
    const recorded: RecordedProbe[] = [];
    for (const { target, result } of probes) {
      const row = byId.get(target.instance.id);
      if (!row || row.containerId !== target.instance.containerId) continue;
      const previous = (row.healthStatus ?? 'unknown') as Health;
      const next = nextHealth(
        { health: previous, consecutiveFailures: row.consecutiveFailures ?? 0, consecutiveSuccesses: row.consecutiveSuccesses },
        { ok: result.ok },
        { failureThreshold: target.check.failureThreshold ?? 3, successThreshold: target.check.successThreshold ?? 1 },
      );
      recorded.push({
        target,
        result,
        previous,
        health: next.health,
        changed: next.changed,
        consecutiveFailures: next.consecutiveFailures,
        consecutiveSuccesses: next.consecutiveSuccesses,
      });
    }
    if (recorded.length === 0) return recorded;
    const column = <T>(pick: (p: RecordedProbe) => T) => sql.param(recorded.map(pick));
    await queryRows(
      tx,
      sql`
        UPDATE instances i SET
          health_status = u.health,
          consecutive_failures = u.failures,
          consecutive_successes = u.successes,
          failure_count = coalesce(i.failure_count, 0) + CASE WHEN u.ok THEN 0 ELSE 1 END,
          last_failure_at = CASE WHEN u.ok THEN i.last_failure_at ELSE ${at.toISOString()}::timestamptz END,
          last_health_check = ${at.toISOString()}::timestamptz,
          updated_at = ${at.toISOString()}::timestamptz
        FROM unnest(
          ${column((p) => p.target.instance.id)}::int[],
          ${column((p) => p.health)}::varchar[],
          ${column((p) => p.consecutiveFailures)}::int[],
          ${column((p) => p.consecutiveSuccesses)}::int[],
          ${column((p) => p.result.ok)}::boolean[]
        ) AS u(id, health, failures, successes, ok)
        WHERE i.id = u.id
        RETURNING i.id`,
    );
    await appendEvents(tx, recorded.flatMap((p) => healthEvent(p) ?? []));
    const samples = recorded.flatMap((p) => responseTimeSample(p, at) ?? []);
    for (let i = 0; i < samples.length; i += MAX_METRIC_BATCH) await insertMetrics(tx, samples.slice(i, i + MAX_METRIC_BATCH));
    return recorded;
  });
}

async function probeAll(targets: ProbeTarget[], concurrency = PROBE_CONCURRENCY): Promise<Array<{ target: ProbeTarget; result: ProbeResult }>> {
  const limit = pLimit(concurrency);
  return Promise.all(targets.map((target) => limit(async () => ({ target, result: await probeReplica(target) }))));
}

/** Takes replicas that just turned unhealthy out of routing; returns how many calls failed. */
async function unroute(deps: Deps, recorded: RecordedProbe[]): Promise<number> {
  let failures = 0;
  for (const p of recorded.filter((r) => r.changed && r.health === 'unhealthy')) {
    try {
      await deps.runtime.removeFromRouting(p.target.instance.appName, handleOf(p.target.instance));
    } catch (error) {
      failures++;
      deps.log.warn('could not take an unhealthy replica out of routing', { app: p.target.instance.appName, replica_index: p.target.instance.replicaIndex, error });
    }
  }
  return failures;
}

const scheduleOf = (check: HealthCheck) => ({
  initialDelaySeconds: check.initialDelaySeconds ?? 0,
  periodSeconds: check.periodSeconds ?? 30,
  enabled: check.enabled,
});

/**
 * One prober run: the due probes, their outcomes, then every app with work to do reconciled.
 * `concurrency` (probes in flight at once) is PROBE_CONCURRENCY but for the benchmark's
 * reference, which runs the same pass unbounded.
 */
export async function run(deps: Deps, now: Date, options: { concurrency?: number } = {}): Promise<JobRunSummary> {
  return runJob(deps, 'health-prober', now, async () => {
    const targets = await probeTargets(deps.db.$primary);
    const due = targets.filter((t) => isProbeDue(t.instance, scheduleOf(t.check), now));
    const recorded = await recordProbes(deps.db, await probeAll(due, options.concurrency), now);
    const unrouteFailures = await unroute(deps, recorded);
    // Replacements of the replicas just found unhealthy, drains that ended, starts to retry.
    const converged = await reconcileAll(opsDepsOf(deps), now);
    return {
      replicas_checked: targets.length,
      probes: due.length,
      probes_failed: recorded.filter((p) => !p.result.ok).length,
      became_unhealthy: recorded.filter((p) => p.changed && p.health === 'unhealthy').length,
      became_healthy: recorded.filter((p) => p.changed && p.health === 'healthy').length,
      unroute_failures: unrouteFailures,
      apps_reconciled: converged.results.length,
      reconcile_failures: converged.failed.length + converged.results.filter((r) => r.errors.length > 0).length,
    };
  });
}

export const handler = scheduledHandler('health-prober', run, (config) => config.jobs.proberPeriodSeconds);

export interface ReplicaProbeReport {
  instanceId: number;
  containerId: string;
  replicaIndex: number;
  ok: boolean;
  statusCode: number | null;
  responseTimeMs: number | null;
  error: string | null;
  previousHealth: HealthStatus;
  /** The replica's health after this probe (unchanged when the probe was not recorded). */
  health: HealthStatus;
  changed: boolean;
}

export interface AppProbeReport {
  appName: string;
  probedAt: Date;
  checksEnabled: boolean;
  /** False when the app's health checks are disabled: the results are shown, not acted on. */
  recorded: boolean;
  replicas: ReplicaProbeReport[];
}

/**
 * Probes every running replica of one app now, due or not. With health checks enabled the
 * results count like the prober's (thresholds, events, routing, replacement); with them
 * disabled they are only reported.
 */
export async function probeApp(deps: Deps, name: string): Promise<AppProbeReport> {
  if (!(await getApp(deps.db.$primary, name))) throw appNotFound(name);
  const at = deps.now();
  const checksEnabled = await checksEnabledFor(deps.db.$primary, name);
  const probed = await probeAll(await probeTargets(deps.db.$primary, name));
  if (!checksEnabled) {
    return {
      appName: name,
      probedAt: at,
      checksEnabled,
      recorded: false,
      replicas: probed.map(({ target, result }) => {
        const health = target.instance.healthStatus ?? 'unknown';
        return { ...reportOf(target, result), previousHealth: health, health, changed: false };
      }),
    };
  }
  const recorded = await recordProbes(deps.db, probed, at);
  await unroute(deps, recorded);
  if (recorded.some((p) => p.changed && p.health === 'unhealthy')) await reconcile(opsDepsOf(deps), name, at);
  return {
    appName: name,
    probedAt: at,
    checksEnabled,
    recorded: true,
    replicas: recorded.map((p) => ({ ...reportOf(p.target, p.result), previousHealth: p.previous, health: p.health, changed: p.changed })),
  };
}

/**
 * A wake's readiness probe: the app's running replicas not yet healthy, probed now, due or
 * not, and only the probes that pass recorded. A cold replica refuses connections for a
 * moment, and those failures are the scheduled prober's to count (after the initial delay),
 * not a reason to replace it; a pass makes it healthy as soon as the success threshold allows
 * instead of a probe period later. Returns how many replicas are healthy now by it.
 */
export async function probeWaking(deps: Deps, name: string): Promise<number> {
  if (!(await checksEnabledFor(deps.db.$primary, name))) return 0;
  const waiting = (await probeTargets(deps.db.$primary, name)).filter((t) => t.instance.healthStatus !== 'healthy');
  const passed = (await probeAll(waiting)).filter((p) => p.result.ok);
  const recorded = await recordProbes(deps.db, passed, deps.now());
  return recorded.filter((p) => p.health === 'healthy').length;
}

function reportOf(target: ProbeTarget, result: ProbeResult) {
  return {
    instanceId: target.instance.id,
    containerId: target.instance.containerId,
    replicaIndex: target.instance.replicaIndex,
    ok: result.ok,
    statusCode: result.statusCode,
    responseTimeMs: result.responseTimeMs,
    error: result.error,
  };
}

async function checksEnabledFor(db: Database, app: string): Promise<boolean> {
  const [row] = await db.select({ enabled: healthChecks.enabled }).from(healthChecks).where(eq(healthChecks.appName, app));
  return row?.enabled === true;
}
