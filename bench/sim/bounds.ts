/**
 * How few replica-seconds the threshold rules themselves allow, whoever applies them.
 *
 * The rules of docs/scaling.md, with the simulator's policy: add replicas whenever some metric
 * is above the scale-out threshold, remove at most `maxScaleInStep` per decision and only when
 * some metric is below the scale-in threshold, otherwise hold. A dynamic program finds the
 * cheapest replica schedule that obeys them, and it is given every advantage: it knows the
 * future and decides every 10 s on the latest interval's sample; its scale-ins take effect at
 * once; a scale-out may lag the sample that demanded it by as long as the simulator's sample
 * delay and start-up allow (so it can save what a slow scaler saves on a rise), but no longer;
 * it has no cooldown and no stabilization window; SLO violations cost it nothing. Any scaler
 * obeying the same rules in the simulator spends at least this much.
 */
import {
  MAX_REPLICAS,
  MEMORY_PERCENT,
  MIN_REPLICAS,
  oracleReplicas,
  SAMPLE_DELAY_SECONDS,
  SAMPLE_PERIOD_SECONDS,
  secondState,
  SIM_POLICY,
  STARTUP_SECONDS,
  violatesSlo,
} from '../../functions/core/sim/model.js';
import type { ScalingPolicy } from '../../functions/core/scaling.js';
import type { Trace } from './trace.js';

export interface RuleBound {
  trace: string;
  oracle_replica_seconds: number;
  bound_replica_seconds: number;
  bound_oracle_ratio: number;
}

/** Intervals a count may still be held after the interval whose sample asked for more. */
const GRACE = (SAMPLE_DELAY_SECONDS + STARTUP_SECONDS) / SAMPLE_PERIOD_SECONDS;
/** `grace` value meaning "no scale-out owed". */
const NOT_OWED = -1;

function ruling(loads: readonly number[], ready: number, p: Readonly<ScalingPolicy>): 'out' | 'in' | 'hold' {
  const seconds = loads.map((load) => secondState(load, ready));
  const utilizations = [
    seconds.reduce((a, s) => a + s.cpuPercent, 0) / seconds.length / p.maxCpuPercent,
    loads.reduce((a, l) => a + l, 0) / loads.length / ready / p.targetRpsPerReplica,
    Math.max(...seconds.map((s) => s.p95Ms)) / p.maxP95LatencyMs,
    MEMORY_PERCENT / p.maxMemoryPercent,
  ];
  if (utilizations.some((u) => u > p.scaleOutThresholdPct / 100)) return 'out';
  if (utilizations.some((u) => u < p.scaleInThresholdPct / 100)) return 'in';
  return 'hold';
}

/** `policy`: the simulator's policy by default; the frontier passes each target it sweeps. */
export function ruleBound(trace: Trace, policy: Readonly<ScalingPolicy> = SIM_POLICY): RuleBound {
  // cost[n][g]: cheapest replica-seconds so far, holding n replicas with g intervals of grace
  // left on an owed scale-out (g = NOT_OWED when none is owed).
  const states = () => Array.from({ length: MAX_REPLICAS + 1 }, () => new Float64Array(GRACE + 2).fill(Infinity));
  const at = (g: number) => g + 1;
  let cost = states();
  for (let n = MIN_REPLICAS; n <= MAX_REPLICAS; n++) (cost[n] as Float64Array)[at(NOT_OWED)] = 0;
  for (let start = 0; start < trace.rps.length; start += SAMPLE_PERIOD_SECONDS) {
    const loads = trace.rps.slice(start, start + SAMPLE_PERIOD_SECONDS);
    const next = states();
    const offer = (m: number, g: number, value: number) => {
      const row = next[m] as Float64Array;
      if (value < (row[at(g)] as number)) row[at(g)] = value;
    };
    for (let n = MIN_REPLICAS; n <= MAX_REPLICAS; n++) {
      const row = cost[n] as Float64Array;
      let decision: 'out' | 'in' | 'hold' | undefined;
      for (let g = NOT_OWED; g <= GRACE; g++) {
        if (row[at(g)] === Infinity) continue;
        const spent = (row[at(g)] as number) + n * loads.length;
        decision ??= ruling(loads, n, policy);
        const grace = g !== NOT_OWED ? g : decision === 'out' && n < MAX_REPLICAS ? GRACE : NOT_OWED;
        for (let m = n + 1; m <= MAX_REPLICAS; m++) offer(m, NOT_OWED, spent);
        if (grace !== 0) offer(n, grace === NOT_OWED ? NOT_OWED : grace - 1, spent);
        if (grace === NOT_OWED && decision === 'in') {
          for (let m = Math.max(MIN_REPLICAS, n - policy.maxScaleInStep); m < n; m++) offer(m, NOT_OWED, spent);
        }
      }
    }
    cost = next;
  }
  const bound = Math.min(...cost.slice(MIN_REPLICAS).map((row) => Math.min(...row)));
  const oracle = trace.rps.reduce((a, load) => a + oracleReplicas(load), 0);
  return {
    trace: trace.name,
    oracle_replica_seconds: oracle,
    bound_replica_seconds: bound,
    bound_oracle_ratio: Math.round((bound / oracle) * 1000) / 1000,
  };
}

/** Lag-1 autocorrelation of the per-second load: near 0, no second can be told from the ones before it. */
export function lag1Autocorrelation(rps: readonly number[]): number {
  const n = rps.length;
  if (n < 3) return 0;
  const mean = rps.reduce((a, b) => a + b, 0) / n;
  let variance = 0;
  let covariance = 0;
  for (let t = 0; t < n; t++) {
    const d = (rps[t] as number) - mean;
    variance += d * d;
    if (t > 0) covariance += d * ((rps[t - 1] as number) - mean);
  }
  return variance === 0 ? 0 : covariance / variance;
}

/** Below this |lag-1 autocorrelation| a trace is treated as memoryless (white noise). */
export const MEMORYLESS_AUTOCORRELATION = 0.1;

export interface BlindBound {
  trace: string;
  load_autocorrelation: number;
  /** The SLO-violation seconds allowed: strictly fewer than every baseline that has any. */
  allowed_violation_seconds: number;
  /** Null when the trace is not memoryless (the bound holds only for unpredictable load). */
  blind_replica_seconds: number | null;
  blind_oracle_ratio: number | null;
}

/**
 * The fewest replica-seconds, in expectation, of ANY scaler that cannot see a second's load
 * before it happens, on a memoryless trace, if it may violate the SLO in at most
 * `allowedViolationSeconds` seconds. Whatever such a scaler holds at second t was decided
 * without knowing that second's load, so over the trace it is some mix of counts k, each
 * violating in the share of seconds whose load k replicas cannot carry (the trace's own
 * distribution). The cheapest mix meeting the allowance is a linear program whose optimum mixes
 * at most two counts; every pair is tried. No policy, no threshold and no delay enters.
 */
export function blindBound(trace: Trace, oracleReplicaSeconds: number, allowedViolationSeconds: number): BlindBound {
  const seconds = trace.rps.length;
  const autocorrelation = lag1Autocorrelation(trace.rps);
  const result = {
    trace: trace.name,
    load_autocorrelation: Math.round(autocorrelation * 1000) / 1000,
    allowed_violation_seconds: allowedViolationSeconds,
  };
  if (Math.abs(autocorrelation) >= MEMORYLESS_AUTOCORRELATION || seconds === 0) {
    return { ...result, blind_replica_seconds: null, blind_oracle_ratio: null };
  }
  // violations[k]: seconds k ready replicas would violate.
  const violations: number[] = [];
  for (let k = MIN_REPLICAS; k <= MAX_REPLICAS; k++) {
    violations[k] = trace.rps.filter((load) => violatesSlo(secondState(load, k).p95Ms)).length;
  }
  let best = Infinity;
  for (let i = MIN_REPLICAS; i <= MAX_REPLICAS; i++) {
    const vi = violations[i] as number;
    if (vi <= allowedViolationSeconds) {
      best = Math.min(best, i * seconds);
      continue;
    }
    for (let j = i + 1; j <= MAX_REPLICAS; j++) {
      const vj = violations[j] as number;
      if (vj > allowedViolationSeconds) continue;
      // The share at j that brings the expected violations down to the allowance.
      const share = (vi - allowedViolationSeconds) / (vi - vj);
      best = Math.min(best, (i + share * (j - i)) * seconds);
    }
  }
  const blind = Number.isFinite(best) ? Math.round(best) : null;
  return {
    ...result,
    blind_replica_seconds: blind,
    blind_oracle_ratio: blind === null ? null : Math.round((blind / oracleReplicaSeconds) * 1000) / 1000,
  };
}

export interface StabilizedBound {
  trace: string;
  /** The SLO-violation seconds the schedule may have. */
  allowed_violation_seconds: number;
  /** Fewest replica-seconds of a schedule that obeys the rules and the stabilization window with that many violations at most. */
  stabilized_replica_seconds: number;
  /** The same over the rules bound (ruleBound): above 1.25 means the cost goal cannot be met at that SLO. */
  stabilized_rules_ratio: number;
}

/** Intervals between a sample's start and the first decision that sees it (10 s of interval, 10 s of delay). */
const SEEN_AFTER = (SAMPLE_PERIOD_SECONDS + SAMPLE_DELAY_SECONDS) / SAMPLE_PERIOD_SECONDS;

interface Interval {
  seconds: number;
  violations: Int32Array;
  rulings: Array<'out' | 'in' | 'hold'>;
  /** No scale-in may go below this: the highest count a decision within the stabilization window had to recommend. */
  floor: number;
  scaleInStep: number;
}

function intervalsOf(trace: Trace, policy: Readonly<ScalingPolicy>): Interval[] {
  const intervals: Interval[] = [];
  const needed: number[] = [];
  for (let start = 0; start < trace.rps.length; start += SAMPLE_PERIOD_SECONDS) {
    const loads = trace.rps.slice(start, start + SAMPLE_PERIOD_SECONDS);
    const violations = new Int32Array(MAX_REPLICAS + 1);
    const rulings: Array<'out' | 'in' | 'hold'> = [];
    for (let n = MIN_REPLICAS; n <= MAX_REPLICAS; n++) {
      violations[n] = loads.filter((l) => violatesSlo(secondState(l, n).p95Ms)).length;
      rulings[n] = ruling(loads, n, policy);
    }
    // The rps metric alone: its total is exact whatever the count that carried it, so every
    // consistent recommendation covers it (CPU saturates at 100 % and latency is an alarm).
    const perReplica = (policy.targetRpsPerReplica * policy.scaleOutThresholdPct) / 100;
    const mean = loads.reduce((a, l) => a + l, 0) / loads.length;
    needed.push(Math.min(MAX_REPLICAS, Math.max(MIN_REPLICAS, Math.ceil(mean / perReplica - 1e-9))));
    intervals.push({ seconds: loads.length, violations, rulings, floor: MIN_REPLICAS, scaleInStep: policy.maxScaleInStep });
  }
  // The decision at the start of interval i sees the sample of interval i - SEEN_AFTER, and the
  // window's floor is the highest of the last `decisions` such recommendations.
  const decisions = Math.round(policy.stabilizationWindowSeconds / SAMPLE_PERIOD_SECONDS);
  intervals.forEach((interval, i) => {
    for (let k = Math.max(0, i - decisions + 1); k <= i; k++) {
      const seen = k - SEEN_AFTER;
      if (seen >= 0) interval.floor = Math.max(interval.floor, needed[seen] as number);
    }
  });
  return intervals;
}

/** The cheapest replica-seconds + λ × violation-seconds of a schedule under the stabilized rules. */
function relaxedCost(intervals: readonly Interval[], lambda: number): number {
  const width = GRACE + 2;
  const rows = MAX_REPLICAS + 1;
  let cost = new Float64Array(rows * width).fill(Infinity);
  let next = new Float64Array(rows * width);
  for (let n = MIN_REPLICAS; n <= MAX_REPLICAS; n++) cost[n * width + (NOT_OWED + 1)] = 0;
  for (const { seconds, violations, rulings, floor, scaleInStep } of intervals) {
    next.fill(Infinity);
    const offer = (m: number, g: number, value: number) => {
      const i = m * width + g + 1;
      if (value < (next[i] as number)) next[i] = value;
    };
    let cheapestBelow = Infinity;
    for (let n = MIN_REPLICAS; n <= MAX_REPLICAS; n++) {
      if (cheapestBelow < Infinity) offer(n, NOT_OWED, cheapestBelow);
      const interval = n * seconds + lambda * (violations[n] as number);
      const decision = rulings[n];
      let cheapestHere = Infinity;
      for (let g = NOT_OWED; g <= GRACE; g++) {
        const before = cost[n * width + g + 1] as number;
        if (before === Infinity) continue;
        const spent = before + interval;
        if (spent < cheapestHere) cheapestHere = spent;
        const grace = g !== NOT_OWED ? g : decision === 'out' && n < MAX_REPLICAS ? GRACE : NOT_OWED;
        if (grace !== 0) offer(n, grace === NOT_OWED ? NOT_OWED : grace - 1, spent);
        if (grace === NOT_OWED && decision === 'in') {
          for (let m = Math.max(MIN_REPLICAS, floor, n - scaleInStep); m < n; m++) offer(m, NOT_OWED, spent);
        }
      }
      if (cheapestHere < cheapestBelow) cheapestBelow = cheapestHere;
    }
    [cost, next] = [next, cost];
  }
  let best = Infinity;
  for (const value of cost) if (value < best) best = value;
  return best;
}

/**
 * The fewest replica-seconds of any schedule that obeys the threshold rules (as ruleBound), the
 * stabilization window, and has at most `allowedViolationSeconds` SLO-violation seconds.
 *
 * The stabilization window: no scale-in goes below the highest count that a decision within the
 * window had to recommend, each decision seeing the sample that ended 10 s before it. That holds
 * for decide() and for any scaler whose recommendations are consistent: never a count at which
 * the rps it just saw would be above the scale-out threshold.
 * Everything else is as lenient as in ruleBound (clairvoyant, instant replicas, no cooldown,
 * scale-outs at any time). The violation budget is handled by Lagrangian relaxation: for every
 * λ ≥ 0, the cheapest schedule of replica-seconds + λ × violation-seconds, less λ × the budget,
 * bounds the constrained optimum from below. That dual is concave in λ, so a golden-section
 * search finds its maximum; every λ tried is a valid bound, and the best is reported.
 */
export function stabilizedBound(
  trace: Trace,
  allowedViolationSeconds: number,
  rules: RuleBound = ruleBound(trace),
  policy: Readonly<ScalingPolicy> = SIM_POLICY,
): StabilizedBound {
  const intervals = intervalsOf(trace, policy);
  const dual = (lambda: number) => relaxedCost(intervals, lambda) - lambda * allowedViolationSeconds;
  let best = dual(0);
  // One violation-second is worth at most the replica-seconds of the whole replica range over
  // the seconds it could save, so λ beyond MAX_REPLICAS × 10 only lowers the dual.
  let lo = 0;
  let hi = MAX_REPLICAS * SAMPLE_PERIOD_SECONDS;
  const ratio = (Math.sqrt(5) - 1) / 2;
  let a = hi - ratio * (hi - lo);
  let b = lo + ratio * (hi - lo);
  let fa = dual(a);
  let fb = dual(b);
  for (let i = 0; i < 12; i++) {
    if (fa < fb) {
      lo = a;
      a = b;
      fa = fb;
      b = lo + ratio * (hi - lo);
      fb = dual(b);
    } else {
      hi = b;
      b = a;
      fb = fa;
      a = hi - ratio * (hi - lo);
      fa = dual(a);
    }
  }
  best = Math.max(best, fa, fb);
  const bound = Math.ceil(best - 1e-6);
  return {
    trace: trace.name,
    allowed_violation_seconds: allowedViolationSeconds,
    stabilized_replica_seconds: bound,
    stabilized_rules_ratio: Math.round((bound / rules.bound_replica_seconds) * 1000) / 1000,
  };
}
