/**
 * The scaling decision: a pure function from (policy, metric window, replica state, now) to a
 * desired replica count, a reason code and every input that led there. No I/O and no clock: the
 * scaler job and the simulator (bench/sim) call the same function, so what the simulator measures
 * is what production does. docs/scaling.md explains every rule and reason code.
 */

import { scaleToZeroStatus, type ScaleToZeroStatus, type TrafficHistory } from './scale-to-zero.js';

export const SCALING_METRICS = ['cpu_percent', 'memory_percent', 'rps', 'latency_p95', 'active_connections'] as const;
export type ScalingMetric = (typeof SCALING_METRICS)[number];

/** The columns of `scaling_policies` (db/schema.ts) that drive a decision, in camelCase. */
export interface ScalingPolicy {
  minReplicas: number;
  maxReplicas: number;
  targetRpsPerReplica: number;
  maxP95LatencyMs: number;
  maxCpuPercent: number;
  maxMemoryPercent: number;
  maxConnectionsPerReplica: number;
  scaleOutThresholdPct: number;
  scaleInThresholdPct: number;
  cooldownSeconds: number;
  evaluationWindowSeconds: number;
  maxScaleOutStep: number;
  maxScaleInStep: number;
  stabilizationWindowSeconds: number;
  cpuWeight: number;
  memoryWeight: number;
  rpsWeight: number;
  latencyWeight: number;
  connectionWeight: number;
  /** With minReplicas 0: how long rps and in-flight must be zero before the app goes to 0. */
  scaleToZeroAfterSeconds: number;
}

/** The defaults of the `scaling_policies` table, column for column. */
export const DEFAULT_POLICY: Readonly<ScalingPolicy> = Object.freeze({
  minReplicas: 1,
  maxReplicas: 5,
  targetRpsPerReplica: 50,
  maxP95LatencyMs: 250,
  maxCpuPercent: 70,
  maxMemoryPercent: 75,
  maxConnectionsPerReplica: 100,
  scaleOutThresholdPct: 80,
  scaleInThresholdPct: 30,
  cooldownSeconds: 180,
  evaluationWindowSeconds: 60,
  maxScaleOutStep: 0,
  maxScaleInStep: 1,
  stabilizationWindowSeconds: 300,
  cpuWeight: 1.0,
  memoryWeight: 1.0,
  rpsWeight: 1.0,
  latencyWeight: 1.5,
  connectionWeight: 0.8,
  scaleToZeroAfterSeconds: 300,
});

/**
 * A scaling_policies row may hold NULL in every tuning column (only the replica bounds are
 * NOT NULL); NULL means "the default".
 */
export function resolvePolicy(row: { [K in keyof ScalingPolicy]?: number | null }): ScalingPolicy {
  const policy = { ...DEFAULT_POLICY };
  for (const key of Object.keys(policy) as Array<keyof ScalingPolicy>) {
    const value = row[key];
    if (typeof value === 'number' && Number.isFinite(value)) policy[key] = value;
  }
  return policy;
}

/** One metric over the evaluation window, as the scaler's window query returns it. */
export interface MetricAggregate {
  avg: number;
  max: number;
  p95?: number;
  count: number;
  latestAt: Date;
}

/**
 * Per metric type, the window aggregate or nothing. `rps` and `active_connections` are app
 * totals (the router or ALB measures them per app); `cpu_percent` and `memory_percent` are
 * averages over the replicas; `latency_p95` is the app's p95 in milliseconds.
 */
export type MetricWindow = Partial<Record<ScalingMetric, MetricAggregate>>;

export interface Recommendation {
  at: Date;
  replicas: number;
}

export interface ScalingState {
  /** The desired replica count now (what the app is being scaled to). */
  currentReplicas: number;
  /** Replicas running and healthy: the ones that carried the measured load. */
  readyReplicas: number;
  /** Replicas started but not healthy yet. */
  startingReplicas: number;
  lastScaledAt: Date | null;
  /** Raw recommendations of recent decisions, for the scale-in stabilization window. */
  recommendations: readonly Recommendation[];
  lastReason?: ScalingReason;
  /**
   * Which way the previous decision moved the count (absent: unknown, read as a hold). A
   * scale-in that continues a descent needs no cooldown while the load is clearly below the
   * count (see CLEARLY_FALLEN_REPLICAS).
   */
  lastDirection?: ScalingDirection;
  /** Recent traffic, for scale to zero (read only for apps whose minimum is 0). */
  traffic?: TrafficHistory;
}

export type ScalingDirection = 'out' | 'in' | 'hold';

/** Which way a decision moves the count. */
export function directionOf(decision: Pick<ScalingDecision, 'currentReplicas' | 'desiredReplicas'>): ScalingDirection {
  return decision.desiredReplicas > decision.currentReplicas ? 'out' : decision.desiredReplicas < decision.currentReplicas ? 'in' : 'hold';
}

export const SCALING_REASONS = [
  'scale_out',
  'scale_in',
  'within_thresholds',
  'cooldown',
  'stabilizing',
  'at_max',
  'at_min',
  'no_metrics',
  'step_limited',
  'starting_replicas',
  'settling',
  'stale_metrics',
  'below_min',
  'above_max',
  'idle_to_zero',
] as const;
export type ScalingReason = (typeof SCALING_REASONS)[number];

export interface MetricInput {
  /** The value judged: the window's highest sample (its p95 for latency when the window has one). */
  observed: number | null;
  /** What `observed` is compared with (per ready replica for app totals). */
  target: number;
  /** observed (per ready replica for app totals) / target. Null when the metric plays no part. */
  utilization: number | null;
  /**
   * What a proportional proposal is sized for: `observed` plus the window's rise carried one
   * window on (see GROWTH_CAP). Null for alarms and for metrics that play no part.
   */
  projected: number | null;
  /** Replicas this metric alone asks for, before weighting. */
  proposal: number | null;
  /** The proposal after the weight scaled its pull away from the current count. */
  weightedProposal: number | null;
  weight: number;
  /** Present but too old, or empty: no part in sizing, and it blocks scale-in. */
  stale: boolean;
  /** Absent from the window, or weight 0, or no target: no part at all. */
  ignored: boolean;
}

export interface ScalingDecision {
  desiredReplicas: number;
  currentReplicas: number;
  reason: ScalingReason;
  /** One sentence for people: the reason with its numbers. */
  message: string;
  inputs: Record<ScalingMetric, MetricInput>;
  replicas: { current: number; ready: number; starting: number };
  policy: {
    minReplicas: number;
    maxReplicas: number;
    scaleOutThresholdPct: number;
    scaleInThresholdPct: number;
    targetFraction: number;
    cooldownSeconds: number;
    stabilizationWindowSeconds: number;
    maxScaleOutStep: number;
    maxScaleInStep: number;
    evaluationWindowSeconds: number;
  };
  /** True while per-replica metrics still describe the count before the last change. */
  settling: boolean;
  /** With minReplicas 0: how long until the app goes to zero, or why it does not. */
  scaleToZero: ScaleToZeroStatus | null;
  /** The highest recommendation over the stabilization window, this one included. */
  stabilizedReplicas: number;
  evaluatedAt: string;
  /** This evaluation's raw recommendation: append it to the state's history. */
  recommendation: { at: string; replicas: number };
}

/** A metric is stale when its newest sample is older than this many evaluation windows. */
export const STALE_AFTER_WINDOWS = 2;

/**
 * After the count changes, per-replica metrics (CPU, memory, latency) may raise it again only
 * once this many evaluation windows have passed: until then the window still holds samples
 * taken on the old count.
 */
export const SETTLE_WINDOWS = 2;

/** Keeps `ceil` honest about float noise such as 400 / 64 = 6.250000000000001. */
const EPSILON = 1e-9;

type MetricKind =
  /** An app total: the replicas it needs do not depend on how many there are now. */
  | 'total'
  /** A per-replica average that falls as 1 / replicas (CPU): sized proportionally. */
  | 'per_replica'
  /**
   * A metric that does not fall in proportion to replicas: latency (it explodes near
   * saturation and flattens below it) and memory (runtime heaps and caches stay put; sized
   * proportionally, a flat 53 % of its limit would pin every app near its peak forever, the
   * legacy scaler's bug). Above the scale-out threshold it asks for one replica more than are
   * ready; otherwise it asks for nothing and does not hold a scale-in back.
   */
  | 'alarm';

interface MetricSpec {
  kind: MetricKind;
  target: (p: ScalingPolicy) => number;
  weight: (p: ScalingPolicy) => number;
}

const METRIC_SPECS: Record<ScalingMetric, MetricSpec> = {
  cpu_percent: { kind: 'per_replica', target: (p) => p.maxCpuPercent, weight: (p) => p.cpuWeight },
  memory_percent: { kind: 'alarm', target: (p) => p.maxMemoryPercent, weight: (p) => p.memoryWeight },
  rps: { kind: 'total', target: (p) => p.targetRpsPerReplica, weight: (p) => p.rpsWeight },
  latency_p95: { kind: 'alarm', target: (p) => p.maxP95LatencyMs, weight: (p) => p.latencyWeight },
  active_connections: { kind: 'total', target: (p) => p.maxConnectionsPerReplica, weight: (p) => p.connectionWeight },
};

// `+ 0` turns the -0 that Math.ceil gives just below zero into 0, which JSON keeps.
const ceilSafe = (x: number) => Math.ceil(x - EPSILON) + 0;
const floorSafe = (x: number) => Math.floor(x + EPSILON) + 0;
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

/**
 * The utilization every proportional proposal aims at, as a share of the scale-out threshold:
 * the threshold itself (0.8 with the default 80 %). Any fixed headroom below it is paid on every
 * plateau, because nothing may scale in until a metric is idle: with 0.75 (0.6 of the target)
 * the step trace sat on 10 replicas where 8 keep every metric under the threshold, 1.9 × the
 * rules bound. Headroom for growth comes from the load itself instead (GROWTH_CAP). It still
 * lands below the threshold (proposals round up), and a metric under the scale-in threshold
 * (30 %) proposes at least one replica fewer even from two.
 */
export const TARGET_FRACTION_OF_SCALE_OUT = 1;

/**
 * A rise is sized for where it will be one window on: `projected = observed + min(GROWTH_CAP ×
 * observed, 2 × (observed − avg))`. On a steady rise across the window its highest sample leads
 * its mean by half the window's rise, so twice that is one window more of the same rise: what
 * arrives while new replicas start (the window is the scaler's own time scale). On flat load the
 * margin is the noise; after a step it is capped at half again the step's level, because a step
 * does not go on rising (real-worldcup98's match surges and the week's morning rushes motivate
 * the margin; the cap keeps the spikes and flash-crowd steps from doubling their count).
 */
export const GROWTH_CAP = 0.5;

/**
 * A scale-in continues a descent without waiting the cooldown while the stabilized
 * recommendation is at least this many replicas below the count: load has clearly fallen. The
 * last step of a descent (one replica to go) waits the cooldown as any scale-in after a change
 * does. One replica per 180 s cooldown kept spikes.csv at 17 replicas for 2500 s after each
 * 60-second spike; flash crowds and on-off traffic likewise.
 */
export const CLEARLY_FALLEN_REPLICAS = 2;

export function targetFraction(policy: Pick<ScalingPolicy, 'scaleOutThresholdPct'>): number {
  return (TARGET_FRACTION_OF_SCALE_OUT * policy.scaleOutThresholdPct) / 100;
}

/**
 * The recommendations that can still be the highest of a stabilization window: those inside
 * the window ending now, less every one that is no higher than a later one. Every window that
 * holds the earlier also holds the later (windows end at now, which only moves forward), so
 * the earlier can never be the highest again. A steady app then keeps one entry instead of one
 * per tick, and the scaler stores a few bytes per app each tick instead of a 30-entry list
 * (at 10,000 apps that list was most of what a tick wrote: bench scaler_tick_10k).
 */
export function pruneRecommendations(
  history: readonly Recommendation[],
  now: Date,
  windowSeconds: number,
): Recommendation[] {
  const from = now.getTime() - windowSeconds * 1000;
  const inWindow = history
    .filter((r) => r.at.getTime() > from && r.at.getTime() <= now.getTime())
    .sort((a, b) => a.at.getTime() - b.at.getTime());
  const kept: Recommendation[] = [];
  for (const r of inWindow) {
    while (kept.length > 0 && kept[kept.length - 1]!.replicas <= r.replicas) kept.pop();
    kept.push(r);
  }
  return kept;
}

export function decide(policy: ScalingPolicy, window: MetricWindow, state: ScalingState, now: Date): ScalingDecision {
  const min = Math.max(0, Math.floor(policy.minReplicas));
  const max = Math.max(min, Math.floor(policy.maxReplicas));
  const current = Math.max(0, Math.floor(state.currentReplicas));
  // Only idle_to_zero takes a running app to 0: the ordinary rules see idle load as "fewer",
  // and would scale to zero on a quiet minute without asking whether anyone is using it.
  const floor = current > 0 ? Math.max(min, 1) : min;
  const ready = Math.max(0, Math.floor(state.readyReplicas));
  const starting = Math.max(0, Math.floor(state.startingReplicas));
  const outThreshold = policy.scaleOutThresholdPct / 100;
  const inThreshold = policy.scaleInThresholdPct / 100;
  const fraction = targetFraction(policy);
  const staleBefore = now.getTime() - STALE_AFTER_WINDOWS * policy.evaluationWindowSeconds * 1000;
  // App totals are shared by the replicas that carried them; with none ready, one stands in so
  // that the utilization still reads as "all of it on too few".
  const carriers = Math.max(ready, 1);
  const settling =
    state.lastScaledAt !== null &&
    now.getTime() - state.lastScaledAt.getTime() < SETTLE_WINDOWS * policy.evaluationWindowSeconds * 1000;

  const inputs = {} as Record<ScalingMetric, MetricInput>;
  for (const metric of SCALING_METRICS) {
    const spec = METRIC_SPECS[metric];
    const weight = spec.weight(policy);
    const target = spec.target(policy);
    const agg = window[metric];
    const ignored = !agg || !(weight > 0) || !(target > 0);
    const observed = agg && agg.count > 0 ? observedOf(metric, agg) : null;
    // A NaN timestamp or value is as good as no sample, and must not read as a fresh zero.
    const stale = !ignored && (observed === null || !(agg.latestAt.getTime() >= staleBefore));
    if (ignored || stale || observed === null) {
      inputs[metric] = { observed, target, utilization: null, projected: null, proposal: null, weightedProposal: null, weight, stale, ignored };
      continue;
    }
    const utilization = (spec.kind === 'total' ? observed / carriers : observed) / target;
    let proposal: number | null;
    let projected: number | null = null;
    if (spec.kind !== 'alarm') {
      const rise = Number.isFinite(agg.avg) ? Math.max(0, observed - agg.avg) : 0;
      projected = observed + Math.min(GROWTH_CAP * observed, 2 * rise);
      proposal = ceilSafe((carriers * ((spec.kind === 'total' ? projected / carriers : projected) / target)) / fraction);
    } else proposal = utilization > outThreshold ? ready + 1 : null;
    // The weight scales how far a proposal pulls away from the current count (1: the proposal
    // itself, 1.5: half as far again, 0.5: half way), rounded away from the current count so
    // that a metric which pulls at all moves at least one replica.
    const pulled = proposal === null ? null : current + weight * (proposal - current);
    const weightedProposal = pulled === null ? null : pulled >= current ? ceilSafe(pulled) : floorSafe(pulled);
    inputs[metric] = { observed, target, utilization, projected, proposal, weightedProposal, weight, stale, ignored };
  }

  const fresh = SCALING_METRICS.filter((m) => inputs[m].utilization !== null);
  const staleMetrics = SCALING_METRICS.filter((m) => inputs[m].stale);
  const utilizationOf = (m: ScalingMetric) => inputs[m].utilization as number;
  const proposing = fresh.filter((m) => inputs[m].weightedProposal !== null);
  const proposalOf = (m: ScalingMetric) => inputs[m].weightedProposal as number;
  // Per-replica samples taken before the last change would be multiplied by the new count and
  // compound (1000 ms seen on 1 replica, times 7 ready ones, asks for 50); app totals do not
  // depend on the count, so only they may raise it while the window turns over.
  const sizing = proposing.filter((m) => !settling || METRIC_SPECS[m].kind === 'total');
  const outWanted = clamp(Math.max(current, ...sizing.map(proposalOf)), floor, max);
  // The recommendation is what the metrics ask for, however the thresholds then rule; the
  // highest over the stabilization window bounds every scale-in.
  const asked = proposing.length ? Math.max(...proposing.map(proposalOf)) : current;
  const recommendation = clamp(asked, floor, max);
  const history = pruneRecommendations(state.recommendations, now, policy.stabilizationWindowSeconds);
  const stabilized = Math.max(recommendation, ...history.map((r) => r.replicas));

  const zero =
    min === 0 && current > 0
      ? scaleToZeroStatus({
          afterSeconds: policy.scaleToZeroAfterSeconds,
          traffic: { rps: freshPeak(window.rps, staleBefore), active_connections: freshPeak(window.active_connections, staleBefore) },
          staleMetrics,
          current,
          ready,
          starting,
          lastScaledAt: state.lastScaledAt,
          history: state.traffic,
          now,
        })
      : null;

  const finish = (desired: number, reason: ScalingReason, message: string): ScalingDecision => ({
    desiredReplicas: desired,
    currentReplicas: current,
    reason,
    message: zero && desired > 0 ? `${message}; ${zeroNote(zero)}` : message,
    inputs,
    replicas: { current, ready, starting },
    policy: {
      minReplicas: min,
      maxReplicas: max,
      scaleOutThresholdPct: policy.scaleOutThresholdPct,
      scaleInThresholdPct: policy.scaleInThresholdPct,
      targetFraction: fraction,
      cooldownSeconds: policy.cooldownSeconds,
      stabilizationWindowSeconds: policy.stabilizationWindowSeconds,
      maxScaleOutStep: policy.maxScaleOutStep,
      maxScaleInStep: policy.maxScaleInStep,
      evaluationWindowSeconds: policy.evaluationWindowSeconds,
    },
    settling,
    scaleToZero: zero,
    stabilizedReplicas: stabilized,
    evaluatedAt: now.toISOString(),
    recommendation: { at: now.toISOString(), replicas: recommendation },
  });

  if (current < min) return finish(min, 'below_min', `${current} replicas is below the minimum of ${min}`);
  if (current > max) return finish(max, 'above_max', `${current} replicas is above the maximum of ${max}`);
  if (zero?.secondsLeft === 0) {
    return finish(0, 'idle_to_zero', `no requests and none in flight for ${zero.idleSeconds}s (scaleToZeroAfterSeconds ${zero.afterSeconds}): ${current} → 0`);
  }
  if (!fresh.length) {
    return finish(
      current,
      'no_metrics',
      staleMetrics.length ? `${staleMetrics.join(', ')} stale and nothing fresh: holding` : 'no metrics in the window: holding',
    );
  }

  const pct = (m: ScalingMetric) => `${m} ${Math.round(utilizationOf(m) * 100)}%`;
  const above = fresh.filter((m) => utilizationOf(m) > outThreshold);
  const below = fresh.filter((m) => utilizationOf(m) < inThreshold);
  const outText = `${above.map(pct).join(', ')} above ${policy.scaleOutThresholdPct}%`;
  const inText = `${below.map(pct).join(', ')} below ${policy.scaleInThresholdPct}%`;

  if (above.length) {
    if (current >= max) return finish(current, 'at_max', `${outText}, but already at the maximum of ${max}`);
    if (outWanted <= current) {
      // A metric above the threshold asks for more than the ready replicas (proposals aim below
      // it), so when nothing is added either that capacity is already on its way, or the
      // samples predate the last change, or a near-zero weight has all but muted the metric.
      if (starting > 0 || ready < current) {
        return finish(current, 'starting_replicas', `${outText}, but ${notReady(current, ready, starting)} already cover it`);
      }
      if (settling) {
        return finish(current, 'settling', `${outText}, but those samples may predate the change made ${secondsSince(state.lastScaledAt, now)}s ago`);
      }
      return finish(current, 'within_thresholds', `${outText}, but its weighted proposal asks for no more than ${current}`);
    }
    const step = policy.maxScaleOutStep > 0 ? Math.floor(policy.maxScaleOutStep) : Infinity;
    const desired = Math.min(outWanted, current + step);
    if (desired < outWanted) return finish(desired, 'step_limited', `${outText} asks for ${outWanted}; limited to +${step} per decision`);
    return finish(desired, 'scale_out', `${outText}: ${current} → ${desired}`);
  }

  // Scale in when something is idle and every metric's own proposal fits in fewer replicas.
  if (!below.length || asked >= current) {
    return finish(current, 'within_thresholds', `${fresh.map(pct).join(', ')}: nothing to change`);
  }
  if (staleMetrics.length) {
    return finish(current, 'stale_metrics', `${inText}, but ${staleMetrics.join(', ')} stale: no scale-in on partial data`);
  }
  if (starting > 0 || ready < current) {
    return finish(current, 'starting_replicas', `${inText}, but ${notReady(current, ready, starting)}: no scale-in until they carry load`);
  }
  if (current <= floor) return finish(current, 'at_min', `${inText}, but already at the minimum of ${floor}`);
  if (stabilized >= current) {
    return finish(current, 'stabilizing', `${inText}, but ${stabilized} was recommended within the last ${policy.stabilizationWindowSeconds}s`);
  }
  // Cooldown per direction: a scale-in waits the cooldown after a scale-out or a hold, but one
  // that continues a descent does not while the load is clearly below the count.
  const continuing = state.lastDirection === 'in' && stabilized <= current - CLEARLY_FALLEN_REPLICAS;
  const sinceScaled = secondsSince(state.lastScaledAt, now);
  if (!continuing && sinceScaled < policy.cooldownSeconds) {
    return finish(current, 'cooldown', `${inText}; ${Math.ceil(policy.cooldownSeconds - sinceScaled)}s of cooldown left`);
  }
  const step = policy.maxScaleInStep > 0 ? Math.floor(policy.maxScaleInStep) : Infinity;
  const desired = Math.max(stabilized, current - step);
  if (desired > stabilized) return finish(desired, 'step_limited', `${inText} asks for ${stabilized}; limited to -${step} per decision`);
  return finish(desired, 'scale_in', `${inText}: ${current} → ${desired}`);
}

function zeroNote(zero: ScaleToZeroStatus): string {
  return zero.secondsLeft !== null ? `to zero in ${zero.secondsLeft}s if it stays idle` : `not to zero: ${zero.blockedBy}`;
}

/** A metric's highest fresh sample in the window; null when it is missing, empty or stale. */
function freshPeak(agg: MetricAggregate | undefined, staleBefore: number): number | null {
  if (!agg || !(agg.count > 0) || !(agg.latestAt.getTime() >= staleBefore) || !Number.isFinite(agg.max)) return null;
  return Math.max(agg.max, 0);
}

/** The window's highest sample (its p95 for latency when there is one); null when unusable. */
function observedOf(metric: ScalingMetric, agg: MetricAggregate): number | null {
  const value = metric === 'latency_p95' && typeof agg.p95 === 'number' && Number.isFinite(agg.p95) ? agg.p95 : agg.max;
  return Number.isFinite(value) ? Math.max(value, 0) : null;
}

function secondsSince(at: Date | null, now: Date): number {
  return at ? Math.round((now.getTime() - at.getTime()) / 1000) : Infinity;
}

function notReady(current: number, ready: number, starting: number): string {
  return starting > 0 ? `${starting} replicas still starting` : `only ${ready} of ${current} replicas ready`;
}
