/**
 * PUT /apps/{name}/scaling: a partial policy (and mode) merged over the stored one, validated
 * with the spec's rules, stored with a `config` event listing each field's old and new value,
 * under the app's row lock, and written into the stored spec document too (GET spec shows it). In auto mode a running app's desired count moves inside new bounds.
 */
import { lockApp, updateApp } from '../../db/queries/applications.js';
import { appendEvent } from '../../db/queries/events.js';
import { getPolicy, upsertPolicy } from '../../db/queries/policies.js';
import { policyToApi } from '../../db/queries/serialize.js';
import type { AppMode } from '../../db/schema.js';
import { appNotFound } from '../core/errors.js';
import { validatePolicyPatch, withPolicy, type SpecDocument } from '../core/spec.js';
import { opsDeps, type Deps } from '../deps.js';
import { reconcile } from '../ops/reconcile.js';

export interface PolicyChangeAnswer {
  message: string;
  app_name: string;
  mode: AppMode;
  policy: ReturnType<typeof policyToApi>;
  changes: Record<string, { old: number | string; new: number | string }>;
  desired_replicas: number;
  /** Runtime failures while moving replicas into new bounds (the policy is saved regardless). */
  runtime_errors: string[];
}

export async function updateScalingPolicy(deps: Deps, name: string, patch: unknown): Promise<PolicyChangeAnswer> {
  const saved = await deps.db.transaction(async (tx) => {
    const app = await lockApp(tx, name);
    if (!app) throw appNotFound(name);
    const current = await getPolicy(tx, name);
    const update = validatePolicyPatch(patch, { ...current, mode: app.mode });
    const changes = update.changes;
    const desired = app.desiredReplicas ?? 0;
    if (Object.keys(changes).length === 0) {
      const policy = current ?? (await upsertPolicy(tx, name, update.policy));
      return { mode: update.mode, policy, changes, desired, moved: false };
    }
    const policy = await upsertPolicy(tx, name, update.policy);
    const { minReplicas: min, maxReplicas: max } = update.policy;
    const newDesired = update.mode === 'auto' && desired > 0 ? Math.min(Math.max(desired, min), max) : desired;
    await updateApp(tx, name, {
      mode: update.mode,
      spec: withPolicy(app.spec as SpecDocument, update.mode, update.policy),
      ...(newDesired !== desired ? { desiredReplicas: newDesired, lastScaledAt: deps.now() } : {}),
    });
    const list = Object.entries(changes).map(([field, change]) => `${field} ${change.old} → ${change.new}`);
    await appendEvent(tx, {
      eventType: 'config',
      eventCategory: 'application',
      appName: name,
      message: `Scaling policy of ${name} changed: ${list.join(', ')}`,
      details: { changes },
      severity: 'info',
      source: 'api',
    });
    if (newDesired !== desired) {
      await appendEvent(tx, {
        eventType: 'scaling',
        eventCategory: 'application',
        appName: name,
        message: `Desired replicas ${desired} → ${newDesired} to fit the new bounds [${min}, ${max}]`,
        details: { from: desired, to: newDesired, reason: 'policy-bounds' },
        severity: 'info',
        source: 'api',
      });
    }
    return { mode: update.mode, policy, changes, desired: newDesired, moved: newDesired !== desired };
  });
  const runtimeErrors = saved.moved ? (await reconcile(opsDeps(deps), name)).errors.map((e) => e.message) : [];
  const count = Object.keys(saved.changes).length;
  return {
    message: count === 0 ? `Scaling policy of '${name}' unchanged` : `Scaling policy of '${name}' updated (${count} field${count === 1 ? '' : 's'})`,
    app_name: name,
    mode: saved.mode,
    policy: policyToApi(saved.policy),
    changes: saved.changes,
    desired_replicas: saved.desired,
    runtime_errors: runtimeErrors,
  };
}
