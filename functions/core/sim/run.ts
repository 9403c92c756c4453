/**
 * Discrete-time simulation in 1 s steps of one scaler in its own copy of the world: its
 * replicas change the latency and CPU it then measures. The simulator (bench/sim) runs every
 * scaler through it; the backtest runs an app's recorded load through it.
 */
import { MEMORY_PERCENT, oracleReplicas, SAMPLE_DELAY_SECONDS, SAMPLE_PERIOD_SECONDS, secondState, STARTUP_SECONDS, violatesSlo } from './model.js';
import type { Sample, Scaler } from './orchestry.js';

export interface RawResult {
  sloViolationSeconds: number;
  replicaSeconds: number;
  scaleChanges: number;
  /** The count (ready + starting) in every second. */
  counts: number[];
  /** Whether each second's load violated the SLO on the replicas ready then. */
  short: boolean[];
}

/**
 * Replicas that exist (ready or starting) count toward replica-seconds in every second they
 * exist. Everyone starts warm: `initialReplicas` (by default the oracle's count for the first
 * second) already ready.
 */
export function runScaler(load: readonly number[], scaler: Scaler, initialReplicas = oracleReplicas(load[0] ?? 0)): RawResult {
  let readyAt: number[] = Array.from({ length: initialReplicas }, () => 0);
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
