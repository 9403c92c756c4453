/**
 * The one error format, `{error, details, code, timestamp}` (plus the request id), for every
 * failure: domain errors, validation, unknown routes, wrong methods, oversized bodies, content
 * types, database and runtime failures. Nothing else reaches a client: no stack, no SQL, no
 * driver text.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { z } from 'zod';
import { toDomainError } from '../../db/errors.js';
import { OrchestryError, validationError, type ErrorCode, type FieldIssue } from '../core/errors.js';
import type { AppEnv } from './context.js';

export interface ErrorBody {
  error: string;
  details: unknown;
  code: ErrorCode;
  timestamp: string;
  request_id: string;
}

const HTTP_CODES: Partial<Record<number, ErrorCode>> = {
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMIT_EXCEEDED',
};

export const payloadTooLarge = (limit: number) =>
  new OrchestryError('PAYLOAD_TOO_LARGE', `The request body is larger than ${limit} bytes`, { max_bytes: limit });

/**
 * The OrchestryError an error stands for, and whether it was unexpected (a bug or an
 * unmapped failure: answered as INTERNAL and logged with its stack).
 */
export function classify(err: unknown): { error: OrchestryError; unexpected: boolean } {
  if (err instanceof OrchestryError) return { error: err, unexpected: false };
  if (err instanceof HTTPException) {
    // Hono raises these for a body that is not JSON (400) and a content type no route takes (415).
    if (err.status === 400) {
      return {
        error: validationError([{ path: 'body', message: 'is not valid JSON; send a JSON object with Content-Type: application/json' }]),
        unexpected: false,
      };
    }
    if (err.status === 415) return { error: unsupportedMediaType(), unexpected: false };
    const code = HTTP_CODES[err.status];
    if (code) return { error: new OrchestryError(code, err.message || code), unexpected: false };
  }
  const mapped = toDomainError(err);
  if (mapped) return { error: mapped, unexpected: false };
  return { error: new OrchestryError('INTERNAL', 'Internal error; the request id identifies it in the server log'), unexpected: true };
}

export function unsupportedMediaType() {
  return new OrchestryError(
    'UNSUPPORTED_MEDIA_TYPE',
    'Unsupported Content-Type: send application/json (registering an app and replacing its spec also take application/yaml)',
    { accepted: ['application/json', 'application/yaml (register and PUT spec only)'] },
  );
}

export function errorBody(error: OrchestryError, requestId: string, now: Date): ErrorBody {
  return { error: error.message, details: error.details ?? null, code: error.code, timestamp: now.toISOString(), request_id: requestId };
}

export function errorResponse(c: Context<AppEnv>, error: OrchestryError, now: Date, headers: Record<string, string> = {}): Response {
  for (const [name, value] of Object.entries(headers)) c.header(name, value);
  return c.json(errorBody(error, c.get('requestId') ?? '', now), error.status as 400);
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

const LOCATION: Record<string, string> = { json: 'body', query: 'query', param: 'path', header: 'header' };

/** Zod issues as field issues; the path names the field, `in` says where it was sent. */
export function fieldIssues(issues: readonly z.core.$ZodIssue[], target: string): Array<FieldIssue & { in: string }> {
  const where = LOCATION[target] ?? target;
  const seen = new Set<string>();
  const out: Array<FieldIssue & { in: string }> = [];
  for (const issue of issues) {
    const path = [...issue.path];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({ path: formatPath([...path, key]), message: 'is not a field of this request; remove it', in: where });
      }
      continue;
    }
    const field = { path: formatPath(path) || where, message: issue.message, in: where };
    const key = `${field.path}\0${field.message}`;
    if (!seen.has(key)) out.push(field);
    seen.add(key);
  }
  return out;
}

/** The hook every route's validators call: a failure is VALIDATION_ERROR naming each field. */
export function validationHook(result: { success: boolean; error?: z.ZodError | undefined; target: string }): void {
  if (!result.success && result.error) throw validationError(fieldIssues(result.error.issues, result.target));
}
