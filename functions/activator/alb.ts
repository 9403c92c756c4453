/**
 * ALB Lambda target events and answers (Elastic Load Balancing's Lambda integration): a
 * request as the activator forwards it, and a response the ALB accepts. The target group has
 * multi-value headers on, so headers and query parameters arrive as lists, each value of
 * them percent-encoded as the client sent it; a binary body arrives base64-encoded.
 */
import type { ALBEvent, ALBResult } from 'aws-lambda';

export interface ForwardedRequest {
  method: string;
  /** Path and query as the client sent them. */
  path: string;
  /** Header pairs in order, repeated names kept (Cookie, X-Forwarded-For...). */
  headers: Array<[string, string]>;
  body: Buffer | undefined;
}

// Hop-by-hop headers and the ones fetch() sets itself.
const NOT_FORWARDED = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'content-length', 'host']);

export function requestOf(event: ALBEvent): ForwardedRequest {
  const headers: Array<[string, string]> = [];
  if (event.multiValueHeaders) {
    for (const [name, values] of Object.entries(event.multiValueHeaders)) for (const value of values ?? []) headers.push([name.toLowerCase(), value]);
  } else {
    for (const [name, value] of Object.entries(event.headers ?? {})) if (value !== undefined) headers.push([name.toLowerCase(), value]);
  }
  const pairs: string[] = [];
  if (event.multiValueQueryStringParameters) {
    for (const [name, values] of Object.entries(event.multiValueQueryStringParameters)) for (const value of values ?? []) pairs.push(`${name}=${value}`);
  } else {
    for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) if (value !== undefined) pairs.push(`${name}=${value}`);
  }
  const body = event.body ? Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8') : undefined;
  return { method: event.httpMethod, path: `${event.path}${pairs.length ? `?${pairs.join('&')}` : ''}`, headers, body };
}

/** The app a request is for: the first label of its Host (`<app>.example.com`), as the listener rule matched it. */
export function appOf(request: ForwardedRequest): string | null {
  const host = request.headers.find(([name]) => name === 'host')?.[1];
  const label = host?.split(':')[0]?.split('.')[0]?.toLowerCase();
  return label ? label : null;
}

export const forwardedHeaders = (request: ForwardedRequest): Array<[string, string]> =>
  request.headers.filter(([name]) => !NOT_FORWARDED.has(name));

/** A replica's answer as an ALB result: multi-value headers, the body base64 (any bytes pass). */
export async function resultOf(response: Response): Promise<ALBResult> {
  const multiValueHeaders: Record<string, string[]> = {};
  response.headers.forEach((value, name) => {
    if (NOT_FORWARDED.has(name) || name === 'set-cookie') return;
    (multiValueHeaders[name] ??= []).push(value);
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) multiValueHeaders['set-cookie'] = cookies;
  const body = Buffer.from(await response.arrayBuffer());
  return {
    statusCode: response.status,
    statusDescription: `${response.status} ${response.statusText || 'OK'}`,
    multiValueHeaders,
    body: body.toString('base64'),
    isBase64Encoded: true,
  };
}

/** An answer the activator makes itself (503 with Retry-After, 404, ...), JSON like the API's errors. */
export function errorResult(status: number, code: string, message: string, details: unknown, headers: Record<string, string> = {}): ALBResult {
  const reason = status === 503 ? 'Service Unavailable' : status === 404 ? 'Not Found' : 'Error';
  return {
    statusCode: status,
    statusDescription: `${status} ${reason}`,
    multiValueHeaders: {
      'content-type': ['application/json; charset=utf-8'],
      'cache-control': ['no-store'],
      ...Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, [value]])),
    },
    body: JSON.stringify({ error: message, details, code, timestamp: new Date().toISOString() }),
    isBase64Encoded: false,
  };
}
