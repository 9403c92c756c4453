/**
 * Authentication and scopes. Every route but the public ones needs `Authorization: Bearer
 * <key>`. Reading needs read scope, and so does a backtest (a POST that changes nothing);
 * changing apps (any other method but GET/HEAD) needs write; managing keys (/api/v1/keys) needs admin. An ingest key may only post its app's metrics.
 */
import type { MiddlewareHandler } from 'hono';
import { OrchestryError } from '../../core/errors.js';
import type { ApiKeyScope } from '../../../db/schema.js';
import type { Deps } from '../../deps.js';
import type { AppEnv } from '../context.js';
import { ingestAllows, KeyAuthenticator, MAX_TOKEN_LENGTH, scopeAllows } from '../keys.js';

/** POSTs that change nothing: a read key may make them. */
const READ_ONLY_POST = /^\/api\/v1\/apps\/[^/]+\/scaling\/backtest$/;

export function requiredScope(method: string, path: string): ApiKeyScope {
  if (path === '/api/v1/keys' || path.startsWith('/api/v1/keys/')) return 'admin';
  if (method === 'POST' && READ_ONLY_POST.test(path)) return 'read';
  return method === 'GET' || method === 'HEAD' ? 'read' : 'write';
}

const unauthorized = (message: string) =>
  new OrchestryError('UNAUTHORIZED', message, { fix: 'send Authorization: Bearer <key>; an admin makes keys with POST /api/v1/keys' });

export function authenticate(deps: Deps): MiddlewareHandler<AppEnv> {
  const keys = new KeyAuthenticator(deps);
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (!header) throw unauthorized('Missing API key');
    const match = /^Bearer +(\S+) *$/i.exec(header);
    if (!match) throw unauthorized('The Authorization header must be "Bearer <key>"');
    const token = match[1]!;
    const principal = token.length <= MAX_TOKEN_LENGTH ? await keys.authenticate(token) : null;
    if (!principal) throw unauthorized('The API key is not valid (unknown or revoked)');
    c.set('principal', principal);
    if (principal.scope === 'ingest') {
      if (!ingestAllows(principal.app ?? '', c.req.method, c.req.path)) {
        throw new OrchestryError(
          'FORBIDDEN',
          `This ingest key may only POST /api/v1/apps/${principal.app}/metrics; ${c.req.method} ${c.req.path} needs a read, write or admin key`,
          { scope: principal.scope, app_name: principal.app },
        );
      }
      await next();
      return;
    }
    const needed = requiredScope(c.req.method, c.req.path);
    if (!scopeAllows(principal.scope, needed)) {
      throw new OrchestryError('FORBIDDEN', `This key has ${principal.scope} scope; ${c.req.method} ${c.req.path} needs ${needed}`, {
        scope: principal.scope,
        required_scope: needed,
      });
    }
    await next();
  };
}
