/** Registering, reading, changing and removing apps; starting, stopping and scaling them. */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { getApp, getAppDetail, listAppPage } from '../../../db/queries/applications.js';
import { DEFAULT_PAGE_LIMIT } from '../../../db/queries/page.js';
import { appSummaryToApi, appToApi, instanceToApi } from '../../../db/queries/serialize.js';
import { APP_MODES, APP_STATUSES, type Application } from '../../../db/schema.js';
import { appNotFound, validationError } from '../../core/errors.js';
import { NoRuntime, opsDeps, type Deps } from '../../deps.js';
import { deleteApp, registerApp, scaleApp, startApp, stopApp, updateSpec, type ReplicaChangeAnswer } from '../../ops/apps.js';
import { waitForReplicas } from '../../ops/wait.js';
import { appTotals } from '../app-totals.js';
import type { AppEnv } from '../context.js';
import { CURSORS } from '../cursor.js';
import {
  AppDetailSchema,
  AppListSchema,
  AppNameParams,
  booleanText,
  DeleteAnswerSchema,
  errorResponses,
  json,
  labelSelector,
  pageQuery,
  RegisterAnswerSchema,
  ReplicaChangeAnswerSchema,
  secured,
  StopAnswerSchema,
  UpdateSpecAnswerSchema,
  wholeNumber,
} from '../schemas.js';

export const YAML_MEDIA_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'] as const;

const SpecJsonSchema = z.record(z.string(), z.unknown()).openapi('AppSpecDocument', {
  description: 'An app spec (apiVersion, kind, metadata, spec, scaling, healthCheck, termination); see docs/app-spec.md',
  example: {
    apiVersion: 'v1',
    kind: 'App',
    metadata: { name: 'user-api', labels: { team: 'backend' } },
    spec: { type: 'http', image: 'registry.example.com/user-api:2.1.0', ports: [{ containerPort: 8080, protocol: 'HTTP' }] },
    scaling: { mode: 'auto', minReplicas: 2, maxReplicas: 20 },
    healthCheck: { protocol: 'HTTP', path: '/health', port: 8080 },
  },
});
const SpecYamlSchema = z.string().openapi({ description: 'The same document in YAML' });

const specBody = {
  required: true,
  description: 'The app spec, as JSON or YAML',
  content: {
    'application/json': { schema: SpecJsonSchema },
    ...Object.fromEntries(YAML_MEDIA_TYPES.map((type) => [type, { schema: SpecYamlSchema }])),
  },
};

/** The spec in the body: YAML text, or the JSON document the validator has parsed. */
async function readSpecBody(c: Context<AppEnv>, parsedJson: unknown): Promise<{ raw: unknown; type: 'yaml' | 'json' }> {
  const mediaType = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if ((YAML_MEDIA_TYPES as readonly string[]).includes(mediaType)) return { raw: await c.req.text(), type: 'yaml' };
  return { raw: parsedJson, type: 'json' };
}

/**
 * An app, read on the primary: a client that has just changed it must see its change (a
 * replica may lag). Listings, events and metrics read the replica.
 */
export async function findApp(deps: Deps, name: string): Promise<Application> {
  const app = await getApp(deps.db.$primary, name);
  if (!app) throw appNotFound(name);
  return app;
}

const replicas = (min: number) =>
  z
    .number({ error: `replicas must be a whole number from ${min} to 1000` })
    .int({ error: `replicas must be a whole number from ${min} to 1000` })
    .min(min, { error: `replicas must be a whole number from ${min} to 1000${min === 1 ? ' (to stop the app, use stop)' : ''}` })
    .max(1000, { error: `replicas must be a whole number from ${min} to 1000` });
const wait = z.boolean({ error: 'wait must be true or false' }).openapi({ description: 'Answer only when the replicas are running and healthy, or the timeout passes' });
const timeout = z
  .number({ error: 'timeout must be a number of seconds' })
  .min(0, { error: 'timeout must be 0 or more seconds' })
  .max(3600, { error: 'timeout must be at most 3600 seconds' })
  .openapi({ description: 'Seconds to wait (at most the server\'s ORCHESTRY_MAX_WAIT_SECONDS)' });

const StartBody = z.strictObject({ replicas: replicas(1).optional(), wait: wait.optional(), timeout: timeout.optional() }).openapi('StartRequest');
const ScaleBody = z.strictObject({ replicas: replicas(0), wait: wait.optional(), timeout: timeout.optional() }).openapi('ScaleRequest');
const StopBody = z
  .strictObject({
    force: z.boolean({ error: 'force must be true or false' }).optional().openapi({ description: 'Stop at once, without draining' }),
    timeout: timeout.optional(),
  })
  .openapi('StopRequest');

const DEFAULT_WAIT_SECONDS = 60;
const DEFAULT_DELETE_SECONDS = 60;

function waitSeconds(deps: Deps, given: number | undefined, fallback: number): number {
  const max = deps.config.maxWaitSeconds;
  if (given !== undefined && given > max) {
    throw validationError([
      { path: 'timeout', message: `must be at most ${max} seconds here; ask for less and poll GET /api/v1/apps/{name} for the rest` },
    ]);
  }
  return given ?? Math.min(fallback, max);
}

/** The wait's outcome in the message, naming the replicas that are not ready. */
function withWaitOutcome(answer: ReplicaChangeAnswer, seconds: number) {
  if (answer.ready === undefined) return answer;
  const notReady = answer.not_ready ?? [];
  if (answer.ready) return { ...answer, timed_out: false, message: `${answer.message}; every replica is running and healthy` };
  const list = notReady.map((r) => `replica ${r.replica_index} (${r.status}, health ${r.health ?? 'unknown'})`).join(', ');
  return {
    ...answer,
    timed_out: true,
    message: `${answer.message}; after ${seconds}s, ${notReady.length} replica${notReady.length === 1 ? ' is' : 's are'} not ready: ${list}`,
  };
}

/**
 * Without a runtime nothing can start: refuse before recording a desired state that could
 * never be reached (the runtime is chosen when the process starts).
 */
function requireRuntime(deps: Deps): void {
  if (deps.runtime instanceof NoRuntime) throw deps.runtime.unavailable();
}

export function appRoutes(app: OpenAPIHono<AppEnv>, deps: Deps): void {
  const ops = opsDeps(deps);

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/apps/register',
      tags: ['apps'],
      summary: 'Register an app spec',
      security: secured,
      request: { body: specBody },
      responses: { 201: json(RegisterAnswerSchema, 'Registered'), ...errorResponses(409, 413, 415, 502) },
    }),
    async (c) => {
      const { raw, type } = await readSpecBody(c, c.req.valid('json'));
      return c.json(await registerApp(ops, raw, type), 201);
    },
  );

  const totals = appTotals(deps);
  // A change made here shows in the next page's totals at once (others within a second).
  app.use('/api/v1/apps/*', async (c, next) => {
    await next();
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') totals.invalidate();
  });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/apps',
      tags: ['apps'],
      summary: 'List apps, a page at a time, with totals by status',
      description:
        'Summaries by name; the full document is GET /apps/{name}. Follow next_cursor (with the same filters) for the next page.',
      security: secured,
      request: {
        query: z.object({
          status: z.enum(APP_STATUSES, { error: `status must be one of ${APP_STATUSES.join(', ')}` }).optional(),
          mode: z.enum(APP_MODES, { error: `mode must be one of ${APP_MODES.join(', ')}` }).optional(),
          image: z
            .string()
            .min(1, { error: 'image must not be empty' })
            .max(512, { error: 'image is at most 512 characters' })
            .optional()
            .openapi({ description: 'Only apps running exactly this image reference', example: 'registry.example.com/web:1.2' }),
          label: labelSelector.optional(),
          ...pageQuery,
        }),
      },
      responses: { 200: json(AppListSchema, 'A page of apps, by name'), ...errorResponses() },
    }),
    async (c) => {
      const { limit, cursor, label, ...filters } = c.req.valid('query');
      const scope = { ...filters, label: label === undefined ? undefined : Object.entries(label).map(([k, v]) => `${k}=${v}`) };
      const after = cursor === undefined ? undefined : CURSORS.apps.decode(cursor, scope)[0];
      const [page, by] = await Promise.all([
        listAppPage(deps.db, { ...filters, labels: label }, { limit: limit ?? DEFAULT_PAGE_LIMIT, after }),
        totals.get(),
      ]);
      return c.json(
        {
          apps: page.items.map(appSummaryToApi),
          total: Object.values(by).reduce((n, count) => n + count, 0),
          running: by.running,
          stopped: by.stopped,
          scaled_to_zero: by.scaled_to_zero,
          error: by.error,
          by_status: by,
          next_cursor: page.next === null ? null : CURSORS.apps.encode([page.next], scope),
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/apps/{name}',
      tags: ['apps'],
      summary: 'One app: replicas, latest metrics, containers',
      security: secured,
      request: { params: AppNameParams },
      responses: { 200: json(AppDetailSchema, 'The app'), ...errorResponses(404) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const found = await getAppDetail(deps.db.$primary, name);
      if (!found) throw appNotFound(name);
      const { latest, healthChecksEnabled: checksEnabled } = found;
      const running = found.instances.filter((i) => i.status === 'running');
      const healthy = running.filter((i) => !checksEnabled || i.healthStatus === 'healthy');
      const shown = ['cpu_percent', 'memory_percent', 'rps', 'latency_p95', 'active_connections'] as const;
      const newest = shown.reduce<Date | null>((max, type) => {
        const at = latest[type]?.at;
        return at && (!max || at > max) ? at : max;
      }, null);
      const value = (type: (typeof shown)[number]) => latest[type]?.value ?? null;
      return c.json(
        {
          ...appToApi(found.app),
          replicas: { current: running.length, desired: found.app.desiredReplicas ?? 0, healthy: healthy.length },
          metrics: {
            cpu_percent: value('cpu_percent'),
            memory_percent: value('memory_percent'),
            rps: value('rps'),
            latency_p95_ms: value('latency_p95'),
            active_connections: value('active_connections'),
            as_of: newest ? newest.toISOString() : null,
          },
          containers: found.instances.map(instanceToApi),
          health_checks_enabled: checksEnabled,
          last_wake: found.app.lastWokenAt ? { at: found.app.lastWokenAt.toISOString(), ready_seconds: found.app.lastWakeSeconds ?? null } : null,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/apps/{name}/spec',
      tags: ['apps'],
      summary: 'The spec as registered',
      security: secured,
      request: { params: AppNameParams },
      responses: { 200: json(SpecJsonSchema, 'The stored spec document'), ...errorResponses(404) },
    }),
    async (c) => {
      const app = await findApp(deps, c.req.valid('param').name);
      return c.json(app.spec as Record<string, unknown>, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/v1/apps/{name}/spec',
      tags: ['apps'],
      summary: 'Replace the spec (running replicas are replaced one at a time when what runs changes)',
      security: secured,
      request: { params: AppNameParams, body: specBody },
      responses: { 200: json(UpdateSpecAnswerSchema, 'Updated'), ...errorResponses(404, 413, 415, 502) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const { raw, type } = await readSpecBody(c, c.req.valid('json'));
      return c.json(await updateSpec(ops, name, raw, type), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/apps/{name}/start',
      tags: ['apps'],
      summary: 'Start an app',
      security: secured,
      request: { params: AppNameParams, body: { required: false, content: { 'application/json': { schema: StartBody } } } },
      responses: { 200: json(ReplicaChangeAnswerSchema, 'Starting (or, with wait, started)'), ...errorResponses(404, 415, 502) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const body = c.req.valid('json');
      const seconds = waitSeconds(deps, body.timeout, DEFAULT_WAIT_SECONDS);
      requireRuntime(deps);
      const answer = await startApp(ops, name, { replicas: body.replicas, wait: body.wait, timeoutMs: seconds * 1000 });
      return c.json(withWaitOutcome(answer, seconds), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/apps/{name}/stop',
      tags: ['apps'],
      summary: 'Stop an app (drain, then stop)',
      security: secured,
      request: { params: AppNameParams, body: { required: false, content: { 'application/json': { schema: StopBody } } } },
      responses: { 200: json(StopAnswerSchema, 'Stopping or stopped'), ...errorResponses(404, 415, 502) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const body = c.req.valid('json');
      const seconds = waitSeconds(deps, body.timeout, 0);
      return c.json(await stopApp(ops, name, { force: body.force, timeoutMs: seconds * 1000 }), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/apps/{name}/scale',
      tags: ['apps'],
      summary: 'Set the number of replicas',
      security: secured,
      request: { params: AppNameParams, body: { required: true, content: { 'application/json': { schema: ScaleBody } } } },
      responses: { 200: json(ReplicaChangeAnswerSchema, 'Scaling (or, with wait, scaled)'), ...errorResponses(404, 415, 502) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const body = c.req.valid('json');
      const seconds = waitSeconds(deps, body.timeout, DEFAULT_WAIT_SECONDS);
      if (body.replicas > 0) requireRuntime(deps);
      const answer = await scaleApp(ops, name, body.replicas);
      if (!body.wait) return c.json(answer, 200);
      const waited = await waitForReplicas(ops, name, { timeoutMs: seconds * 1000, healthy: true });
      const status = (await getApp(deps.db.$primary, name))?.status ?? answer.status;
      return c.json(withWaitOutcome({ ...answer, status, ready: waited.ready, not_ready: waited.notReady }, seconds), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/v1/apps/{name}',
      tags: ['apps'],
      summary: 'Stop every replica and remove the app',
      security: secured,
      request: {
        params: AppNameParams,
        query: z.object({
          force: booleanText('force').optional().openapi({ description: 'Skip draining', type: 'string', enum: ['true', 'false'] }),
          timeout: wholeNumber('timeout', 0, 3600).optional().openapi({ description: 'Seconds to let replicas drain before stopping them regardless' }),
        }),
      },
      responses: { 200: json(DeleteAnswerSchema, 'Deleted'), ...errorResponses(404, 502) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const query = c.req.valid('query');
      const seconds = waitSeconds(deps, query.timeout, DEFAULT_DELETE_SECONDS);
      return c.json(await deleteApp(ops, name, { force: query.force, timeoutMs: seconds * 1000 }), 200);
    },
  );
}
