/**
 * Discrete-time simulation in 1 s steps. Each scaler runs in its own copy of the world (its
 * replicas change the latency and CPU it then measures); the oracle is computed from the trace.
 */
import {
  MEMORY_PERCENT,
  oracleReplicas,
  SAMPLE_DELAY_SECONDS,
  SAMPLE_PERIOD_SECONDS,
  secondState,
  SIM_POLICY,
  STARTUP_SECONDS,
  violatesSlo,
} from './model.js';
import { ruleBound, type RuleBound } from './bounds.js';
import { reactionSeconds, reversals, type Reaction } from './metrics.js';
import { HpaScaler, LegacyScaler, OrchestryScaler, type Sample, type Scaler } from './scalers.js';
import type { Trace } from './trace.js';

export interface ScalerResult {
  slo_violation_seconds: number;
  replica_seconds: number;
  oracle_ratio: number;
  /** Replica-seconds over the fewest the threshold rules allow (bounds.ts ruleBound). */
  rules_bound_ratio: number;
  scale_changes: number;
  /** Times the count turned around: up after down or down after up. */
  reversals: number;
  /** From a load step that found too few replicas ready to enough ready (metrics.ts). */
  reaction_seconds: Reaction;
}

export const SCALER_NAMES = ['orchestry', 'hpa', 'legacy', 'oracle'] as const;
export type ScalerName = (typeof SCALER_NAMES)[number];

export interface SimulationResult {
  trace: string;
  results: Record<ScalerName, ScalerResult>;
}

export interface RawResult {
  sloViolationSeconds: number;
  replicaSeconds: number;
  scaleChanges: number;
  /** The count (ready + starting) in every second. */
  counts: number[];
  /** Whether each second's load violated the SLO on the replicas ready then. */
  short: boolean[];
}

/** Replicas that exist (ready or starting) count toward replica-seconds in every second they exist. */
export function runScaler(trace: Trace, scaler: Scaler): RawResult {
  const load = trace.rps;
  // Everyone starts warm: the oracle's count for the first second, already ready.
  let readyAt: number[] = Array.from({ length: oracleReplicas(load[0] ?? 0) }, () => 0);
  const samples: Sample[] = [];
  let delivered = 0;
  let sloViolationSeconds = 0;
  let replicaSeconds = 0;
  let scaleChanges = 0;
  const counts: number[] = [];
  const short: boolean[] = [];
  let block = { rps: 0, cpu: 0, latencies: [] as number[] };

  for (let t = 0; t < load.length; t++) {
    while (delivered < samples.length && (samples[delivered] as Sample).at + SAMPLE_DELAY_SECONDS <= t) delivered++;
    if (t > 0 && t % scaler.periodSeconds === 0) {
      const ready = readyAt.filter((r) => r <= t).length;
      const target = readyAt.length;
      const next = scaler.evaluate({ now: t, target, ready, starting: target - ready, delivered: samples.slice(0, delivered) });
      if (next !== target) {
        scaleChanges++;
        if (next > target) {
          readyAt = readyAt.concat(Array.from({ length: next - target }, () => t + STARTUP_SECONDS));
        } else {
          // Scale-in cancels replicas still starting before it stops ready ones.
          readyAt = [...readyAt].sort((a, b) => a - b).slice(0, next);
        }
      }
    }
    const ready = readyAt.filter((r) => r <= t).length;
    replicaSeconds += readyAt.length;
    counts.push(readyAt.length);
    const second = secondState(load[t] as number, ready);
    const violated = violatesSlo(second.p95Ms);
    short.push(violated);
    if (violated) sloViolationSeconds++;
    block.rps += load[t] as number;
    block.cpu += second.cpuPercent;
    block.latencies.push(second.p95Ms);
    if ((t + 1) % SAMPLE_PERIOD_SECONDS === 0) {
      samples.push({
        at: t + 1,
        rps: block.rps / SAMPLE_PERIOD_SECONDS,
        cpuPercent: block.cpu / SAMPLE_PERIOD_SECONDS,
        memoryPercent: MEMORY_PERCENT,
        // The interval's p95 is the nearest-rank 95th of its ten per-second p95s: the highest.
        latencyP95Ms: Math.max(...block.latencies),
      });
      block = { rps: 0, cpu: 0, latencies: [] };
    }
  }
  return { sloViolationSeconds, replicaSeconds, scaleChanges, counts, short };
}

export function runOracle(trace: Trace): RawResult {
  let replicaSeconds = 0;
  let scaleChanges = 0;
  let previous: number | undefined;
  let sloViolationSeconds = 0;
  const counts: number[] = [];
  const short: boolean[] = [];
  for (const load of trace.rps) {
    const n = oracleReplicas(load);
    replicaSeconds += n;
    counts.push(n);
    if (previous !== undefined && n !== previous) scaleChanges++;
    const violated = violatesSlo(secondState(load, n).p95Ms);
    short.push(violated);
    if (violated) sloViolationSeconds++;
    previous = n;
  }
  return { sloViolationSeconds, replicaSeconds, scaleChanges, counts, short };
}

const ratio = (a: number, b: number) => Math.round((a / b) * 1000) / 1000;

/** The result columns of one run, against the oracle's and the rules bound's replica-seconds. */
export function resultOf(r: RawResult, oracleSeconds: number, boundSeconds: number): ScalerResult {
  return {
    slo_violation_seconds: r.sloViolationSeconds,
    replica_seconds: r.replicaSeconds,
    oracle_ratio: ratio(r.replicaSeconds, oracleSeconds),
    rules_bound_ratio: ratio(r.replicaSeconds, boundSeconds),
    scale_changes: r.scaleChanges,
    reversals: reversals(r.counts),
    reaction_seconds: reactionSeconds(r.short),
  };
}

/** `bound`: the trace's ruleBound when the caller has it already (it is the slow part). */
export function simulate(trace: Trace, bound: RuleBound = ruleBound(trace)): SimulationResult {
  const raw: Record<ScalerName, RawResult> = {
    orchestry: runScaler(trace, new OrchestryScaler(SIM_POLICY)),
    hpa: runScaler(trace, new HpaScaler()),
    legacy: runScaler(trace, new LegacyScaler()),
    oracle: runOracle(trace),
  };
  const results = {} as Record<ScalerName, ScalerResult>;
  for (const name of SCALER_NAMES) results[name] = resultOf(raw[name], raw.oracle.replicaSeconds, bound.bound_replica_seconds);
  return { trace: trace.name, results };
}
