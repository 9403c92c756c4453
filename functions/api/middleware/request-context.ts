/**
 * The first middleware: a request id (the client's `x-request-id` when it is sane, else API
 * Gateway's, else a new UUID), echoed in the answer, and one structured log line per request.
 */
import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { Deps } from '../../deps.js';
import type { AppEnv } from '../context.js';

const SANE_REQUEST_ID = /^[A-Za-z0-9._:=+/-]{1,128}$/;

export function requestContext(deps: Pick<Deps, 'log'>): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = performance.now();
    const given = c.req.header('x-request-id');
    const fromGateway = c.env?.requestContext?.requestId;
    const requestId =
      given && SANE_REQUEST_ID.test(given) ? given : fromGateway && SANE_REQUEST_ID.test(fromGateway) ? fromGateway : randomUUID();
    c.set('requestId', requestId);
    c.set('log', deps.log.child({ request_id: requestId }));
    c.set('principal', null);
    await next();
    c.header('x-request-id', requestId);
    const status = c.res.status;
    const fields = {
      method: c.req.method,
      path: c.req.path,
      status,
      ms: Math.round((performance.now() - started) * 10) / 10,
      key_id: c.get('principal')?.keyId ?? null,
    };
    if (status >= 500) c.get('log').error('request', fields);
    else c.get('log').info('request', fields);
  };
}
