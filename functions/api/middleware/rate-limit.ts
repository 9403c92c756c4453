/**
 * Requests per minute per API key, in a fixed window kept in this process's memory. One
 * process serves the whole API locally; in Lambda each warm instance counts on its own, and
 * API Gateway's stage throttling is the global guard (docs/api.md says so).
 */
import type { MiddlewareHandler } from 'hono';
import { OrchestryError } from '../../core/errors.js';
import type { Deps } from '../../deps.js';
import type { AppEnv } from '../context.js';
import { errorResponse } from '../errors.js';

const WINDOW_MS = 60_000;
/** Past this many tracked keys, windows that have ended are dropped. */
const PRUNE_AT = 10_000;

export function rateLimit(deps: Pick<Deps, 'config' | 'now'>): MiddlewareHandler<AppEnv> {
  const windows = new Map<string, { start: number; count: number }>();
  return async (c, next) => {
    const limit = deps.config.rateLimitPerMinute;
    const principal = c.get('principal');
    if (limit <= 0 || !principal) return next();
    const now = deps.now().getTime();
    const start = now - (now % WINDOW_MS);
    const key = String(principal.keyId);
    let window = windows.get(key);
    if (!window || window.start !== start) {
      if (windows.size >= PRUNE_AT) {
        for (const [k, w] of windows) if (w.start !== start) windows.delete(k);
      }
      window = { start, count: 0 };
      windows.set(key, window);
    }
    window.count++;
    const resetSeconds = Math.max(1, Math.ceil((start + WINDOW_MS - now) / 1000));
    const headers = {
      'X-RateLimit-Limit': String(limit),
      'X-RateLimit-Remaining': String(Math.max(0, limit - window.count)),
      'X-RateLimit-Reset': String(resetSeconds),
    };
    if (window.count > limit) {
      const error = new OrchestryError('RATE_LIMIT_EXCEEDED', `More than ${limit} requests per minute with this key; retry in ${resetSeconds}s`, {
        limit,
        window_seconds: WINDOW_MS / 1000,
        retry_after_seconds: resetSeconds,
      });
      return errorResponse(c, error, deps.now(), { ...headers, 'Retry-After': String(resetSeconds) });
    }
    await next();
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  };
}
