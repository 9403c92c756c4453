/**
 * The HTTP API: one Hono app, served by Lambda in the cloud (lambda.ts) and by the dev server
 * locally. Building it does no I/O; everything it talks to comes in `deps`.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import { swaggerUI } from '@hono/swagger-ui';
import type { Context } from 'hono';
import { OrchestryError } from '../core/errors.js';
import type { Deps } from '../deps.js';
import type { AppEnv } from './context.js';
import { classify, errorResponse, validationHook } from './errors.js';
import { authenticate } from './middleware/auth.js';
import { bodyLimits } from './middleware/body-limit.js';
import { bodyShape } from './middleware/body-shape.js';
import { rateLimit } from './middleware/rate-limit.js';
import { requestContext } from './middleware/request-context.js';
import { appRoutes } from './routes/apps.js';
import { eventRoutes } from './routes/events.js';
import { healthRoutes } from './routes/health.js';
import { instanceRoutes } from './routes/instances.js';
import { keyRoutes } from './routes/keys.js';
import { logRoutes } from './routes/logs.js';
import { metricRoutes } from './routes/metrics.js';
import { scalingBacktestRoutes } from './routes/scaling-backtest.js';
import { scalingRoutes } from './routes/scaling.js';
import { systemRoutes } from './routes/system.js';

export const API_VERSION = '1.0.0';

export function createApp(deps: Deps): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.use('*', requestContext(deps));
  app.use('/api/v1/*', authenticate(deps));
  app.use('/api/v1/*', rateLimit(deps));
  app.use('*', bodyLimits(deps));
  app.use('*', bodyShape());

  appRoutes(app, deps);
  instanceRoutes(app, deps);
  logRoutes(app, deps);
  metricRoutes(app, deps);
  eventRoutes(app, deps);
  scalingRoutes(app, deps);
  scalingBacktestRoutes(app, deps);
  healthRoutes(app, deps);
  systemRoutes(app, deps);
  keyRoutes(app, deps);

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key (orch_...). Scopes: read (GET), write (changes to apps), admin (keys).',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Orchestry API',
      version: API_VERSION,
      description:
        'Run and autoscale web containers. Every error answers {error, details, code, timestamp, request_id}. ' +
        'Every route except /health, /openapi.json and /docs needs Authorization: Bearer <key>.',
    },
  });
  app.get('/docs', swaggerUI({ url: '/openapi.json', title: 'Orchestry API' }));

  const allowedMethods = methodIndex(app);
  app.notFound((c) => {
    const allowed = allowedMethods(c.req.path);
    if (allowed.length > 0) {
      const error = new OrchestryError('METHOD_NOT_ALLOWED', `${c.req.method} is not allowed on ${c.req.path}; use ${allowed.join(', ')}`, {
        allowed,
      });
      return errorResponse(c, error, deps.now(), { Allow: allowed.join(', ') });
    }
    const error = new OrchestryError('NOT_FOUND', `No route ${c.req.method} ${c.req.path}; see /docs for the API`, { path: c.req.path });
    return errorResponse(c, error, deps.now());
  });

  app.onError((err, c) => {
    const { error, unexpected } = classify(err);
    logFailure(c, error, err, unexpected);
    return errorResponse(c, error, deps.now(), error.code === 'UNAUTHORIZED' ? { 'WWW-Authenticate': 'Bearer' } : {});
  });

  return app;
}

function logFailure(c: Context<AppEnv>, error: OrchestryError, original: unknown, unexpected: boolean): void {
  const log = c.get('log');
  if (!log) return;
  if (unexpected) {
    const e = original instanceof Error ? original : new Error(String(original));
    log.error('unhandled error', { error: e.message, name: e.name, stack: e.stack });
  } else if (error.status >= 500) {
    // The client sees the generic message; operators see the cause.
    const cause = error.cause instanceof Error ? error.cause.message : undefined;
    log.error('request failed', { code: error.code, error: error.message, cause });
  }
}

/** For a path no route answers: the methods that would answer it (405 with Allow), if any. */
function methodIndex(app: OpenAPIHono<AppEnv>): (path: string) => string[] {
  let index: Array<{ method: string; pattern: RegExp }> | null = null;
  return (path) => {
    index ??= app.routes
      .filter((r) => r.method !== 'ALL')
      .map((r) => ({
        method: r.method,
        pattern: new RegExp(
          '^' +
            r.path
              .split('/')
              .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
              .join('/') +
            '$',
        ),
      }));
    const methods = new Set(index.filter((r) => r.pattern.test(path)).map((r) => r.method));
    if (methods.has('GET')) methods.add('HEAD');
    return [...methods].sort();
  };
}
