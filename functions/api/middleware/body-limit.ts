/**
 * Request body size limits, enforced before a body is read in full (hono/body-limit checks
 * Content-Length, then counts a streamed body as it arrives). Metric batches get a larger limit.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { Deps } from '../../deps.js';
import type { AppEnv } from '../context.js';
import { payloadTooLarge } from '../errors.js';

const METRICS_PATH = /^\/api\/v1\/apps\/[^/]+\/metrics$/;

export function bodyLimits(deps: Pick<Deps, 'config'>): MiddlewareHandler<AppEnv> {
  const limiter = (maxSize: number) =>
    bodyLimit({
      maxSize,
      onError: () => {
        throw payloadTooLarge(maxSize);
      },
    });
  const general = limiter(deps.config.maxBodyBytes);
  const metrics = limiter(deps.config.maxMetricsBodyBytes);
  return (c, next) => {
    // A GET or HEAD request has no body (the Request constructor refuses one), and asking
    // for it made @hono/node-server build a full web Request on every read (bench api_get_app).
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    return (METRICS_PATH.test(c.req.path) ? metrics : general)(c, next);
  };
}
