/**
 * The peers Orchestry is compared with (its own scaler is functions/core/sim/orchestry.ts). Each
 * sees only what a real one would: the metric samples that have arrived by now, its own target
 * count, and how many replicas are ready or starting.
 */
import { MAX_REPLICAS, MIN_REPLICAS } from '../../functions/core/sim/model.js';
import type { Sample, Scaler, ScalerView } from '../../functions/core/sim/orchestry.js';

const clampReplicas = (n: number) => Math.min(MAX_REPLICAS, Math.max(MIN_REPLICAS, n));

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
