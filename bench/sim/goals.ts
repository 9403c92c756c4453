import type { SimulationResult } from './simulate.js';

/** Orchestry may use at most this multiple of the oracle's replica-seconds. */
export const MAX_ORACLE_RATIO = 1.3;

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
 * (strictly fewer wherever that baseline has any), at most 1.3 × the oracle's replica-seconds, and
 * no more scale changes than the HPA baseline.
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
      met: o.oracle_ratio <= MAX_ORACLE_RATIO,
      detail: `${o.oracle_ratio} × oracle (limit ${MAX_ORACLE_RATIO})`,
    },
    {
      goal: 'stability',
      met: o.scale_changes <= results.hpa.scale_changes,
      detail: `${o.scale_changes} changes vs hpa ${results.hpa.scale_changes}`,
    },
  ];
}
