/**
 * The operations on apps that the API and the jobs call: register, update the spec, start,
 * stop, scale, delete, wait, and reconcile every app with work to do. Each records the new
 * desired state and its event in one transaction under the app's row lock, then reconciles.
 * Each is safe to retry and to run twice at once: the lock serializes them, and the
 * reconciler only ever moves actual state towards whatever the desired state is by then.
 */
import { isDeepStrictEqual } from 'node:util';
import pLimit from 'p-limit';
import type { Database } from '../../db/client.js';
import { deleteApp as deleteAppRow, getApp, insertApp, lockApp, updateApp } from '../../db/queries/applications.js';
import { appendEvent } from '../../db/queries/events.js';
import { upsertHealthCheck } from '../../db/queries/health-checks.js';
import { getPolicy, upsertPolicy } from '../../db/queries/policies.js';
import type { Application, AppMode, AppStatus } from '../../db/schema.js';
import { appAlreadyExists, appNotFound, OrchestryError, validationError } from '../core/errors.js';
import { initialReplicas, parseSpec, readSpec, toContainerTemplate, toHealthCheckRow, toPolicyRow } from '../core/spec.js';
import type { ReplicaHandle } from '../runtime/types.js';
import type { OpsDeps } from './deps.js';
import { reconcile, STOP_CONCURRENCY, type ReconcileResult, type RuntimeFailure } from './reconcile.js';
import { reconcileUntilConverged, waitForReplicas, type WaitResult } from './wait.js';

export type SpecContentType = 'yaml' | 'json';

/** The most replicas one app may ask for. */
export const MAX_REPLICAS = 1000;
/** How long a delete waits for its replicas to drain before it stops them regardless. */
export const DEFAULT_DELETE_TIMEOUT_MS = 60_000;

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

async function runtimeCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof OrchestryError) throw error;
    throw new OrchestryError('RUNTIME_ERROR', `${what} failed: ${error instanceof Error ? error.message : String(error)}`, null, { cause: error });
  }
}

/**
 * A reconcile that met runtime failures answers RUNTIME_ERROR. The desired state is saved
 * by then and the jobs keep retrying, which the message says.
 */
function throwOnRuntimeFailures(name: string, result: ReconcileResult, failures: RuntimeFailure[] = result.errors): void {
  if (failures.length === 0) return;
  const first = failures[0]!;
  throw new OrchestryError(
    'RUNTIME_ERROR',
    `The runtime failed while acting on app '${name}': ${first.message}` +
      (failures.length > 1 ? ` (and ${failures.length - 1} more)` : '') +
      '. The desired state is saved and Orchestry keeps retrying; see GET /api/v1/apps/' +
      `${name}/events`,
    {
      app_name: name,
      status: result.status,
      desired_replicas: result.desired,
      running_replicas: result.running,
      failures: failures.map((f) => ({ action: f.action, replica_index: f.replicaIndex, error: f.message, code: f.code })),
    },
  );
}

function checkReplicas(value: unknown, min: number, hint: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > MAX_REPLICAS) {
    throw validationError([
      { path: 'replicas', message: `must be a whole number from ${min} to ${MAX_REPLICAS}${hint}; got ${JSON.stringify(value) ?? 'nothing'}` },
    ]);
  }
  return value;
}

interface Clamp {
  replicas: number;
  /** Set when the request fell outside the policy's bounds and was moved inside them. */
  clamped: { min_replicas: number; max_replicas: number } | null;
}

async function clampForMode(tx: Database, app: Application, requested: number): Promise<Clamp> {
  if (app.mode !== 'auto') return { replicas: requested, clamped: null };
  const policy = await getPolicy(tx, app.name);
  if (!policy) return { replicas: requested, clamped: null };
  const replicas = Math.min(Math.max(requested, policy.minReplicas), policy.maxReplicas);
  return {
    replicas,
    clamped: replicas === requested ? null : { min_replicas: policy.minReplicas, max_replicas: policy.maxReplicas },
  };
}

function clampNote(requested: number, clamp: Clamp): string {
  if (!clamp.clamped) return '';
  return ` (requested ${requested}; the app scales automatically between min_replicas ${clamp.clamped.min_replicas} and max_replicas ${clamp.clamped.max_replicas}: change the policy or set mode manual to go outside them)`;
}

/** Dotted paths where two JSON documents differ (lists compare whole). */
function changedPaths(before: unknown, after: unknown, prefix = ''): string[] {
  const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isMap(before) && isMap(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => changedPaths(before[k], after[k], prefix ? `${prefix}.${k}` : k));
  }
  return isDeepStrictEqual(before, after) ? [] : [prefix || '(document)'];
}

const isUp = (status: AppStatus) => status === 'running' || status === 'starting' || status === 'updating';

// ---------------------------------------------------------------------------
// Register and update
// ---------------------------------------------------------------------------

export interface RegisterAnswer {
  message: string;
  app_name: string;
  status: 'registered';
  revision: number;
}

/** Registers a spec: the app, its scaling policy, its health check and a `registration` event, or nothing. */
export async function registerApp(deps: OpsDeps, raw: unknown, contentType?: SpecContentType): Promise<RegisterAnswer> {
  const { document, spec } = readSpec(raw, contentType);
  const name = spec.metadata.name;
  if (await getApp(deps.db.$primary, name)) throw appAlreadyExists(name);
  // Before the insert: a runtime that cannot host the app leaves nothing registered to clean up.
  await runtimeCall(`Preparing the runtime for app '${name}'`, () => deps.runtime.ensureApp(name));
  await deps.db.transaction(async (tx) => {
    await insertApp(tx, {
      name,
      spec: document,
      status: 'registered',
      mode: spec.scaling.mode,
      desiredReplicas: 0,
      replicas: 0,
      revision: 1,
    });
    await upsertPolicy(tx, name, toPolicyRow(spec));
    await upsertHealthCheck(tx, name, toHealthCheckRow(spec));
    await appendEvent(tx, {
      eventType: 'registration',
      eventCategory: 'application',
      appName: name,
      message: `Application ${name} registered (image ${spec.spec.image})`,
      details: { action: 'registered', revision: 1, image: spec.spec.image, mode: spec.scaling.mode },
      severity: 'info',
      source: 'api',
    });
  });
  deps.log.info('app registered', { app: name, image: spec.spec.image });
  return { message: `Application '${name}' registered`, app_name: name, status: 'registered', revision: 1 };
}

export interface UpdateSpecAnswer {
  message: string;
  app_name: string;
  revision: number;
  /** Dotted paths of the document that changed. */
  changes: string[];
  /** Whether running replicas are being replaced (the container template changed). */
  rollout: boolean;
  status: AppStatus;
  desired_replicas: number;
}

/**
 * Replaces the spec. A change to what runs (image, command, env, resources, ports, labels,
 * stop grace) makes a new revision, and the reconciler replaces running replicas one at a
 * time; a change to scaling, health checking or draining only takes effect, without
 * restarting anything. Policy and health check are replaced by the spec's.
 */
export async function updateSpec(deps: OpsDeps, name: string, raw: unknown, contentType?: SpecContentType): Promise<UpdateSpecAnswer> {
  const { document, spec } = readSpec(raw, contentType);
  if (spec.metadata.name !== name) {
    throw validationError([
      {
        path: 'metadata.name',
        message: `is '${spec.metadata.name}' but the request is for app '${name}'; an app cannot be renamed (register the new name and delete the old app)`,
      },
    ]);
  }
  const changed = await deps.db.transaction(async (tx) => {
    const app = await lockApp(tx, name);
    if (!app) throw appNotFound(name);
    const changes = changedPaths(app.spec, document);
    if (changes.length === 0) return { app, changes, rollout: false };
    const templateChanged = !isDeepStrictEqual(toContainerTemplate(parseSpec(app.spec)), toContainerTemplate(spec));
    const revision = templateChanged ? app.revision + 1 : app.revision;
    const desired = app.desiredReplicas ?? 0;
    const mode: AppMode = spec.scaling.mode;
    const policy = toPolicyRow(spec);
    // An app that runs stays within its new bounds when it scales automatically.
    const newDesired = mode === 'auto' && desired > 0 ? Math.min(Math.max(desired, policy.minReplicas), policy.maxReplicas) : desired;
    const updated = await updateApp(tx, name, {
      spec: document,
      revision,
      mode,
      desiredReplicas: newDesired,
      ...(newDesired !== desired ? { lastScaledAt: deps.clock.now() } : {}),
      ...(templateChanged && desired > 0 ? { status: 'updating' as const } : {}),
    });
    await upsertPolicy(tx, name, policy);
    await upsertHealthCheck(tx, name, toHealthCheckRow(spec));
    const rollout = templateChanged && desired > 0;
    await appendEvent(tx, {
      eventType: templateChanged ? 'deployment' : 'config',
      eventCategory: 'application',
      appName: name,
      message: templateChanged
        ? `Spec updated to revision ${revision}${rollout ? '; replacing replicas one at a time' : ''} (changed: ${changes.join(', ')})`
        : `Spec updated (changed: ${changes.join(', ')}); running replicas are kept`,
      details: { changes, from_revision: app.revision, to_revision: revision, rollout, image: spec.spec.image },
      severity: 'info',
      source: 'api',
    });
    if (newDesired !== desired) {
      await appendEvent(tx, {
        eventType: 'scaling',
        eventCategory: 'application',
        appName: name,
        message: `Desired replicas ${desired} → ${newDesired} to fit the new bounds [${policy.minReplicas}, ${policy.maxReplicas}]`,
        details: { from: desired, to: newDesired, reason: 'policy-bounds' },
        severity: 'info',
        source: 'api',
      });
    }
    return { app: updated, changes, rollout };
  });
  const result = await reconcile(deps, name);
  throwOnRuntimeFailures(name, result);
  const revision = changed.app.revision;
  return {
    message:
      changed.changes.length === 0
        ? `Spec of '${name}' unchanged`
        : changed.rollout
          ? `Spec of '${name}' updated to revision ${revision}; rolling update in progress`
          : `Spec of '${name}' updated (revision ${revision})`,
    app_name: name,
    revision,
    changes: changed.changes,
    rollout: changed.rollout,
    status: result.status ?? changed.app.status,
    desired_replicas: result.desired,
  };
}

// ---------------------------------------------------------------------------
// Start, stop, scale
// ---------------------------------------------------------------------------

export interface ReplicaChangeAnswer {
  message: string;
  app_name: string;
  previous_replicas: number;
  current_replicas: number;
  status: AppStatus;
  requested_replicas?: number | undefined;
  clamped?: { min_replicas: number; max_replicas: number } | undefined;
  /** With `wait`: whether the replicas were ready in time, and which were not. */
  ready?: boolean | undefined;
  not_ready?: WaitResult['notReady'] | undefined;
}

export interface StartOptions {
  replicas?: number | undefined;
  /** Wait (up to timeoutMs) for the replicas to run and pass their health checks. */
  wait?: boolean | undefined;
  timeoutMs?: number | undefined;
}

export const DEFAULT_WAIT_TIMEOUT_MS = 60_000;

/**
 * Starts an app: desired = `replicas`, else its current desired count when it has one, else
 * the spec's initial count; in auto mode within [min, max]. Starting an app already up
 * with the same count changes nothing and says so.
 */
export async function startApp(deps: OpsDeps, name: string, options: StartOptions = {}): Promise<ReplicaChangeAnswer> {
  const requested = options.replicas === undefined ? undefined : checkReplicas(options.replicas, 1, ' (to stop the app, use stop)');
  // Checked before ensureApp, so that a mistyped name creates nothing in the runtime.
  if (!(await getApp(deps.db.$primary, name))) throw appNotFound(name);
  await runtimeCall(`Preparing the runtime for app '${name}'`, () => deps.runtime.ensureApp(name));
  const decided = await deps.db.transaction(async (tx) => {
    const app = await lockApp(tx, name);
    if (!app) throw appNotFound(name);
    const previous = app.desiredReplicas ?? 0;
    const wanted = requested ?? (previous > 0 ? previous : initialReplicas(parseSpec(app.spec)));
    const clamp = await clampForMode(tx, app, wanted);
    const noChange = clamp.replicas === previous && isUp(app.status);
    if (!noChange) {
      await updateApp(tx, name, {
        desiredReplicas: clamp.replicas,
        status: 'starting',
        ...(clamp.replicas !== previous ? { lastScaledAt: deps.clock.now() } : {}),
      });
      await appendEvent(tx, {
        eventType: 'deployment',
        eventCategory: 'application',
        appName: name,
        message: `Starting ${name} with ${clamp.replicas} replica${clamp.replicas === 1 ? '' : 's'}${clampNote(wanted, clamp)}`,
        details: { action: 'start', from: previous, to: clamp.replicas, requested: requested ?? null, clamped: clamp.clamped },
        severity: 'info',
        source: 'api',
      });
    }
    return { previous, wanted, clamp, noChange };
  });
  const result = await reconcile(deps, name);
  throwOnRuntimeFailures(name, result);
  const { previous, wanted, clamp, noChange } = decided;
  const answer: ReplicaChangeAnswer = {
    message: noChange
      ? `Application '${name}' is already up with ${previous} replica${previous === 1 ? '' : 's'}`
      : `Application '${name}' starting with ${clamp.replicas} replica${clamp.replicas === 1 ? '' : 's'}${clampNote(wanted, clamp)}`,
    app_name: name,
    previous_replicas: previous,
    current_replicas: clamp.replicas,
    status: result.status ?? 'starting',
    ...(requested !== undefined ? { requested_replicas: requested } : {}),
    ...(clamp.clamped ? { clamped: clamp.clamped } : {}),
  };
  if (!options.wait) return answer;
  const waited = await waitForReplicas(deps, name, { timeoutMs: options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS, healthy: true });
  return { ...answer, ready: waited.ready, not_ready: waited.notReady, status: (await getApp(deps.db.$primary, name))?.status ?? answer.status };
}

export interface StopOptions {
  /** Stop at once instead of draining first. */
  force?: boolean | undefined;
  /** Wait up to this long for the drains and stops to finish (0: answer after the first pass). */
  timeoutMs?: number | undefined;
}

export interface StopAnswer {
  message: string;
  app_name: string;
  previous_replicas: number;
  current_replicas: 0;
  status: AppStatus;
  /** Whether every replica has stopped by the time of the answer. */
  stopped: boolean;
}

/** Stops an app: desired 0, replicas drained (unless force) and stopped. */
export async function stopApp(deps: OpsDeps, name: string, options: StopOptions = {}): Promise<StopAnswer> {
  const force = options.force === true;
  const previous = await deps.db.transaction(async (tx) => {
    const app = await lockApp(tx, name);
    if (!app) throw appNotFound(name);
    const desired = app.desiredReplicas ?? 0;
    if (desired === 0 && (app.status === 'stopped' || app.status === 'registered' || app.status === 'stopping')) return desired;
    await updateApp(tx, name, { desiredReplicas: 0, status: 'stopping' });
    await appendEvent(tx, {
      eventType: 'deployment',
      eventCategory: 'application',
      appName: name,
      message: `Stopping ${name}${force ? ' (force: no draining)' : ''}`,
      details: { action: 'stop', from: desired, to: 0, force },
      severity: 'info',
      source: 'api',
    });
    return desired;
  });
  const result = await reconcileUntilConverged(deps, name, { timeoutMs: options.timeoutMs ?? 0, force });
  throwOnRuntimeFailures(name, result, result.allErrors);
  if (!result.exists) throw appNotFound(name);
  const stopped = result.converged;
  return {
    message: stopped
      ? `Application '${name}' stopped`
      : `Application '${name}' stopping; replicas drain before they stop${result.nextCheckAt ? ` (next check at ${result.nextCheckAt.toISOString()})` : ''}`,
    app_name: name,
    previous_replicas: previous,
    current_replicas: 0,
    status: result.status ?? 'stopping',
    stopped,
  };
}

/**
 * Sets the desired count. In auto mode the count is kept within the policy's bounds (and
 * the answer says so) and the scaler's cooldown starts, so it does not undo the change at once.
 */
export async function scaleApp(deps: OpsDeps, name: string, replicas: unknown): Promise<ReplicaChangeAnswer> {
  const requested = checkReplicas(replicas, 0, '');
  const decided = await deps.db.transaction(async (tx) => {
    const app = await lockApp(tx, name);
    if (!app) throw appNotFound(name);
    const previous = app.desiredReplicas ?? 0;
    const clamp = await clampForMode(tx, app, requested);
    if (clamp.replicas !== previous) {
      const status: AppStatus = clamp.replicas === 0 ? 'stopping' : isUp(app.status) ? app.status : 'starting';
      await updateApp(tx, name, { desiredReplicas: clamp.replicas, lastScaledAt: deps.clock.now(), status });
      await appendEvent(tx, {
        eventType: 'scaling',
        eventCategory: 'application',
        appName: name,
        message: `Scaling ${name} from ${previous} to ${clamp.replicas} replicas${clampNote(requested, clamp)}`,
        details: { from: previous, to: clamp.replicas, reason: 'manual', requested, clamped: clamp.clamped, mode: app.mode },
        severity: 'info',
        source: 'api',
      });
    }
    return { previous, clamp };
  });
  const result = await reconcile(deps, name);
  throwOnRuntimeFailures(name, result);
  const { previous, clamp } = decided;
  return {
    message:
      clamp.replicas === previous
        ? `Application '${name}' already wants ${previous} replicas${clampNote(requested, clamp)}`
        : `Application '${name}' scaling from ${previous} to ${clamp.replicas} replicas${clampNote(requested, clamp)}`,
    app_name: name,
    previous_replicas: previous,
    current_replicas: clamp.replicas,
    status: result.status ?? 'starting',
    requested_replicas: requested,
    ...(clamp.clamped ? { clamped: clamp.clamped } : {}),
  };
}

// ---------------------------------------------------------------------------
// Delete
// ---------------------------------------------------------------------------

export interface DeleteOptions {
  force?: boolean | undefined;
  /** How long to let replicas drain before stopping them regardless. */
  timeoutMs?: number | undefined;
}

export interface DeleteAnswer {
  message: string;
  app_name: string;
  deleted: true;
}

/**
 * Stops every replica (draining first unless force, for at most the timeout), removes what
 * the runtime keeps for the app, then the app's row and, by cascade, everything of it.
 * A runtime failure keeps the app (status stopping) so that a retried delete finishes it:
 * a row removed while its containers live would leave them running with nobody to stop them.
 */
export async function deleteApp(deps: OpsDeps, name: string, options: DeleteOptions = {}): Promise<DeleteAnswer> {
  const force = options.force === true;
  const existed = await deps.db.transaction(async (tx) => {
    const app = await lockApp(tx, name);
    if (!app) return false;
    if ((app.desiredReplicas ?? 0) !== 0 || app.status !== 'stopping') {
      await updateApp(tx, name, { desiredReplicas: 0, status: 'stopping' });
      await appendEvent(tx, {
        eventType: 'deployment',
        eventCategory: 'application',
        appName: name,
        message: `Deleting ${name}: stopping every replica${force ? ' (force: no draining)' : ''}`,
        details: { action: 'delete', from: app.desiredReplicas ?? 0, to: 0, force },
        severity: 'info',
        source: 'api',
      });
    }
    return true;
  });
  if (!existed) throw appNotFound(name);

  let result = await reconcileUntilConverged(deps, name, { timeoutMs: options.timeoutMs ?? DEFAULT_DELETE_TIMEOUT_MS, force });
  if (result.exists && !result.converged) {
    deps.log.warn('delete: drains did not finish in time; stopping the rest now', { app: name });
    const forced = await reconcile(deps, name, undefined, { force: true });
    result = { ...forced, timedOut: result.timedOut, allErrors: [...result.allErrors, ...forced.errors] };
  }
  // Whatever the runtime still has for the app (a start in flight elsewhere, a stop that
  // failed) goes too.
  const leftovers: ReplicaHandle[] = await runtimeCall(`Listing the replicas of '${name}'`, () => deps.runtime.list(name));
  const stopping = pLimit(STOP_CONCURRENCY);
  await Promise.all(
    leftovers.map((handle) =>
      stopping(() => runtimeCall(`Stopping ${handle.name}`, () => deps.runtime.stop({ id: handle.id, app: name }, { graceSeconds: 0 }))),
    ),
  );
  await runtimeCall(`Removing the runtime's resources of '${name}'`, () => deps.runtime.removeApp(name));
  await deps.db.transaction(async (tx) => {
    if (!(await lockApp(tx, name))) return;
    await deleteAppRow(tx, name);
    // After the delete: the event outlives the app, so it names it in its details.
    await appendEvent(tx, {
      eventType: 'registration',
      eventCategory: 'application',
      appName: null,
      message: `Application ${name} deleted`,
      details: { action: 'deleted', app_name: name, force, leftover_containers_stopped: leftovers.length },
      severity: 'info',
      source: 'api',
    });
  });
  deps.log.info('app deleted', { app: name, force });
  return { message: `Application '${name}' deleted`, app_name: name, deleted: true };
}
