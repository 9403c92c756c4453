/** System-wide views: totals, the effective configuration (secrets redacted), the jobs' last runs. */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { listJobRuns } from '../../../db/queries/job-runs.js';
import { DEFAULT_PAGE_LIMIT } from '../../../db/queries/page.js';
import { JOB_NAMES, JOB_OUTCOMES } from '../../../db/schema.js';
import { redactedConfig, type Deps } from '../../deps.js';
import type { AppEnv } from '../context.js';
import { CURSORS } from '../cursor.js';
import { jobStatuses } from '../job-status.js';
import { systemTotals } from '../queries.js';
import { errorResponses, json, nextCursor, pageQuery, secured } from '../schemas.js';
import { JobStatusSchema } from './health.js';

const SystemMetricsSchema = z
  .object({
    timestamp: z.string(),
    apps: z.object({ total: z.number().int(), by_status: z.record(z.string(), z.number().int()) }),
    replicas: z.object({
      desired: z.number().int(),
      by_status: z.record(z.string(), z.number().int()),
      by_health: z.record(z.string(), z.number().int()),
    }),
    metric_samples_last_5m: z.number().int(),
    events_last_hour: z.object({ total: z.number().int(), errors: z.number().int() }),
  })
  .openapi('SystemMetrics');

const ConfigSchema = z
  .object({
    runtime: z.string(),
    rate_limit_per_minute: z.number(),
    max_body_bytes: z.number(),
    max_metrics_body_bytes: z.number(),
    max_wait_seconds: z.number(),
    jobs: z.record(z.string(), z.number()),
    retention: z.record(z.string(), z.number()),
    admin_token: z.string().nullable().openapi({ description: '"[redacted]" when set' }),
  })
  .openapi('Config');

const JobRunListSchema = z
  .object({
    runs: z.array(
      z
        .object({
          id: z.number().int(),
          job: z.enum(JOB_NAMES),
          outcome: z.enum(JOB_OUTCOMES),
          started_at: z.string(),
          finished_at: z.string().nullable(),
          counts: z.record(z.string(), z.number()).nullable(),
          error: z.string().nullable(),
        })
        .openapi('JobRun'),
    ),
    next_cursor: nextCursor,
  })
  .openapi('JobRunList');

const snakeRecord = (record: object) =>
  Object.fromEntries(Object.entries(record).map(([k, v]) => [k.replace(/[A-Z]/g, (ch) => `_${ch.toLowerCase()}`), v as number]));

export function systemRoutes(app: OpenAPIHono<AppEnv>, deps: Deps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/metrics',
      tags: ['system'],
      summary: 'System totals: apps, replicas, recent samples and events',
      security: secured,
      responses: { 200: json(SystemMetricsSchema, 'Totals'), ...errorResponses() },
    }),
    async (c) => {
      const now = deps.now();
      const totals = await systemTotals(deps.db, now);
      return c.json(
        {
          timestamp: now.toISOString(),
          apps: { total: Object.values(totals.apps).reduce((n, v) => n + v, 0), by_status: totals.apps },
          replicas: { desired: totals.desiredReplicas, by_status: totals.instances.byStatus, by_health: totals.instances.byHealth },
          metric_samples_last_5m: totals.metricSamplesLast5m,
          events_last_hour: totals.eventsLastHour,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/config',
      tags: ['system'],
      summary: 'The effective configuration, secrets redacted',
      security: secured,
      responses: { 200: json(ConfigSchema, 'Configuration'), ...errorResponses() },
    }),
    (c) => {
      const config = redactedConfig(deps.config);
      return c.json(
        {
          runtime: config.runtime,
          rate_limit_per_minute: config.rateLimitPerMinute,
          max_body_bytes: config.maxBodyBytes,
          max_metrics_body_bytes: config.maxMetricsBodyBytes,
          max_wait_seconds: config.maxWaitSeconds,
          jobs: snakeRecord(config.jobs),
          retention: snakeRecord(config.retention),
          admin_token: config.adminToken,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/jobs',
      tags: ['system'],
      summary: 'The last run of each scheduled job',
      security: secured,
      responses: { 200: json(z.object({ jobs: z.array(JobStatusSchema) }).openapi('Jobs'), 'Jobs'), ...errorResponses() },
    }),
    async (c) => c.json({ jobs: await jobStatuses(deps.db, deps.config, deps.now()) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/jobs/runs',
      tags: ['system'],
      summary: 'Runs of the scheduled jobs, newest first, a page at a time',
      security: secured,
      request: {
        query: z.object({
          job: z.enum(JOB_NAMES, { error: `job must be one of ${JOB_NAMES.join(', ')}` }).optional(),
          outcome: z.enum(JOB_OUTCOMES, { error: `outcome must be one of ${JOB_OUTCOMES.join(', ')}` }).optional(),
          ...pageQuery,
        }),
      },
      responses: { 200: json(JobRunListSchema, 'A page of runs'), ...errorResponses() },
    }),
    async (c) => {
      const { limit, cursor, ...filters } = c.req.valid('query');
      const after = cursor === undefined ? undefined : CURSORS.jobRuns.decode(cursor, filters);
      const page = await listJobRuns(deps.db, filters, { limit: limit ?? DEFAULT_PAGE_LIMIT, after });
      return c.json(
        {
          runs: page.items.map((run) => ({
            id: run.id,
            job: run.job,
            outcome: run.outcome,
            started_at: run.startedAt.toISOString(),
            finished_at: run.finishedAt ? run.finishedAt.toISOString() : null,
            counts: run.counts ?? null,
            error: run.error,
          })),
          next_cursor: page.next === null ? null : CURSORS.jobRuns.encode(page.next, filters),
        },
        200,
      );
    },
  );
}
