/**
 * What a scaler sees in the simulator's world, and Orchestry's own scaler in it: decide() every
 * 10 s over the samples that have arrived, carrying lastScaledAt and the recommendation history
 * like the scaler job. The simulator (bench/sim) and the backtest (core/backtest.ts) both run it.
 */
import {
  decide,
  directionOf,
  pruneRecommendations,
  SCALING_METRICS,
  type MetricAggregate,
  type MetricWindow,
  type Recommendation,
  type ScalingDirection,
  type ScalingMetric,
  type ScalingPolicy,
  type ScalingReason,
} from '../scaling.js';

/** One metric sample covering the seconds [at - 10, at). */
export interface Sample {
  at: number;
  rps: number;
  cpuPercent: number;
  memoryPercent: number;
  latencyP95Ms: number;
}

export interface ScalerView {
  now: number;
  /** The count the scaler asked for last (ready + starting). */
  target: number;
  ready: number;
  starting: number;
  /** Samples that have arrived by `now`, oldest first. */
  delivered: readonly Sample[];
}

export interface Scaler {
  readonly periodSeconds: number;
  /** The count wanted from now on. */
  evaluate(view: ScalerView): number;
}

const SIM_EPOCH_MS = Date.UTC(2025, 0, 1);
export const dateAt = (t: number) => new Date(SIM_EPOCH_MS + t * 1000);

function nearestRankP95(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(0.95 * sorted.length) - 1)] as number;
}

const SAMPLE_FIELD: Record<Exclude<ScalingMetric, 'active_connections'>, keyof Omit<Sample, 'at'>> = {
  cpu_percent: 'cpuPercent',
  memory_percent: 'memoryPercent',
  rps: 'rps',
  latency_p95: 'latencyP95Ms',
};

/** The samples with `at` in [from, to], from samples sorted by `at` (a binary search, not a scan). */
function samplesBetween(samples: readonly Sample[], from: number, to: number): readonly Sample[] {
  let lo = 0;
  let hi = samples.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((samples[mid] as Sample).at < from) lo = mid + 1;
    else hi = mid;
  }
  let end = lo;
  while (end < samples.length && (samples[end] as Sample).at <= to) end++;
  return samples.slice(lo, end);
}

/** What the scaler job's window query returns: one aggregate per metric over the window. */
export function windowOf(samples: readonly Sample[], now: number, windowSeconds: number): MetricWindow {
  const inWindow = samplesBetween(samples, now - windowSeconds, now);
  const window: MetricWindow = {};
  if (!inWindow.length) return window;
  const latestAt = dateAt(Math.max(...inWindow.map((s) => s.at)));
  for (const metric of SCALING_METRICS) {
    if (metric === 'active_connections') continue;
    const values = inWindow.map((s) => s[SAMPLE_FIELD[metric]]);
    const aggregate: MetricAggregate = {
      avg: values.reduce((a, b) => a + b, 0) / values.length,
      max: Math.max(...values),
      p95: nearestRankP95(values),
      count: values.length,
      latestAt,
    };
    window[metric] = aggregate;
  }
  return window;
}

/** Orchestry: decide() every 10 s, carrying lastScaledAt and the recommendation history like the scaler job. */
export class OrchestryScaler implements Scaler {
  readonly periodSeconds = 10;
  private lastScaledAt: Date | null = null;
  private recommendations: Recommendation[] = [];
  private lastReason: ScalingReason | undefined;
  private lastDirection: ScalingDirection | undefined;

  constructor(private readonly policy: ScalingPolicy) {}

  evaluate(view: ScalerView): number {
    const now = dateAt(view.now);
    const decision = decide(
      this.policy,
      windowOf(view.delivered, view.now, this.policy.evaluationWindowSeconds),
      {
        currentReplicas: view.target,
        readyReplicas: view.ready,
        startingReplicas: view.starting,
        lastScaledAt: this.lastScaledAt,
        recommendations: this.recommendations,
        ...(this.lastReason ? { lastReason: this.lastReason } : {}),
        ...(this.lastDirection ? { lastDirection: this.lastDirection } : {}),
      },
      now,
    );
    this.recommendations = pruneRecommendations(
      [...this.recommendations, { at: new Date(decision.recommendation.at), replicas: decision.recommendation.replicas }],
      now,
      this.policy.stabilizationWindowSeconds,
    );
    this.lastReason = decision.reason;
    this.lastDirection = directionOf(decision);
    if (decision.desiredReplicas !== view.target) this.lastScaledAt = now;
    return decision.desiredReplicas;
  }
}
