/**
 * JSON bodies past the document limits (core/document-limits.ts: nesting, keys per mapping,
 * entries per list) are refused before the route's validator parses them, so that no body the
 * size limit lets through can exhaust the parser. YAML specs are checked where they are read
 * (core/spec.ts), as YAML text reaches no parser before that.
 */
import type { MiddlewareHandler } from 'hono';
import { jsonLimitProblem, specOverLimit, yamlSizeProblem } from '../../core/document-limits.js';
import { OrchestryError } from '../../core/errors.js';
import type { AppEnv } from '../context.js';

/** The media types Hono's JSON validator parses (application/json and any +json). */
const JSON_MEDIA_TYPE = /^application\/([a-z-.]+\+)?json(\s*;.*)?$/i;
/** routes/apps.ts YAML_MEDIA_TYPES. */
const YAML_MEDIA_TYPE = /^(application\/(x-)?yaml|text\/yaml)(\s*;.*)?$/i;

export function bodyShape(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const contentType = c.req.header('content-type') ?? '';
    if (YAML_MEDIA_TYPE.test(contentType)) {
      const tooLarge = yamlSizeProblem(Number(c.req.header('content-length') ?? 0));
      if (tooLarge) throw specOverLimit(tooLarge);
      return next();
    }
    if (!JSON_MEDIA_TYPE.test(contentType)) return next();
    // Read once here; the validator's c.req.json() parses the same cached text.
    const problem = jsonLimitProblem(await c.req.text());
    if (problem) {
      const issue = { path: 'body', message: `the JSON body ${problem.message}`, in: 'body' };
      throw new OrchestryError('VALIDATION_ERROR', `Invalid request: body: ${issue.message}`, {
        issues: [issue],
        limit: problem.limit,
        max: problem.max,
      });
    }
    return next();
  };
}
