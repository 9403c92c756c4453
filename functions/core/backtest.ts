/**
 * A backtest: an app's recorded load replayed through decide() in the simulator's world
 * (core/sim), once under the policy in force and once under a candidate, so that the two can be
 * compared on the same seconds. Pure: the API reads the load from the 1-minute rollups.
 *
 * The simulator's replicas serve REPLICA_CAPACITY_RPS each and its SLO holds up to
 * ORACLE_MAX_UTILIZATION of that. An app's capacity is not recorded anywhere, so the backtest
 * takes the current policy's target_rps_per_replica as the load one replica carries at the SLO,
 * and scales the recorded load (and both policies' rps targets) into the model's units. The
 * model is linear in load per replica, so the counts, violation-seconds and replica-seconds
 * are those of a world whose replicas hold the SLO up to the current target.
 */
import { reversals } from './sim/metrics.js';
import { ORACLE_MAX_UTILIZATION, REPLICA_CAPACITY_RPS, SLO_P95_MS, STARTUP_SECONDS } from './sim/model.js';
import { OrchestryScaler } from './sim/orchestry.js';
import { runScaler } from './sim/run.js';
import type { ScalingPolicy } from './scaling.js';

/** The shortest history worth replaying: a few stabilization windows and cooldowns. */
export const MIN_BACKTEST_MINUTES = 60;

export interface BacktestInput {
  /** Mean load (requests per second) of each minute, oldest first; a minute without samples is 0. */
  loadPerMinute: readonly number[];
  current: ScalingPolicy;
  candidate: ScalingPolicy;
}

export interface BacktestRun {
  violation_seconds: number;
  replica_seconds: number;
  changes: number;
  reversals: number;
  /** The highest count (ready + starting) in each minute, one entry per entry of the load. */
  desired: number[];
}

export interface BacktestResult {
  current: BacktestRun;
  candidate: BacktestRun;
  model: { capacity_rps_per_replica: number; slo_rps_per_replica: number; startup_seconds: number; slo_p95_ms: number };
}

export function backtest(input: BacktestInput): BacktestResult {
  const sloRps = input.current.targetRpsPerReplica;
  // Model rps per recorded rps: the current target maps onto the load the model's SLO allows.
  const scale = (REPLICA_CAPACITY_RPS * ORACLE_MAX_UTILIZATION) / sloRps;
  const perSecond: number[] = [];
  for (const rps of input.loadPerMinute) for (let s = 0; s < 60; s++) perSecond.push(rps * scale);
  const run = (policy: ScalingPolicy): BacktestRun => {
    const modelPolicy = { ...policy, targetRpsPerReplica: policy.targetRpsPerReplica * scale };
    // Start warm, as the simulator does: enough replicas for the first minute, within the bounds.
    const needed = Math.ceil((perSecond[0] ?? 0) / (REPLICA_CAPACITY_RPS * ORACLE_MAX_UTILIZATION) - 1e-9);
    const initial = Math.min(policy.maxReplicas, Math.max(policy.minReplicas, needed));
    const raw = runScaler(perSecond, new OrchestryScaler(modelPolicy), initial);
    const desired: number[] = [];
    for (let m = 0; m < input.loadPerMinute.length; m++) desired.push(Math.max(...raw.counts.slice(m * 60, m * 60 + 60)));
    return {
      violation_seconds: raw.sloViolationSeconds,
      replica_seconds: raw.replicaSeconds,
      changes: raw.scaleChanges,
      reversals: reversals(raw.counts),
      desired,
    };
  };
  return {
    current: run(input.current),
    candidate: run(input.candidate),
    model: {
      capacity_rps_per_replica: sloRps / ORACLE_MAX_UTILIZATION,
      slo_rps_per_replica: sloRps,
      startup_seconds: STARTUP_SECONDS,
      slo_p95_ms: SLO_P95_MS,
    },
  };
}
