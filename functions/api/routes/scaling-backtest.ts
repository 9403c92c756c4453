/**
 * POST /apps/{name}/scaling/backtest: the app's recorded load (1-minute rollups of rps) replayed
 * through decide() in the simulator's model under the policy in force and under a candidate
 * patch (core/backtest.ts). It changes nothing, so a read key may run it (middleware/auth.ts).
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { getPolicy } from '../../../db/queries/policies.js';
import { backtest, MIN_BACKTEST_MINUTES } from '../../core/backtest.js';
import { OrchestryError, validationError } from '../../core/errors.js';
import { resolvePolicy } from '../../core/scaling.js';
import { POLICY_FIELDS, validatePolicyPatch } from '../../core/spec.js';
import type { Deps } from '../../deps.js';
import type { AppEnv } from '../context.js';
import { rollupHistory } from '../queries.js';
import { AppNameParams, errorResponses, json, secured, sinceDate, sinceText } from '../schemas.js';
import { findApp } from './apps.js';

const MINUTE_MS = 60_000;
/** The longest replay: a week of minutes keeps one answer under a second of CPU. */
const MAX_BACKTEST_MINUTES = 7 * 1440;

const isoTime = (what: string) => z.iso.datetime({ offset: true, error: `${what} must be an ISO 8601 time such as 2024-05-01T12:00:00Z` });

const BacktestRequestSchema = z
  .strictObject({
    policy: z.record(z.string(), z.unknown()).optional().openapi({ description: 'A patch with the fields of PUT /scaling; none: the current policy', example: { cooldown_seconds: 60 } }),
    since: sinceText.optional().openapi({ description: 'Replay from this long ago (default 24h); not with from' }),
    from: isoTime('from').optional(),
    to: isoTime('to').optional().openapi({ description: 'Replay up to this time (default now)' }),
  })
  .openapi('BacktestRequest');

const RunSchema = z.object({
  violation_seconds: z.number().int(),
  replica_seconds: z.number().int(),
  changes: z.number().int(),
  reversals: z.number().int(),
  desired: z.array(z.number().int()).openapi({ description: 'The highest replica count in each minute' }),
});

const BacktestAnswerSchema = z
  .object({
    app_name: z.string(),
    from: z.string(),
    to: z.string(),
    minutes: z.number().int(),
    recorded_minutes: z.number().int(),
    load: z.array(z.number()).openapi({ description: 'The mean rps of each minute replayed (0 where none was recorded)' }),
    policy: z.object({ current: z.record(z.string(), z.number()), candidate: z.record(z.string(), z.number()) }),
    changed: z.array(z.string()),
    model: z.object({ capacity_rps_per_replica: z.number(), slo_rps_per_replica: z.number(), startup_seconds: z.number(), slo_p95_ms: z.number() }),
    current: RunSchema,
    candidate: RunSchema,
  })
  .openapi('Backtest');

export function scalingBacktestRoutes(app: OpenAPIHono<AppEnv>, deps: Deps): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/apps/{name}/scaling/backtest',
      tags: ['scaling'],
      summary: "Replay the app's recorded load under the current policy and a candidate; changes nothing",
      security: secured,
      request: { params: AppNameParams, body: { required: true, content: { 'application/json': { schema: BacktestRequestSchema } } } },
      responses: { 200: json(BacktestAnswerSchema, 'Both runs side by side'), ...errorResponses(404, 413, 415, 422) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const body = c.req.valid('json');
      const found = await findApp(deps, name);
      if (body.since !== undefined && body.from !== undefined) {
        throw validationError([{ path: 'since', message: 'give since or from, not both' }]);
      }
      const now = deps.now();
      const to = body.to ? new Date(body.to) : now;
      const from = body.from ? new Date(body.from) : sinceDate(body.since ?? '24h', to);
      if (!(from < to)) throw validationError([{ path: body.from ? 'from' : 'since', message: 'the replay must start before it ends (to)' }]);
      const stored = await getPolicy(deps.db, name);
      // The same validation as PUT /scaling, so a candidate it would refuse is refused here alike.
      const update = validatePolicyPatch(body.policy ?? {}, { ...stored, mode: found.mode });
      const current = resolvePolicy(stored ?? {});
      const candidate = resolvePolicy(update.policy);

      // Whole minutes only; the last, still filling, is left out.
      const end = new Date(Math.min(Math.floor(to.getTime() / MINUTE_MS), Math.floor(now.getTime() / MINUTE_MS)) * MINUTE_MS);
      const start = new Date(Math.max(Math.ceil(from.getTime() / MINUTE_MS) * MINUTE_MS, end.getTime() - MAX_BACKTEST_MINUTES * MINUTE_MS));
      const history = start < end ? await rollupHistory(deps.db, name, { from: start, to: end, width: '1m', intervalSeconds: 60, metricTypes: ['rps'] }) : { points: [] };
      const points = history.points;
      const first = points[0]?.bucketStart.getTime();
      const last = points.at(-1)?.bucketStart.getTime();
      const minutes = first === undefined || last === undefined ? 0 : (last - first) / MINUTE_MS + 1;
      if (minutes < MIN_BACKTEST_MINUTES) {
        throw new OrchestryError(
          'INSUFFICIENT_HISTORY',
          `A backtest needs at least ${MIN_BACKTEST_MINUTES} minutes of recorded load; '${name}' has ${minutes} minute${minutes === 1 ? '' : 's'} of rps rollups between ${start.toISOString()} and ${end.toISOString()}`,
          { app_name: name, required_minutes: MIN_BACKTEST_MINUTES, recorded_minutes: points.length, span_minutes: minutes, from: start.toISOString(), to: end.toISOString() },
        );
      }
      // Minutes the router reported nothing for carried no traffic (it reports while there is any).
      const load = new Array<number>(minutes).fill(0);
      for (const p of points) load[(p.bucketStart.getTime() - first!) / MINUTE_MS] = Math.round(p.avg * 1000) / 1000;
      const result = backtest({ loadPerMinute: load, current, candidate });
      const apiFields = (p: typeof current) => Object.fromEntries(POLICY_FIELDS.map((f) => [f.apiKey, p[f.column]]));
      return c.json(
        {
          app_name: name,
          from: new Date(first!).toISOString(),
          to: new Date(last! + MINUTE_MS).toISOString(),
          minutes,
          recorded_minutes: points.length,
          load,
          policy: { current: apiFields(current), candidate: apiFields(candidate) },
          changed: Object.keys(update.changes).filter((k) => k !== 'mode'),
          model: result.model,
          current: result.current,
          candidate: result.candidate,
        },
        200,
      );
    },
  );
}
