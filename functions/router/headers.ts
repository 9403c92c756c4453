/**
 * The headers the router passes each way. Connection-specific ones stay on their hop
 * (RFC 9110 §7.6.1). The forwarding headers are the router's own: it is the edge, clients
 * reach it directly, so anything a client sent under those names is a claim nobody checked
 * (an app trusting `X-Forwarded-For: 10.0.0.1` or `X-Forwarded-Prefix: /admin` would believe
 * it). They are removed and set again from what the router itself saw, as an ALB does.
 */
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { Route } from './routing.js';

// RFC 9110 §7.6.1 connection-specific fields, plus `expect`: this hop already answered it.
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect',
]);

/** Forwarding headers a client must not be able to set: every X-Forwarded-*, Forwarded, X-Real-IP. */
export const isForwardingHeader = (name: string): boolean =>
  name.startsWith('x-forwarded-') || name === 'forwarded' || name === 'x-real-ip';

/** RFC 7239 node: IPv6 addresses are bracketed and, with the brackets, quoted. */
const forwardedNode = (address: string) => (address.includes(':') ? `"[${address}]"` : address);
const quoted = (value: string) => `"${value.replace(/["\\]/g, '\\$&')}"`;

/** The request's headers for the replica: the client's, minus this hop's, with the router's forwarding headers. */
export function upstreamHeaders(req: IncomingMessage, route: Route, routerPort: number): OutgoingHttpHeaders {
  const named = connectionTokens(req.headers.connection);
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name) || isForwardingHeader(name)) continue;
    headers[name] = value;
  }
  // Without a length the body must be chunked; node only does that unasked for POST-like methods.
  if (req.headers['transfer-encoding'] !== undefined && req.headers['content-length'] === undefined) {
    headers['transfer-encoding'] = 'chunked';
  }
  const client = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const host = req.headers.host;
  headers['x-forwarded-for'] = client;
  headers['x-real-ip'] = client;
  if (host) headers['x-forwarded-host'] = host;
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-port'] = String(routerPort);
  if (route.prefix) headers['x-forwarded-prefix'] = route.prefix;
  headers.forwarded = [`for=${forwardedNode(client)}`, ...(host ? [`host=${quoted(host)}`] : []), 'proto=http'].join(';');
  return headers;
}

/** The replica's headers in their original case and order, minus this hop's own. */
export function responseHeaders(raw: readonly string[], closing: boolean): string[] {
  const named = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.toLowerCase() === 'connection') for (const token of connectionTokens(raw[i + 1])) named.add(token);
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || named.has(name)) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  if (closing) out.push('Connection', 'close');
  return out;
}

function connectionTokens(value: string | undefined): Set<string> {
  return new Set((value ?? '').split(',').map((token) => token.trim().toLowerCase()).filter(Boolean));
}
