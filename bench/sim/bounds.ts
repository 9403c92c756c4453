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
