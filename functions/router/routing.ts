/**
 * Which app a request is for. Two URL forms, because `*.localhost` resolves to loopback in
 * browsers and curl but not in every HTTP client:
 *   http://<app>.localhost:8080/path?q   → app, /path?q
 *   http://localhost:8080/<app>/path?q   → app, /path?q  (the app segment is stripped)
 * Every extra host name the router serves (hosts.ts) works the same way as `localhost`.
 */
import { hostnameOf, LOOPBACK_NAMES } from './hosts.js';

export interface Route {
  app: string;
  /** Path and query to send to the replica. */
  path: string;
  /** What the client's URL had before `path`, so apps behind path routing can build links. */
  prefix: string;
}

// App names are DNS labels (see the app spec); anything else cannot name an app.
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function resolveRoute(
  hostHeader: string | undefined,
  url: string,
  suffixes: readonly string[] = LOOPBACK_NAMES,
): Route | null {
  // Absolute-form (`GET http://x/ HTTP/1.1`) is forward-proxy traffic, and `*` is OPTIONS for the
  // server itself: neither names an app.
  if (!url.startsWith('/')) return null;

  const host = hostnameOf(hostHeader);
  for (const suffix of suffixes) {
    if (!host.endsWith(`.${suffix}`)) continue;
    const label = host.slice(0, -suffix.length - 1);
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
