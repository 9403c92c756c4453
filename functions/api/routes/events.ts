/** The audit trail: every app's events, or one app's, newest first, a page at a time. */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { listEvents } from '../../../db/queries/events.js';
import { DEFAULT_PAGE_LIMIT } from '../../../db/queries/page.js';
import { eventToApi } from '../../../db/queries/serialize.js';
import { EVENT_TYPES, SEVERITIES } from '../../../db/schema.js';
import type { Deps } from '../../deps.js';
import type { AppEnv } from '../context.js';
import { CURSORS } from '../cursor.js';
import { AppNameParams, errorResponses, EventPageSchema, json, pageQuery, secured, sinceDate, sinceText } from '../schemas.js';
import { findApp } from './apps.js';

const EventQuery = z.object({
  type: z.enum(EVENT_TYPES, { error: `type must be one of ${EVENT_TYPES.join(', ')}` }).optional(),
  severity: z.enum(SEVERITIES, { error: `severity must be one of ${SEVERITIES.join(', ')}` }).optional(),
  since: sinceText.optional().openapi({ description: 'Only events at or after this time: ISO 8601, or a duration back from now (1h, 1d)' }),
  ...pageQuery,
});

export function eventRoutes(app: OpenAPIHono<AppEnv>, deps: Deps): void {
  async function page(appName: string | undefined, query: z.infer<typeof EventQuery>) {
    const { limit, cursor, ...filters } = query;
    // Bound to the filters as sent: `since=1h` stays `1h` from page to page.
    const scope = { app: appName, ...filters };
    const after = cursor === undefined ? undefined : CURSORS.events.decode(cursor, scope);
    const result = await listEvents(
      deps.db,
      {
        app: appName,
        type: filters.type,
        severity: filters.severity,
        since: filters.since === undefined ? undefined : sinceDate(filters.since, deps.now()),
      },
      { limit: limit ?? DEFAULT_PAGE_LIMIT, after },
    );
    return {
      app_name: appName ?? null,
      events: result.items.map(eventToApi),
      has_more: result.next !== null,
      next_cursor: result.next === null ? null : CURSORS.events.encode(result.next, scope),
    };
  }

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/events',
      tags: ['events'],
      summary: 'Events of every app and the system, newest first',
      security: secured,
      request: { query: EventQuery.extend({ app: z.string().max(253).optional().openapi({ description: 'Only this app' }) }) },
      responses: { 200: json(EventPageSchema, 'A page of events'), ...errorResponses() },
    }),
    async (c) => {
      const { app: appName, ...query } = c.req.valid('query');
      return c.json(await page(appName, query), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/apps/{name}/events',
      tags: ['events'],
      summary: "One app's events, newest first",
      security: secured,
      request: { params: AppNameParams, query: EventQuery },
      responses: { 200: json(EventPageSchema, 'A page of events'), ...errorResponses(404) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      await findApp(deps, name);
      return c.json(await page(name, c.req.valid('query')), 200);
    },
  );
}
