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
} from './model.js';
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

function ruling(loads: readonly number[], ready: number): 'out' | 'in' | 'hold' {
  const p = SIM_POLICY;
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

export function ruleBound(trace: Trace): RuleBound {
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
        decision ??= ruling(loads, n);
        const grace = g !== NOT_OWED ? g : decision === 'out' && n < MAX_REPLICAS ? GRACE : NOT_OWED;
        for (let m = n + 1; m <= MAX_REPLICAS; m++) offer(m, NOT_OWED, spent);
        if (grace !== 0) offer(n, grace === NOT_OWED ? NOT_OWED : grace - 1, spent);
        if (grace === NOT_OWED && decision === 'in') {
          for (let m = Math.max(MIN_REPLICAS, n - SIM_POLICY.maxScaleInStep); m < n; m++) offer(m, NOT_OWED, spent);
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
