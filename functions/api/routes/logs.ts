/** Replica logs: Docker's locally, CloudWatch Logs' on AWS, merged in time order. */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { listInstances } from '../../../db/queries/instances.js';
import { OrchestryError } from '../../core/errors.js';
import type { Deps } from '../../deps.js';
import type { LogLine } from '../../runtime/types.js';
import type { AppEnv } from '../context.js';
import { AppNameParams, errorResponses, json, secured, sinceDate, sinceText, wholeNumber } from '../schemas.js';
import { findApp } from './apps.js';

export const MAX_LOG_TAIL = 5000;
const DEFAULT_LOG_TAIL = 100;

const LogsSchema = z
  .object({
    app_name: z.string(),
    lines: z.array(
      z.object({ timestamp: z.string().nullable(), stream: z.enum(['stdout', 'stderr']), message: z.string(), container_id: z.string() }),
    ),
  })
  .openapi('Logs');

export function logRoutes(app: OpenAPIHono<AppEnv>, deps: Deps): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/apps/{name}/logs',
      tags: ['apps'],
      summary: 'Recent log lines of the replicas (or of one)',
      security: secured,
      request: {
        params: AppNameParams,
        query: z.object({
          container: z
            .string()
            .max(253)
            .optional()
            .openapi({ description: 'A container id or name, or a replica index, as GET /apps/{name} lists them' }),
          tail: wholeNumber('tail', 1, MAX_LOG_TAIL).optional().openapi({ description: `Lines per replica (default ${DEFAULT_LOG_TAIL})` }),
          since: sinceText.optional(),
        }),
      },
      responses: { 200: json(LogsSchema, 'Log lines, oldest first'), ...errorResponses(404, 502) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const query = c.req.valid('query');
      await findApp(deps, name);
      const replicas = (await listInstances(deps.db, name)).filter(
        (r) => query.container === undefined || [r.containerId, r.containerName, String(r.replicaIndex)].includes(query.container),
      );
      if (query.container !== undefined && replicas.length === 0) {
        throw new OrchestryError('NOT_FOUND', `App '${name}' has no replica '${query.container}'; GET /api/v1/apps/${name} lists them`, {
          container: query.container,
        });
      }
      const options = { tail: query.tail ?? DEFAULT_LOG_TAIL, since: query.since ? sinceDate(query.since, deps.now()) : undefined };
      let lines: LogLine[];
      try {
        lines = (await Promise.all(replicas.map((r) => deps.runtime.logs({ id: r.containerId, app: name }, options)))).flat();
      } catch (error) {
        if (error instanceof OrchestryError) throw error;
        throw new OrchestryError('RUNTIME_ERROR', `Reading the logs of '${name}' failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      lines.sort((a, b) => (a.at?.getTime() ?? 0) - (b.at?.getTime() ?? 0));
      return c.json(
        {
          app_name: name,
          lines: lines.map((l) => ({ timestamp: l.at ? l.at.toISOString() : null, stream: l.stream, message: l.message, container_id: l.replicaId })),
        },
        200,
      );
    },
  );
}
