/**
 * POST /apps/{name}/scaling/backtest end to end on PGlite and Postgres: recorded 1-minute rps
 * rollups replayed under the current policy and a candidate, the same field errors as PUT
 * /scaling, 422 with how much history exists, and a read key allowed.
 */
import { beforeAll, expect, it } from 'vitest';
import { metricRollups } from '../../../db/schema.js';
import { describeEachTarget } from '../../support/db.js';
import { expectErrorShape, makeHarness, makeKey, specOf, type Harness } from './harness.js';

const MINUTE = 60_000;
/** Three hours: 40 rps, an hour at 180 rps, 40 rps again (the default target is 50 per replica). */
const SHAPE = Array.from({ length: 180 }, (_, m) => (m >= 60 && m < 120 ? 180 : 40));

describeEachTarget('API scaling backtest', (t) => {
  let h: Harness;
  let readKey: string;
  beforeAll(async () => {
    h = makeHarness(t.db);
    for (const name of ['bt-app', 'bt-short']) {
      expect((await h.call('POST', '/api/v1/apps/register', { body: specOf(name) })).status).toBe(201);
    }
    const minute = (n: number) => new Date(Math.floor(h.clock.now().getTime() / MINUTE) * MINUTE - n * MINUTE);
    const rollup = (appName: string, bucketStart: Date, rps: number) => ({
      appName,
      metricType: 'rps' as const,
      width: '1m' as const,
      bucketStart,
      count: 6,
      sum: rps * 6,
      min: rps,
      max: rps,
      p50: rps,
      p95: rps,
      p99: rps,
    });
    // The newest recorded minute is the one before the current; minute 100 of the shape has no
    // rollup (nothing reported), which replays as zero load.
    await t.db.insert(metricRollups).values(SHAPE.flatMap((rps, i) => (i === 100 ? [] : [rollup('bt-app', minute(SHAPE.length - i), rps)])));
    await t.db.insert(metricRollups).values(Array.from({ length: 12 }, (_, i) => rollup('bt-short', minute(12 - i), 40)));
    readKey = (await makeKey(h, 'read')).key;
  });

  it('replays the recorded load under the current policy and a candidate, side by side', async () => {
    const answer = await h.call('POST', '/api/v1/apps/bt-app/scaling/backtest', { body: { policy: { cooldown_seconds: 60 }, since: '24h' } });
    expect(answer.status, answer.text).toBe(200);
    const body = answer.body;
    expect(body.minutes).toBe(180);
    expect(body.recorded_minutes).toBe(179);
    expect(body.load).toHaveLength(180);
    expect(body.load[100]).toBe(0);
    expect(body.load[70]).toBe(180);
    expect(body.changed).toEqual(['cooldown_seconds']);
    expect(body.policy.current.cooldown_seconds).toBe(180);
    expect(body.policy.candidate.cooldown_seconds).toBe(60);
    expect(body.model).toMatchObject({ slo_rps_per_replica: 50, capacity_rps_per_replica: 62.5 });
    for (const run of [body.current, body.candidate]) {
      expect(Object.keys(run).sort()).toEqual(['changes', 'desired', 'replica_seconds', 'reversals', 'violation_seconds']);
      expect(run.desired).toHaveLength(180);
      // The hour at 180 rps needs at least 4 replicas at 50 per replica; the quiet hours fewer.
      const busy = Math.max(...run.desired.slice(60, 120));
      expect(busy).toBeGreaterThanOrEqual(4);
      expect(run.desired[30]).toBeLessThan(busy);
      expect(run.desired.at(-1)).toBeLessThan(busy);
      expect(run.changes).toBeGreaterThan(0);
    }
    // A shorter cooldown lets the count come down sooner after the busy hour, never later.
    expect(body.candidate.replica_seconds).toBeLessThanOrEqual(body.current.replica_seconds);
  });

  it('replays the current policy as the candidate when no patch is given, and takes from/to', async () => {
    const to = new Date(Math.floor(h.clock.now().getTime() / MINUTE) * MINUTE - 60 * MINUTE);
    const from = new Date(to.getTime() - 120 * MINUTE);
    const answer = await h.call('POST', '/api/v1/apps/bt-app/scaling/backtest', { body: { from: from.toISOString(), to: to.toISOString() } });
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.minutes).toBe(120);
    expect(answer.body.changed).toEqual([]);
    expect(answer.body.candidate).toEqual(answer.body.current);
  });

  it('lets a read key backtest, since it changes nothing', async () => {
    const answer = await h.call('POST', '/api/v1/apps/bt-app/scaling/backtest', { key: readKey, body: {} });
    expect(answer.status, answer.text).toBe(200);
    const put = await h.call('PUT', '/api/v1/apps/bt-app/scaling', { key: readKey, body: { cooldown_seconds: 60 } });
    expect(put.status).toBe(403);
  });

  it('refuses a candidate PUT /scaling would refuse, with the same field errors', async () => {
    const bad = { cooldown_seconds: -5, min_replicas: 9, max_replicas: 3 };
    const backtest = await h.call('POST', '/api/v1/apps/bt-app/scaling/backtest', { body: { policy: bad } });
    const put = await h.call('PUT', '/api/v1/apps/bt-app/scaling', { body: bad });
    expect(backtest.status).toBe(400);
    expect(put.status).toBe(400);
    expectErrorShape(backtest, 'VALIDATION_ERROR');
    expect(backtest.body.details.issues).toEqual(put.body.details.issues);
    expect(backtest.body.details.issues.map((i: { path: string }) => i.path)).toContain('cooldown_seconds');
    const both = await h.call('POST', '/api/v1/apps/bt-app/scaling/backtest', { body: { since: '1h', from: new Date().toISOString() } });
    expect(both.status).toBe(400);
    expect(both.body.details.issues[0].path).toBe('since');
  });

  it('answers 422 naming how much history exists when there is too little', async () => {
    const answer = await h.call('POST', '/api/v1/apps/bt-short/scaling/backtest', { body: {} });
    expect(answer.status, answer.text).toBe(422);
    expectErrorShape(answer, 'INSUFFICIENT_HISTORY');
    expect(answer.body.error).toMatch(/at least 60 minutes .* has 12 minutes/);
    expect(answer.body.details).toMatchObject({ required_minutes: 60, recorded_minutes: 12, span_minutes: 12 });
    expect((await h.call('POST', '/api/v1/apps/nope/scaling/backtest', { body: {} })).status).toBe(404);
  });
});
