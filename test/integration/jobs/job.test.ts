import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDb, type DbHandle } from '../../../db/client.js';
import { insertMetrics } from '../../../db/queries/metrics.js';
import { applications, jobRuns } from '../../../db/schema.js';
import { OrchestryError } from '../../../functions/core/errors.js';
import { JOB_LEASE_SECONDS, loopUntilTimeUp, runJob, type JobRunSummary } from '../../../functions/jobs/job.js';
import { run as runScaler } from '../../../functions/jobs/scaler.js';
import { describeEachTarget, pollUntil } from '../../support/db.js';
import { depsWith, eventsOf, jobDeps, runsOf, startedApp } from './helpers.js';

describeEachTarget(
  'job harness',
  (t) => {
    // A second, independent handle on the same database (pg): two processes racing.
    let other: DbHandle | undefined;
    beforeAll(async () => {
      if (t.config) other = await createDb(t.config);
    });
    afterAll(async () => {
      await other?.close();
    });

    it('records a run: start, end, outcome and counts', async () => {
      const { deps, clock } = jobDeps(t.db);
      const summary = await runJob(deps, 'metric-collector', clock.now(), async () => ({ things: 3 }));
      expect(summary).toMatchObject({ outcome: 'succeeded', counts: { things: 3 }, error: null, heldBy: null });
      const [row] = await t.db.$primary.select().from(jobRuns).where(eq(jobRuns.id, summary.id));
      expect(row).toMatchObject({ job: 'metric-collector', outcome: 'succeeded', counts: { things: 3 }, error: null });
      expect(row!.startedAt.getTime()).toBe(clock.now().getTime());
      expect(row!.finishedAt!.getTime()).toBeGreaterThanOrEqual(row!.startedAt.getTime());
    });

    it("records a failed run with its error, and frees the lease for the next", async () => {
      const { deps, clock } = jobDeps(t.db);
      const failed = await runJob(deps, 'metric-rollup', clock.now(), async () => {
        throw new OrchestryError('RUNTIME_ERROR', 'the engine went away');
      });
      expect(failed).toMatchObject({ outcome: 'failed', error: 'RUNTIME_ERROR: the engine went away' });
      const [row] = await t.db.$primary.select().from(jobRuns).where(eq(jobRuns.id, failed.id));
      expect(row).toMatchObject({ outcome: 'failed', error: 'RUNTIME_ERROR: the engine went away' });
      clock.advance(1);
      expect((await runJob(deps, 'metric-rollup', clock.now(), async () => ({}))).outcome).toBe('succeeded');
    });

    it('skips a run while another holds the lease, and takes over a lease that expired', async () => {
      const { deps, clock } = jobDeps(t.db);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let entered = false;
      const first = runJob(deps, 'cleanup', clock.now(), async () => {
        entered = true;
        await gate;
        return { done: 1 };
      });
      await pollUntil(async () => entered, 'the first run to hold the lease');
      const second = await runJob(deps, 'cleanup', clock.now(), async () => ({ done: 1 }));
      release();
      const firstDone = await first;
      expect(firstDone.outcome).toBe('succeeded');
      expect(second).toMatchObject({ outcome: 'skipped', heldBy: firstDone.id, counts: { held_by_run: firstDone.id } });

      // A run that died without finishing: its lease holds until it expires.
      const crashedAt = new Date(clock.now().getTime() + 1000);
      const [crashed] = await t.db.$primary.insert(jobRuns).values({ job: 'cleanup', startedAt: crashedAt, outcome: 'running' }).returning();
      clock.advance(JOB_LEASE_SECONDS.cleanup - 1);
      expect((await runJob(deps, 'cleanup', clock.now(), async () => ({}))).heldBy).toBe(crashed!.id);
      clock.advance(2);
      expect((await runJob(deps, 'cleanup', clock.now(), async () => ({}))).outcome).toBe('succeeded');
      // The crashed row would hold the lease against runs on the real clock in later tests.
      await t.db.$primary.delete(jobRuns).where(eq(jobRuns.id, crashed!.id));
    });

    it('two scalers at once make one decision: the second run is skipped', async () => {
      const { deps, runtime, clock } = jobDeps(t.db);
      const rival = depsWith(other?.db ?? t.db, runtime, clock);
      await startedApp(deps, 'raced', 1, { maxReplicas: 8 });
      clock.advance(300);
      await insertMetrics(t.db.$primary, [{ appName: 'raced', metricType: 'rps', value: 400, aggregationLevel: 'app', timestamp: clock.now() }]);
      // The first run scales out and is kept inside its reconcile (a slow start) meanwhile.
      const held = runtime.holdStarts();
      const first = runScaler(deps, clock.now());
      await pollUntil(async () => held.waiting > 0, 'the first scaler to reach its reconcile');
      const second = await runScaler(rival, clock.now());
      held.release();
      const firstDone = await first;
      expect(firstDone.outcome).toBe('succeeded');
      expect(firstDone.counts).toMatchObject({ scaled_out: 1 });
      expect(second).toMatchObject({ outcome: 'skipped', heldBy: firstDone.id });
      const scaling = (await eventsOf(t.db, 'raced')).filter((e) => e.source === 'scaler');
      expect(scaling).toHaveLength(1);
      const [app] = await t.db.$primary.select().from(applications).where(eq(applications.name, 'raced'));
      expect(app!.desiredReplicas).toBe((scaling[0]!.details as { to: number }).to);
      const runs = await runsOf(t.db, 'scaler');
      expect(runs.filter((r) => r.outcome === 'skipped').map((r) => r.id)).toContain(second.id);
    });
  },
  { targets: ['pglite', 'pg'] },
);

it('the Lambda loop ticks at each period boundary until the time left would not hold another', async () => {
  let now = Date.UTC(2030, 0, 1, 0, 0, 3); // 3 s past a boundary
  const end = now + 65_000;
  const ticks: number[] = [];
  const runs = await loopUntilTimeUp(
    async (at) => {
      ticks.push(at.getTime());
      now += 400; // each run takes a while
      return { outcome: 'succeeded' } as JobRunSummary;
    },
    10_000,
    { getRemainingTimeInMillis: () => end - now },
    {
      clock: () => now,
      sleep: async (ms) => {
        now += ms;
      },
    },
  );
  const start = Date.UTC(2030, 0, 1, 0, 0, 0);
  expect(ticks.map((t) => (t - start) / 1000)).toEqual([3, 10, 20, 30, 40, 50]);
  expect(runs).toHaveLength(6);
});
