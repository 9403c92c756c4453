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
import { HpaScaler, LegacyScaler, OrchestryScaler, type Sample, type Scaler } from './scalers.js';
import type { Trace } from './trace.js';

export interface ScalerResult {
  slo_violation_seconds: number;
  replica_seconds: number;
  oracle_ratio: number;
  scale_changes: number;
}

export const SCALER_NAMES = ['orchestry', 'hpa', 'legacy', 'oracle'] as const;
export type ScalerName = (typeof SCALER_NAMES)[number];

export interface SimulationResult {
  trace: string;
  results: Record<ScalerName, ScalerResult>;
}

interface RawResult {
  sloViolationSeconds: number;
  replicaSeconds: number;
  scaleChanges: number;
}

/** Replicas that exist (ready or starting) count toward replica-seconds in every second they exist. */
function runScaler(trace: Trace, scaler: Scaler): RawResult {
  const load = trace.rps;
  // Everyone starts warm: the oracle's count for the first second, already ready.
  let readyAt: number[] = Array.from({ length: oracleReplicas(load[0] ?? 0) }, () => 0);
  const samples: Sample[] = [];
  let delivered = 0;
  let sloViolationSeconds = 0;
  let replicaSeconds = 0;
  let scaleChanges = 0;
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
    const second = secondState(load[t] as number, ready);
    if (violatesSlo(second.p95Ms)) sloViolationSeconds++;
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
  return { sloViolationSeconds, replicaSeconds, scaleChanges };
}

function runOracle(trace: Trace): RawResult {
  let replicaSeconds = 0;
  let scaleChanges = 0;
  let previous: number | undefined;
  let sloViolationSeconds = 0;
  for (const load of trace.rps) {
    const n = oracleReplicas(load);
    replicaSeconds += n;
    if (previous !== undefined && n !== previous) scaleChanges++;
    if (violatesSlo(secondState(load, n).p95Ms)) sloViolationSeconds++;
    previous = n;
  }
  return { sloViolationSeconds, replicaSeconds, scaleChanges };
}

export function simulate(trace: Trace): SimulationResult {
  const raw: Record<ScalerName, RawResult> = {
    orchestry: runScaler(trace, new OrchestryScaler(SIM_POLICY)),
    hpa: runScaler(trace, new HpaScaler()),
    legacy: runScaler(trace, new LegacyScaler()),
    oracle: runOracle(trace),
  };
  const oracleSeconds = raw.oracle.replicaSeconds;
  const results = {} as Record<ScalerName, ScalerResult>;
  for (const name of SCALER_NAMES) {
    const r = raw[name];
    results[name] = {
      slo_violation_seconds: r.sloViolationSeconds,
      replica_seconds: r.replicaSeconds,
      oracle_ratio: Math.round((r.replicaSeconds / oracleSeconds) * 1000) / 1000,
      scale_changes: r.scaleChanges,
    };
  }
  return { trace: trace.name, results };
}
