/**
 * The fixed world every scaler is judged in. These numbers never change, so results stay
 * comparable from one commit to the next; docs/scaling.md states each of them.
 */
import { DEFAULT_POLICY, type ScalingPolicy } from '../scaling.js';

/** Requests per second one ready replica serves at 100 % utilization. */
export const REPLICA_CAPACITY_RPS = 100;
/** Seconds from a scale-out decision until the new replica serves traffic. */
export const STARTUP_SECONDS = 30;
/** Metric samples are cut every SAMPLE_PERIOD seconds ... */
export const SAMPLE_PERIOD_SECONDS = 10;
/** ... and reach a scaler this many seconds after the end of their interval. */
export const SAMPLE_DELAY_SECONDS = 10;
/** p95 latency above this is an SLO violation. */
export const SLO_P95_MS = 250;
/** Memory does not move with load in this model. */
export const MEMORY_PERCENT = 40;
/** Replica bounds for every scaler and for the oracle. */
export const MIN_REPLICAS = 1;
export const MAX_REPLICAS = 50;
/** The oracle keeps utilization at or below this every second (it is where p95 reaches the SLO). */
export const ORACLE_MAX_UTILIZATION = 0.8;

/** DEFAULT_POLICY with the simulator's replica bounds, rps target and latency limit. */
export const SIM_POLICY: Readonly<ScalingPolicy> = Object.freeze({
  ...DEFAULT_POLICY,
  minReplicas: MIN_REPLICAS,
  maxReplicas: MAX_REPLICAS,
  targetRpsPerReplica: 80,
  maxP95LatencyMs: 250,
});

/** Utilization of the ready replicas; Infinity when load arrives and none is ready. */
export function utilization(load: number, ready: number): number {
  if (ready <= 0) return load > 0 ? Infinity : 0;
  return load / (ready * REPLICA_CAPACITY_RPS);
}

export function p95LatencyMs(u: number): number {
  return 50 / Math.max(0.05, 1 - u);
}

export function cpuPercent(u: number): number {
  return Math.min(100, 90 * u + 5);
}

/**
 * Float rounding makes exactly-at-the-limit look over it (1 - 0.8 = 0.19999999999999996, so
 * 50 / that = 250.00000000000006); a violation must be over by more than rounding.
 */
export function violatesSlo(p95Ms: number): boolean {
  return p95Ms > SLO_P95_MS + 1e-9;
}

/** Fewest replicas that keep utilization at or below ORACLE_MAX_UTILIZATION for this load. */
export function oracleReplicas(load: number): number {
  const needed = Math.ceil(load / (REPLICA_CAPACITY_RPS * ORACLE_MAX_UTILIZATION) - 1e-9);
  return Math.min(MAX_REPLICAS, Math.max(MIN_REPLICAS, needed));
}

/** One second of one world: utilization, p95 latency and CPU of the ready replicas. */
export interface SecondState {
  utilization: number;
  p95Ms: number;
  cpuPercent: number;
}

export function secondState(load: number, ready: number): SecondState {
  const u = utilization(load, ready);
  return { utilization: u, p95Ms: p95LatencyMs(u), cpuPercent: cpuPercent(u) };
}
