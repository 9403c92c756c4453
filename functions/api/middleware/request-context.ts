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
    // Set before the handler runs, so that the answer it builds carries it. Set on the
    // finished answer instead, Hono copies that answer into a new Response, which under
    // @hono/node-server makes a full web Response and streams the body out of it (~5% of the
    // API process's CPU time in bench api_get_app).
    c.header('x-request-id', requestId);
    await next();
    // An answer made without the context's helpers would not have it.
    if (c.res.headers.get('x-request-id') !== requestId) c.header('x-request-id', requestId);
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
