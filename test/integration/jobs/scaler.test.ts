import { eq } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { insertMetrics } from '../../../db/queries/metrics.js';
import { upsertPolicy } from '../../../db/queries/policies.js';
import { applications, scalingDecisions, type ScalingDecisionRow } from '../../../db/schema.js';
import type { ScalingDecision } from '../../../functions/core/scaling.js';
import { explainScaling, run } from '../../../functions/jobs/scaler.js';
import { scalerInputs } from '../../../db/queries/scaler.js';
import { describeEachTarget } from '../../support/db.js';
import { eventsOf, jobDeps, startedApp } from './helpers.js';

/** Past the settle time of a change made at start (two 60 s evaluation windows). */
const SETTLED_SECONDS = 300;

describeEachTarget(
  'scaler job',
  (t) => {
    const decisionOf = async (app: string): Promise<ScalingDecisionRow> => {
      const [row] = await t.db.$primary.select().from(scalingDecisions).where(eq(scalingDecisions.appName, app));
      return row!;
    };
    const desiredOf = async (app: string): Promise<number> => {
      const [row] = await t.db.$primary.select().from(applications).where(eq(applications.name, app));
      return row!.desiredReplicas!;
    };

    it('scales out on load, sets desired_replicas and last_scaled_at, and reconciles', async () => {
      const { deps, runtime, clock } = jobDeps(t.db);
      await startedApp(deps, 'busy', 2, { maxReplicas: 10 });
      clock.advance(SETTLED_SECONDS);
      await insertMetrics(t.db.$primary, [
        { appName: 'busy', metricType: 'rps', value: 300, aggregationLevel: 'app', timestamp: new Date(clock.now().getTime() - 5000) },
      ]);
      const tick = await run(deps, clock.now());
      expect(tick.outcome).toBe('succeeded');
      expect(tick.counts).toMatchObject({ apps_evaluated: 1, scaled_out: 1, scaled_in: 0, events: 1, reconcile_failures: 0 });
      const decision = await decisionOf('busy');
      expect(decision).toMatchObject({ reason: 'scale_out', currentReplicas: 2 });
      expect(decision.desiredReplicas).toBeGreaterThan(2);
      const [app] = await t.db.$primary.select().from(applications).where(eq(applications.name, 'busy'));
      expect(app!.desiredReplicas).toBe(decision.desiredReplicas);
      expect(app!.lastScaledAt!.getTime()).toBe(clock.now().getTime());
      expect(runtime.runningOf('busy')).toHaveLength(decision.desiredReplicas);
      const [event] = (await eventsOf(t.db, 'busy')).filter((e) => e.source === 'scaler');
      expect(event).toMatchObject({ eventType: 'scaling', severity: 'info' });
      expect(event!.details).toMatchObject({ from: 2, to: decision.desiredReplicas, reason: 'scale_out', applied: true });
    });

    it('scales in when idle, once cooldown and stabilization allow', async () => {
      const { deps, clock } = jobDeps(t.db);
      await startedApp(deps, 'idle', 3, { minReplicas: 1, maxReplicas: 5 });
      await upsertPolicy(t.db.$primary, 'idle', { cooldownSeconds: 0, stabilizationWindowSeconds: 0 });
      clock.advance(SETTLED_SECONDS);
      await insertMetrics(t.db.$primary, [
        { appName: 'idle', metricType: 'cpu_percent', value: 2, aggregationLevel: 'instance', timestamp: clock.now() },
      ]);
      const tick = await run(deps, clock.now());
      expect(tick.counts).toMatchObject({ scaled_in: 1 });
      expect(await desiredOf('idle')).toBe(2);
      // One step at a time (max_scale_in_step 1): scale_in, or step_limited when the metrics ask for more.
      expect(['scale_in', 'step_limited']).toContain((await decisionOf('idle')).reason);
    });

    it('holds a scale-in back while a metric that was reporting has fallen silent, until it is gone for two windows', async () => {
      const { deps, clock } = jobDeps(t.db);
      await startedApp(deps, 'silent-rps', 3, { minReplicas: 1, maxReplicas: 5 });
      await upsertPolicy(t.db.$primary, 'silent-rps', { cooldownSeconds: 0, stabilizationWindowSeconds: 0, evaluationWindowSeconds: 60 });
      clock.advance(SETTLED_SECONDS);
      // The router's request counts stopped 90 s ago (outside the 60 s window, inside two of
      // them) while the replicas report idle CPU.
      await insertMetrics(t.db.$primary, [
        { appName: 'silent-rps', metricType: 'rps', value: 200, aggregationLevel: 'app', timestamp: new Date(clock.now().getTime() - 90_000) },
        { appName: 'silent-rps', metricType: 'cpu_percent', value: 2, aggregationLevel: 'instance', timestamp: clock.now() },
      ]);
      await run(deps, clock.now());
      const held = await decisionOf('silent-rps');
      expect(held.reason).toBe('stale_metrics');
      expect((held.decision as ScalingDecision).inputs.rps).toMatchObject({ stale: true, observed: null, utilization: null });
      expect(await desiredOf('silent-rps')).toBe(3);

      // Two windows after its last sample the metric is absent, and idle CPU may scale in.
      clock.advance(40);
      await insertMetrics(t.db.$primary, [
        { appName: 'silent-rps', metricType: 'cpu_percent', value: 2, aggregationLevel: 'instance', timestamp: clock.now() },
      ]);
      await run(deps, clock.now());
      expect(((await decisionOf('silent-rps')).decision as ScalingDecision).inputs.rps.ignored).toBe(true);
      expect(await desiredOf('silent-rps')).toBe(2);
    });

    it('writes an event only when the count or the reason changes, and keeps one decision row per app', async () => {
      const { deps, clock } = jobDeps(t.db);
      await startedApp(deps, 'quiet', 1);
      const reasons: string[] = [];
      for (let i = 0; i < 3; i++) {
        clock.advance(10);
        const tick = await run(deps, clock.now());
        expect(tick.outcome).toBe('succeeded');
        reasons.push((await decisionOf('quiet')).reason);
      }
      expect(reasons).toEqual(['no_metrics', 'no_metrics', 'no_metrics']);
      const scalerEvents = (await eventsOf(t.db, 'quiet')).filter((e) => e.source === 'scaler');
      expect(scalerEvents).toHaveLength(1);
      expect(scalerEvents[0]!.details).toMatchObject({ reason: 'no_metrics', previous_reason: null, applied: false });
      const rows = await t.db.$primary.select().from(scalingDecisions).where(eq(scalingDecisions.appName, 'quiet'));
      expect(rows).toHaveLength(1);
      expect(rows[0]!.evaluatedAt.getTime()).toBe(clock.now().getTime());

      // Load makes a new reason (and a change): one more event.
      await insertMetrics(t.db.$primary, [
        { appName: 'quiet', metricType: 'rps', value: 500, aggregationLevel: 'app', timestamp: clock.now() },
      ]);
      clock.advance(10);
      await run(deps, clock.now());
      expect((await eventsOf(t.db, 'quiet')).filter((e) => e.source === 'scaler')).toHaveLength(2);
    });

    it('takes an idle app with minReplicas 0 to zero after scaleToZeroAfterSeconds, and says so', async () => {
      const { deps, runtime, clock } = jobDeps(t.db);
      await startedApp(deps, 'sleepy', 1, { minReplicas: 0, maxReplicas: 5, drainSeconds: 0 });
      await upsertPolicy(t.db.$primary, 'sleepy', { scaleToZeroAfterSeconds: 120 });
      clock.advance(SETTLED_SECONDS);
      // The router's samples every 10 s: one request 100 s ago, nothing since.
      const now = clock.now().getTime();
      const samples = Array.from({ length: 20 }, (_, i) => {
        const at = new Date(now - i * 10_000);
        return [
          { appName: 'sleepy', metricType: 'rps' as const, value: i === 10 ? 0.1 : 0, aggregationLevel: 'app' as const, timestamp: at },
          { appName: 'sleepy', metricType: 'active_connections' as const, value: 0, aggregationLevel: 'app' as const, timestamp: at },
        ];
      }).flat();
      await insertMetrics(t.db.$primary, samples);
      const early = await explainScaling(deps, 'sleepy', clock.now());
      expect(early.decision.scaleToZero).toMatchObject({ afterSeconds: 120, idleSeconds: 100, secondsLeft: 20, blockedBy: 'idle for 100s of 120s' });
      await run(deps, clock.now());
      expect(await desiredOf('sleepy')).toBe(1);

      clock.advance(30);
      await insertMetrics(t.db.$primary, [
        { appName: 'sleepy', metricType: 'rps', value: 0, aggregationLevel: 'app', timestamp: clock.now() },
        { appName: 'sleepy', metricType: 'active_connections', value: 0, aggregationLevel: 'app', timestamp: clock.now() },
      ]);
      const tick = await run(deps, clock.now());
      expect(tick.counts).toMatchObject({ scaled_in: 1 });
      expect(await desiredOf('sleepy')).toBe(0);
      expect((await decisionOf('sleepy')).reason).toBe('idle_to_zero');
      const [app] = await t.db.$primary.select().from(applications).where(eq(applications.name, 'sleepy'));
      expect(app!.status).toBe('scaled_to_zero');
      const [event] = (await eventsOf(t.db, 'sleepy')).filter((e) => e.source === 'scaler').slice(-1);
      expect(event!.details).toMatchObject({ from: 1, to: 0, reason: 'idle_to_zero', applied: true });
      expect(runtime.runningOf('sleepy')).toHaveLength(0);
      const explained = await explainScaling(deps, 'sleepy', clock.now());
      expect(explained).toMatchObject({ status: 'scaled_to_zero', evaluatedByScaler: false });
      expect(explained.note).toMatch(/scaled to zero .* the next request wakes it/);
    });

    it('never takes an app with minReplicas 0 to zero without traffic samples', async () => {
      const { deps, clock } = jobDeps(t.db);
      await startedApp(deps, 'unmeasured', 1, { minReplicas: 0, maxReplicas: 5 });
      await upsertPolicy(t.db.$primary, 'unmeasured', { scaleToZeroAfterSeconds: 30 });
      clock.advance(3600);
      await insertMetrics(t.db.$primary, [
        { appName: 'unmeasured', metricType: 'cpu_percent', value: 0, aggregationLevel: 'instance', timestamp: clock.now() },
      ]);
      await run(deps, clock.now());
      expect(await desiredOf('unmeasured')).toBe(1);
      expect((await decisionOf('unmeasured')).decision).toMatchObject({ scaleToZero: { blockedBy: 'rps and active_connections missing or stale: traffic unknown, never to zero' } });
    });

    it('combines per-replica samples by replica within the sample period, not by exact timestamp', async () => {
      const { deps, clock } = jobDeps(t.db);
      await startedApp(deps, 'per-replica', 2, { maxReplicas: 10 });
      const at = new Date(Math.floor(clock.now().getTime() / 10_000) * 10_000 + 2000);
      // One replica posts ten readings of 10 rps stamped alike; two others post 1 ms apart.
      await insertMetrics(t.db.$primary, [
        ...Array.from({ length: 10 }, () => ({ appName: 'per-replica', metricType: 'rps' as const, value: 10, containerId: 'r1', timestamp: at })),
        { appName: 'per-replica', metricType: 'active_connections', value: 7, containerId: 'r1', timestamp: at },
        { appName: 'per-replica', metricType: 'active_connections', value: 5, containerId: 'r2', timestamp: new Date(at.getTime() + 1) },
        { appName: 'per-replica', metricType: 'cpu_percent', value: 40, containerId: 'r1', timestamp: at },
        { appName: 'per-replica', metricType: 'cpu_percent', value: 60, containerId: 'r2', timestamp: new Date(at.getTime() + 1) },
      ]);
      const [input] = await scalerInputs(t.db.$primary, new Date(at.getTime() + 5000), { app: 'per-replica' });
      expect(input!.window.rps).toMatchObject({ max: 10, count: 1 });
      expect(input!.window.active_connections).toMatchObject({ max: 12, count: 1 });
      expect(input!.window.cpu_percent).toMatchObject({ max: 50, count: 1 });
    });

    it('leaves manual apps and stopped apps alone', async () => {
      const { deps, clock } = jobDeps(t.db);
      await startedApp(deps, 'by-hand', 1, { mode: 'manual' });
      clock.advance(SETTLED_SECONDS);
      await insertMetrics(t.db.$primary, [
        { appName: 'by-hand', metricType: 'rps', value: 10_000, aggregationLevel: 'app', timestamp: clock.now() },
      ]);
      await run(deps, clock.now());
      expect(await desiredOf('by-hand')).toBe(1);
      const explained = await explainScaling(deps, 'by-hand', clock.now());
      expect(explained.evaluatedByScaler).toBe(false);
      expect(explained.note).toMatch(/manual/);
      expect(explained.decision.reason).toBe('scale_out');
    });

    it('explains the decision it would take, without acting, with the same inputs as a tick', async () => {
      const { deps, clock } = jobDeps(t.db);
      await startedApp(deps, 'explained', 1, { maxReplicas: 5 });
      clock.advance(SETTLED_SECONDS);
      await insertMetrics(t.db.$primary, [
        { appName: 'explained', metricType: 'cpu_percent', value: 95, aggregationLevel: 'instance', timestamp: clock.now() },
      ]);
      const before = (await eventsOf(t.db, 'explained')).length;
      const explanation = await explainScaling(deps, 'explained', clock.now());
      expect(explanation.evaluatedByScaler).toBe(true);
      expect(explanation.decision.reason).toBe('scale_out');
      expect(explanation.decision.inputs.cpu_percent.observed).toBeCloseTo(95);
      expect(explanation.lastDecision).toBeNull();
      expect(await desiredOf('explained')).toBe(1);
      expect((await eventsOf(t.db, 'explained')).length).toBe(before);

      await run(deps, clock.now());
      expect((await decisionOf('explained')).decision).toEqual(JSON.parse(JSON.stringify(explanation.decision)));
      const after = await explainScaling(deps, 'explained', clock.now());
      expect(after.lastDecision?.reason).toBe('scale_out');
      await expect(explainScaling(deps, 'no-such-app', clock.now())).rejects.toMatchObject({ code: 'APP_NOT_FOUND' });
    });
  },
  { targets: ['pglite', 'pg'] },
);
