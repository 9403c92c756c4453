/**
 * The reconciler and the app operations over a fake runtime, on PGlite and on Postgres:
 * scaling out and in (drains timed by a clock the test moves), stops, rolling updates,
 * replacement of vanished and unhealthy replicas, adoption, orphans, failed starts and
 * processes that die between a step's intent and its runtime call.
 */
import { eq, sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { queryRows } from '../../../db/client.js';
import { applications, healthChecks, instances, scalingPolicies } from '../../../db/schema.js';
import { OrchestryError } from '../../../functions/core/errors.js';
import {
  deleteApp,
  registerApp,
  scaleApp,
  startApp,
  stopApp,
  updateSpec,
} from '../../../functions/ops/apps.js';
import { reconcileAll } from '../../../functions/ops/reconcile-all.js';
import { claimStep, performStep, reconcile } from '../../../functions/ops/reconcile.js';
import { readiness, waitForReplicas } from '../../../functions/ops/wait.js';
import { replicaName } from '../../../functions/runtime/names.js';
import { describeEachTarget } from '../../support/db.js';
import { appDoc, eventsOf, fakeDeps, liveSlots, setHealth, slotsOf } from './helpers.js';

const codeOf = async (promise: Promise<unknown>): Promise<string> => {
  try {
    await promise;
  } catch (error) {
    if (error instanceof OrchestryError) return error.code;
    throw error;
  }
  throw new Error('expected the call to fail');
};

describeEachTarget(
  'ops with a fake runtime',
  (t) => {
    it('registers an app with its policy, health check and event, once', async () => {
      const { deps, runtime } = fakeDeps(t.db);
      const answer = await registerApp(deps, appDoc('reg'));
      expect(answer).toEqual({ message: "Application 'reg' registered", app_name: 'reg', status: 'registered', revision: 1 });
      const [app] = await t.db.$primary.select().from(applications).where(eq(applications.name, 'reg'));
      expect(app).toMatchObject({ status: 'registered', mode: 'manual', desiredReplicas: 0, revision: 1, spec: appDoc('reg') });
      expect(await t.db.$primary.select().from(scalingPolicies).where(eq(scalingPolicies.appName, 'reg'))).toHaveLength(1);
      expect(await t.db.$primary.select().from(healthChecks).where(eq(healthChecks.appName, 'reg'))).toHaveLength(1);
      expect((await eventsOf(t.db, 'reg')).map((e) => [e.eventType, e.details])).toEqual([
        ['registration', expect.objectContaining({ action: 'registered', revision: 1 })],
      ]);
      expect(runtime.apps.has('reg')).toBe(true);

      expect(await codeOf(registerApp(deps, appDoc('reg')))).toBe('APP_ALREADY_EXISTS');
      expect(await codeOf(registerApp(deps, { ...appDoc('reg2'), kind: 'Nope' }))).toBe('INVALID_SPEC');
      expect(await t.db.$primary.select().from(applications).where(eq(applications.name, 'reg2'))).toHaveLength(0);
    });

    it('starts 3 replicas in slots 0..2 and records each transition with its event', async () => {
      const { deps, runtime } = fakeDeps(t.db);
      await registerApp(deps, appDoc('three'));
      const answer = await startApp(deps, 'three', { replicas: 3 });
      expect(answer).toMatchObject({ app_name: 'three', previous_replicas: 0, current_replicas: 3, status: 'running' });

      const rows = await slotsOf(t.db, 'three');
      expect(rows.map((r) => [r.replicaIndex, r.status, r.revision, r.containerName])).toEqual([
        [0, 'running', 1, replicaName('three', 0, 1)],
        [1, 'running', 1, replicaName('three', 1, 1)],
        [2, 'running', 1, replicaName('three', 2, 1)],
      ]);
      const containers = runtime.containersOf('three');
      expect(rows.map((r) => [r.containerId, r.ip, r.port])).toEqual(containers.map((c) => [c.id, c.ip, c.port]));
      expect(rows.every((r) => r.healthStatus === 'unknown' && r.startedAt !== null)).toBe(true);
      expect([...runtime.routing.get('three')!].sort()).toEqual(containers.map((c) => c.id));

      const [app] = await t.db.$primary.select().from(applications).where(eq(applications.name, 'three'));
      expect(app).toMatchObject({ status: 'running', replicas: 3, desiredReplicas: 3 });
      const replicaEvents = (await eventsOf(t.db, 'three')).filter((e) => e.source === 'reconciler' && e.containerId !== null);
      // Per replica: the intent (starting) and the outcome (running), both with the container.
      expect(replicaEvents.map((e) => e.message)).toEqual([
        'Starting replica 0 (revision 1)',
        expect.stringMatching(/^Replica 0 running at 127\.0\.0\.1:\d+ \(revision 1\)$/),
        'Starting replica 1 (revision 1)',
        expect.stringMatching(/^Replica 1 running/),
        'Starting replica 2 (revision 1)',
        expect.stringMatching(/^Replica 2 running/),
      ]);

      // Starting what already runs with the same count is an answer, not a change.
      const before = (await eventsOf(t.db, 'three')).length;
      const again = await startApp(deps, 'three', { replicas: 3 });
      expect(again.message).toBe("Application 'three' is already up with 3 replicas");
      expect((await eventsOf(t.db, 'three')).length).toBe(before);
      expect(runtime.calls.start).toBe(3);
    });

    it('scales to 5, then to 1 draining the highest indexes and stopping them once the drain is over', async () => {
      const { deps, runtime, clock } = fakeDeps(t.db);
      await registerApp(deps, appDoc('scaler', { drainSeconds: 10 }));
      await startApp(deps, 'scaler', { replicas: 3 });
      const out = await scaleApp(deps, 'scaler', 5);
      expect(out).toMatchObject({ previous_replicas: 3, current_replicas: 5, status: 'running' });
      expect((await liveSlots(t.db, 'scaler')).map((r) => [r.replicaIndex, r.status])).toEqual([0, 1, 2, 3, 4].map((i) => [i, 'running']));

      const routedBefore = runtime.calls.removeFromRouting;
      const inAnswer = await scaleApp(deps, 'scaler', 1);
      expect(inAnswer).toMatchObject({ previous_replicas: 5, current_replicas: 1 });
      expect((await liveSlots(t.db, 'scaler')).map((r) => [r.replicaIndex, r.status])).toEqual([
        [0, 'running'],
        [1, 'draining'],
        [2, 'draining'],
        [3, 'draining'],
        [4, 'draining'],
      ]);
      const drainOrder = (await eventsOf(t.db, 'scaler'))
        .filter((e) => e.message.startsWith('Draining'))
        .map((e) => (e.details as { replica_index: number }).replica_index);
      expect(drainOrder).toEqual([4, 3, 2, 1]);
      expect(runtime.calls.removeFromRouting - routedBefore).toBe(4);
      expect(runtime.runningOf('scaler')).toHaveLength(5);

      clock.advance(9);
      const early = await reconcile(deps, 'scaler');
      expect(early.converged).toBe(false);
      expect(early.nextCheckAt!.getTime() - clock.now().getTime()).toBe(1000);
      expect(runtime.runningOf('scaler')).toHaveLength(5);

      clock.advance(1);
      const done = await reconcile(deps, 'scaler');
      expect(done).toMatchObject({ converged: true, status: 'running', running: 1, desired: 1, errors: [] });
      expect(runtime.runningOf('scaler').map((c) => c.replicaIndex)).toEqual([0]);
      expect(runtime.stops.slice(-4).map((s) => s.graceSeconds)).toEqual([5, 5, 5, 5]);
      expect((await slotsOf(t.db, 'scaler')).map((r) => r.status)).toEqual(['running', 'stopped', 'stopped', 'stopped', 'stopped']);

      // A stopped slot is reused in place when it is wanted again.
      const ids = (await slotsOf(t.db, 'scaler')).map((r) => r.id);
      await scaleApp(deps, 'scaler', 3);
      const reused = await slotsOf(t.db, 'scaler');
      expect(reused.map((r) => r.id)).toEqual(ids);
      expect(reused.map((r) => r.status)).toEqual(['running', 'running', 'running', 'stopped', 'stopped']);
    });

    it('routes a draining replica again when it is wanted back before its drain ends', async () => {
      const { deps, runtime, clock } = fakeDeps(t.db);
      await registerApp(deps, appDoc('undrain', { drainSeconds: 30 }));
      await startApp(deps, 'undrain', { replicas: 3 });
      await scaleApp(deps, 'undrain', 1);
      clock.advance(5);
      await scaleApp(deps, 'undrain', 3);
      expect((await liveSlots(t.db, 'undrain')).map((r) => r.status)).toEqual(['running', 'running', 'running']);
      expect(runtime.created).toHaveLength(3);
      expect(runtime.routing.get('undrain')!.size).toBe(3);
    });

    it('stops with draining, and with force at once', async () => {
      const { deps, runtime, clock } = fakeDeps(t.db);
      await registerApp(deps, appDoc('stopper', { drainSeconds: 10 }));
      await startApp(deps, 'stopper', { replicas: 2 });
      const stopping = await stopApp(deps, 'stopper');
      expect(stopping).toMatchObject({ previous_replicas: 2, current_replicas: 0, status: 'stopping', stopped: false });
      expect((await liveSlots(t.db, 'stopper')).map((r) => r.status)).toEqual(['draining', 'draining']);
      clock.advance(10);
      expect(await reconcile(deps, 'stopper')).toMatchObject({ converged: true, status: 'stopped', running: 0 });
      expect(runtime.containersOf('stopper')).toHaveLength(0);
      const [stopped] = await t.db.$primary.select().from(applications).where(eq(applications.name, 'stopper'));
      expect(stopped).toMatchObject({ status: 'stopped', replicas: 0, desiredReplicas: 0 });

      // A stopped app starts with the spec's initial count (its minimum) unless told otherwise.
      expect(await startApp(deps, 'stopper')).toMatchObject({ previous_replicas: 0, current_replicas: 1 });
      await scaleApp(deps, 'stopper', 2);
      expect(runtime.runningOf('stopper')).toHaveLength(2);
      const drainEventsBefore = (await eventsOf(t.db, 'stopper')).filter((e) => e.message.startsWith('Draining')).length;
      const forced = await stopApp(deps, 'stopper', { force: true });
      expect(forced).toMatchObject({ status: 'stopped', stopped: true });
      expect(runtime.containersOf('stopper')).toHaveLength(0);
      expect((await eventsOf(t.db, 'stopper')).filter((e) => e.message.startsWith('Draining')).length).toBe(drainEventsBefore);
    });

    it('rolls a new revision out one replica at a time, each only after the others are healthy', async () => {
      const { deps, runtime, clock } = fakeDeps(t.db);
      await registerApp(deps, appDoc('roll', { drainSeconds: 5, healthChecks: true }));
      await startApp(deps, 'roll', { replicas: 3 });
      await setHealth(t.db, 'roll', 'healthy');

      const update = await updateSpec(deps, 'roll', appDoc('roll', { drainSeconds: 5, healthChecks: true, env: { COLOR: 'blue' } }));
      expect(update).toMatchObject({ revision: 2, rollout: true, status: 'updating', changes: ['spec.env'] });

      const seen: string[] = [];
      for (let round = 0; round < 20; round++) {
        const rows = await liveSlots(t.db, 'roll');
        seen.push(rows.map((r) => `${r.replicaIndex}:${r.status}:v${r.revision}`).join(' '));
        // Never more than one replica out of service.
        expect(rows.filter((r) => !(r.status === 'running' && r.healthStatus === 'healthy')).length).toBeLessThanOrEqual(1);
        if (rows.every((r) => r.revision === 2 && r.healthStatus === 'healthy')) break;
        clock.advance(5);
        await reconcile(deps, 'roll');
        await setHealth(t.db, 'roll', 'healthy');
      }
      expect(seen[0]).toBe('0:draining:v1 1:running:v1 2:running:v1');
      const final = await reconcile(deps, 'roll');
      expect(final).toMatchObject({ converged: true, status: 'running', running: 3 });
      expect(runtime.runningOf('roll').map((c) => c.name)).toEqual([0, 1, 2].map((i) => replicaName('roll', i, 2)));
      expect(runtime.runningOf('roll').every((c) => c.template?.env.COLOR === 'blue')).toBe(true);
      // Replaced in index order: each v2 replica made before the next v1 one was drained.
      expect(runtime.created.slice(3)).toEqual([0, 1, 2].map((i) => replicaName('roll', i, 2)));

      // A change that does not touch what runs keeps the replicas.
      const tweak = await updateSpec(deps, 'roll', { ...appDoc('roll', { drainSeconds: 7, healthChecks: true, env: { COLOR: 'blue' } }) });
      expect(tweak).toMatchObject({ revision: 2, rollout: false, changes: ['termination.drainSeconds'] });
      expect(runtime.created).toHaveLength(6);
      expect(await codeOf(updateSpec(deps, 'roll', appDoc('other')))).toBe('VALIDATION_ERROR');
    });

    it('replaces a replica that vanished or crashed behind its back, and one found unhealthy', async () => {
      const { deps, runtime } = fakeDeps(t.db);
      await registerApp(deps, appDoc('vanish', { healthChecks: true }));
      await startApp(deps, 'vanish', { replicas: 3 });
      const [, one, two] = runtime.containersOf('vanish');
      runtime.vanish(one!.id);
      runtime.crash(two!.id);

      const result = await reconcile(deps, 'vanish');
      expect(result).toMatchObject({ converged: true, running: 3, errors: [] });
      expect(runtime.runningOf('vanish').map((c) => c.replicaIndex)).toEqual([0, 1, 2]);
      expect(runtime.creationsOf(replicaName('vanish', 1, 1))).toBe(2);
      // The crashed one was removed, then started again under its name.
      expect(runtime.stops.map((s) => s.id)).toContain(two!.id);
      const gone = (await eventsOf(t.db, 'vanish')).filter((e) => e.message.includes('is gone from the runtime'));
      expect(gone.map((e) => [e.eventType, e.severity, e.containerId])).toEqual([
        ['health', 'warning', one!.id],
        ['health', 'warning', two!.id],
      ]);

      await setHealth(t.db, 'vanish', 'healthy');
      await setHealth(t.db, 'vanish', 'unhealthy', 0);
      const [zero] = runtime.containersOf('vanish');
      const replaced = await reconcile(deps, 'vanish');
      expect(replaced).toMatchObject({ converged: true, running: 3 });
      expect(runtime.stops.at(-1)).toMatchObject({ id: zero!.id, graceSeconds: 5 });
      const rows = await liveSlots(t.db, 'vanish');
      expect(rows[0]).toMatchObject({ status: 'running', healthStatus: 'starting' });
      expect(rows[0]!.containerId).not.toBe(zero!.id);
      expect((await eventsOf(t.db, 'vanish')).some((e) => e.eventType === 'health' && e.message.startsWith('Stopping replica 0 (unhealthy'))).toBe(true);
    });

    it('adopts containers nobody recorded into free wanted slots and stops orphans', async () => {
      const { deps, runtime } = fakeDeps(t.db);
      await registerApp(deps, appDoc('adopt'));
      const mine = runtime.inject({ app: 'adopt', replicaIndex: 1, revision: 1 });
      const beyond = runtime.inject({ app: 'adopt', replicaIndex: 7, revision: 1 });
      const stale = runtime.inject({ app: 'adopt', replicaIndex: 0, revision: 9 });
      const dead = runtime.inject({ app: 'adopt', replicaIndex: 2, revision: 1, state: 'stopped' });

      await startApp(deps, 'adopt', { replicas: 2 });
      const rows = await liveSlots(t.db, 'adopt');
      expect(rows.map((r) => [r.replicaIndex, r.status])).toEqual([
        [0, 'running'],
        [1, 'running'],
      ]);
      expect(rows[1]!.containerId).toBe(mine.id);
      expect(runtime.created).toEqual([replicaName('adopt', 0, 1)]);
      expect(runtime.containersOf('adopt').map((c) => c.id).sort()).toEqual([mine.id, rows[0]!.containerId].sort());
      expect(runtime.stops.map((s) => s.id).sort()).toEqual([beyond.id, stale.id, dead.id].sort());
      const messages = (await eventsOf(t.db, 'adopt')).map((e) => e.message);
      expect(messages).toContain(`Adopted running container ${mine.name} as replica 1`);
      expect(messages.filter((m) => m.startsWith('Stopping container'))).toHaveLength(2);

      // A process that lost its rows (a fresh database, say) adopts what runs, making nothing.
      await t.db.$primary.delete(instances).where(eq(instances.appName, 'adopt'));
      const adopted = await reconcile(deps, 'adopt');
      expect(adopted).toMatchObject({ converged: true, running: 2 });
      expect(runtime.created).toHaveLength(1);
      expect((await liveSlots(t.db, 'adopt')).map((r) => r.containerId).sort()).toEqual(runtime.containersOf('adopt').map((c) => c.id).sort());
    });

    it('records a failed start as an error, answers RUNTIME_ERROR, and retries after the back-off', async () => {
      const { deps, runtime, clock } = fakeDeps(t.db);
      await registerApp(deps, appDoc('flaky'));
      runtime.failStarts(1, 'no capacity left', (req) => req.replicaIndex === 1);
      const error = await startApp(deps, 'flaky', { replicas: 2 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OrchestryError);
      expect(error).toMatchObject({ code: 'RUNTIME_ERROR', status: 502 });
      expect((error as OrchestryError).message).toContain('no capacity left');
      expect((await slotsOf(t.db, 'flaky')).map((r) => [r.replicaIndex, r.status])).toEqual([
        [0, 'running'],
        [1, 'error'],
      ]);
      const failed = (await eventsOf(t.db, 'flaky')).find((e) => e.eventType === 'error');
      expect(failed).toMatchObject({ severity: 'error', containerId: replicaName('flaky', 1, 1), message: 'Starting replica 1 failed: no capacity left' });

      const soon = await reconcile(deps, 'flaky');
      expect(soon).toMatchObject({ converged: false, status: 'starting', errors: [] });
      expect(soon.nextCheckAt!.getTime() - clock.now().getTime()).toBe(10_000);
      expect(runtime.calls.start).toBe(2);

      clock.advance(10);
      expect(await reconcile(deps, 'flaky')).toMatchObject({ converged: true, status: 'running', running: 2 });
      expect(runtime.calls.start).toBe(3);
    });

    it('an app whose every start fails is in error, and the runtime being unreachable is recorded once', async () => {
      const { deps, runtime } = fakeDeps(t.db);
      await registerApp(deps, appDoc('broken'));
      runtime.failStarts(10, 'image not found');
      expect(await codeOf(startApp(deps, 'broken', { replicas: 1 }))).toBe('RUNTIME_ERROR');
      expect((await reconcile(deps, 'broken')).status).toBe('error');

      runtime.listFailure = new Error('engine unreachable');
      const first = await reconcile(deps, 'broken');
      const second = await reconcile(deps, 'broken');
      expect(first.errors.map((e) => e.action)).toEqual(['list']);
      expect(second.errors.map((e) => e.action)).toEqual(['list']);
      const listEvents = (await eventsOf(t.db, 'broken')).filter((e) => e.message.includes('engine unreachable'));
      expect(listEvents).toHaveLength(1);
    });

    it('plays a runtime that reports new replicas as starting (a task still provisioning)', async () => {
      const { deps, runtime } = fakeDeps(t.db);
      runtime.startState = 'starting';
      await registerApp(deps, appDoc('ecsish'));
      await startApp(deps, 'ecsish', { replicas: 2 });
      expect((await liveSlots(t.db, 'ecsish')).map((r) => r.status)).toEqual(['starting', 'starting']);
      const waiting = await reconcile(deps, 'ecsish');
      expect(waiting).toMatchObject({ converged: false, status: 'starting' });
      expect(runtime.calls.start).toBe(2);
      for (const c of runtime.containersOf('ecsish')) runtime.promote(c.id);
      expect(await reconcile(deps, 'ecsish')).toMatchObject({ converged: true, status: 'running', running: 2 });
      expect(runtime.routing.get('ecsish')!.size).toBe(2);
    });

    it('resumes after a process died between a start intent and its runtime call', async () => {
      const { deps, runtime, clock } = fakeDeps(t.db);
      await registerApp(deps, appDoc('crash'));
      await t.db.$primary.update(applications).set({ desiredReplicas: 2, status: 'starting' }).where(eq(applications.name, 'crash'));

      // The first process records the intent for slot 0, then dies.
      const intent = await claimStep(deps, 'crash', clock.now());
      expect(intent).toMatchObject({ kind: 'start', row: { replicaIndex: 0, status: 'starting', containerId: replicaName('crash', 0, 1) } });

      // The next reconcile leaves the unanswered start alone for now (it may be in flight elsewhere).
      const meanwhile = await reconcile(deps, 'crash');
      expect(meanwhile.converged).toBe(false);
      expect(meanwhile.nextCheckAt!.getTime() - clock.now().getTime()).toBe(60_000);
      expect(runtime.created).toEqual([replicaName('crash', 1, 1)]);

      clock.advance(60);
      expect(await reconcile(deps, 'crash')).toMatchObject({ converged: true, running: 2, status: 'running' });
      expect(runtime.creationsOf(replicaName('crash', 0, 1))).toBe(1);
      expect((await eventsOf(t.db, 'crash')).some((e) => e.message.startsWith('Taking over the unfinished start of replica 0'))).toBe(true);
    });

    it('resumes after a process died between the runtime call and recording its outcome', async () => {
      const { deps, runtime, clock } = fakeDeps(t.db);
      await registerApp(deps, appDoc('crash2'));
      await t.db.$primary.update(applications).set({ desiredReplicas: 1, status: 'starting' }).where(eq(applications.name, 'crash2'));
      const intent = await claimStep(deps, 'crash2', clock.now());
      if (intent.kind !== 'start') throw new Error('expected a start');
      const made = await runtime.start({ app: 'crash2', revision: 1, replicaIndex: 0, template: intent.template });

      const after = await reconcile(deps, 'crash2');
      expect(after).toMatchObject({ converged: true, running: 1, status: 'running' });
      expect((await liveSlots(t.db, 'crash2'))[0]).toMatchObject({ containerId: made.id, port: made.port, status: 'running' });
      expect(runtime.created).toHaveLength(1);

      // And a step that finishes late finds its outcome recorded already: nothing is stopped.
      await performStep(deps, 'crash2', intent, []);
      expect(runtime.runningOf('crash2').map((c) => c.id)).toEqual([made.id]);
    });

    it('scales within the policy bounds in auto mode, starting the cooldown, and rejects bad counts', async () => {
      const { deps, clock, runtime } = fakeDeps(t.db);
      await registerApp(deps, appDoc('auto', { mode: 'auto', minReplicas: 2, maxReplicas: 4 }));
      const started = await startApp(deps, 'auto');
      expect(started).toMatchObject({ current_replicas: 2 });
      const out = await scaleApp(deps, 'auto', 9);
      expect(out).toMatchObject({ previous_replicas: 2, current_replicas: 4, requested_replicas: 9, clamped: { min_replicas: 2, max_replicas: 4 } });
      expect(out.message).toContain('requested 9');
      const [app] = await t.db.$primary.select().from(applications).where(eq(applications.name, 'auto'));
      expect(app!.lastScaledAt!.getTime()).toBe(clock.now().getTime());
      expect((await eventsOf(t.db, 'auto')).filter((e) => e.eventType === 'scaling' && e.source === 'api').map((e) => e.details)).toEqual([
        expect.objectContaining({ from: 2, to: 4, reason: 'manual', requested: 9 }),
      ]);

      expect(await codeOf(scaleApp(deps, 'auto', -1))).toBe('VALIDATION_ERROR');
      expect(await codeOf(scaleApp(deps, 'auto', 1001))).toBe('VALIDATION_ERROR');
      expect(await codeOf(scaleApp(deps, 'auto', 2.5))).toBe('VALIDATION_ERROR');
      expect(await codeOf(scaleApp(deps, 'nope', 1))).toBe('APP_NOT_FOUND');
      expect(await codeOf(startApp(deps, 'nope'))).toBe('APP_NOT_FOUND');
      expect(runtime.apps.has('nope')).toBe(false);
      expect(await codeOf(stopApp(deps, 'nope'))).toBe('APP_NOT_FOUND');
      expect(await codeOf(deleteApp(deps, 'nope'))).toBe('APP_NOT_FOUND');
    });

    it('waits for replicas to run, and to be healthy when health checks are on', async () => {
      const { deps } = fakeDeps(t.db);
      await registerApp(deps, appDoc('waiter', { healthChecks: true }));
      await startApp(deps, 'waiter', { replicas: 2 });
      const running = await waitForReplicas(deps, 'waiter', { timeoutMs: 2000, healthy: false });
      expect(running).toMatchObject({ ready: true, running: 2, timedOut: false, notReady: [] });

      const unhealthy = await waitForReplicas(deps, 'waiter', { timeoutMs: 100, healthy: true });
      expect(unhealthy).toMatchObject({ ready: false, timedOut: true, healthy: 0 });
      expect(unhealthy.notReady).toEqual([
        { replica_index: 0, status: 'running', health: 'starting', revision: 1 },
        { replica_index: 1, status: 'running', health: 'starting', revision: 1 },
      ]);
      await setHealth(t.db, 'waiter', 'healthy');
      expect(await readiness(deps, 'waiter', true)).toMatchObject({ ready: true, healthy: 2 });
    });

    it('deletes an app: every replica stopped, its rows gone by cascade, the deletion recorded', async () => {
      const { deps, runtime } = fakeDeps(t.db);
      await registerApp(deps, appDoc('doomed', { drainSeconds: 0 }));
      await startApp(deps, 'doomed', { replicas: 3 });
      const answer = await deleteApp(deps, 'doomed');
      expect(answer).toEqual({ message: "Application 'doomed' deleted", app_name: 'doomed', deleted: true });
      expect(runtime.containersOf('doomed')).toHaveLength(0);
      expect(runtime.apps.has('doomed')).toBe(false);
      expect(await slotsOf(t.db, 'doomed')).toHaveLength(0);
      expect(await t.db.$primary.select().from(scalingPolicies).where(eq(scalingPolicies.appName, 'doomed'))).toHaveLength(0);
      expect(await t.db.$primary.select().from(healthChecks).where(eq(healthChecks.appName, 'doomed'))).toHaveLength(0);
      const [deleted] = await queryRows<{ details: { action: string } }>(
        t.db.$primary,
        sql`SELECT details FROM events WHERE details->>'app_name' = 'doomed' AND event_type = 'registration'`,
      );
      expect(deleted!.details.action).toBe('deleted');
    });

    it('a delete whose drains outlast its timeout stops the rest regardless', async () => {
      const { deps, runtime } = fakeDeps(t.db);
      await registerApp(deps, appDoc('slowdrain', { drainSeconds: 600 }));
      await startApp(deps, 'slowdrain', { replicas: 2 });
      await deleteApp(deps, 'slowdrain', { timeoutMs: 50 });
      expect(runtime.containersOf('slowdrain')).toHaveLength(0);
      expect(await t.db.$primary.select().from(applications).where(eq(applications.name, 'slowdrain'))).toHaveLength(0);
    });

    it('reconcileAll reconciles the apps with work to do and leaves settled ones alone', async () => {
      const { deps, runtime, clock } = fakeDeps(t.db);
      await registerApp(deps, appDoc('calm'));
      await startApp(deps, 'calm', { replicas: 1 });
      await registerApp(deps, appDoc('busy', { drainSeconds: 10 }));
      await startApp(deps, 'busy', { replicas: 2 });
      await scaleApp(deps, 'busy', 1);

      const listsBefore = runtime.calls.list;
      const pass = await reconcileAll(deps);
      const names = pass.results.map((r) => r.appName);
      expect(names).toContain('busy');
      expect(names).not.toContain('calm');
      expect(pass.nextCheckAt).not.toBeNull();
      expect(runtime.calls.list - listsBefore).toBe(names.length);

      clock.advance(10);
      await reconcileAll(deps);
      expect((await liveSlots(t.db, 'busy')).map((r) => r.status)).toEqual(['running']);
      const everything = await reconcileAll(deps, undefined, { everyActive: true });
      expect(everything.results.map((r) => r.appName)).toEqual(expect.arrayContaining(['busy', 'calm']));
    });
  },
  { targets: ['pglite', 'pg'] },
);
