/**
 * The HTTP client of the API (global fetch). Every failure becomes a CliError with the exit
 * code scripts rely on: the API's own error answers keep their code; a server that cannot be
 * reached, answers too slowly or has no key configured is exit 3.
 */
import type { ResolvedConfig } from './config.js';
import { ApiError, CliError, EXIT } from './errors.js';

const API_PREFIX = '/api/v1';
/** How long a request may take when it does not wait for something on purpose. */
const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query | undefined;
  /** Sent as JSON. */
  json?: unknown;
  /** Sent as is, with `contentType`. */
  body?: string | undefined;
  contentType?: string | undefined;
  timeoutMs?: number | undefined;
}

interface ErrorAnswer {
  error?: unknown;
  code?: unknown;
  details?: unknown;
  request_id?: unknown;
}

const NO_KEY_HINT =
  "set ORCHESTRY_TOKEN, or run 'orchestry config set token=KEY' (the dev server, npm run dev, prints its admin key and stores it in .orchestry/admin-key)";

export class ApiClient {
  constructor(readonly config: ResolvedConfig) {}

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>('GET', path, { query });
  }

  post<T>(path: string, json?: unknown, options: Omit<RequestOptions, 'json'> = {}): Promise<T> {
    return this.request<T>('POST', path, { ...options, json: json ?? {} });
  }

  put<T>(path: string, json: unknown): Promise<T> {
    return this.request<T>('PUT', path, { json });
  }

  delete<T>(path: string, query?: Query, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('DELETE', path, { ...options, query });
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const { url: base, token } = this.config;
    if (!token) throw new CliError(`no API key for ${base}: ${NO_KEY_HINT}`, 'NO_API_KEY', EXIT.UNREACHABLE);
    const url = new URL(`${base}${API_PREFIX}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
    let body: string | undefined;
    if (options.body !== undefined) {
      body = options.body;
      headers['content-type'] = options.contentType ?? 'application/json';
    } else if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      headers['content-type'] = 'application/json';
    }
    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;

    let response: Response;
    try {
      response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw unreachable(base, error, timeoutMs);
    }
    const text = await response.text().catch(() => '');
    let parsed: unknown = undefined;
    if (text) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    if (response.ok) {
      if (parsed === undefined && text) {
        throw new CliError(`${base} answered ${method} ${url.pathname} with something that is not JSON; is ORCHESTRY_URL the Orchestry API?`, 'BAD_RESPONSE', EXIT.UNREACHABLE);
      }
      return parsed as T;
    }
    throw toApiError(response, parsed as ErrorAnswer | undefined, base);
  }
}

function toApiError(response: Response, answer: ErrorAnswer | undefined, base: string): ApiError | CliError {
  const requestId = typeof answer?.request_id === 'string' ? answer.request_id : (response.headers.get('x-request-id') ?? undefined);
  if (answer && typeof answer.code === 'string' && typeof answer.error === 'string') {
    const message = answer.code === 'UNAUTHORIZED' ? `${answer.error}; ${NO_KEY_HINT}` : answer.error;
    return new ApiError(message, answer.code, response.status, answer.details ?? null, requestId);
  }
  // Not an Orchestry answer: a proxy, a gateway, or another server on that port.
  return new ApiError(
    `${base} answered HTTP ${response.status} ${response.statusText || ''}`.trimEnd() + ' without an Orchestry error body',
    `HTTP_${response.status}`,
    response.status,
    null,
    requestId,
  );
}

function unreachable(base: string, error: unknown, timeoutMs: number): CliError {
  if (error instanceof DOMException && error.name === 'TimeoutError') {
    return new CliError(`the API at ${base} did not answer within ${Math.round(timeoutMs / 1000)} s`, 'TIMEOUT', EXIT.UNREACHABLE);
  }
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | null)?.cause;
  const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : String((error as Error)?.message ?? error);
  return new CliError(
    `cannot reach the API at ${base} (${why}); is it running (npm run dev)? Point ORCHESTRY_URL or 'orchestry config set url=...' at it`,
    'UNREACHABLE',
    EXIT.UNREACHABLE,
  );
}

/** A path segment from user input (app names are validated by the API; this only keeps the path a path). */
export const seg = (value: string | number) => encodeURIComponent(String(value));
