/**
 * Every scaler through the simulation (functions/core/sim/run.ts), each in its own copy of the
 * world; the oracle is computed from the trace.
 */
import { reactionSeconds, reversals, type Reaction } from '../../functions/core/sim/metrics.js';
import { oracleReplicas, secondState, SIM_POLICY, violatesSlo } from '../../functions/core/sim/model.js';
import { OrchestryScaler } from '../../functions/core/sim/orchestry.js';
import { runScaler, type RawResult } from '../../functions/core/sim/run.js';
import { ruleBound, type RuleBound } from './bounds.js';
import { HpaScaler, LegacyScaler } from './scalers.js';
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
    orchestry: runScaler(trace.rps, new OrchestryScaler(SIM_POLICY)),
    hpa: runScaler(trace.rps, new HpaScaler()),
    legacy: runScaler(trace.rps, new LegacyScaler()),
    oracle: runOracle(trace),
  };
  const results = {} as Record<ScalerName, ScalerResult>;
  for (const name of SCALER_NAMES) results[name] = resultOf(raw[name], raw.oracle.replicaSeconds, bound.bound_replica_seconds);
  return { trace: trace.name, results };
}
