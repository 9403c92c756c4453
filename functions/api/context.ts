/** What every request carries through the middleware and handlers. */
import type { ApiKeyScope } from '../../db/schema.js';
import type { Logger } from '../log.js';

/** Who made the request: a stored key, or the admin token from the environment. */
export interface Principal {
  /** The api_keys id, or 'admin-token' for ORCHESTRY_ADMIN_TOKEN. */
  keyId: number | 'admin-token';
  name: string;
  scope: ApiKeyScope;
  /** An ingest key's app: the one app it may post metrics for. */
  app?: string | null | undefined;
}

export interface AppEnv {
  Variables: {
    requestId: string;
    log: Logger;
    principal: Principal | null;
  };
  /** Set by hono/aws-lambda in Lambda; absent under node-server and app.request(). */
  Bindings: {
    requestContext?: { requestId?: string | undefined } | undefined;
  };
}
