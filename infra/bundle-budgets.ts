/**
 * How large each Lambda's minified bundle (infra/bundles.ts) may be. test/infra/budgets.test.ts
 * fails when a bundle passes its budget, so that what a cold start parses cannot grow back
 * unnoticed. `goal` is issue 17's target; `budget` is what the test enforces: the goal once a
 * bundle meets it, until then the size it had when last measured (rounded up to the next
 * 10 kB), so that it can only shrink. A change that must grow a bundle raises its budget here
 * and says why in the commit.
 *
 * A new Lambda gets a row here (the test checks that every function in infra/ has one).
 * Scheduled functions must also stay free of HTTP and OpenAPI code (FORBIDDEN_IN_SCHEDULED).
 */
import type { LambdaDriver } from './functions.js';

export type LambdaKind = 'api' | 'scheduled' | 'deploy';

export interface LambdaBudget {
  /** The source of the handler module, relative to the repository. */
  source: string;
  kind: LambdaKind;
  /** The database driver its stack bundles it with (infra/functions.ts bundledWith). */
  driver: LambdaDriver;
  budgetBytes: number;
  goalBytes: number;
}

const KB = 1000;

export const LAMBDA_BUDGETS = {
  // The API has not met its goal yet: its budget is a ratchet a little above today's size, so
  // features can land while zod (470 kB) and yaml (119 kB) are the ones to take out (issue 17).
  api: { source: 'functions/api/lambda.ts', kind: 'api', driver: 'neon', budgetBytes: 1200 * KB, goalBytes: 700 * KB },
  scaler: { source: 'functions/jobs/scaler.ts', kind: 'scheduled', driver: 'pg', budgetBytes: 400 * KB, goalBytes: 400 * KB },
  prober: { source: 'functions/jobs/health-prober.ts', kind: 'scheduled', driver: 'pg', budgetBytes: 400 * KB, goalBytes: 400 * KB },
  collector: { source: 'functions/jobs/metric-collector.ts', kind: 'scheduled', driver: 'pg', budgetBytes: 400 * KB, goalBytes: 400 * KB },
  rollup: { source: 'functions/jobs/metric-rollup.ts', kind: 'scheduled', driver: 'pg', budgetBytes: 400 * KB, goalBytes: 400 * KB },
  cleanup: { source: 'functions/jobs/cleanup.ts', kind: 'scheduled', driver: 'pg', budgetBytes: 400 * KB, goalBytes: 400 * KB },
  migrate: { source: 'functions/jobs/migrate.ts', kind: 'deploy', driver: 'pg', budgetBytes: 400 * KB, goalBytes: 400 * KB },
} as const satisfies Record<string, LambdaBudget>;

export type LambdaKey = keyof typeof LAMBDA_BUDGETS;

/**
 * Packages and folders a scheduled function must not contain (by infra/bundles.ts packageOf):
 * the HTTP framework, the OpenAPI generator and the API's own code.
 */
export const FORBIDDEN_IN_SCHEDULED: readonly string[] = ['hono', '@hono/zod-openapi', '@hono/swagger-ui', '@asteasolutions/zod-to-openapi', 'functions/api'];
