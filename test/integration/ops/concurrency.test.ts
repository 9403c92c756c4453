/**
 * Two of everything at once on real Postgres (node-postgres: a pool of real connections, so
 * the two really interleave): reconcilers over one handle and over two, scales, registers
 * and deletes. The app row lock and UNIQUE(app_name, replica_index) must leave exactly the
 * desired replicas, each slot claimed and started once.
 */
import { eq } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { createDb, type Db } from '../../../db/client.js';
import { applications } from '../../../db/schema.js';
import { OrchestryError } from '../../../functions/core/errors.js';
import { deleteApp, registerApp, scaleApp, startApp, stopApp } from '../../../functions/ops/apps.js';
import { reconcile } from '../../../functions/ops/reconcile.js';
import { replicaName } from '../../../functions/runtime/names.js';
import { describeEachTarget } from '../../support/db.js';
import { FakeRuntime } from '../../support/fake-runtime.js';
import { appDoc, depsWith, eventsOf, liveSlots, ManualClock, slotsOf } from './helpers.js';

async function want(db: Db, app: string, replicas: number): Promise<void> {
  await db.$primary.update(applications).set({ desiredReplicas: replicas, status: 'starting' }).where(eq(applications.name, app));
}

/** Exactly `count` running replicas in slots 0..count-1, one row per slot. */
async function expectReplicas(db: Db, runtime: FakeRuntime, app: string, count: number): Promise<void> {
  const rows = await liveSlots(db, app);
  expect(rows.map((r) => [r.replicaIndex, r.status])).toEqual(Array.from({ length: count }, (_, i) => [i, 'running']));
  const indexes = (await slotsOf(db, app)).map((r) => r.replicaIndex);
  expect(new Set(indexes).size).toBe(indexes.length);
  expect(runtime.runningOf(app).map((c) => c.id).sort()).toEqual(rows.map((r) => r.containerId).sort());
}

describeEachTarget(
  'ops concurrency',
  (t) => {
    const ROUNDS = 3;

    it('two reconcilers on one handle start each replica once', async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const app = `race-one-${round}`;
        const clock = new ManualClock();
        const runtime = new FakeRuntime({ now: () => clock.now() });
        const deps = depsWith(t.db, runtime, clock);
        await registerApp(deps, appDoc(app, { drainSeconds: 0 }));
        await want(t.db, app, 5);
        await Promise.all([reconcile(deps, app), reconcile(deps, app)]);
        await expectReplicas(t.db, runtime, app, 5);
        expect(runtime.calls.start).toBe(5);
        for (let i = 0; i < 5; i++) expect(runtime.creationsOf(replicaName(app, i, 1))).toBe(1);

        // And in: each surplus replica stopped once.
        await want(t.db, app, 2);
        await Promise.all([reconcile(deps, app), reconcile(deps, app)]);
        await expectReplicas(t.db, runtime, app, 2);
        expect(runtime.stops.map((s) => s.name).sort()).toEqual([2, 3, 4].map((i) => replicaName(app, i, 1)));
      }
    });

    it('two reconcilers on two handles (two processes) start each replica once', async () => {
      const other = await createDb(t.config!);
      try {
        for (let round = 0; round < ROUNDS; round++) {
          const app = `race-two-${round}`;
          const clock = new ManualClock();
          const runtime = new FakeRuntime({ now: () => clock.now() });
          const first = depsWith(t.db, runtime, clock);
          const second = depsWith(other.db, runtime, clock);
          await registerApp(first, appDoc(app, { drainSeconds: 0 }));
          await want(t.db, app, 6);
          const [a, b] = await Promise.all([reconcile(first, app), reconcile(second, app)]);
          expect(a.errors).toEqual([]);
          expect(b.errors).toEqual([]);
          await expectReplicas(t.db, runtime, app, 6);
          expect(runtime.calls.start).toBe(6);
          expect(new Set(runtime.created).size).toBe(6);
          // Every transition wrote its event once: one intent and one outcome per replica.
          const starts = (await eventsOf(t.db, app)).filter((e) => e.source === 'reconciler' && e.eventType === 'deployment' && e.containerId);
          expect(starts).toHaveLength(12);
        }
      } finally {
        await other.close();
      }
    });

    it('two scales at once end at one of the two counts, with no slot claimed twice', async () => {
      const other = await createDb(t.config!);
      try {
        const clock = new ManualClock();
        const runtime = new FakeRuntime({ now: () => clock.now() });
        const first = depsWith(t.db, runtime, clock);
        const second = depsWith(other.db, runtime, clock);
        await registerApp(first, appDoc('race-scale', { drainSeconds: 0 }));
        await startApp(first, 'race-scale', { replicas: 4 });
        const [a, b] = await Promise.all([scaleApp(first, 'race-scale', 2), scaleApp(second, 'race-scale', 6)]);
        const [app] = await t.db.$primary.select().from(applications).where(eq(applications.name, 'race-scale'));
        const desired = app!.desiredReplicas!;
        expect([2, 6]).toContain(desired);
        // The second to take the lock saw the first's count as its previous one.
        expect([a.previous_replicas, b.previous_replicas].sort()).toEqual(desired === 6 ? [2, 4] : [4, 6]);
        await expectReplicas(t.db, runtime, 'race-scale', desired);
        expect((await reconcile(first, 'race-scale')).converged).toBe(true);
      } finally {
        await other.close();
      }
    });

    it('two registrations of one name: one succeeds, the other is APP_ALREADY_EXISTS', async () => {
      const other = await createDb(t.config!);
      try {
        const clock = new ManualClock();
        const runtime = new FakeRuntime();
        const outcomes = await Promise.allSettled([
          registerApp(depsWith(t.db, runtime, clock), appDoc('race-reg')),
          registerApp(depsWith(other.db, runtime, clock), appDoc('race-reg')),
        ]);
        expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
        const rejected = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
        expect(rejected!.reason).toBeInstanceOf(OrchestryError);
        expect((rejected!.reason as OrchestryError).code).toBe('APP_ALREADY_EXISTS');
        expect((await eventsOf(t.db, 'race-reg')).filter((e) => e.eventType === 'registration')).toHaveLength(1);
      } finally {
        await other.close();
      }
    });

    it('two stops and then two deletes at once both succeed', async () => {
      const other = await createDb(t.config!);
      try {
        const clock = new ManualClock();
        const runtime = new FakeRuntime({ now: () => clock.now() });
        const first = depsWith(t.db, runtime, clock);
        const second = depsWith(other.db, runtime, clock);
        await registerApp(first, appDoc('race-del', { drainSeconds: 0 }));
        await startApp(first, 'race-del', { replicas: 3 });
        // With a timeout each waits for the stops the other is making, too.
        const stops = await Promise.all([
          stopApp(first, 'race-del', { timeoutMs: 5000 }),
          stopApp(second, 'race-del', { timeoutMs: 5000 }),
        ]);
        expect(stops.map((s) => s.stopped)).toEqual([true, true]);
        expect(runtime.stops).toHaveLength(3);

        await startApp(first, 'race-del', { replicas: 3 });
        const deletes = await Promise.all([deleteApp(first, 'race-del'), deleteApp(second, 'race-del')]);
        expect(deletes.map((d) => d.deleted)).toEqual([true, true]);
        expect(runtime.containersOf('race-del')).toHaveLength(0);
        expect(await t.db.$primary.select().from(applications).where(eq(applications.name, 'race-del'))).toHaveLength(0);
      } finally {
        await other.close();
      }
    });
  },
  { targets: ['pg'] },
);
