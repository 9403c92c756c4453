import type { SimulationResult } from './simulate.js';

/** Orchestry may use at most this multiple of the fewest replica-seconds the threshold rules allow. */
export const MAX_RULES_BOUND_RATIO = 1.25;

export interface GoalCheck {
  goal: string;
  met: boolean;
  detail: string;
}

/** The most SLO-violation seconds the SLO goal allows: strictly fewer than any baseline that has some. */
export function allowedViolationSeconds({ results }: SimulationResult): number {
  return Math.min(...(['hpa', 'legacy'] as const).map((b) => Math.max(0, results[b].slo_violation_seconds - 1)));
}

/**
 * The bar Orchestry must clear on every trace: no more SLO-violation seconds than either baseline
 * (strictly fewer wherever that baseline has any), at most 1.25 × the replica-seconds the
 * threshold rules allow (bounds.ts ruleBound), and no more reversals than the HPA baseline.
 */
export function checkGoals({ results }: SimulationResult): GoalCheck[] {
  const o = results.orchestry;
  const slo = (baseline: 'hpa' | 'legacy'): GoalCheck => {
    const b = results[baseline].slo_violation_seconds;
    const met = b > 0 ? o.slo_violation_seconds < b : o.slo_violation_seconds === 0;
    return { goal: `SLO vs ${baseline}`, met, detail: `${o.slo_violation_seconds} s vs ${b} s` };
  };
  return [
    slo('hpa'),
    slo('legacy'),
    {
      goal: 'cost',
      met: o.rules_bound_ratio <= MAX_RULES_BOUND_RATIO,
      detail: `${o.rules_bound_ratio} × the rules bound (limit ${MAX_RULES_BOUND_RATIO})`,
    },
    {
      goal: 'stability',
      met: o.reversals <= results.hpa.reversals,
      detail: `${o.reversals} reversals vs hpa ${results.hpa.reversals}`,
    },
  ];
}
