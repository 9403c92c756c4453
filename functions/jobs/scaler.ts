/**
 * The scaler: every tick, for every app in auto mode that is up, the scaling decision
 * (core/scaling.ts decide()) from one set-based read of every app's inputs; the latest
 * decision of each app overwritten in place (one upsert); a `scaling` event only when the
 * count or the reason changes; the new desired counts (one guarded update); then the
 * reconciler for the apps that changed, a few at a time.
 *
 * explainScaling() runs the same read and decide() for one app without acting: it is what
 * GET /apps/{name}/scaling/explain answers.
 */
import pLimit from 'p-limit';
import { appendEvents } from '../../db/queries/events.js';
import {
  applyScaling,
  scalerInputs,
  SCALABLE_STATUSES,
  upsertDecisions,
  type LastDecision,
  type ScalerInput,
  type ScalingChange,
} from '../../db/queries/scaler.js';
import type { AppMode, AppStatus, NewEvent } from '../../db/schema.js';
import { appNotFound } from '../core/errors.js';
import { decide, directionOf, pruneRecommendations, type ScalingDecision } from '../core/scaling.js';
import type { Db } from '../../db/client.js';
import type { Deps } from '../deps.js';
import { reconcile } from '../ops/reconcile.js';
import { opsDepsOf, runJob, scheduledHandler, type JobCounts, type JobRunSummary } from './job.js';

/** Apps reconciled at once after a tick that changed their counts. */
export const SCALER_RECONCILE_CONCURRENCY = 4;

/** decide() over one app's inputs, as the scaler job evaluates it. */
export function decisionFor(input: ScalerInput, now: Date): ScalingDecision {
  return decide(
    input.policy,
    input.window,
    {
      currentReplicas: input.desiredReplicas,
      readyReplicas: input.readyReplicas,
      startingReplicas: input.startingReplicas,
      lastScaledAt: input.lastScaledAt,
      recommendations: input.lastDecision?.recommendations ?? [],
      ...(input.traffic ? { traffic: input.traffic } : {}),
      ...(input.lastDecision ? { lastReason: input.lastDecision.reason, lastDirection: directionOf(input.lastDecision) } : {}),
    },
    now,
  );
}

/** `applied`: the count set, when the tick set one (the policy as written may have clamped it). */
function scalingEvent(input: ScalerInput, decision: ScalingDecision, applied: number | undefined): NewEvent {
  const from = decision.currentReplicas;
  const to = applied ?? from;
  const clamped =
    applied !== undefined && applied !== decision.desiredReplicas ? `, not ${decision.desiredReplicas}: the policy changed since the read` : '';
  return {
    eventType: 'scaling',
    eventCategory: 'application',
    appName: input.appName,
    message:
      applied !== undefined
        ? `Scaling ${input.appName} from ${from} to ${to} replicas (${decision.reason})${clamped}: ${decision.message}`
        : decision.message,
    details: {
      from,
      to,
      reason: decision.reason,
      previous_reason: input.lastDecision?.reason ?? null,
      applied: applied !== undefined,
      decision,
    },
    severity: 'info',
    source: 'scaler',
  };
}

export interface ScalerTick {
  counts: JobCounts;
  /** Apps whose desired count this tick changed. */
  changed: string[];
}

export interface Evaluated {
  input: ScalerInput;
  decision: ScalingDecision;
}

/**
 * A tick's writes, in one transaction and a fixed number of statements: the guarded
 * desired-count updates, every app's latest decision (with its pruned recommendations), and
 * a `scaling` event for each app whose count or reason changed. Exported so the benchmark's
 * one-query-per-app reference makes exactly the same writes.
 */
export async function recordDecisions(
  db: Db,
  evaluated: Evaluated[],
  wanted: ScalingChange[],
  now: Date,
): Promise<{ changed: Map<string, number>; events: number }> {
  return db.transaction(async (tx) => {
    const changed = new Map((await applyScaling(tx, wanted, now)).map((c) => [c.appName, c.to]));
    await upsertDecisions(
      tx,
      evaluated.map(({ input, decision }) => ({
        appName: input.appName,
        decision,
        recommendations: pruneRecommendations(
          [...(input.lastDecision?.recommendations ?? []), { at: now, replicas: decision.recommendation.replicas }],
          now,
          input.policy.stabilizationWindowSeconds,
        ),
      })),
    );
    const events = evaluated
      .filter(({ input, decision }) => changed.has(input.appName) || decision.reason !== input.lastDecision?.reason)
      .map(({ input, decision }) => scalingEvent(input, decision, changed.get(input.appName)));
    await appendEvents(tx, events);
    return { changed, events: events.length };
  });
}

/** One evaluation of every scalable app; the body of a scaler run (exported for tests). */
export async function evaluateAll(deps: Deps, now: Date): Promise<ScalerTick> {
  const inputs = await scalerInputs(deps.db.$primary, now);
  const evaluated = inputs.map((input) => ({ input, decision: decisionFor(input, now) }));
  const wanted: ScalingChange[] = evaluated
    .filter(({ decision }) => decision.desiredReplicas !== decision.currentReplicas)
    .map(({ input, decision }) => ({ appName: input.appName, from: decision.currentReplicas, to: decision.desiredReplicas }));

  const recorded = await recordDecisions(deps.db, evaluated, wanted, now);
  const changed = [...recorded.changed.keys()];

  const ops = opsDepsOf(deps);
  const limit = pLimit(SCALER_RECONCILE_CONCURRENCY);
  const toZero = new Set(wanted.filter((w) => w.to === 0).map((w) => w.appName));
  let reconcileFailures = 0;
  await Promise.all(
    changed.map((name) =>
      limit(async () => {
        try {
          // Before its replicas go: a request arriving meanwhile reaches the activator, which wakes it.
          if (toZero.has(name)) await deps.runtime.routeTrafficTo?.(name, 'activator');
          const result = await reconcile(ops, name, now);
          reconcileFailures += result.errors.length > 0 ? 1 : 0;
        } catch (error) {
          reconcileFailures++;
          deps.log.error('scaler: reconcile failed', { app: name, error });
        }
      }),
    ),
  );
  const up = new Map(wanted.map((w) => [w.appName, recorded.changed.get(w.appName)! > w.from]));
  return {
    changed,
    counts: {
      apps_evaluated: inputs.length,
      scaled_out: changed.filter((n) => up.get(n)).length,
      scaled_in: changed.filter((n) => !up.get(n)).length,
      changes_not_applied: wanted.length - changed.length,
      events: recorded.events,
      reconcile_failures: reconcileFailures,
    },
  };
}

/** One scaler run: the lease, one evaluation of every app, the job_runs row. */
export async function run(deps: Deps, now: Date): Promise<JobRunSummary> {
  return runJob(deps, 'scaler', now, async () => (await evaluateAll(deps, now)).counts);
}

export const handler = scheduledHandler('scaler', run, (config) => config.jobs.scalerPeriodSeconds);

export interface ScalingExplanation {
  appName: string;
  mode: AppMode;
  status: AppStatus;
  /** Whether the scaler evaluates this app on its ticks (auto mode, up, desired > 0). */
  evaluatedByScaler: boolean;
  /** Why the scaler leaves the app alone, when it does. */
  note: string | null;
  /** The decision the scaler would take now, with every input and the reason. */
  decision: ScalingDecision;
  /** The decision the scaler stored on its latest tick, if it ever evaluated the app. */
  lastDecision: LastDecision | null;
}

/**
 * The scaling decision for one app now, from the same inputs and the same decide() as the
 * scaler's tick, without storing or changing anything.
 */
export async function explainScaling(deps: Deps, name: string, now: Date): Promise<ScalingExplanation> {
  const [input] = await scalerInputs(deps.db, now, { app: name });
  if (!input) throw appNotFound(name);
  const evaluatedByScaler = input.mode === 'auto' && SCALABLE_STATUSES.includes(input.status) && input.desiredReplicas > 0;
  const note = evaluatedByScaler
    ? null
    : input.status === 'scaled_to_zero'
      ? 'scaled to zero for want of traffic: the next request wakes it'
      : input.mode !== 'auto'
      ? 'mode is manual: the scaler does not change this app (set mode auto with PUT /api/v1/apps/' + name + '/scaling)'
      : input.desiredReplicas === 0 || !SCALABLE_STATUSES.includes(input.status)
        ? `the app is ${input.status} with ${input.desiredReplicas} desired replicas: the scaler acts only on started apps`
        : null;
  return {
    appName: input.appName,
    mode: input.mode,
    status: input.status,
    evaluatedByScaler,
    note,
    decision: decisionFor(input, now),
    lastDecision: input.lastDecision,
  };
}
