/**
 * GET /health (public): is Orchestry itself well — database primary and replica, runtime,
 * scheduled jobs — plus application counts. And per-app replica health, and probing on demand.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { queryRows, type Database } from '../../../db/client.js';
import { getHealthCheck, listHealthChecks } from '../../../db/queries/health-checks.js';
import { listInstances } from '../../../db/queries/instances.js';
import { DEFAULT_PAGE_LIMIT } from '../../../db/queries/page.js';
import { HEALTH_STATUSES, INSTANCE_STATUSES, JOB_NAMES, type HealthCheck } from '../../../db/schema.js';
import { NoRuntime, type Deps } from '../../deps.js';
import { probeApp } from '../../jobs/health-prober.js';
import type { AppEnv } from '../context.js';
import { CURSORS } from '../cursor.js';
import { classify } from '../errors.js';
import { jobStatuses, type JobStatus } from '../job-status.js';
import { appCounts } from '../queries.js';
import { AppNameParams, booleanText, errorResponses, json, nextCursor, pageQuery, secured } from '../schemas.js';
import { findApp } from './apps.js';

/** Each check of GET /health gives up after this long (a hung dependency is a failing one). */
export const HEALTH_CHECK_TIMEOUT_MS = 3000;

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${HEALTH_CHECK_TIMEOUT_MS} ms`)), HEALTH_CHECK_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const ProbeSchema = z.object({ ok: z.boolean(), response_ms: z.number().nullable(), error: z.string().nullable() });

export const JobStatusSchema = z
  .object({
    job: z.enum(JOB_NAMES),
    period_seconds: z.number(),
    state: z.enum(['ok', 'failed', 'stale', 'never']),
    last_run: z
      .object({
        id: z.number(),
        outcome: z.string(),
        started_at: z.string(),
        finished_at: z.string().nullable(),
        counts: z.record(z.string(), z.number()).nullable(),
        error: z.string().nullable(),
        age_seconds: z.number(),
      })
      .nullable(),
  })
  .openapi('JobStatus');

const SystemHealthSchema = z
  .object({
    status: z.enum(['healthy', 'unhealthy']),
    failing: z.array(z.string()).openapi({ description: 'The components that fail, e.g. database.primary, runtime, jobs.scaler' }),
    timestamp: z.string(),
    database: z.object({
      primary: ProbeSchema,
      replica: ProbeSchema.extend({ configured: z.boolean() }),
    }),
    runtime: ProbeSchema.extend({ kind: z.string(), detail: z.string().nullable() }),
    jobs: z.array(JobStatusSchema).nullable(),
    apps: z.object({ total: z.number(), by_status: z.record(z.string(), z.number()) }).nullable(),
  })
  .openapi('SystemHealth');

async function timed(check: () => Promise<unknown>): Promise<{ ok: boolean; response_ms: number | null; error: string | null }> {
  const started = performance.now();
  try {
    await check();
    return { ok: true, response_ms: Math.round((performance.now() - started) * 10) / 10, error: null };
  } catch (error) {
    // Public route: the classified message, never the driver's text.
    const message = error instanceof Error && error.message.includes('did not answer within') ? error.message : classify(error).error.message;
    return { ok: false, response_ms: null, error: message };
  }
}

const ping = (db: Database) => () => withTimeout(queryRows(db, sql`SELECT 1 AS ok`), 'the database');

const ReplicaHealthSchema = z.object({
  id: z.string(),
  name: z.string(),
  replica_index: z.number().int(),
  status: z.enum(INSTANCE_STATUSES),
  health: z.enum(HEALTH_STATUSES),
  last_health_check: z.string().nullable(),
  consecutive_failures: z.number().int(),
  consecutive_successes: z.number().int(),
  failure_count: z.number().int(),
  last_failure_at: z.string().nullable(),
});

const HealthCheckSchema = z
  .object({
    enabled: z.boolean(),
    protocol: z.string(),
    path: z.string().nullable(),
    port: z.number().int(),
    method: z.string().nullable(),
    expected_status_codes: z.array(z.number().int()).nullable(),
    initial_delay_seconds: z.number().nullable(),
    period_seconds: z.number().nullable(),
    timeout_seconds: z.number().nullable(),
    failure_threshold: z.number().nullable(),
    success_threshold: z.number().nullable(),
  })
  .openapi('HealthCheck');

const healthCheckToApi = (check: HealthCheck) => ({
  enabled: check.enabled === true,
  protocol: check.protocol,
  path: check.path,
  port: check.port,
  method: check.method,
  expected_status_codes: check.expectedStatusCodes,
  initial_delay_seconds: check.initialDelaySeconds,
  period_seconds: check.periodSeconds,
  timeout_seconds: check.timeoutSeconds,
  failure_threshold: check.failureThreshold,
  success_threshold: check.successThreshold,
});

const HealthCheckListSchema = z
  .object({
    health_checks: z.array(HealthCheckSchema.extend({ app_name: z.string(), updated_at: z.string().nullable() }).openapi('AppHealthCheck')),
    next_cursor: nextCursor,
  })
  .openapi('HealthCheckList');

const AppHealthSchema = z
  .object({
    app_name: z.string(),
    health_check: HealthCheckSchema.nullable(),
    summary: z.record(z.string(), z.number().int()),
    replicas: z.array(ReplicaHealthSchema),
  })
  .openapi('AppHealth');

const ProbeReportSchema = z
  .object({
    app_name: z.string(),
    probed_at: z.string(),
    checks_enabled: z.boolean(),
    recorded: z.boolean().openapi({ description: 'False when health checks are disabled: results are shown, not acted on' }),
    replicas: z.array(
      z.object({
        container_id: z.string(),
        replica_index: z.number().int(),
        ok: z.boolean(),
        status_code: z.number().int().nullable(),
        response_time_ms: z.number().nullable(),
        error: z.string().nullable(),
        previous_health: z.enum(HEALTH_STATUSES),
        health: z.enum(HEALTH_STATUSES),
        changed: z.boolean(),
      }),
    ),
  })
  .openapi('ProbeReport');

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function healthRoutes(app: OpenAPIHono<AppEnv>, deps: Deps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/health',
      tags: ['system'],
      summary: 'Health of Orchestry itself (no authentication)',
      responses: {
        200: json(SystemHealthSchema, 'Every component is well'),
        503: json(SystemHealthSchema, 'A component fails; `failing` names it'),
      },
    }),
    async (c) => {
      const db = deps.db;
      const replica = db.$replicas.find((r) => r !== db.$primary);
      const noRuntime = deps.runtime instanceof NoRuntime;
      const [primary, replicaProbe, runtime] = await Promise.all([
        timed(ping(db.$primary)),
        replica ? timed(ping(replica)) : Promise.resolve({ ok: true, response_ms: null, error: null }),
        (async () => {
          const started = performance.now();
          try {
            const answer = await withTimeout(deps.runtime.ping(), 'the container runtime');
            return {
              ok: answer.ok,
              kind: noRuntime ? 'none' : answer.kind,
              detail: answer.detail ?? null,
              response_ms: Math.round((performance.now() - started) * 10) / 10,
              error: answer.ok ? null : (answer.detail ?? 'unreachable'),
            };
          } catch (error) {
            return { ok: false, kind: deps.runtime.kind as string, detail: null, response_ms: null, error: error instanceof Error ? error.message : String(error) };
          }
        })(),
      ]);
      let jobs: JobStatus[] | null = null;
      let apps: { total: number; by_status: Record<string, number> } | null = null;
      if (primary.ok) {
        const now = deps.now();
        const [statuses, counts] = await Promise.all([
          withTimeout(jobStatuses(db.$primary, deps.config, now), 'the database').catch(() => null),
          withTimeout(appCounts(db.$primary), 'the database').catch(() => null),
        ]);
        jobs = statuses;
        if (counts) apps = { total: Object.values(counts).reduce((n, v) => n + v, 0), by_status: counts };
      }
      const failing = [
        ...(primary.ok ? [] : ['database.primary']),
        ...(replicaProbe.ok ? [] : ['database.replica']),
        // Without a runtime the API still serves; starting apps says why it cannot.
        ...(runtime.ok || noRuntime ? [] : ['runtime']),
        ...(jobs ?? []).filter((j) => j.state === 'failed' || j.state === 'stale').map((j) => `jobs.${j.job}`),
      ];
      const body = {
        status: failing.length === 0 ? ('healthy' as const) : ('unhealthy' as const),
        failing,
        timestamp: deps.now().toISOString(),
        database: { primary, replica: { ...replicaProbe, configured: replica !== undefined } },
        runtime,
        jobs,
        apps,
      };
      return failing.length === 0 ? c.json(body, 200) : c.json(body, 503);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/apps/{name}/health',
      tags: ['health'],
      summary: 'Health of each replica, and the health check',
      security: secured,
      request: { params: AppNameParams },
      responses: { 200: json(AppHealthSchema, 'Per-replica health'), ...errorResponses(404) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      await findApp(deps, name);
      const [rows, check] = await Promise.all([listInstances(deps.db, name), getHealthCheck(deps.db, name)]);
      const summary: Record<string, number> = Object.fromEntries(HEALTH_STATUSES.map((s) => [s, 0]));
      for (const row of rows) summary[row.healthStatus ?? 'unknown'] = (summary[row.healthStatus ?? 'unknown'] ?? 0) + 1;
      return c.json(
        {
          app_name: name,
          health_check: check ? healthCheckToApi(check) : null,
          summary,
          replicas: rows.map((r) => ({
            id: r.containerId,
            name: r.containerName,
            replica_index: r.replicaIndex,
            status: r.status,
            health: r.healthStatus ?? 'unknown',
            last_health_check: iso(r.lastHealthCheck),
            consecutive_failures: r.consecutiveFailures ?? 0,
            consecutive_successes: r.consecutiveSuccesses,
            failure_count: r.failureCount ?? 0,
            last_failure_at: iso(r.lastFailureAt),
          })),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/health-checks',
      tags: ['health'],
      summary: "Every app's health check, by app name, a page at a time",
      security: secured,
      request: {
        query: z.object({
          enabled: booleanText('enabled').optional().openapi({ description: 'Only enabled (or disabled) checks', type: 'string', enum: ['true', 'false'] }),
          ...pageQuery,
        }),
      },
      responses: { 200: json(HealthCheckListSchema, 'A page of health checks'), ...errorResponses() },
    }),
    async (c) => {
      const { limit, cursor, ...filters } = c.req.valid('query');
      const after = cursor === undefined ? undefined : CURSORS.healthChecks.decode(cursor, filters)[0];
      const page = await listHealthChecks(deps.db, filters, { limit: limit ?? DEFAULT_PAGE_LIMIT, after });
      return c.json(
        {
          health_checks: page.items.map((check) => ({ ...healthCheckToApi(check), app_name: check.appName, updated_at: iso(check.updatedAt) })),
          next_cursor: page.next === null ? null : CURSORS.healthChecks.encode([page.next], filters),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/apps/{name}/health/check',
      tags: ['health'],
      summary: 'Probe every running replica now',
      security: secured,
      request: { params: AppNameParams },
      responses: { 200: json(ProbeReportSchema, 'The probe results'), ...errorResponses(404, 502) },
    }),
    async (c) => {
      const report = await probeApp(deps, c.req.valid('param').name);
      return c.json(
        {
          app_name: report.appName,
          probed_at: report.probedAt.toISOString(),
          checks_enabled: report.checksEnabled,
          recorded: report.recorded,
          replicas: report.replicas.map((r) => ({
            container_id: r.containerId,
            replica_index: r.replicaIndex,
            ok: r.ok,
            status_code: r.statusCode,
            response_time_ms: r.responseTimeMs,
            error: r.error,
            previous_health: r.previousHealth,
            health: r.health,
            changed: r.changed,
          })),
        },
        200,
      );
    },
  );
}
