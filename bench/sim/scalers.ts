/**
 * The scalers under comparison. Each sees only what a real one would: the metric samples that
 * have arrived by now, its own target count, and how many replicas are ready or starting.
 */
import {
  decide,
  directionOf,
  pruneRecommendations,
  SCALING_METRICS,
  type MetricAggregate,
  type MetricWindow,
  type Recommendation,
  type ScalingMetric,
  type ScalingPolicy,
  type ScalingDirection,
  type ScalingReason,
} from '../../functions/core/scaling.js';
import { MAX_REPLICAS, MIN_REPLICAS } from './model.js';

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
const dateAt = (t: number) => new Date(SIM_EPOCH_MS + t * 1000);
const clampReplicas = (n: number) => Math.min(MAX_REPLICAS, Math.max(MIN_REPLICAS, n));

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

/** What the scaler job's window query returns: one aggregate per metric over the window. */
export function windowOf(samples: readonly Sample[], now: number, windowSeconds: number): MetricWindow {
  const inWindow = samples.filter((s) => s.at >= now - windowSeconds && s.at <= now);
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

/**
 * Kubernetes' HPA on one custom metric, rps per pod with target 80: sync every 15 s on the newest
 * sample, tolerance 0.1, pods not ready yet count as serving nothing when scaling up, scale-down
 * stabilization 300 s (highest recommendation over the window), scale-up at most
 * max(100 %, 4 pods) per 15 s.
 */
export class HpaScaler implements Scaler {
  readonly periodSeconds = 15;
  private history: Array<{ at: number; replicas: number }> = [];

  constructor(
    private readonly targetRpsPerPod = 80,
    private readonly tolerance = 0.1,
    private readonly downStabilizationSeconds = 300,
  ) {}

  evaluate(view: ScalerView): number {
    const latest = view.delivered.at(-1);
    let recommendation = view.target;
    if (latest) {
      const ready = Math.max(view.ready, 1);
      const ratio = latest.rps / ready / this.targetRpsPerPod;
      if (Math.abs(ratio - 1) > this.tolerance) {
        recommendation = Math.ceil(ratio * ready - 1e-9);
        if (ratio > 1 && view.starting > 0) {
          // Unready pods count as idle on the way up, so a scale-up already under way is not repeated.
          const withStarting = ready + view.starting;
          const adjusted = latest.rps / withStarting / this.targetRpsPerPod;
          recommendation = Math.abs(adjusted - 1) <= this.tolerance || adjusted < 1 ? view.target : Math.ceil(adjusted * withStarting - 1e-9);
        }
      }
    }
    recommendation = clampReplicas(recommendation);
    this.history = this.history.filter((h) => h.at > view.now - this.downStabilizationSeconds);
    this.history.push({ at: view.now, replicas: recommendation });
    if (recommendation >= view.target) {
      const upLimit = Math.max(view.target * 2, view.target + 4);
      return clampReplicas(Math.min(recommendation, upLimit));
    }
    return clampReplicas(Math.min(view.target, Math.max(...this.history.map((h) => h.replicas))));
  }
}

/**
 * The legacy Orchestry scaler: every 10 s over its 20 s window averages, factor = observed/target
 * for rps per healthy replica (80), cpu (70) and memory (75); above 0.8 scale out to
 * max(ceil(current × factor), current + 1); below 0.3 for 3 consecutive evaluations scale in by
 * one; 300 s cooldown in both directions, during which it does not evaluate at all.
 */
export class LegacyScaler implements Scaler {
  readonly periodSeconds = 10;
  private lastScaledAt = -Infinity;
  private lowEvaluations = 0;

  constructor(
    private readonly windowSeconds = 20,
    private readonly cooldownSeconds = 300,
  ) {}

  evaluate(view: ScalerView): number {
    if (view.now - this.lastScaledAt < this.cooldownSeconds) return view.target;
    const recent = view.delivered.filter((s) => s.at >= view.now - this.windowSeconds);
    if (!recent.length) return view.target;
    const mean = (f: (s: Sample) => number) => recent.reduce((a, s) => a + f(s), 0) / recent.length;
    const healthy = Math.max(1, view.ready);
    const factor = Math.max(mean((s) => s.rps) / healthy / 80, mean((s) => s.cpuPercent) / 70, mean((s) => s.memoryPercent) / 75);
    let next = view.target;
    if (factor > 0.8) {
      this.lowEvaluations = 0;
      next = clampReplicas(Math.max(Math.ceil(view.target * factor - 1e-9), view.target + 1));
    } else if (factor < 0.3) {
      this.lowEvaluations += 1;
      if (this.lowEvaluations >= 3) {
        this.lowEvaluations = 0;
        next = clampReplicas(view.target - 1);
      }
    } else {
      this.lowEvaluations = 0;
    }
    if (next !== view.target) this.lastScaledAt = view.now;
    return next;
  }
}
