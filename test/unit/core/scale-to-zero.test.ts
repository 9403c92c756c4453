import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TrafficHistory } from '../../../functions/core/scale-to-zero.js';
import {
  decide,
  DEFAULT_POLICY,
  SCALING_METRICS,
  type MetricAggregate,
  type MetricWindow,
  type ScalingMetric,
  type ScalingPolicy,
  type ScalingState,
} from '../../../functions/core/scaling.js';

const NOW = new Date('2025-01-01T01:00:00.000Z');
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000);
const policy = (overrides: Partial<ScalingPolicy> = {}): ScalingPolicy => ({ ...DEFAULT_POLICY, minReplicas: 0, maxReplicas: 10, ...overrides });
const sample = (value: number, overrides: Partial<MetricAggregate> = {}): MetricAggregate => ({ avg: value, max: value, count: 6, latestAt: ago(10), ...overrides });
/** An idle app: no requests (so no latency samples either), nothing in flight. */
const quiet: MetricWindow = {
  cpu_percent: sample(1),
  memory_percent: sample(10),
  rps: sample(0),
  active_connections: sample(0),
};
const oneReplica = (overrides: Partial<ScalingState> = {}): ScalingState => ({
  currentReplicas: 1,
  readyReplicas: 1,
  startingReplicas: 0,
  lastScaledAt: ago(3600),
  recommendations: [],
  traffic: { lastBusyAt: ago(301), firstSampleAt: ago(355) },
  ...overrides,
});

describe('decide: scale to zero', () => {
  it('goes to zero once rps and in-flight have been zero for scaleToZeroAfterSeconds', () => {
    const d = decide(policy(), quiet, oneReplica(), NOW);
    expect(d.desiredReplicas).toBe(0);
    expect(d.reason).toBe('idle_to_zero');
    expect(d.scaleToZero).toEqual({ afterSeconds: 300, idleSeconds: 301, secondsLeft: 0, blockedBy: null });
  });

  it('says how long until zero while the app is idle but not yet long enough', () => {
    const d = decide(policy(), quiet, oneReplica({ traffic: { lastBusyAt: ago(120), firstSampleAt: ago(355) } }), NOW);
    expect(d.desiredReplicas).toBe(1);
    expect(d.scaleToZero).toMatchObject({ idleSeconds: 120, secondsLeft: 180 });
    expect(d.message).toContain('to zero in 180s if it stays idle');
  });

  it('counts the last change of the count (a wake) as traffic', () => {
    const d = decide(policy(), quiet, oneReplica({ lastScaledAt: ago(40), traffic: { lastBusyAt: null, firstSampleAt: ago(355) } }), NOW);
    expect(d.desiredReplicas).toBe(1);
    expect(d.scaleToZero).toMatchObject({ idleSeconds: 40, secondsLeft: 260 });
  });

  it('knows idleness only since its first sample', () => {
    const d = decide(policy(), quiet, oneReplica({ lastScaledAt: null, traffic: { lastBusyAt: null, firstSampleAt: ago(90) } }), NOW);
    expect(d.desiredReplicas).toBe(1);
    expect(d.scaleToZero).toMatchObject({ idleSeconds: 90, secondsLeft: 210 });
  });

  it('says why not: traffic missing or stale, requests in flight, no history', () => {
    const { rps: _rps, ...noRps } = quiet;
    expect(decide(policy(), noRps, oneReplica(), NOW).scaleToZero?.blockedBy).toBe('rps missing or stale: traffic unknown, never to zero');
    const staleConnections = { ...quiet, active_connections: sample(0, { latestAt: ago(500) }) };
    expect(decide(policy(), staleConnections, oneReplica(), NOW).scaleToZero?.blockedBy).toContain('active_connections missing or stale');
    const inFlight = { ...quiet, active_connections: sample(0, { max: 1 }) };
    expect(decide(policy(), inFlight, oneReplica(), NOW).scaleToZero?.blockedBy).toBe('active_connections 1 in the window: not idle');
    const { traffic: _t, ...noHistory } = oneReplica();
    expect(decide(policy(), quiet, noHistory, NOW).scaleToZero?.blockedBy).toBe('no traffic history yet');
  });

  it('is not considered with a minimum above 0, nor at zero', () => {
    expect(decide(policy({ minReplicas: 1 }), quiet, oneReplica(), NOW).scaleToZero).toBeNull();
    expect(decide(policy(), quiet, oneReplica({ currentReplicas: 0, readyReplicas: 0 }), NOW).scaleToZero).toBeNull();
  });

  it('keeps ordinary scale-in at one replica or more: zero is only for idle_to_zero', () => {
    const low = { ...quiet, rps: sample(1), active_connections: sample(1) };
    const d = decide(policy(), low, oneReplica({ currentReplicas: 2, readyReplicas: 2 }), NOW);
    expect(d).toMatchObject({ desiredReplicas: 1, reason: 'scale_in' });
    expect(decide(policy(), low, oneReplica(), NOW).desiredReplicas).toBe(1);
  });

  it('goes to zero from several replicas at once, not one step at a time', () => {
    const d = decide(policy(), quiet, oneReplica({ currentReplicas: 3, readyReplicas: 3 }), NOW);
    expect(d).toMatchObject({ desiredReplicas: 0, reason: 'idle_to_zero' });
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const aggregateArb: fc.Arbitrary<MetricAggregate> = fc
  .record({
    a: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 500, noNaN: true })),
    b: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 500, noNaN: true })),
    count: fc.integer({ min: 0, max: 30 }),
    age: fc.integer({ min: 0, max: 1000 }),
  })
  .map(({ a, b, count, age }) => ({ avg: Math.min(a, b), max: Math.max(a, b), count, latestAt: ago(age) }));

const windowArb: fc.Arbitrary<MetricWindow> = fc.record(
  Object.fromEntries(SCALING_METRICS.map((m) => [m, aggregateArb])) as Record<ScalingMetric, fc.Arbitrary<MetricAggregate>>,
  { requiredKeys: [] },
);

const policyArb: fc.Arbitrary<ScalingPolicy> = fc
  .record({
    minReplicas: fc.constantFrom(0, 0, 0, 1, 2),
    maxReplicas: fc.integer({ min: 2, max: 20 }),
    evaluationWindowSeconds: fc.integer({ min: 10, max: 300 }),
    scaleToZeroAfterSeconds: fc.integer({ min: 10, max: 900 }),
    cooldownSeconds: fc.integer({ min: 0, max: 600 }),
    stabilizationWindowSeconds: fc.integer({ min: 0, max: 600 }),
    rpsWeight: fc.constantFrom(0, 1, 2),
    connectionWeight: fc.constantFrom(0, 0.8),
  })
  .map((p) => ({ ...DEFAULT_POLICY, ...p }));

const historyArb: fc.Arbitrary<TrafficHistory | undefined> = fc.option(
  fc.record({
    lastBusyAt: fc.option(fc.integer({ min: 0, max: 2000 }).map(ago), { nil: null }),
    firstSampleAt: fc.option(fc.integer({ min: 0, max: 2000 }).map(ago), { nil: null }),
  }),
  { nil: undefined },
);

const stateArb: fc.Arbitrary<ScalingState> = fc
  .record({
    currentReplicas: fc.integer({ min: 1, max: 10 }),
    notReady: fc.integer({ min: 0, max: 2 }),
    startingReplicas: fc.integer({ min: 0, max: 2 }),
    lastScaledAt: fc.option(fc.integer({ min: 0, max: 2000 }).map(ago), { nil: null }),
    traffic: historyArb,
  })
  .map(({ notReady, traffic, ...s }) => ({
    ...s,
    readyReplicas: Math.max(0, s.currentReplicas - notReady),
    recommendations: [],
    ...(traffic ? { traffic } : {}),
  }));

const freshAndZero = (p: ScalingPolicy, agg: MetricAggregate | undefined) =>
  agg !== undefined && agg.count > 0 && agg.max === 0 && agg.latestAt.getTime() >= NOW.getTime() - 2 * p.evaluationWindowSeconds * 1000;

describe('decide: scale-to-zero properties', () => {
  it('goes to zero only as idle_to_zero, with a minimum of 0, on fresh zero traffic idle for scaleToZeroAfterSeconds', () => {
    fc.assert(
      fc.property(policyArb, windowArb, stateArb, (p, w, s) => {
        const d = decide(p, w, s, NOW);
        if (d.desiredReplicas > 0) return;
        expect(d.reason).toBe('idle_to_zero');
        expect(p.minReplicas).toBe(0);
        expect(freshAndZero(p, w.rps) && freshAndZero(p, w.active_connections)).toBe(true);
        const since = [s.traffic?.lastBusyAt, s.traffic?.firstSampleAt, s.lastScaledAt].filter((x): x is Date => x instanceof Date);
        expect(s.traffic?.firstSampleAt).toBeInstanceOf(Date);
        expect(NOW.getTime() - Math.max(...since.map((x) => x.getTime()))).toBeGreaterThanOrEqual(p.scaleToZeroAfterSeconds * 1000);
      }),
      { numRuns: 2000 },
    );
  });

  it('never goes to zero on missing or stale traffic, whatever else the window holds', () => {
    fc.assert(
      fc.property(policyArb, windowArb, stateArb, fc.constantFrom('rps' as const, 'active_connections' as const), fc.boolean(), (p, w, s, metric, drop) => {
        const window: MetricWindow = { ...w };
        if (drop) delete window[metric];
        else window[metric] = sample(0, { latestAt: ago(2 * p.evaluationWindowSeconds + 1) });
        expect(decide(p, window, s, NOW).desiredReplicas).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 1000 },
    );
  });

  it('never goes below 1 while a request is in flight', () => {
    fc.assert(
      fc.property(policyArb, windowArb, stateArb, fc.integer({ min: 1, max: 50 }), (p, w, s, inFlight) => {
        const window = { ...w, active_connections: sample(0, { max: inFlight }) };
        expect(decide(p, window, s, NOW).desiredReplicas).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 1000 },
    );
  });

  it('never goes to zero before scaleToZeroAfterSeconds of idleness, however quiet the window', () => {
    fc.assert(
      fc.property(policyArb, stateArb, fc.integer({ min: 0, max: 899 }), (p, s, idle) => {
        fc.pre(idle < p.scaleToZeroAfterSeconds);
        const state = { ...s, traffic: { lastBusyAt: ago(idle), firstSampleAt: ago(2000) } };
        expect(decide(p, quiet, state, NOW).desiredReplicas).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 1000 },
    );
  });
});
