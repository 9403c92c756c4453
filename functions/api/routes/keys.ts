/** API keys (admin scope): make one (its secret is shown once), list them, revoke one. */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { insertApiKey, listApiKeys, revokeApiKey } from '../../../db/queries/api-keys.js';
import { DEFAULT_PAGE_LIMIT } from '../../../db/queries/page.js';
import { API_KEY_SCOPES, type ApiKey } from '../../../db/schema.js';
import { OrchestryError } from '../../core/errors.js';
import type { Deps } from '../../deps.js';
import type { AppEnv } from '../context.js';
import { CURSORS } from '../cursor.js';
import { generateKey } from '../keys.js';
import { lockActiveAdminKeys } from '../queries.js';
import { errorResponses, json, KeySchema, nextCursor, pageQuery, secured, wholeNumber } from '../schemas.js';
import { findApp } from './apps.js';

const CreateKeyBody = z
  .strictObject({
    name: z
      .string({ error: 'name must be text' })
      .trim()
      .min(1, { error: 'name must not be empty' })
      .max(100, { error: 'name is at most 100 characters' })
      .regex(/^[^\p{Cc}]*$/u, { error: 'name must not contain control characters' })
      .openapi({ example: 'ci-deployer' }),
    scope: z.enum(API_KEY_SCOPES, { error: `scope must be one of ${API_KEY_SCOPES.join(', ')}` }),
    app: z
      .string({ error: 'app must be text' })
      .optional()
      .openapi({ description: 'The app an ingest key may post metrics for (required with scope ingest, refused with any other)', example: 'web' }),
  })
  .superRefine((body, ctx) => {
    if (body.scope === 'ingest' && body.app === undefined) {
      ctx.addIssue({ code: 'custom', path: ['app'], message: 'an ingest key is bound to one app: send app with the app name' });
    }
    if (body.scope !== 'ingest' && body.app !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['app'], message: `only ingest keys are bound to an app; drop app or use scope ingest` });
    }
  })
  .openapi('CreateKeyRequest');

const KeyIdParams = z.object({ id: wholeNumber('id', 1, 2_147_483_647).openapi({ param: { name: 'id', in: 'path' }, example: 3 }) });

const keyToApi = (key: ApiKey) => ({
  id: key.id,
  name: key.name,
  scope: key.scope,
  prefix: key.prefix,
  created_at: key.createdAt.toISOString(),
  last_used_at: key.lastUsedAt ? key.lastUsedAt.toISOString() : null,
  revoked_at: key.revokedAt ? key.revokedAt.toISOString() : null,
  app: key.appName,
});

const keyNotFound = (id: number) => new OrchestryError('NOT_FOUND', `No API key with id ${id}`, { id });

export function keyRoutes(app: OpenAPIHono<AppEnv>, deps: Deps): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/keys',
      tags: ['keys'],
      summary: 'Create an API key; the answer is the only time its secret is shown',
      security: secured,
      request: { body: { required: true, content: { 'application/json': { schema: CreateKeyBody } } } },
      responses: {
        201: json(KeySchema.extend({ key: z.string(), message: z.string() }).openapi('CreatedKey'), 'Created'),
        ...errorResponses(404, 413, 415),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      // A missing app is a 404 that names it (the foreign key alone would say less).
      if (body.app !== undefined) await findApp(deps, body.app);
      const made = generateKey();
      const row = await insertApiKey(deps.db, {
        name: body.name,
        scope: body.scope,
        prefix: made.prefix,
        keyHash: made.keyHash,
        appName: body.app ?? null,
      });
      c.get('log').info('api key created', { id: row.id, scope: row.scope, app: row.appName });
      return c.json({ ...keyToApi(row), key: made.key, message: 'Store this key now: it is not shown again' }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/keys',
      tags: ['keys'],
      summary: 'Keys, revoked ones included (never their secrets), oldest first, a page at a time',
      security: secured,
      request: { query: z.object(pageQuery) },
      responses: {
        200: json(z.object({ keys: z.array(KeySchema), next_cursor: nextCursor }).openapi('KeyList'), 'A page of keys'),
        ...errorResponses(),
      },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid('query');
      const after = cursor === undefined ? undefined : CURSORS.keys.decode(cursor, {})[0];
      const page = await listApiKeys(deps.db.$primary, { limit: limit ?? DEFAULT_PAGE_LIMIT, after });
      return c.json({ keys: page.items.map(keyToApi), next_cursor: page.next === null ? null : CURSORS.keys.encode([page.next], {}) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/v1/keys/{id}',
      tags: ['keys'],
      summary: 'Revoke a key (it stops working at once)',
      security: secured,
      request: { params: KeyIdParams },
      responses: { 200: json(KeySchema.extend({ message: z.string() }).openapi('RevokedKey'), 'Revoked'), ...errorResponses(404, 409) },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const revoked = await deps.db.transaction(async (tx) => {
        const activeAdmins = await lockActiveAdminKeys(tx);
        // Without ORCHESTRY_ADMIN_TOKEN, the last admin key is the only way back in.
        if (deps.config.adminToken === undefined && activeAdmins.length === 1 && activeAdmins[0] === id) {
          throw new OrchestryError('CONFLICT', 'This is the last active admin key; create another admin key before revoking it', { id });
        }
        return revokeApiKey(tx, id);
      });
      if (!revoked) throw keyNotFound(id);
      c.get('log').info('api key revoked', { id });
      return c.json({ ...keyToApi(revoked), message: `Key ${id} (${revoked.name}) revoked` }, 200);
    },
  );
}
