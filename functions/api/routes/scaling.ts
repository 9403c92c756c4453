/** The scaling policy of an app, changes to it, and the scaler's reasoning on demand. */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { getPolicy } from '../../../db/queries/policies.js';
import { policyToApi } from '../../../db/queries/serialize.js';
import { APP_MODES, APP_STATUSES } from '../../../db/schema.js';
import type { Deps } from '../../deps.js';
import { explainScaling } from '../../jobs/scaler.js';
import type { AppEnv } from '../context.js';
import { lastDecision } from '../queries.js';
import { updateScalingPolicy } from '../scaling-policy.js';
import { AppNameParams, errorResponses, json, LastDecisionSchema, PolicySchema, secured } from '../schemas.js';
import { snakeKeys } from '../snake.js';
import { findApp } from './apps.js';

const ScalingAnswerSchema = z
  .object({ app_name: z.string(), mode: z.enum(APP_MODES).nullable(), policy: PolicySchema.nullable(), last_decision: LastDecisionSchema })
  .openapi('Scaling');

const PolicyPatchSchema = z.record(z.string(), z.unknown()).openapi('ScalingPolicyPatch', {
  description: 'Any subset of the policy fields (as GET shows them) and `mode` (auto or manual)',
  example: { min_replicas: 2, max_replicas: 10, scale_out_threshold_pct: 75, mode: 'auto' },
});

const PolicyChangeSchema = z
  .object({
    message: z.string(),
    app_name: z.string(),
    mode: z.enum(APP_MODES),
    policy: PolicySchema,
    changes: z.record(z.string(), z.object({ old: z.union([z.number(), z.string()]), new: z.union([z.number(), z.string()]) })),
    desired_replicas: z.number().int(),
    runtime_errors: z.array(z.string()),
  })
  .openapi('ScalingPolicyChange');

const ExplainSchema = z
  .object({
    app_name: z.string(),
    mode: z.enum(APP_MODES),
    status: z.enum(APP_STATUSES),
    evaluated_by_scaler: z.boolean().openapi({ description: 'Whether the scaler acts on this app on its ticks' }),
    note: z.string().nullable(),
    decision: z.record(z.string(), z.unknown()).openapi({ description: 'desired_replicas, reason, message, and every input of the decision' }),
    last_decision: z.record(z.string(), z.unknown()).nullable(),
  })
  .openapi('ScalingExplanation');

export function scalingRoutes(app: OpenAPIHono<AppEnv>, deps: Deps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/apps/{name}/scaling',
      tags: ['scaling'],
      summary: 'The scaling policy and the latest decision',
      security: secured,
      request: { params: AppNameParams },
      responses: { 200: json(ScalingAnswerSchema, 'The policy'), ...errorResponses(404) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const found = await findApp(deps, name);
      const [policy, last] = await Promise.all([getPolicy(deps.db.$primary, name), lastDecision(deps.db, name)]);
      const { app_name: _name, ...fields } = policy ? policyToApi(policy) : { app_name: name };
      return c.json(
        {
          app_name: name,
          mode: found.mode,
          policy: policy ? (fields as z.infer<typeof PolicySchema>) : null,
          last_decision: last
            ? {
                evaluated_at: last.evaluatedAt.toISOString(),
                reason: last.reason,
                current_replicas: last.currentReplicas,
                desired_replicas: last.desiredReplicas,
                decision: snakeKeys(last.decision),
              }
            : null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/v1/apps/{name}/scaling',
      tags: ['scaling'],
      summary: 'Change policy fields or the mode; records a config event with old and new values',
      security: secured,
      request: { params: AppNameParams, body: { required: true, content: { 'application/json': { schema: PolicyPatchSchema } } } },
      responses: { 200: json(PolicyChangeSchema, 'Saved'), ...errorResponses(404, 413, 415) },
    }),
    async (c) => {
      const answer = await updateScalingPolicy(deps, c.req.valid('param').name, c.req.valid('json'));
      const { app_name: _name, ...policy } = answer.policy;
      return c.json({ ...answer, policy }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/apps/{name}/scaling/explain',
      tags: ['scaling'],
      summary: 'Run the scaling decision now, without acting: every input and the reason',
      security: secured,
      request: { params: AppNameParams },
      responses: { 200: json(ExplainSchema, 'What the scaler would do now'), ...errorResponses(404) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      await findApp(deps, name);
      const explained = await explainScaling(deps, name, deps.now());
      return c.json(
        {
          app_name: explained.appName,
          mode: explained.mode,
          status: explained.status,
          evaluated_by_scaler: explained.evaluatedByScaler,
          note: explained.note,
          decision: snakeKeys(explained.decision) as Record<string, unknown>,
          last_decision: explained.lastDecision ? (snakeKeys(explained.lastDecision) as Record<string, unknown>) : null,
        },
        200,
      );
    },
  );
}
