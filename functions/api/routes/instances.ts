/** Every app's replicas, a page at a time: a fleet-wide view (one app's are in GET /apps/{name}). */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { listInstancePage } from '../../../db/queries/instances.js';
import { DEFAULT_PAGE_LIMIT } from '../../../db/queries/page.js';
import { instanceToApi } from '../../../db/queries/serialize.js';
import { HEALTH_STATUSES, INSTANCE_STATUSES } from '../../../db/schema.js';
import type { Deps } from '../../deps.js';
import type { AppEnv } from '../context.js';
import { CURSORS } from '../cursor.js';
import { appNameSchema, ContainerSchema, errorResponses, json, nextCursor, pageQuery, secured } from '../schemas.js';

const InstanceListSchema = z
  .object({
    instances: z.array(ContainerSchema.extend({ app_name: z.string() }).openapi('Instance')),
    next_cursor: nextCursor,
  })
  .openapi('InstanceList');

export function instanceRoutes(app: OpenAPIHono<AppEnv>, deps: Deps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/instances',
      tags: ['apps'],
      summary: "Every app's replicas, by app and replica index, a page at a time",
      security: secured,
      request: {
        query: z.object({
          app: appNameSchema.optional().openapi({ description: 'Only this app' }),
          status: z.enum(INSTANCE_STATUSES, { error: `status must be one of ${INSTANCE_STATUSES.join(', ')}` }).optional(),
          health: z.enum(HEALTH_STATUSES, { error: `health must be one of ${HEALTH_STATUSES.join(', ')}` }).optional(),
          ...pageQuery,
        }),
      },
      responses: { 200: json(InstanceListSchema, 'A page of replicas'), ...errorResponses() },
    }),
    async (c) => {
      const { limit, cursor, ...filters } = c.req.valid('query');
      const after = cursor === undefined ? undefined : CURSORS.instances.decode(cursor, filters);
      const page = await listInstancePage(deps.db, filters, { limit: limit ?? DEFAULT_PAGE_LIMIT, after });
      return c.json(
        {
          instances: page.items.map((instance) => ({ ...instanceToApi(instance), app_name: instance.appName })),
          next_cursor: page.next === null ? null : CURSORS.instances.encode(page.next, filters),
        },
        200,
      );
    },
  );
}
