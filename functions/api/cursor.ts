/**
 * Opaque page cursors. A cursor is base64url JSON `{v, l, f, k}`: the format version, the list
 * it belongs to, a fingerprint of the filters of the page it came from, and the key of the
 * last item of that page (the list's unique order key). The next page starts strictly after
 * that key, so an item that exists while a client pages is listed exactly once, whatever is
 * created or deleted meanwhile (Kubernetes' `continue` token works the same way).
 *
 * A cursor is a position, not a credential: it carries nothing a client could not ask for,
 * so it is not signed. It is refused (400 naming `cursor`) when it is not one the API makes,
 * when it belongs to another list, or when the filters differ from the ones it was made for:
 * its position would mean nothing there.
 */
import { createHash } from 'node:crypto';
import { validationError, type FieldIssue } from '../core/errors.js';

/** Bumped when the format changes: an older cursor is refused with a message, not misread. */
const VERSION = 1;
/** Longer than any cursor made here (the longest key is an app name of 253 characters). */
export const MAX_CURSOR_LENGTH = 1024;

/** The parts of a key: text, a whole number, or a timestamp as text with microseconds. */
export type KeyPart = 'text' | 'int' | 'time';

export interface ListCursor<K extends ReadonlyArray<string | number>> {
  /** The cursor after `key`, for a page read with `filters`. */
  encode(key: K, filters: Filters): string;
  /** The key a cursor holds, when it belongs to this list and these filters; else VALIDATION_ERROR on `cursor`. */
  decode(cursor: string, filters: Filters): K;
}

export type Filters = Record<string, string | number | boolean | readonly string[] | null | undefined>;

/** A timestamp as PostgreSQL's to_char(..., 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') writes it. */
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The filters in one canonical form: absent ones left out, keys and lists sorted. */
function canonical(filters: Filters): string {
  const entries = Object.entries(filters)
    .filter(([, value]) => value !== undefined && value !== null && !(Array.isArray(value) && value.length === 0))
    .map(([name, value]) => [name, Array.isArray(value) ? [...value].sort() : value] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(entries);
}

function fingerprint(list: string, filters: Filters): string {
  return createHash('sha256').update(`${list}\0${canonical(filters)}`).digest('base64url').slice(0, 16);
}

const refuse = (message: string) => {
  const issue: FieldIssue & { in: string } = { path: 'cursor', message, in: 'query' };
  return validationError([issue]);
};

const NOT_OURS = 'is not a cursor this API made; pass next_cursor from the previous page unchanged';

function validKey(key: unknown, parts: readonly KeyPart[]): boolean {
  if (!Array.isArray(key) || key.length !== parts.length) return false;
  return parts.every((part, i) => {
    const value: unknown = key[i];
    if (part === 'int') return Number.isSafeInteger(value) && (value as number) >= 0;
    if (part === 'time') return typeof value === 'string' && TIME.test(value) && !Number.isNaN(Date.parse(value));
    return typeof value === 'string' && value.length > 0 && value.length <= 512;
  });
}

/** The cursor codec of one list, whose order key has these parts. */
export function listCursor<K extends ReadonlyArray<string | number>>(list: string, parts: readonly KeyPart[]): ListCursor<K> {
  return {
    encode(key, filters) {
      const body = { v: VERSION, l: list, f: fingerprint(list, filters), k: key };
      return Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');
    },
    decode(cursor, filters) {
      if (cursor.length === 0 || cursor.length > MAX_CURSOR_LENGTH || !BASE64URL.test(cursor)) throw refuse(NOT_OURS);
      let body: { v?: unknown; l?: unknown; f?: unknown; k?: unknown };
      try {
        body = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as typeof body;
      } catch {
        throw refuse(NOT_OURS);
      }
      if (body === null || typeof body !== 'object') throw refuse(NOT_OURS);
      if (body.v !== VERSION) {
        throw refuse(
          typeof body.v === 'number' ? 'was made by another version of the API; start again without cursor' : NOT_OURS,
        );
      }
      if (body.l !== list) {
        throw refuse(
          typeof body.l === 'string'
            ? `belongs to another list (${body.l}); use a next_cursor of this list, or start again without cursor`
            : NOT_OURS,
        );
      }
      if (!validKey(body.k, parts)) throw refuse(NOT_OURS);
      if (body.f !== fingerprint(list, filters)) {
        throw refuse('was made for other filters; send the filters of the page it came from, or start again without cursor');
      }
      return body.k as unknown as K;
    },
  };
}

/** Every list's cursor, by the key it is ordered on. */
export const CURSORS = {
  apps: listCursor<[name: string]>('apps', ['text']),
  keys: listCursor<[id: number]>('keys', ['int']),
  instances: listCursor<[appName: string, replicaIndex: number]>('instances', ['text', 'int']),
  healthChecks: listCursor<[appName: string]>('health_checks', ['text']),
  jobRuns: listCursor<[startedAt: string, id: number]>('job_runs', ['time', 'int']),
  events: listCursor<[timestamp: string, id: number]>('events', ['time', 'int']),
} as const;
