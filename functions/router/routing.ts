/**
 * Which app a request is for. Two URL forms, because `*.localhost` resolves to loopback in
 * browsers and curl but not in every HTTP client:
 *   http://<app>.localhost:8080/path?q   → app, /path?q
 *   http://localhost:8080/<app>/path?q   → app, /path?q  (the app segment is stripped)
 */

export interface Route {
  app: string;
  /** Path and query to send to the replica. */
  path: string;
  /** What the client's URL had before `path`, so apps behind path routing can build links. */
  prefix: string;
}

// App names are DNS labels (see the app spec); anything else cannot name an app.
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const LOCALHOST_SUFFIX = '.localhost';

/** The Host header without its port, lowercased, without a trailing root dot. */
export function hostnameOf(hostHeader: string | undefined): string {
  const host = (hostHeader ?? '').trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.lastIndexOf(':');
  return (colon === -1 ? host : host.slice(0, colon)).replace(/\.$/, '');
}

export function resolveRoute(hostHeader: string | undefined, url: string): Route | null {
  // Absolute-form (`GET http://x/ HTTP/1.1`) is forward-proxy traffic, and `*` is OPTIONS for the
  // server itself: neither names an app.
  if (!url.startsWith('/')) return null;

  const host = hostnameOf(hostHeader);
  if (host.endsWith(LOCALHOST_SUFFIX)) {
    const label = host.slice(0, -LOCALHOST_SUFFIX.length);
    if (DNS_LABEL.test(label)) return { app: label, path: url, prefix: '' };
  }

  const queryAt = url.indexOf('?');
  const pathname = queryAt === -1 ? url : url.slice(0, queryAt);
  const query = queryAt === -1 ? '' : url.slice(queryAt);
  const slashAt = pathname.indexOf('/', 1);
  const first = slashAt === -1 ? pathname.slice(1) : pathname.slice(1, slashAt);
  if (!DNS_LABEL.test(first)) return null;
  const rest = slashAt === -1 ? '/' : pathname.slice(slashAt);
  return { app: first, path: rest + query, prefix: `/${first}` };
}
