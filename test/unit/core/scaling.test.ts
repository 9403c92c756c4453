import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scalingPolicies } from '../../../db/schema.js';
import {
  decide,
  DEFAULT_POLICY,
  pruneRecommendations,
  resolvePolicy,
  SCALING_METRICS,
  SCALING_REASONS,
  targetFraction,
  type MetricAggregate,
  type MetricWindow,
  type ScalingDecision,
  type ScalingMetric,
  type ScalingPolicy,
  type ScalingReason,
  type ScalingState,
} from '../../../functions/core/scaling.js';

const NOW = new Date('2025-01-01T01:00:00.000Z');
const ago = (seconds: number) => new Date(NOW.getTime() - seconds * 1000);

/** DEFAULT_POLICY with room to grow: rps target 50/replica, CPU 70 %, thresholds 30–80 %, target fraction 0.8. */
const policy = (overrides: Partial<ScalingPolicy> = {}): ScalingPolicy => ({ ...DEFAULT_POLICY, maxReplicas: 20, ...overrides });
const sample = (value: number, overrides: Partial<MetricAggregate> = {}): MetricAggregate => ({
  avg: value,
  max: value,
  count: 6,
  latestAt: ago(10),
  ...overrides,
});
const state = (overrides: Partial<ScalingState> = {}): ScalingState => ({
  currentReplicas: 4,
  readyReplicas: 4,
  startingReplicas: 0,
  lastScaledAt: null,
  recommendations: [],
  ...overrides,
});
/** Every metric comfortably between the thresholds (50 % of its limit) on 4 ready replicas. */
const calm: MetricWindow = {
  cpu_percent: sample(35),
  memory_percent: sample(37.5),
  rps: sample(100),
  latency_p95: sample(125),
  active_connections: sample(200),
};
/** Every metric idle: 10 % of its limit on 4 ready replicas. */
const idle: MetricWindow = {
  cpu_percent: sample(7),
  memory_percent: sample(7.5),
  rps: sample(20),
  latency_p95: sample(25),
  active_connections: sample(40),
};

describe('decide: one scenario per reason code', () => {
  const scenarios: Record<ScalingReason, () => ScalingDecision> = {
    // CPU at 90 % of its limit on 4 replicas asks for ceil(4 × 0.9 / 0.8) = 5.
    scale_out: () => decide(policy(), { ...calm, cpu_percent: sample(63) }, state(), NOW),
    scale_in: () => decide(policy(), idle, state({ currentReplicas: 2, readyReplicas: 2 }), NOW),
    within_thresholds: () => decide(policy(), calm, state(), NOW),
    cooldown: () => decide(policy(), idle, state({ lastScaledAt: ago(150) }), NOW),
    stabilizing: () => decide(policy(), idle, state({ recommendations: [{ at: ago(100), replicas: 4 }] }), NOW),
    at_max: () => decide(policy({ maxReplicas: 4 }), { ...calm, cpu_percent: sample(63) }, state(), NOW),
    at_min: () => decide(policy({ minReplicas: 2 }), idle, state({ currentReplicas: 2, readyReplicas: 2 }), NOW),
    no_metrics: () => decide(policy(), {}, state(), NOW),
    step_limited: () => decide(policy(), idle, state(), NOW),
    starting_replicas: () => decide(policy(), idle, state({ currentReplicas: 5, startingReplicas: 1 }), NOW),
    settling: () => decide(policy(), { ...calm, cpu_percent: sample(63) }, state({ lastScaledAt: ago(30) }), NOW),
    stale_metrics: () => decide(policy(), { ...idle, cpu_percent: sample(7, { latestAt: ago(121) }) }, state(), NOW),
    below_min: () => decide(policy({ minReplicas: 3 }), calm, state({ currentReplicas: 2, readyReplicas: 2 }), NOW),
    above_max: () => decide(policy({ maxReplicas: 3 }), calm, state(), NOW),
    idle_to_zero: () =>
      decide(
        policy({ minReplicas: 0 }),
        { ...idle, rps: sample(0), active_connections: sample(0) },
        state({ currentReplicas: 1, readyReplicas: 1, traffic: { lastBusyAt: ago(400), firstSampleAt: ago(360) } }),
        NOW,
      ),
  };

  it('covers every reason code', () => {
    expect(Object.keys(scenarios).sort()).toEqual([...SCALING_REASONS].sort());
  });

  it.each(Object.entries(scenarios))('%s', (reason, run) => {
    const decision = run();
    expect(decision.reason).toBe(reason);
    expect(decision.message).not.toBe('');
  });

  it('moves the count exactly as each reason says', () => {
    const desired = Object.fromEntries(Object.entries(scenarios).map(([reason, run]) => [reason, run().desiredReplicas]));
    expect(desired).toEqual({
      scale_out: 5,
      scale_in: 1,
      within_thresholds: 4,
      cooldown: 4,
      stabilizing: 4,
      at_max: 4,
      at_min: 2,
      no_metrics: 4,
      step_limited: 3,
      starting_replicas: 5,
      settling: 4,
      stale_metrics: 4,
      below_min: 3,
      above_max: 3,
      idle_to_zero: 0,
    });
  });
});

describe('decide: rules', () => {
  it('aims proposals at the scale-out threshold', () => {
    expect(targetFraction(DEFAULT_POLICY)).toBeCloseTo(0.8);
    expect(targetFraction({ scaleOutThresholdPct: 60 })).toBeCloseTo(0.6);
    const d = decide(policy(), { ...calm, cpu_percent: sample(63) }, state(), NOW);
    expect(d.inputs.cpu_percent).toMatchObject({ observed: 63, utilization: 0.9, projected: 63, proposal: 5, weightedProposal: 5 });
    expect(d.policy.targetFraction).toBeCloseTo(0.8);
  });

  it("sizes a rise for one more window of it, at most half again the window's peak", () => {
    // Flat: the peak is the mean, nothing is added: ceil(300 / 40) = 8.
    expect(decide(policy(), { rps: sample(300) }, state(), NOW)).toMatchObject({ desiredReplicas: 8 });
    // A steady rise whose peak leads its mean by 50 goes on by 100: ceil(400 / 40) = 10.
    const rising = decide(policy(), { rps: sample(250, { max: 300 }) }, state(), NOW);
    expect(rising.inputs.rps).toMatchObject({ observed: 300, projected: 400, proposal: 10 });
    // A step from 50 to 300 is not extrapolated past half again: 450, ceil(450 / 40) = 12.
    const step = decide(policy(), { rps: sample(92, { max: 300 }) }, state(), NOW);
    expect(step.inputs.rps).toMatchObject({ observed: 300, projected: 450, proposal: 12 });
    // Thresholds judge what was observed, not the projection.
    expect(decide(policy(), { rps: sample(100, { max: 150 }) }, state(), NOW)).toMatchObject({ reason: 'within_thresholds' });
    // Alarms are not projected.
    expect(decide(policy(), { latency_p95: sample(100, { max: 225 }) }, state(), NOW).inputs.latency_p95.projected).toBeNull();
  });

  it('divides app totals by the ready replicas, not by the desired count', () => {
    // 200 rps carried by 4 ready replicas (4 more starting): 50 per replica, 100 % of the target.
    const d = decide(policy(), { rps: sample(200) }, state({ currentReplicas: 8, startingReplicas: 4 }), NOW);
    expect(d.inputs.rps.utilization).toBe(1);
    // ceil(200 / (50 × 0.8)) = 5 replicas, and 8 are already on their way.
    expect(d.inputs.rps.proposal).toBe(5);
    expect(d).toMatchObject({ reason: 'starting_replicas', desiredReplicas: 8 });
  });

  it('counts starting replicas toward capacity: a scale-out under way is topped up, not repeated', () => {
    // 400 rps asks for ceil(400 / 40) = 10; 8 are already requested, so 2 more.
    const d = decide(policy(), { rps: sample(400) }, state({ currentReplicas: 8, startingReplicas: 4 }), NOW);
    expect(d).toMatchObject({ reason: 'scale_out', desiredReplicas: 10 });
  });

  it('does not scale in while replicas are starting, however idle the window looks', () => {
    const d = decide(policy(), idle, state({ currentReplicas: 6, readyReplicas: 4, startingReplicas: 2 }), NOW);
    expect(d).toMatchObject({ reason: 'starting_replicas', desiredReplicas: 6 });
  });

  it('applies no cooldown to scale-out', () => {
    // Scaled 130 s ago: inside the 180 s cooldown, past the 120 s settling time.
    const d = decide(policy(), { ...calm, cpu_percent: sample(63) }, state({ lastScaledAt: ago(130), lastDirection: 'in' }), NOW);
    expect(d).toMatchObject({ reason: 'scale_out', desiredReplicas: 5 });
  });

  it('lets app totals scale out while per-replica metrics settle after a change', () => {
    const settlingState = state({ lastScaledAt: ago(20) });
    const cpuOnly = decide(policy(), { ...calm, cpu_percent: sample(63) }, settlingState, NOW);
    expect(cpuOnly).toMatchObject({ reason: 'settling', desiredReplicas: 4, settling: true });
    const withRps = decide(policy(), { ...calm, cpu_percent: sample(63), rps: sample(300) }, settlingState, NOW);
    expect(withRps).toMatchObject({ reason: 'scale_out', desiredReplicas: 8 });
  });

  it('treats latency and memory as alarms: one replica more when above the threshold, no hold on scale-in', () => {
    const alarmed = decide(policy(), { ...calm, latency_p95: sample(225) }, state(), NOW);
    // ready + 1 = 5, pulled 1.5 times as far by the default latency weight: ceil(4 + 1.5) = 6.
    expect(alarmed.inputs.latency_p95).toMatchObject({ utilization: 0.9, proposal: 5, weightedProposal: 6 });
    expect(alarmed).toMatchObject({ reason: 'scale_out', desiredReplicas: 6 });
    // Memory that does not fall with load (53 % of its limit) must not pin the count.
    const flatMemory = decide(policy(), { ...idle, memory_percent: sample(40) }, state({ currentReplicas: 2, readyReplicas: 2 }), NOW);
    expect(flatMemory.inputs.memory_percent.proposal).toBeNull();
    expect(flatMemory).toMatchObject({ reason: 'scale_in', desiredReplicas: 1 });
  });

  it('judges the window highest sample, and the p95 for latency when the window has one', () => {
    const d = decide(policy(), { cpu_percent: sample(30, { max: 63 }), latency_p95: sample(100, { max: 900, p95: 150 }) }, state(), NOW);
    expect(d.inputs.cpu_percent.observed).toBe(63);
    expect(d.inputs.latency_p95.observed).toBe(150);
  });

  it('scales each proposal pull by its weight; weight 0 disables the metric', () => {
    const window: MetricWindow = { rps: sample(300) };
    // The proposal is 8: half way from 4 is 6, twice as far is 12.
    expect(decide(policy({ rpsWeight: 0.5 }), window, state(), NOW)).toMatchObject({ desiredReplicas: 6 });
    expect(decide(policy({ rpsWeight: 2 }), window, state(), NOW)).toMatchObject({ desiredReplicas: 12 });
    const disabled = decide(policy({ rpsWeight: 0 }), window, state(), NOW);
    expect(disabled).toMatchObject({ reason: 'no_metrics', desiredReplicas: 4 });
    expect(disabled.inputs.rps).toMatchObject({ ignored: true, utilization: null });
  });

  it('holds when a metric above the threshold is all but muted by a near-zero weight', () => {
    const d = decide(policy({ rpsWeight: 1e-12 }), { rps: sample(300) }, state(), NOW);
    expect(d).toMatchObject({ reason: 'within_thresholds', desiredReplicas: 4 });
    expect(d.message).toMatch(/rps 150% above 80%, but its weighted proposal asks for no more than 4/);
  });

  it('scales in only when something is idle and every proposal fits in fewer replicas', () => {
    // rps is idle but CPU (70 % of its limit) needs ceil(4 × 0.7 / 0.8) = 4: hold.
    const cpuNeeds = decide(policy(), { rps: sample(20), cpu_percent: sample(49) }, state(), NOW);
    expect(cpuNeeds).toMatchObject({ reason: 'within_thresholds', desiredReplicas: 4 });
    // CPU at 50 % of its limit fits in ceil(4 × 0.5 / 0.8) = 3, and rps is idle: one fewer.
    const fits = decide(policy(), { rps: sample(20), cpu_percent: sample(35) }, state(), NOW);
    expect(fits).toMatchObject({ reason: 'scale_in', desiredReplicas: 3 });
  });

  it('holds within the stabilization window and scales in once the high recommendation expires', () => {
    const history = [{ at: ago(299), replicas: 4 }];
    expect(decide(policy(), idle, state({ recommendations: history }), NOW).reason).toBe('stabilizing');
    const expired = [{ at: ago(301), replicas: 4 }];
    expect(decide(policy(), idle, state({ recommendations: expired }), NOW)).toMatchObject({ desiredReplicas: 3 });
    // A stabilized count between the proposal and the current one is where the scale-in stops.
    const partial = decide(policy({ maxScaleInStep: 0 }), idle, state({ recommendations: [{ at: ago(60), replicas: 2 }] }), NOW);
    expect(partial).toMatchObject({ reason: 'scale_in', desiredReplicas: 2, stabilizedReplicas: 2 });
  });

  it('limits each step to the policy; 0 means no limit', () => {
    expect(decide(policy({ maxScaleOutStep: 2 }), { rps: sample(300) }, state(), NOW)).toMatchObject({ reason: 'step_limited', desiredReplicas: 6 });
    expect(decide(policy({ maxScaleOutStep: 0 }), { rps: sample(300) }, state(), NOW)).toMatchObject({ reason: 'scale_out', desiredReplicas: 8 });
    expect(decide(policy({ maxScaleInStep: 2 }), idle, state(), NOW)).toMatchObject({ reason: 'step_limited', desiredReplicas: 2 });
    expect(decide(policy({ maxScaleInStep: 0 }), idle, state(), NOW)).toMatchObject({ reason: 'scale_in', desiredReplicas: 1 });
  });

  it('never scales in on stale or unusable data, but absent metrics are simply not reported', () => {
    const old = decide(policy(), { ...idle, rps: sample(20, { latestAt: ago(121) }) }, state(), NOW);
    expect(old).toMatchObject({ reason: 'stale_metrics', desiredReplicas: 4 });
    expect(old.inputs.rps).toMatchObject({ stale: true, observed: 20, utilization: null });
    const empty = decide(policy(), { ...idle, rps: sample(20, { count: 0 }) }, state(), NOW);
    expect(empty).toMatchObject({ reason: 'stale_metrics', desiredReplicas: 4 });
    const nan = decide(policy(), { ...idle, cpu_percent: sample(Number.NaN) }, state(), NOW);
    expect(nan).toMatchObject({ reason: 'stale_metrics', desiredReplicas: 4 });
    const badDate = decide(policy(), { ...idle, cpu_percent: sample(7, { latestAt: new Date(Number.NaN) }) }, state(), NOW);
    expect(badDate.reason).toBe('stale_metrics');
    const allStale = decide(policy(), { rps: sample(20, { latestAt: ago(500) }) }, state(), NOW);
    expect(allStale).toMatchObject({ reason: 'no_metrics', desiredReplicas: 4 });
    const { active_connections: _absent, ...withoutConnections } = idle;
    expect(decide(policy(), withoutConnections, state(), NOW)).toMatchObject({ reason: 'step_limited', desiredReplicas: 3 });
  });

  it('still scales out on fresh metrics while another is stale', () => {
    const d = decide(policy(), { rps: sample(300), cpu_percent: sample(7, { latestAt: ago(500) }) }, state(), NOW);
    expect(d).toMatchObject({ reason: 'scale_out', desiredReplicas: 8 });
  });

  it('counts the cooldown per direction: a descent goes on while load is clearly below the count', () => {
    const tenReplicas = state({ currentReplicas: 10, readyReplicas: 10, lastScaledAt: ago(10) });
    // Right after a scale-out (or a change of unknown direction), a scale-in waits the cooldown.
    expect(decide(policy(), idle, { ...tenReplicas, lastDirection: 'out' }, NOW)).toMatchObject({ reason: 'cooldown', desiredReplicas: 10 });
    expect(decide(policy(), idle, tenReplicas, NOW)).toMatchObject({ reason: 'cooldown', desiredReplicas: 10 });
    // A scale-in that continues a descent does not, while the stabilized count is 2 or more below.
    const descent = { ...tenReplicas, lastDirection: 'in' as const, recommendations: [{ at: ago(200), replicas: 8 }] };
    expect(decide(policy(), idle, descent, NOW)).toMatchObject({ reason: 'step_limited', desiredReplicas: 9, stabilizedReplicas: 8 });
    // The last replica of a descent waits the cooldown again.
    const lastStep = { ...descent, currentReplicas: 9, readyReplicas: 9 };
    expect(decide(policy(), idle, lastStep, NOW)).toMatchObject({ reason: 'cooldown', desiredReplicas: 9 });
    // And a descent never goes below the stabilized recommendation.
    expect(decide(policy(), idle, { ...lastStep, currentReplicas: 8, readyReplicas: 8 }, NOW)).toMatchObject({ reason: 'stabilizing' });
  });

  it('returns the raw recommendation for the history, before stabilization, steps and cooldown', () => {
    const d = decide(policy(), idle, state({ lastScaledAt: ago(150) }), NOW);
    expect(d).toMatchObject({ reason: 'cooldown', desiredReplicas: 4 });
    expect(d.recommendation).toEqual({ at: NOW.toISOString(), replicas: 1 });
    expect(d.evaluatedAt).toBe(NOW.toISOString());
  });

  it('is JSON as it is stored and shown', () => {
    const d = decide(policy(), { ...calm, cpu_percent: sample(63) }, state({ lastScaledAt: ago(400), lastReason: 'within_thresholds' }), NOW);
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
    expect(d.replicas).toEqual({ current: 4, ready: 4, starting: 0 });
  });
});

describe('policy helpers', () => {
  it('DEFAULT_POLICY is the scaling_policies defaults, column for column', () => {
    const columns = scalingPolicies as unknown as Record<keyof ScalingPolicy, { default: unknown }>;
    for (const key of Object.keys(DEFAULT_POLICY) as Array<keyof ScalingPolicy>) {
      expect(columns[key].default, key).toBe(DEFAULT_POLICY[key]);
    }
  });

  it('resolvePolicy reads NULL columns as their defaults', () => {
    expect(resolvePolicy({ minReplicas: 2, maxReplicas: 9, cpuWeight: null, cooldownSeconds: 0 })).toEqual({
      ...DEFAULT_POLICY,
      minReplicas: 2,
      maxReplicas: 9,
      cooldownSeconds: 0,
    });
  });

  it('pruneRecommendations keeps only the window ending now', () => {
    const history = [
      { at: ago(400), replicas: 9 },
      { at: ago(300), replicas: 8 },
      { at: ago(299), replicas: 7 },
      { at: NOW, replicas: 6 },
      { at: new Date(NOW.getTime() + 1000), replicas: 5 },
    ];
    expect(pruneRecommendations(history, NOW, 300).map((r) => r.replicas)).toEqual([7, 6]);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const policyArb: fc.Arbitrary<ScalingPolicy> = fc
  .record({
    minReplicas: fc.integer({ min: 0, max: 5 }),
    span: fc.integer({ min: 0, max: 40 }),
    targetRpsPerReplica: fc.integer({ min: 1, max: 500 }),
    maxP95LatencyMs: fc.integer({ min: 10, max: 2000 }),
    maxCpuPercent: fc.integer({ min: 10, max: 100 }),
    maxMemoryPercent: fc.integer({ min: 10, max: 100 }),
    maxConnectionsPerReplica: fc.integer({ min: 1, max: 1000 }),
    scaleInThresholdPct: fc.integer({ min: 1, max: 98 }),
    outGap: fc.integer({ min: 1, max: 99 }),
    cooldownSeconds: fc.integer({ min: 0, max: 600 }),
    evaluationWindowSeconds: fc.integer({ min: 10, max: 300 }),
    maxScaleOutStep: fc.integer({ min: 0, max: 10 }),
    maxScaleInStep: fc.integer({ min: 0, max: 5 }),
    stabilizationWindowSeconds: fc.integer({ min: 0, max: 900 }),
    cpuWeight: fc.oneof(fc.constant(0), fc.double({ min: 0.1, max: 3, noNaN: true })),
    memoryWeight: fc.oneof(fc.constant(0), fc.double({ min: 0.1, max: 3, noNaN: true })),
    rpsWeight: fc.oneof(fc.constant(0), fc.double({ min: 0.1, max: 3, noNaN: true })),
    latencyWeight: fc.oneof(fc.constant(0), fc.double({ min: 0.1, max: 3, noNaN: true })),
    connectionWeight: fc.oneof(fc.constant(0), fc.double({ min: 0.1, max: 3, noNaN: true })),
    scaleToZeroAfterSeconds: fc.integer({ min: 10, max: 900 }),
  })
  .map(({ span, outGap, ...p }) => ({
    ...p,
    maxReplicas: Math.max(1, p.minReplicas + span),
    scaleOutThresholdPct: Math.min(100, p.scaleInThresholdPct + outGap),
  }));

const aggregateArb = (fresh: boolean): fc.Arbitrary<MetricAggregate> =>
  fc
    .record({
      a: fc.double({ min: 0, max: 5000, noNaN: true }),
      b: fc.double({ min: 0, max: 5000, noNaN: true }),
      count: fresh ? fc.integer({ min: 1, max: 30 }) : fc.integer({ min: 0, max: 30 }),
      // Fresh means within one evaluation window of the smallest policy (10 s).
      age: fresh ? fc.integer({ min: 0, max: 19 }) : fc.integer({ min: 0, max: 2000 }),
      withP95: fc.boolean(),
    })
    .map(({ a, b, count, age, withP95 }) => ({
      avg: Math.min(a, b),
      max: Math.max(a, b),
      ...(withP95 ? { p95: (a + b) / 2 } : {}),
      count,
      latestAt: ago(age),
    }));

const windowArb = (fresh: boolean): fc.Arbitrary<MetricWindow> =>
  fc.record(Object.fromEntries(SCALING_METRICS.map((m) => [m, aggregateArb(fresh)])) as Record<ScalingMetric, fc.Arbitrary<MetricAggregate>>, {
    requiredKeys: [],
  });

const stateArb: fc.Arbitrary<ScalingState> = fc.record(
  {
    currentReplicas: fc.integer({ min: 0, max: 60 }),
    readyReplicas: fc.integer({ min: 0, max: 60 }),
    startingReplicas: fc.integer({ min: 0, max: 20 }),
    lastScaledAt: fc.option(fc.integer({ min: 0, max: 2000 }).map(ago), { nil: null }),
    recommendations: fc.array(
      fc.record({ at: fc.integer({ min: 0, max: 1000 }).map(ago), replicas: fc.integer({ min: 0, max: 60 }) }),
      { maxLength: 8 },
    ),
    lastDirection: fc.constantFrom('out' as const, 'in' as const, 'hold' as const),
  },
  { requiredKeys: ['currentReplicas', 'readyReplicas', 'startingReplicas', 'lastScaledAt', 'recommendations'] },
);

const weightOf = (p: ScalingPolicy, m: ScalingMetric) =>
  ({
    cpu_percent: p.cpuWeight,
    memory_percent: p.memoryWeight,
    rps: p.rpsWeight,
    latency_p95: p.latencyWeight,
    active_connections: p.connectionWeight,
  })[m];
const withinBounds = (p: ScalingPolicy, s: ScalingState) => s.currentReplicas >= p.minReplicas && s.currentReplicas <= p.maxReplicas;
const scaleWindow = (w: MetricWindow, k: number): MetricWindow =>
  Object.fromEntries(
    Object.entries(w).map(([m, a]) => [m, { ...a, avg: a.avg * k, max: a.max * k, ...(a.p95 !== undefined ? { p95: a.p95 * k } : {}) }]),
  );

describe('decide: properties', () => {
  it('never leaves [minReplicas, maxReplicas]', () => {
    fc.assert(
      fc.property(policyArb, windowArb(false), stateArb, (p, w, s) => {
        const { desiredReplicas } = decide(p, w, s, NOW);
        expect(desiredReplicas).toBeGreaterThanOrEqual(p.minReplicas);
        expect(desiredReplicas).toBeLessThanOrEqual(p.maxReplicas);
        expect(Number.isInteger(desiredReplicas)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('never scales in on missing or stale data', () => {
    const staleArb = aggregateArb(false).map((a) => ({ ...a, latestAt: ago(5000) }));
    fc.assert(
      fc.property(
        policyArb,
        windowArb(false),
        stateArb,
        fc.subarray([...SCALING_METRICS], { minLength: 1 }),
        staleArb,
        (p, w, s, chosen, stale) => {
          // A metric with weight 0 is disabled: stale or not, it plays no part.
          const staleMetrics = chosen.filter((m) => weightOf(p, m) > 0);
          fc.pre(withinBounds(p, s) && staleMetrics.length > 0);
          const withStale: MetricWindow = { ...w, ...Object.fromEntries(staleMetrics.map((m) => [m, stale])) };
          // A stale metric holds the count or lets it grow; it never lets it shrink.
          expect(decide(p, withStale, s, NOW).desiredReplicas).toBeGreaterThanOrEqual(s.currentReplicas);
          // With nothing but stale or absent metrics, nothing moves.
          const onlyStale = Object.fromEntries(staleMetrics.map((m) => [m, stale]));
          expect(decide(p, onlyStale, s, NOW).desiredReplicas).toBe(s.currentReplicas);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never moves further than the step limits', () => {
    fc.assert(
      fc.property(policyArb, windowArb(true), stateArb, (p, w, s) => {
        fc.pre(withinBounds(p, s));
        const { desiredReplicas } = decide(p, w, s, NOW);
        if (p.maxScaleOutStep > 0) expect(desiredReplicas - s.currentReplicas).toBeLessThanOrEqual(p.maxScaleOutStep);
        if (p.maxScaleInStep > 0) expect(s.currentReplicas - desiredReplicas).toBeLessThanOrEqual(p.maxScaleInStep);
      }),
      { numRuns: 500 },
    );
  });

  it('changes nothing while every utilization is between the thresholds', () => {
    fc.assert(
      fc.property(
        policyArb,
        stateArb,
        fc.subarray([...SCALING_METRICS], { minLength: 1 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: SCALING_METRICS.length, maxLength: SCALING_METRICS.length }),
        (p, s, metrics, positions) => {
          fc.pre(withinBounds(p, s));
          const lo = p.scaleInThresholdPct / 100;
          const hi = p.scaleOutThresholdPct / 100;
          const carriers = Math.max(s.readyReplicas, 1);
          const targets: Record<ScalingMetric, number> = {
            cpu_percent: p.maxCpuPercent,
            memory_percent: p.maxMemoryPercent,
            rps: p.targetRpsPerReplica * carriers,
            latency_p95: p.maxP95LatencyMs,
            active_connections: p.maxConnectionsPerReplica * carriers,
          };
          // Kept a hair inside the band so that float division cannot push it across.
          const w: MetricWindow = Object.fromEntries(
            metrics.map((m, i) => {
              const u = lo + 1e-9 + (positions[i] as number) * (hi - lo - 2e-9);
              return [m, sample(u * targets[m])];
            }),
          );
          const d = decide(p, w, s, NOW);
          expect(d.desiredReplicas).toBe(s.currentReplicas);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("never scales in below the highest recommendation within the stabilization window", () => {
    fc.assert(
      fc.property(policyArb, windowArb(false), stateArb, (p, w, s) => {
        fc.pre(withinBounds(p, s));
        const d = decide(p, w, s, NOW);
        if (d.desiredReplicas >= s.currentReplicas) return;
        const from = NOW.getTime() - p.stabilizationWindowSeconds * 1000;
        const inWindow = s.recommendations.filter((r) => r.at.getTime() > from && r.at.getTime() <= NOW.getTime()).map((r) => r.replicas);
        expect(d.desiredReplicas).toBeGreaterThanOrEqual(Math.max(d.recommendation.replicas, ...inWindow));
        expect(d.desiredReplicas).toBeGreaterThanOrEqual(d.stabilizedReplicas);
      }),
      { numRuns: 1000 },
    );
  });

  it('counts the cooldown per direction: within it, a scale-in only continues a descent well above the stabilized count', () => {
    fc.assert(
      fc.property(policyArb, windowArb(false), stateArb, (p, w, s) => {
        fc.pre(withinBounds(p, s));
        const d = decide(p, w, s, NOW);
        const withinCooldown = s.lastScaledAt !== null && NOW.getTime() - s.lastScaledAt.getTime() < p.cooldownSeconds * 1000;
        if (d.desiredReplicas < s.currentReplicas && withinCooldown && d.reason !== 'above_max') {
          expect(s.lastDirection).toBe('in');
          expect(d.stabilizedReplicas).toBeLessThanOrEqual(s.currentReplicas - 2);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('sizes every proportional proposal between the window peak and half again more', () => {
    fc.assert(
      fc.property(policyArb, windowArb(true), stateArb, (p, w, s) => {
        const d = decide(p, w, s, NOW);
        for (const m of SCALING_METRICS) {
          const input = d.inputs[m];
          if (input.projected === null || input.observed === null) continue;
          expect(input.projected).toBeGreaterThanOrEqual(input.observed);
          expect(input.projected).toBeLessThanOrEqual(input.observed * 1.5 + 1e-9);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('is monotone in load: more load never yields fewer replicas', () => {
    fc.assert(
      fc.property(policyArb, windowArb(false), stateArb, fc.double({ min: 1, max: 10, noNaN: true }), (p, w, s, k) => {
        const base = decide(p, w, s, NOW).desiredReplicas;
        expect(decide(p, scaleWindow(w, k), s, NOW).desiredReplicas).toBeGreaterThanOrEqual(base);
      }),
      { numRuns: 1000 },
    );
  });

  it('always returns a decision that survives a JSON round trip', () => {
    fc.assert(
      fc.property(policyArb, windowArb(false), stateArb, (p, w, s) => {
        const d = decide(p, w, s, NOW);
        expect(JSON.parse(JSON.stringify(d))).toEqual(d);
        expect(SCALING_REASONS).toContain(d.reason);
      }),
      { numRuns: 300 },
    );
  });
});
