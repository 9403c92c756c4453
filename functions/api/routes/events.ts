/** The audit trail: every app's events, or one app's, newest first, a page at a time. */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { listEvents, MAX_EVENTS_PAGE } from '../../../db/queries/events.js';
import { eventToApi } from '../../../db/queries/serialize.js';
import { EVENT_TYPES, SEVERITIES } from '../../../db/schema.js';
import type { Deps } from '../../deps.js';
import type { AppEnv } from '../context.js';
import { AppNameParams, errorResponses, EventPageSchema, json, secured, sinceDate, sinceText, wholeNumber } from '../schemas.js';
import { findApp } from './apps.js';

export const DEFAULT_EVENTS_PAGE = 50;

const EventQuery = z.object({
  type: z.enum(EVENT_TYPES, { error: `type must be one of ${EVENT_TYPES.join(', ')}` }).optional(),
  severity: z.enum(SEVERITIES, { error: `severity must be one of ${SEVERITIES.join(', ')}` }).optional(),
  since: sinceText.optional().openapi({ description: 'Only events at or after this time: ISO 8601, or a duration back from now (1h, 1d)' }),
  limit: wholeNumber('limit', 1, MAX_EVENTS_PAGE)
    .optional()
    .openapi({ description: `Events per page (default ${DEFAULT_EVENTS_PAGE}, at most ${MAX_EVENTS_PAGE})` }),
  cursor: z.string().max(200, { error: 'cursor is not one this API issued' }).optional().openapi({ description: 'next_cursor of the previous page' }),
});

export function eventRoutes(app: OpenAPIHono<AppEnv>, deps: Deps): void {
  async function page(appName: string | undefined, query: z.infer<typeof EventQuery>) {
    const result = await listEvents(deps.db, {
      app: appName,
      type: query.type,
      severity: query.severity,
      since: query.since === undefined ? undefined : sinceDate(query.since, deps.now()),
      limit: query.limit ?? DEFAULT_EVENTS_PAGE,
      cursor: query.cursor,
    });
    return {
      app_name: appName ?? null,
      events: result.events.map(eventToApi),
      has_more: result.hasMore,
      next_cursor: result.nextCursor,
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
