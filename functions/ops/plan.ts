/**
 * The reconciler's decision: given an app's desired state and its instance rows (one row
 * per replica slot, stopped ones included), the ONE next action, or nothing and when to
 * look again. Pure: the reconciler reads the rows under the app's row lock, calls this,
 * and records the action's intent in the same transaction.
 *
 * Slots: replica i lives in the row with replica_index i. Indexes [0, desired) must each
 * hold a running replica of the current revision; every other row must end stopped.
 */
import type { AppStatus, Instance } from '../../db/schema.js';
import type { ReconcileTiming } from './deps.js';

export type DrainReason = 'scale-in' | 'stop' | 'rolling-update';
export type StopReason = DrainReason | 'unhealthy' | 'failed-start' | 'stale-stop';
export type StartReason = 'missing' | 'retry' | 'resume';

export type StepAction =
  /** Claim slot `index` (reusing `row` when the slot has one) and start the current revision there. */
  | { kind: 'start'; index: number; row: Instance | null; reason: StartReason }
  /** Take the replica out of routing and let its in-flight requests finish. */
  | { kind: 'drain'; row: Instance; reason: DrainReason }
  /** A draining replica that is wanted again (scaled back out): route to it again. */
  | { kind: 'undrain'; row: Instance }
  /** Stop (SIGTERM, then kill after the grace period) and remove. */
  | { kind: 'stop'; row: Instance; reason: StopReason };

export interface PlanInput {
  desired: number;
  revision: number;
  /** Every row of the app, stopped ones included. */
  rows: readonly Instance[];
  healthChecksEnabled: boolean;
  drainSeconds: number;
  stopGraceSeconds: number;
  /** Skip draining: stop what must go at once (stop or delete with force). */
  force: boolean;
  now: Date;
  timing: ReconcileTiming;
}

export type Plan =
  | { action: StepAction }
  | {
      action: null;
      /** Every wanted slot runs the current revision and nothing else is left. */
      converged: boolean;
      /** When something can progress without a new request (a drain ends, a back-off expires). */
      nextCheckAt: Date | null;
    };

/**
 * A start recorded as intended but not yet answered by the runtime: the row still carries
 * the deterministic container name as its id. Runtimes' ids (Docker ids, task ARNs) never
 * equal a replica name.
 */
export const isPendingStart = (row: Instance): boolean => row.status === 'starting' && row.containerId === row.containerName;

const plus = (at: Date | null, seconds: number): Date => new Date((at?.getTime() ?? 0) + seconds * 1000);

export function planStep(input: PlanInput): Plan {
  const { desired, revision, rows, now, timing, force } = input;
  const active = rows.filter((r) => r.status !== 'stopped');
  const waits: Date[] = [];
  const waitUntil = (at: Date) => waits.push(at);
  const pollLater = () => waitUntil(plus(now, timing.pollSeconds));
  const excessReason = (): DrainReason => (desired === 0 ? 'stop' : 'scale-in');
  const reasonToRetire = (row: Instance): DrainReason => (row.replicaIndex >= desired ? excessReason() : 'rolling-update');

  // 1. Stops whose process never reported back: re-issue once they are surely stale.
  for (const row of active.filter((r) => r.status === 'stopping')) {
    const staleAt = plus(row.updatedAt, input.stopGraceSeconds + timing.stopMarginSeconds);
    if (now >= staleAt) return { action: { kind: 'stop', row, reason: 'stale-stop' } };
    waitUntil(staleAt);
  }

  // 2. Starts in flight. An unanswered intent past its claim timeout is taken over (the
  //    deterministic name makes the retried start adopt whatever the first one made).
  for (const row of active.filter((r) => r.status === 'starting')) {
    if (isPendingStart(row)) {
      const staleAt = plus(row.updatedAt, timing.startClaimTimeoutSeconds);
      if (now < staleAt) {
        waitUntil(staleAt);
      } else if (row.replicaIndex < desired) {
        return { action: { kind: 'start', index: row.replicaIndex, row, reason: 'resume' } };
      } else {
        return { action: { kind: 'stop', row, reason: excessReason() } };
      }
    } else if (row.replicaIndex >= desired) {
      // Started but not yet running (a task still provisioning) and no longer wanted.
      return { action: { kind: 'stop', row, reason: excessReason() } };
    } else {
      pollLater();
    }
  }

  // 3. Replicas the prober found unhealthy are replaced in place, without draining.
  const unhealthy = active.find((r) => r.status === 'running' && r.healthStatus === 'unhealthy');
  if (unhealthy) return { action: { kind: 'stop', row: unhealthy, reason: 'unhealthy' } };

  // 4. Slots beyond the desired count go, highest index first.
  const excess = active.filter((r) => r.replicaIndex >= desired).sort((a, b) => b.replicaIndex - a.replicaIndex);
  for (const row of excess) {
    if (row.status === 'running') {
      if (force || input.drainSeconds <= 0) return { action: { kind: 'stop', row, reason: excessReason() } };
      return { action: { kind: 'drain', row, reason: excessReason() } };
    }
    if (row.status === 'error') return { action: { kind: 'stop', row, reason: 'failed-start' } };
  }

  // 5. Drains: wanted again → routed again; over → stopped; otherwise wait for their end.
  const draining = active.filter((r) => r.status === 'draining').sort((a, b) => b.replicaIndex - a.replicaIndex);
  for (const row of draining) {
    const wantedAgain = row.replicaIndex < desired && row.revision === revision && row.healthStatus !== 'unhealthy';
    if (wantedAgain && !force) return { action: { kind: 'undrain', row } };
    const endsAt = plus(row.updatedAt, input.drainSeconds);
    if (force || now >= endsAt) return { action: { kind: 'stop', row, reason: reasonToRetire(row) } };
    waitUntil(endsAt);
  }

  // 6. Wanted slots without a replica, lowest index first; failed starts after their back-off.
  const bySlot = new Map(rows.map((r) => [r.replicaIndex, r]));
  for (let index = 0; index < desired; index++) {
    const row = bySlot.get(index) ?? null;
    if (row === null || row.status === 'stopped') return { action: { kind: 'start', index, row, reason: 'missing' } };
    if (row.status === 'error') {
      const retryAt = plus(row.updatedAt, timing.startRetrySeconds);
      if (now >= retryAt) return { action: { kind: 'start', index, row, reason: 'retry' } };
      waitUntil(retryAt);
    }
  }

  // 7. Rolling update: one replica of an older revision at a time, and only while every
  //    other replica runs (and, with health checks, is healthy), so capacity never drops
  //    by more than one.
  const outdated = active
    .filter((r) => r.replicaIndex < desired && r.revision !== revision && r.status === 'running')
    .sort((a, b) => a.replicaIndex - b.replicaIndex);
  if (outdated.length > 0) {
    const [next] = outdated as [Instance];
    const othersReady = active.every(
      (r) => r === next || (r.status === 'running' && (!input.healthChecksEnabled || r.healthStatus === 'healthy')),
    );
    if (othersReady) {
      if (force || input.drainSeconds <= 0) return { action: { kind: 'stop', row: next, reason: 'rolling-update' } };
      return { action: { kind: 'drain', row: next, reason: 'rolling-update' } };
    }
    pollLater();
  }

  const converged =
    waits.length === 0 &&
    active.length === desired &&
    active.every((r) => r.status === 'running' && r.revision === revision && r.replicaIndex < desired);
  const nextCheckAt = waits.length === 0 ? null : new Date(Math.min(...waits.map((w) => w.getTime())));
  return { action: null, converged, nextCheckAt };
}

/**
 * The app's status once the reconciler has done what it can for now. `registered` and
 * `stopped` apps with nothing running keep their status; a stop in progress is `stopping`;
 * replicas of an older revision mean `updating`; every wanted slot running the current
 * revision is `running`; wanted replicas of which none runs and some failed to start is
 * `error`; anything else is on its way up: `starting`.
 */
export function appStatusFor(input: {
  current: AppStatus;
  desired: number;
  revision: number;
  rows: readonly Instance[];
}): AppStatus {
  const { current, desired, revision, rows } = input;
  const active = rows.filter((r) => r.status !== 'stopped');
  if (desired === 0) {
    // Replicas draining on the way to zero are not a stop: the app stays up, at zero.
    if (current === 'scaled_to_zero') return current;
    if (active.length > 0) return 'stopping';
    return current === 'registered' ? 'registered' : 'stopped';
  }
  if (active.some((r) => r.revision !== revision && r.status !== 'error')) return 'updating';
  const wanted = active.filter((r) => r.replicaIndex < desired);
  const allUp =
    active.length === desired && wanted.length === desired && wanted.every((r) => r.status === 'running' && r.revision === revision);
  if (allUp) return 'running';
  const running = active.filter((r) => r.status === 'running').length;
  if (running === 0 && wanted.some((r) => r.status === 'error')) return 'error';
  return 'starting';
}
