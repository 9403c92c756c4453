/**
 * The reconciler: makes an app's replicas (the runtime's containers or tasks, and their rows
 * in `instances`) match its desired state (`applications.desired_replicas` and `revision`).
 *
 * It works in short steps, never holding a transaction across a runtime call (PGlite has a
 * single connection: a transaction held through a container start would stall the whole
 * dev server). Each step:
 *   1. in one transaction: lock the app's row (SELECT ... FOR UPDATE), re-read its rows,
 *      decide ONE action (plan.ts) and record its intent and its event;
 *   2. outside any transaction: make the runtime call;
 *   3. in one transaction: record the outcome (the row's transition and its event).
 * A process that dies between steps leaves an intent on the row that the next reconcile
 * resolves; deterministic container names make a retried start adopt what the first made.
 *
 * Before the steps, one comparison with the runtime's own list (syncWithRuntime) marks rows
 * whose container vanished as stopped, adopts containers nobody recorded, and stops orphans.
 *
 * It never sleeps through a drain: it returns `{converged: false, nextCheckAt}` and the
 * callers (the API's waits, the jobs' ticks, the dev timers) come back.
 */
import { eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { lockApp, updateApp } from '../../db/queries/applications.js';
import { appendEvent, appendEvents } from '../../db/queries/events.js';
import { getHealthCheck } from '../../db/queries/health-checks.js';
import { listInstances } from '../../db/queries/instances.js';
import { hasRecentEvent, insertSlot, transitionSlot } from '../../db/queries/reconcile.js';
import {
  instances,
  type Application,
  type AppStatus,
  type EventType,
  type HealthStatus,
  type Instance,
  type InstanceStatus,
  type NewEvent,
  type Severity,
} from '../../db/schema.js';
import { OrchestryError } from '../core/errors.js';
import { storedSpec, toContainerTemplate, type AppSpec } from '../core/spec-model.js';
import { replicaName } from '../runtime/names.js';
import type { ContainerTemplate, ReplicaHandle } from '../runtime/types.js';
import { reconcileTiming, type OpsDeps } from './deps.js';
import { appStatusFor, isPendingStart, planStep, type DrainReason, type StartReason, type StepAction, type StopReason } from './plan.js';

/** Where a replica is until the runtime says: it takes no traffic from a router at 0.0.0.0. */
export const PLACEHOLDER_IP = '0.0.0.0';

/** A runtime call that failed during a reconcile; it is also recorded as an `error` event. */
export interface RuntimeFailure {
  action: 'list' | 'start' | 'stop' | 'route' | 'unroute';
  replicaIndex: number | null;
  containerId: string | null;
  message: string;
  code: string;
}

export interface ReconcileResult {
  appName: string;
  /** False when the app does not exist (or was deleted meanwhile). */
  exists: boolean;
  converged: boolean;
  /** When calling again can make progress (a drain ends, a back-off expires); null when converged. */
  nextCheckAt: Date | null;
  status: AppStatus | null;
  desired: number;
  /** Replicas running, whatever their revision or slot. */
  running: number;
  /** Steps that changed something (starts, drains, stops, adoptions, ...). */
  actions: number;
  errors: RuntimeFailure[];
}

export interface ReconcileOptions {
  /** Stop what must go without draining it (stop or delete with force). */
  force?: boolean | undefined;
  /** A guard against a planner bug looping forever; never reached in normal operation. */
  maxSteps?: number | undefined;
}

const DEFAULT_MAX_STEPS = 10_000;
/**
 * Stops due at the same time are made together, this many at once: each waits on the
 * runtime (a grace period, a task draining) independently of the others, so one after
 * another would make a stop of N replicas take N grace periods.
 */
export const STOP_CONCURRENCY = 8;
/** A failure that repeats on every tick (an unreachable runtime) is recorded once per this. */
const REPEATED_FAILURE_EVENT_SECONDS = 300;

// ---------------------------------------------------------------------------
// Reading an app under its lock
// ---------------------------------------------------------------------------

interface LockedApp {
  app: Application;
  /** Every row, stopped ones included: rows are slots. */
  rows: Instance[];
  spec: AppSpec;
  template: ContainerTemplate;
  healthChecksEnabled: boolean;
}

async function lockAndRead(tx: Database, name: string): Promise<LockedApp | null> {
  const app = await lockApp(tx, name);
  if (!app) return null;
  const rows = await listInstances(tx, name, { includeStopped: true });
  const check = await getHealthCheck(tx, name);
  // The stored document was validated when it was stored.
  const spec = storedSpec(app.spec);
  return { app, rows, spec, template: toContainerTemplate(spec), healthChecksEnabled: check?.enabled === true };
}

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

function replicaEvent(
  app: string,
  row: { containerId: string; replicaIndex: number; revision: number },
  type: EventType,
  message: string,
  details: Record<string, unknown> = {},
  severity: Severity = 'info',
): NewEvent {
  return {
    eventType: type,
    eventCategory: 'application',
    appName: app,
    containerId: row.containerId,
    message,
    details: { replica_index: row.replicaIndex, revision: row.revision, ...details },
    severity,
    source: 'reconciler',
  };
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

function failureOf(action: RuntimeFailure['action'], row: { replicaIndex: number; containerId: string } | null, error: unknown): RuntimeFailure {
  return {
    action,
    replicaIndex: row?.replicaIndex ?? null,
    containerId: row?.containerId ?? null,
    message: errorText(error),
    code: error instanceof OrchestryError ? error.code : 'RUNTIME_ERROR',
  };
}

/** Records a runtime failure as an `error` event (when the app still exists). */
async function recordFailure(deps: OpsDeps, app: string, failure: RuntimeFailure, what: string, dedupe = false): Promise<void> {
  const message = `${what} failed: ${failure.message}`;
  deps.log.child({ app }).warn('runtime call failed', { action: failure.action, replica_index: failure.replicaIndex, error: failure.message });
  await deps.db.transaction(async (tx) => {
    if (!(await lockApp(tx, app))) return;
    if (dedupe && (await hasRecentEvent(tx, app, 'error', message, REPEATED_FAILURE_EVENT_SECONDS))) return;
    await appendEvent(tx, {
      eventType: 'error',
      eventCategory: 'application',
      appName: app,
      containerId: failure.containerId,
      message,
      details: { action: failure.action, replica_index: failure.replicaIndex, error: failure.message, code: failure.code },
      severity: 'error',
      source: 'reconciler',
    });
  });
}

/** The runtime's view of a replica row: what routing and stop calls take. */
export function handleOf(row: Instance): ReplicaHandle {
  return {
    id: row.containerId,
    name: row.containerName,
    app: row.appName,
    replicaIndex: row.replicaIndex,
    revision: row.revision,
    ip: row.ip,
    port: row.port,
    state: 'running',
    startedAt: row.startedAt,
  };
}

const routable = (handle: ReplicaHandle) => handle.state === 'running';
const isAlive = (handle: ReplicaHandle): boolean => handle.state === 'running' || handle.state === 'starting';

const healthOnStart = (healthChecksEnabled: boolean): HealthStatus => (healthChecksEnabled ? 'starting' : 'unknown');

// ---------------------------------------------------------------------------
// Comparing the table with the runtime's own list
// ---------------------------------------------------------------------------

type FollowUp =
  | { kind: 'stop'; handle: ReplicaHandle; graceSeconds: number }
  | { kind: 'route'; handle: ReplicaHandle }
  | { kind: 'unroute'; handle: ReplicaHandle };

interface SyncOutcome {
  exists: boolean;
  actions: number;
}

/**
 * One comparison of the app's rows with `runtime.list(app)`. A row's absence from the list
 * only counts when the row is unchanged since before the list was taken: a row another
 * reconciler moved meanwhile may point at a container made after the listing.
 */
async function syncWithRuntime(deps: OpsDeps, name: string, at: Date, errors: RuntimeFailure[]): Promise<SyncOutcome> {
  const timing = reconcileTiming(deps);
  const before = await listInstances(deps.db.$primary, name, { includeStopped: true });
  let listed: ReplicaHandle[];
  try {
    listed = await deps.runtime.list(name);
  } catch (error) {
    const failure = failureOf('list', null, error);
    errors.push(failure);
    await recordFailure(deps, name, failure, "Listing the app's replicas in the runtime", true);
    return { exists: true, actions: 0 };
  }
  const log = deps.log.child({ app: name, op: 'reconcile' });
  const beforeById = new Map(before.map((r) => [r.id, r]));
  const unchanged = (row: Instance) => {
    const seen = beforeById.get(row.id);
    return (
      seen !== undefined &&
      seen.status === row.status &&
      seen.containerId === row.containerId &&
      seen.updatedAt?.getTime() === row.updatedAt?.getTime()
    );
  };

  const decided = await deps.db.transaction(async (tx) => {
    const view = await lockAndRead(tx, name);
    if (!view) return null;
    const { app, rows, template, healthChecksEnabled } = view;
    const desired = app.desiredReplicas ?? 0;
    const grace = template.stopGraceSeconds;
    const byId = new Map(listed.map((h) => [h.id, h]));
    const byName = new Map(listed.map((h) => [h.name, h]));
    const matched = new Set<ReplicaHandle>();
    const followUps: FollowUp[] = [];
    const events: NewEvent[] = [];
    let actions = 0;

    const markGone = async (row: Instance, found: ReplicaHandle | undefined) => {
      const updated = await transitionSlot(tx, row.id, { status: [row.status], containerId: row.containerId }, { status: 'stopped', healthStatus: 'unknown' }, at);
      if (!updated) return;
      actions++;
      const state = found?.state ?? 'missing';
      events.push(
        replicaEvent(app.name, row, 'health', `Replica ${row.replicaIndex} (${row.containerName}) is gone from the runtime (${state}); marked stopped`, {
          previous_status: row.status,
          runtime_state: state,
        }, 'warning'),
      );
      followUps.push({ kind: 'unroute', handle: handleOf(row) });
      // An exited container still holds the replica's name; removing it lets the slot start again.
      if (found) followUps.push({ kind: 'stop', handle: found, graceSeconds: 0 });
    };

    const recordStarted = async (row: Instance, handle: ReplicaHandle, how: string) => {
      const updated = await transitionSlot(
        tx,
        row.id,
        { status: [row.status], containerId: row.containerId },
        {
          containerId: handle.id,
          containerName: handle.name,
          ip: handle.ip,
          port: handle.port,
          status: handle.state === 'running' ? 'running' : 'starting',
          healthStatus: healthOnStart(healthChecksEnabled),
          startedAt: handle.startedAt ?? at,
        },
        at,
      );
      if (!updated) return;
      actions++;
      events.push(replicaEvent(app.name, updated, 'deployment', `Replica ${row.replicaIndex} ${how} at ${handle.ip}:${handle.port}`, { runtime_state: handle.state }));
      if (routable(handle)) followUps.push({ kind: 'route', handle });
    };

    const stopOrphan = (handle: ReplicaHandle, why: string) => {
      actions++;
      events.push(
        replicaEvent(app.name, { containerId: handle.id, replicaIndex: handle.replicaIndex, revision: handle.revision }, 'deployment', `Stopping container ${handle.name}: ${why}`, {
          container_name: handle.name,
          runtime_state: handle.state,
        }, 'warning'),
      );
      followUps.push({ kind: 'stop', handle, graceSeconds: grace });
    };

    for (const row of rows) {
      const found = byId.get(row.containerId) ?? byName.get(row.containerName);
      if (found) matched.add(found);
      const live = found && isAlive(found) ? found : undefined;
      switch (row.status) {
        case 'running':
        case 'draining':
          if (!live && unchanged(row)) await markGone(row, found);
          break;
        case 'starting':
          if (isPendingStart(row)) {
            // The start happened but its outcome is not recorded: the pass that started it died,
            // or is still on its way to record it (two passes at once); this pass cannot tell which.
            if (live && live.name === row.containerName) await recordStarted(row, live, 'started (found running before its start was recorded)');
          } else if (live?.state === 'running') {
            await recordStarted(row, live, 'is running');
          } else if (!live && unchanged(row) && at.getTime() - (row.updatedAt?.getTime() ?? 0) >= timing.startClaimTimeoutSeconds * 1000) {
            await markGone(row, found);
          }
          break;
        case 'stopping':
          // The stop happened but its outcome was never recorded.
          if (found === undefined && unchanged(row)) {
            const updated = await transitionSlot(tx, row.id, { status: ['stopping'], containerId: row.containerId }, { status: 'stopped', healthStatus: 'unknown' }, at);
            if (updated) {
              actions++;
              events.push(replicaEvent(app.name, row, 'deployment', `Replica ${row.replicaIndex} stopped`, { recovered: true }));
            }
          }
          break;
        case 'error':
          if (live && unchanged(row)) {
            // A start reported as failed that made a container after all (a timeout, say).
            if (live.name === row.containerName && row.replicaIndex < desired && row.revision === app.revision) {
              await recordStarted(row, live, 'started after all');
            } else {
              stopOrphan(live, `replica ${row.replicaIndex} is recorded as failed`);
            }
          }
          break;
        case 'stopped':
          if (found && unchanged(row)) {
            if (live) stopOrphan(live, `replica ${row.replicaIndex} is recorded as stopped`);
            else followUps.push({ kind: 'stop', handle: found, graceSeconds: 0 });
          }
          break;
      }
    }

    // Containers no row knows: adopt them into free wanted slots of the current revision,
    // stop the rest. Every start records its row before it calls the runtime, so a
    // container made by a reconciler running right now always has a row already.
    const slots = new Map(rows.map((r) => [r.replicaIndex, r]));
    for (const handle of listed) {
      if (matched.has(handle)) continue;
      if (!isAlive(handle)) {
        log.info('removing an exited container no row records', { container: handle.name, state: handle.state });
        followUps.push({ kind: 'stop', handle, graceSeconds: 0 });
        continue;
      }
      const slot = slots.get(handle.replicaIndex);
      const wanted = handle.replicaIndex < desired && handle.revision === app.revision;
      if (!wanted || (slot !== undefined && slot.status !== 'stopped')) {
        const why = !wanted
          ? handle.replicaIndex >= desired
            ? `replica ${handle.replicaIndex} is beyond the desired ${desired}`
            : `it runs revision ${handle.revision}, not ${app.revision}`
          : `slot ${handle.replicaIndex} is taken by ${slot!.containerName}`;
        stopOrphan(handle, `no row records it and ${why}`);
        continue;
      }
      const fields = {
        containerId: handle.id,
        containerName: handle.name,
        ip: handle.ip,
        port: handle.port,
        status: (handle.state === 'running' ? 'running' : 'starting') as InstanceStatus,
        healthStatus: healthOnStart(healthChecksEnabled),
        revision: handle.revision,
        startedAt: handle.startedAt ?? at,
        lastHealthCheck: null,
        consecutiveFailures: 0,
        consecutiveSuccesses: 0,
      };
      const adopted = slot
        ? await transitionSlot(tx, slot.id, { status: ['stopped'] }, fields, at)
        : await insertSlot(tx, { appName: app.name, replicaIndex: handle.replicaIndex, ...fields, updatedAt: at });
      if (!adopted) continue;
      slots.set(handle.replicaIndex, adopted);
      actions++;
      events.push(
        replicaEvent(app.name, adopted, 'deployment', `Adopted running container ${handle.name} as replica ${handle.replicaIndex}`, {
          ip: handle.ip,
          port: handle.port,
        }),
      );
      if (routable(handle)) followUps.push({ kind: 'route', handle });
    }
    await appendEvents(tx, events);
    return { followUps, actions };
  });
  if (!decided) return { exists: false, actions: 0 };

  for (const followUp of decided.followUps) {
    const row = { replicaIndex: followUp.handle.replicaIndex, containerId: followUp.handle.id };
    try {
      if (followUp.kind === 'stop') await deps.runtime.stop({ id: followUp.handle.id, app: name }, { graceSeconds: followUp.graceSeconds });
      else if (followUp.kind === 'route') await deps.runtime.addToRouting(name, followUp.handle);
      else await deps.runtime.removeFromRouting(name, followUp.handle);
    } catch (error) {
      const failure = failureOf(followUp.kind, row, error);
      errors.push(failure);
      const what = { stop: 'Stopping container', route: 'Routing to container', unroute: 'Taking out of routing container' }[followUp.kind];
      await recordFailure(deps, name, failure, `${what} ${followUp.handle.name}`);
    }
  }
  return { exists: true, actions: decided.actions };
}

// ---------------------------------------------------------------------------
// Steps
// ---------------------------------------------------------------------------

export type ClaimedStep =
  | { kind: 'gone' }
  | { kind: 'idle'; converged: boolean; nextCheckAt: Date | null; status: AppStatus; desired: number; running: number }
  | { kind: 'start'; row: Instance; template: ContainerTemplate; healthChecksEnabled: boolean; reason: StartReason }
  | { kind: 'drain'; row: Instance; reason: DrainReason }
  | { kind: 'undrain'; row: Instance }
  | { kind: 'stop'; row: Instance; graceSeconds: number; reason: StopReason };

const DRAIN_TEXT: Record<DrainReason, string> = {
  'scale-in': 'scale in',
  stop: 'app stopping',
  'rolling-update': 'rolling update',
};

const STOP_TEXT: Record<StopReason, string> = {
  ...DRAIN_TEXT,
  unhealthy: 'unhealthy; it will be replaced',
  'failed-start': 'its start failed and the slot is no longer wanted',
  'stale-stop': 'an earlier stop did not report back',
};

const STOP_EVENT_TYPE: Record<StopReason, EventType> = {
  'scale-in': 'scaling',
  stop: 'scaling',
  'rolling-update': 'deployment',
  unhealthy: 'health',
  'failed-start': 'deployment',
  'stale-stop': 'deployment',
};

/**
 * Step part 1: under the app's lock, decide the next action and record its intent (or,
 * when there is nothing to do now, the app's replica count and status). Exported so that
 * tests can stop here and play a process that died before calling the runtime.
 */
export async function claimStep(
  deps: OpsDeps,
  name: string,
  at: Date,
  options: { force?: boolean | undefined; settleOnly?: boolean | undefined } = {},
): Promise<ClaimedStep> {
  const timing = reconcileTiming(deps);
  return deps.db.transaction(async (tx): Promise<ClaimedStep> => {
    const view = await lockAndRead(tx, name);
    if (!view) return { kind: 'gone' };
    const { app, rows, spec, template } = view;
    const desired = app.desiredReplicas ?? 0;
    const plan = options.settleOnly
      ? { action: null, converged: false, nextCheckAt: new Date(at.getTime() + timing.pollSeconds * 1000) }
      : planStep({
          desired,
          revision: app.revision,
          rows,
          healthChecksEnabled: view.healthChecksEnabled,
          drainSeconds: spec.termination.drainSeconds,
          stopGraceSeconds: template.stopGraceSeconds,
          force: options.force === true,
          now: at,
          timing,
        });
    if (plan.action === null) {
      const status = appStatusFor({ current: app.status, desired, revision: app.revision, rows });
      const running = rows.filter((r) => r.status === 'running').length;
      await settleApp(tx, app, status, running);
      return { kind: 'idle', converged: plan.converged, nextCheckAt: plan.converged ? null : plan.nextCheckAt, status, desired, running };
    }
    const step = await recordIntent(tx, view, plan.action, at);
    // Force means now: no drain (plan.ts) and no grace period either, like `docker rm -f`.
    return options.force === true && step.kind === 'stop' ? { ...step, graceSeconds: 0 } : step;
  });
}

async function settleApp(tx: Database, app: Application, status: AppStatus, running: number): Promise<void> {
  if (app.status === status && app.replicas === running) return;
  await updateApp(tx, app.name, { status, replicas: running });
  if (app.status === status) return;
  await appendEvent(tx, {
    eventType: 'deployment',
    eventCategory: 'application',
    appName: app.name,
    message: `Application ${app.name} is ${status} (${running}/${app.desiredReplicas ?? 0} replicas running)`,
    details: { from: app.status, to: status, running, desired: app.desiredReplicas ?? 0, revision: app.revision },
    severity: status === 'error' ? 'error' : 'info',
    source: 'reconciler',
  });
}

async function recordIntent(tx: Database, view: LockedApp, action: StepAction, at: Date): Promise<ClaimedStep> {
  const { app, template } = view;
  const moved = (row: Instance | null): Instance => {
    // The app's row lock serializes every status change, so a row read under it cannot move.
    if (!row) throw new OrchestryError('INTERNAL', `Instance of app '${app.name}' changed under the app's lock`);
    return row;
  };
  switch (action.kind) {
    case 'start': {
      const name = replicaName(app.name, action.index, app.revision);
      const claim = {
        status: 'starting' as const,
        healthStatus: 'starting' as const,
        // Placeholders until the runtime answers; the name is unique like a real id would be.
        containerId: name,
        containerName: name,
        ip: PLACEHOLDER_IP,
        port: template.containerPort,
        revision: app.revision,
        startedAt: null,
        lastHealthCheck: null,
        consecutiveFailures: 0,
        consecutiveSuccesses: 0,
      };
      const row = action.row
        ? moved(await transitionSlot(tx, action.row.id, { status: [action.row.status] }, claim, at))
        : await insertSlot(tx, { appName: app.name, replicaIndex: action.index, ...claim, updatedAt: at });
      const message = {
        missing: `Starting replica ${action.index} (revision ${app.revision})`,
        retry: `Retrying the start of replica ${action.index} (revision ${app.revision})`,
        resume: `Taking over the unfinished start of replica ${action.index} (revision ${app.revision})`,
      }[action.reason];
      await appendEvent(tx, replicaEvent(app.name, row, 'deployment', message, { reason: action.reason, image: template.image }));
      return { kind: 'start', row, template, healthChecksEnabled: view.healthChecksEnabled, reason: action.reason };
    }
    case 'drain': {
      const row = moved(await transitionSlot(tx, action.row.id, { status: ['running'] }, { status: 'draining' }, at));
      const drainSeconds = view.spec.termination.drainSeconds;
      await appendEvent(
        tx,
        replicaEvent(
          app.name,
          row,
          action.reason === 'rolling-update' ? 'deployment' : 'scaling',
          `Draining replica ${row.replicaIndex} (${DRAIN_TEXT[action.reason]}); it stops after ${drainSeconds}s`,
          { reason: action.reason, drain_seconds: drainSeconds },
        ),
      );
      return { kind: 'drain', row, reason: action.reason };
    }
    case 'undrain': {
      const row = moved(await transitionSlot(tx, action.row.id, { status: ['draining'] }, { status: 'running' }, at));
      await appendEvent(tx, replicaEvent(app.name, row, 'scaling', `Replica ${row.replicaIndex} is wanted again; it takes traffic again`));
      return { kind: 'undrain', row };
    }
    case 'stop': {
      const previous = action.row.status;
      const row = moved(await transitionSlot(tx, action.row.id, { status: [previous] }, { status: 'stopping' }, at));
      if (previous !== 'stopping') {
        await appendEvent(
          tx,
          replicaEvent(app.name, row, STOP_EVENT_TYPE[action.reason], `Stopping replica ${row.replicaIndex} (${STOP_TEXT[action.reason]})`, {
            reason: action.reason,
            previous_status: previous,
          }),
        );
      }
      return { kind: 'stop', row, graceSeconds: template.stopGraceSeconds, reason: action.reason };
    }
  }
}

/** Step parts 2 and 3: the runtime call, then its outcome under the app's lock. */
export async function performStep(deps: OpsDeps, name: string, step: ClaimedStep, errors: RuntimeFailure[]): Promise<void> {
  const log = deps.log.child({ app: name, op: 'reconcile' });
  switch (step.kind) {
    case 'gone':
    case 'idle':
      return;
    case 'start':
      return performStart(deps, name, step, errors);
    case 'drain':
    case 'undrain': {
      const handle = handleOf(step.row);
      try {
        if (step.kind === 'drain') await deps.runtime.removeFromRouting(name, handle);
        else await deps.runtime.addToRouting(name, handle);
      } catch (error) {
        const failure = failureOf(step.kind === 'drain' ? 'unroute' : 'route', step.row, error);
        errors.push(failure);
        await recordFailure(deps, name, failure, `${step.kind === 'drain' ? 'Taking out of routing' : 'Routing to'} replica ${step.row.replicaIndex}`);
      }
      log.info(step.kind === 'drain' ? 'replica draining' : 'replica routed again', { replica_index: step.row.replicaIndex });
      return;
    }
    case 'stop':
      return performStop(deps, name, step, errors);
  }
}

async function performStart(
  deps: OpsDeps,
  name: string,
  step: Extract<ClaimedStep, { kind: 'start' }>,
  errors: RuntimeFailure[],
): Promise<void> {
  const { row, template } = step;
  const log = deps.log.child({ app: name, op: 'reconcile', replica_index: row.replicaIndex });
  let handle: ReplicaHandle | undefined;
  try {
    handle = await deps.runtime.start({ app: name, revision: row.revision, replicaIndex: row.replicaIndex, template });
    if (routable(handle)) await deps.runtime.addToRouting(name, handle);
  } catch (error) {
    const failure = failureOf(handle ? 'route' : 'start', row, error);
    errors.push(failure);
    if (handle) await stopQuietly(deps, name, handle, template.stopGraceSeconds);
    await recordStartFailure(deps, name, row, failure);
    return;
  }
  const started = handle;
  const at = deps.clock.now();
  const outcome = await deps.db.transaction(async (tx) => {
    if (!(await lockApp(tx, name))) return 'gone' as const;
    const updated = await transitionSlot(
      tx,
      row.id,
      { status: ['starting'], containerName: row.containerName },
      {
        containerId: started.id,
        ip: started.ip,
        port: started.port,
        status: started.state === 'running' ? 'running' : 'starting',
        healthStatus: healthOnStart(step.healthChecksEnabled),
        startedAt: started.startedAt ?? at,
      },
      at,
    );
    if (updated) {
      const message =
        started.state === 'running'
          ? `Replica ${row.replicaIndex} running at ${started.ip}:${started.port} (revision ${row.revision})`
          : `Replica ${row.replicaIndex} started; waiting for the runtime to report it running`;
      await appendEvent(tx, replicaEvent(name, updated, 'deployment', message, { ip: started.ip, port: started.port, runtime_state: started.state }));
      return 'recorded' as const;
    }
    // Someone else recorded this very container already (a concurrent reconcile's
    // comparison with the runtime), or the slot moved on and the container is unwanted.
    const [current] = await tx.select().from(instances).where(eq(instances.id, row.id));
    return current?.containerId === started.id ? ('recorded' as const) : ('unwanted' as const);
  });
  if (outcome === 'recorded') {
    log.info('replica started', { container: started.name, ip: started.ip, port: started.port });
    return;
  }
  log.warn('started replica is no longer wanted; stopping it', { container: started.name, reason: outcome });
  await stopQuietly(deps, name, started, template.stopGraceSeconds);
}

async function recordStartFailure(deps: OpsDeps, name: string, row: Instance, failure: RuntimeFailure): Promise<void> {
  deps.log.child({ app: name, op: 'reconcile' }).warn('replica start failed', { replica_index: row.replicaIndex, error: failure.message });
  const at = deps.clock.now();
  await deps.db.transaction(async (tx) => {
    if (!(await lockApp(tx, name))) return;
    const updated = await transitionSlot(
      tx,
      row.id,
      { status: ['starting'], containerName: row.containerName },
      { status: 'error', healthStatus: 'unknown' },
      at,
    );
    if (!updated) return;
    await appendEvent(
      tx,
      replicaEvent(name, updated, 'error', `Starting replica ${row.replicaIndex} failed: ${failure.message}`, {
        action: failure.action,
        error: failure.message,
        code: failure.code,
        retry_after_seconds: reconcileTiming(deps).startRetrySeconds,
      }, 'error'),
    );
  });
}

/** Stops a container this process made but nobody wants; a failure leaves it to the next comparison with the runtime. */
async function stopQuietly(deps: OpsDeps, name: string, handle: ReplicaHandle, graceSeconds: number): Promise<void> {
  try {
    await deps.runtime.stop({ id: handle.id, app: name }, { graceSeconds });
  } catch (error) {
    deps.log.child({ app: name, op: 'reconcile' }).warn('could not stop an unwanted container', { container: handle.name, error: errorText(error) });
  }
}

async function performStop(deps: OpsDeps, name: string, step: Extract<ClaimedStep, { kind: 'stop' }>, errors: RuntimeFailure[]): Promise<void> {
  const { row } = step;
  const handle = handleOf(row);
  try {
    // Idempotent, and a no-op for replicas never routed (a start that never answered).
    await deps.runtime.removeFromRouting(name, handle);
  } catch (error) {
    const failure = failureOf('unroute', row, error);
    errors.push(failure);
    await recordFailure(deps, name, failure, `Taking replica ${row.replicaIndex} out of routing`);
  }
  try {
    await deps.runtime.stop({ id: row.containerId, app: name }, { graceSeconds: step.graceSeconds });
  } catch (error) {
    // The row stays 'stopping'; the stop is re-issued once it is stale (plan step 1).
    const failure = failureOf('stop', row, error);
    errors.push(failure);
    await recordFailure(deps, name, failure, `Stopping replica ${row.replicaIndex}`);
    return;
  }
  const at = deps.clock.now();
  await deps.db.transaction(async (tx) => {
    if (!(await lockApp(tx, name))) return;
    const updated = await transitionSlot(
      tx,
      row.id,
      { status: ['stopping'], containerId: row.containerId },
      { status: 'stopped', healthStatus: 'unknown' },
      at,
    );
    if (!updated) return;
    await appendEvent(
      tx,
      replicaEvent(name, updated, STOP_EVENT_TYPE[step.reason], `Replica ${row.replicaIndex} stopped (${STOP_TEXT[step.reason]})`, { reason: step.reason }),
    );
  });
  deps.log.child({ app: name, op: 'reconcile' }).info('replica stopped', { replica_index: row.replicaIndex, reason: step.reason });
}

// ---------------------------------------------------------------------------
// The loop
// ---------------------------------------------------------------------------

/**
 * Brings one app as close to its desired state as can be done now. Runtime failures are
 * recorded as events and returned in `errors`; they never throw. Database failures throw
 * (the next reconcile resumes from what was recorded).
 *
 * `now` is the time of the first decision (the caller's tick); later steps read the clock.
 */
export async function reconcile(deps: OpsDeps, appName: string, now?: Date, options: ReconcileOptions = {}): Promise<ReconcileResult> {
  const errors: RuntimeFailure[] = [];
  let firstAt = now;
  const at = () => {
    const t = firstAt ?? deps.clock.now();
    firstAt = undefined;
    return t;
  };
  const gone = (actions: number): ReconcileResult => ({
    appName,
    exists: false,
    converged: true,
    nextCheckAt: null,
    status: null,
    desired: 0,
    running: 0,
    actions,
    errors,
  });

  const synced = await syncWithRuntime(deps, appName, at(), errors);
  if (!synced.exists) return gone(0);
  let actions = synced.actions;
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  for (let steps = 0; ; steps++) {
    const settleOnly = steps >= maxSteps;
    if (settleOnly) deps.log.error('reconcile stopped after too many steps', { app: appName, steps });
    const step = await claimStep(deps, appName, at(), { force: options.force, settleOnly });
    if (step.kind === 'gone') return gone(actions);
    if (step.kind === 'stop' && !settleOnly) {
      actions += await stopTogether(deps, appName, step, errors, options.force);
      continue;
    }
    if (step.kind === 'idle') {
      return {
        appName,
        exists: true,
        converged: step.converged,
        nextCheckAt: step.nextCheckAt,
        status: step.status,
        desired: step.desired,
        running: step.running,
        actions,
        errors,
      };
    }
    await performStep(deps, appName, step, errors);
    actions++;
  }
}

/**
 * Claims the other stops due now (up to STOP_CONCURRENCY in all) and makes them at once.
 * Each claim marks its row `stopping`, so a reconcile running elsewhere meanwhile (a job's
 * pass) finds nothing to do for these rows instead of draining or stopping them itself. A
 * claim that is not a stop (a start, a drain) has its intent recorded already: it is made
 * after the stops. Returns the number of steps made.
 */
async function stopTogether(
  deps: OpsDeps,
  name: string,
  first: Extract<ClaimedStep, { kind: 'stop' }>,
  errors: RuntimeFailure[],
  force: boolean | undefined,
): Promise<number> {
  const stops = [first];
  let other: ClaimedStep | undefined;
  while (stops.length < STOP_CONCURRENCY) {
    const next = await claimStep(deps, name, deps.clock.now(), { force });
    if (next.kind !== 'stop') {
      other = next;
      break;
    }
    stops.push(next);
  }
  await Promise.all(stops.map((stop) => performStep(deps, name, stop, errors)));
  if (!other) return stops.length;
  await performStep(deps, name, other, errors);
  return stops.length + (other.kind === 'idle' || other.kind === 'gone' ? 0 : 1);
}
