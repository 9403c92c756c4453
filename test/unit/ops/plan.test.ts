/**
 * The reconciler's planner against an idealized runtime, from arbitrary starting states: it
 * always converges in a bounded number of steps, never claims a slot twice, and never takes
 * more than one healthy replica out of service for a rolling update.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INSTANCE_STATUSES, HEALTH_STATUSES, type Instance } from '../../../db/schema.js';
import { DEFAULT_RECONCILE_TIMING } from '../../../functions/ops/deps.js';
import { appStatusFor, planStep, type PlanInput, type StepAction } from '../../../functions/ops/plan.js';

const T0 = Date.parse('2030-01-01T00:00:00Z');

function row(index: number, fields: Partial<Instance>): Instance {
  const name = `orchestry-app-r${index}-v${fields.revision ?? 1}`;
  return {
    id: index + 1,
    appName: 'app',
    containerId: `id-${index}-${Math.random().toString(36).slice(2)}`,
    containerName: name,
    replicaIndex: index,
    ip: '127.0.0.1',
    port: 40_000 + index,
    status: 'running',
    healthStatus: 'healthy',
    createdAt: new Date(T0),
    updatedAt: new Date(T0),
    startedAt: new Date(T0),
    lastHealthCheck: null,
    failureCount: 0,
    consecutiveFailures: 0,
    lastFailureAt: null,
    cpuPercent: 0,
    memoryPercent: 0,
    memoryUsageBytes: 0,
    revision: 1,
    consecutiveSuccesses: 0,
    ...fields,
  };
}

/** Applies an action the way the reconciler and a well-behaved runtime would. */
function apply(rows: Instance[], action: StepAction, revision: number, now: Date): Instance[] {
  const next = rows.filter((r) => r.replicaIndex !== (action.kind === 'start' ? action.index : action.row.replicaIndex));
  switch (action.kind) {
    case 'start': {
      const started = row(action.index, { revision, status: 'running', healthStatus: 'starting', updatedAt: now });
      return [...next, action.row ? { ...started, id: action.row.id } : started];
    }
    case 'drain':
      return [...next, { ...action.row, status: 'draining', updatedAt: now }];
    case 'undrain':
      return [...next, { ...action.row, status: 'running', updatedAt: now }];
    case 'stop':
      return [...next, { ...action.row, status: 'stopped', healthStatus: 'unknown', updatedAt: now }];
  }
}

const arbitraryRow = (revision: number) =>
  fc.record({
    status: fc.constantFrom(...INSTANCE_STATUSES),
    healthStatus: fc.constantFrom(...HEALTH_STATUSES),
    revision: fc.integer({ min: 1, max: revision }),
    pending: fc.boolean(),
    ageSeconds: fc.integer({ min: 0, max: 120 }),
  });

const arbitraryState = fc
  .record({ desired: fc.integer({ min: 0, max: 6 }), revision: fc.integer({ min: 1, max: 3 }), force: fc.boolean(), drainSeconds: fc.constantFrom(0, 10) })
  .chain((s) =>
    fc.record({
      ...Object.fromEntries(Object.entries(s).map(([k, v]) => [k, fc.constant(v)])),
      slots: fc.array(fc.option(arbitraryRow(s.revision), { nil: null }), { minLength: 0, maxLength: 8 }),
    }) as fc.Arbitrary<typeof s & { slots: Array<{ status: Instance['status']; healthStatus: Instance['healthStatus']; revision: number; pending: boolean; ageSeconds: number } | null> }>,
  );

describe('planStep', () => {
  it('converges from any state, one claim per slot', () => {
    fc.assert(
      fc.property(arbitraryState, (state) => {
        let now = new Date(T0);
        let rows = state.slots.flatMap((slot, index) => {
          if (!slot) return [];
          const r = row(index, {
            status: slot.status,
            healthStatus: slot.healthStatus,
            revision: slot.revision,
            updatedAt: new Date(T0 - slot.ageSeconds * 1000),
          });
          return [slot.pending && slot.status === 'starting' ? { ...r, containerId: r.containerName } : r];
        });
        const input = (): PlanInput => ({
          desired: state.desired,
          revision: state.revision,
          rows,
          healthChecksEnabled: true,
          drainSeconds: state.drainSeconds,
          stopGraceSeconds: 5,
          force: state.force,
          now,
          timing: DEFAULT_RECONCILE_TIMING,
        });
        for (let step = 0; step < 200; step++) {
          const plan = planStep(input());
          if (plan.action) {
            const action = plan.action;
            if (action.kind === 'start') {
              const holder = rows.find((r) => r.replicaIndex === action.index);
              // A slot is only claimed when it has no live replica (or its own failed or stale start).
              expect(holder === undefined || ['stopped', 'error', 'starting'].includes(holder.status)).toBe(true);
            }
            rows = apply(rows, action, state.revision, now);
            continue;
          }
          if (plan.converged) {
            const live = rows.filter((r) => r.status !== 'stopped');
            expect(live.map((r) => r.replicaIndex).sort((a, b) => a - b)).toEqual(Array.from({ length: state.desired }, (_, i) => i));
            expect(live.every((r) => r.status === 'running' && r.revision === state.revision)).toBe(true);
            expect(appStatusFor({ current: 'starting', desired: state.desired, revision: state.revision, rows })).toBe(
              state.desired === 0 ? 'stopped' : 'running',
            );
            return;
          }
          // Time passes: the prober finds new replicas healthy, provisioning tasks come up.
          expect(plan.nextCheckAt).not.toBeNull();
          now = new Date(Math.max(now.getTime() + 1000, plan.nextCheckAt!.getTime()));
          rows = rows.map((r) =>
            r.status === 'running' && r.healthStatus !== 'healthy'
              ? { ...r, healthStatus: 'healthy' }
              : r.status === 'starting' && r.containerId !== r.containerName
                ? { ...r, status: 'running', healthStatus: 'healthy', updatedAt: now }
                : r,
          );
        }
        throw new Error('did not converge in 200 steps');
      }),
      { numRuns: 500 },
    );
  });

  it('replaces old revisions one at a time, each after the others are healthy', () => {
    let now = new Date(T0);
    let rows = [0, 1, 2, 3].map((i) => row(i, { revision: 1 }));
    let outOfService = 0;
    for (let step = 0; step < 100; step++) {
      const plan = planStep({
        desired: 4,
        revision: 2,
        rows,
        healthChecksEnabled: true,
        drainSeconds: 10,
        stopGraceSeconds: 5,
        force: false,
        now,
        timing: DEFAULT_RECONCILE_TIMING,
      });
      if (plan.action) {
        rows = apply(rows, plan.action, 2, now);
      } else if (plan.converged) {
        break;
      } else {
        now = new Date(plan.nextCheckAt!.getTime());
        rows = rows.map((r) => (r.status === 'running' ? { ...r, healthStatus: 'healthy' } : r));
      }
      outOfService = Math.max(outOfService, rows.filter((r) => !(r.status === 'running' && r.healthStatus === 'healthy')).length);
    }
    expect(rows.map((r) => [r.replicaIndex, r.revision, r.status]).sort()).toEqual([0, 1, 2, 3].map((i) => [i, 2, 'running']));
    expect(outOfService).toBe(1);
  });
});
