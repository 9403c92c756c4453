/**
 * #13 item 6: a tick reads the policy without a lock, so a PUT that lowers max_replicas
 * between the tick's read and its write must still bound the count the tick writes. The
 * interleavings are made by hand: the tick's read and decide() first, then the PUT, then the
 * tick's writes (recordDecisions), and on pg a PUT still holding the app's lock while the
 * tick's write waits for it.
 */
import { eq, sql } from 'drizzle-orm';
import pg from 'pg';
import { expect, it } from 'vitest';
import { queryRows } from '../../../db/client.js';
import { insertMetrics } from '../../../db/queries/metrics.js';
import { scalerInputs, type ScalingChange } from '../../../db/queries/scaler.js';
import { applications } from '../../../db/schema.js';
import { updateScalingPolicy } from '../../../functions/api/scaling-policy.js';
import { opsDepsOf } from '../../../functions/jobs/job.js';
import { decisionFor, recordDecisions, type Evaluated } from '../../../functions/jobs/scaler.js';
import { updateSpec } from '../../../functions/ops/apps.js';
import { describeEachTarget, type SuiteContext } from '../../support/db.js';
import { appDoc, eventsOf, jobDeps, startedApp, type JobSetup } from './helpers.js';

/** Past the settle time of the start (two 60 s windows). */
const SETTLED_SECONDS = 300;

function helpers(t: SuiteContext) {
  /** An app at 2 replicas (max 10) under load, and the tick's read and decision of it. */
  async function loadedApp(name: string): Promise<JobSetup & { evaluated: Evaluated[]; wanted: ScalingChange[] }> {
    const setup = jobDeps(t.db);
    await startedApp(setup.deps, name, 2, { maxReplicas: 10 });
    setup.clock.advance(SETTLED_SECONDS);
    const now = setup.clock.now();
    await insertMetrics(t.db.$primary, [
      { appName: name, metricType: 'rps', value: 2000, aggregationLevel: 'app', timestamp: new Date(now.getTime() - 5000) },
    ]);
    const inputs = await scalerInputs(t.db.$primary, now, { app: name });
    const evaluated = inputs.map((input) => ({ input, decision: decisionFor(input, now) }));
    const wanted = evaluated.map(({ input, decision }) => ({ appName: input.appName, from: decision.currentReplicas, to: decision.desiredReplicas }));
    expect(wanted[0]!.to).toBeGreaterThan(4);
    return { ...setup, evaluated, wanted };
  }
  const desiredOf = async (name: string) =>
    (await t.db.$primary.select().from(applications).where(eq(applications.name, name)))[0]!.desiredReplicas;
  return { loadedApp, desiredOf };
}

describeEachTarget('scaler write against a policy changed since the read', (t) => {
  const { loadedApp, desiredOf } = helpers(t);

  it('clamps to a max_replicas lowered by PUT scaling after the read', async () => {
    const { deps, clock, evaluated, wanted } = await loadedApp('clamp-put-scaling');
    await updateScalingPolicy(deps, 'clamp-put-scaling', { max_replicas: 3 });
    const { changed } = await recordDecisions(deps.db, evaluated, wanted, clock.now());
    expect(changed.get('clamp-put-scaling')).toBe(3);
    expect(await desiredOf('clamp-put-scaling')).toBe(3);
    const [event] = (await eventsOf(t.db, 'clamp-put-scaling')).filter((e) => e.source === 'scaler');
    expect(event!.details).toMatchObject({ from: 2, to: 3, applied: true });
  });

  it('clamps to a max_replicas lowered by PUT spec after the read', async () => {
    const { deps, clock, evaluated, wanted } = await loadedApp('clamp-put-spec');
    await updateSpec(opsDepsOf(deps), 'clamp-put-spec', appDoc('clamp-put-spec', { mode: 'auto', maxReplicas: 3 }));
    await recordDecisions(deps.db, evaluated, wanted, clock.now());
    expect(await desiredOf('clamp-put-spec')).toBe(3);
  });

  it('changes nothing when the new max is the current count', async () => {
    const { deps, clock, evaluated, wanted } = await loadedApp('clamp-to-current');
    await updateScalingPolicy(deps, 'clamp-to-current', { max_replicas: 2 });
    const { changed } = await recordDecisions(deps.db, evaluated, wanted, clock.now());
    expect(changed.size).toBe(0);
    expect(await desiredOf('clamp-to-current')).toBe(2);
  });

});

// PGlite has one connection: no two transactions at once, so no lock to wait for.
describeEachTarget('scaler write waiting for a PUT', (t) => {
  const { loadedApp, desiredOf } = helpers(t);

  it('clamps to the policy of a PUT that commits while the write waits for its lock', async () => {
    const { deps, clock, evaluated, wanted } = await loadedApp('clamp-while-locked');
    // The PUT's transaction as updateScalingPolicy makes it: the app's row lock first, then the policy.
    const put = new pg.Client({ connectionString: t.url });
    put.on('error', () => {});
    await put.connect();
    try {
      await put.query('BEGIN');
      await put.query(`SELECT 1 FROM applications WHERE name = 'clamp-while-locked' FOR UPDATE`);
      await put.query(`UPDATE scaling_policies SET max_replicas = 3, updated_at = now() WHERE app_name = 'clamp-while-locked'`);
      const write = recordDecisions(deps.db, evaluated, wanted, clock.now());
      const deadline = Date.now() + 10_000;
      for (;;) {
        const [waiting] = await queryRows<{ n: number | string }>(
          t.db.$primary,
          sql`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        if (Number(waiting!.n) > 0) break;
        if (Date.now() > deadline) throw new Error('the tick never waited for the lock');
        await new Promise((r) => setImmediate(r));
      }
      await put.query('COMMIT');
      await write;
    } finally {
      await put.end();
    }
    expect(await desiredOf('clamp-while-locked')).toBe(3);
  });
}, { targets: ['pg', 'neon'] });
