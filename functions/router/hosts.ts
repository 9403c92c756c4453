/**
 * Which Host headers the router serves. A web page on any site can make a browser send
 * requests to 127.0.0.1 under its own name (DNS rebinding: `evil.example` resolves to
 * 127.0.0.1 a moment after the page loaded), and the browser then lets the page read the
 * answers, because to it they come from `evil.example`. So the router serves only names that
 * no other site can claim: loopback (`localhost`, `*.localhost`, 127.0.0.0/8, [::1]) and the
 * names its operator lists (ROUTER_HOSTS), the way Vite's and webpack's dev servers do.
 */
import { isIPv4 } from 'node:net';

/** The names the router always serves; each also serves `<app>.<name>` when it is a name. */
export const LOOPBACK_NAMES = ['localhost'] as const;

// A host name as RFC 1123 allows it: dot-separated DNS labels.
const HOST_NAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** The Host header without its port, lowercased, without a trailing root dot; IPv6 keeps its brackets. */
export function hostnameOf(hostHeader: string | undefined): string {
  const host = (hostHeader ?? '').trim().toLowerCase();
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.lastIndexOf(':');
  return (colon === -1 ? host : host.slice(0, colon)).replace(/\.$/, '');
}

/**
 * Checks the extra host names an operator gives (ROUTER_HOSTS): lowercase DNS names, no port,
 * no wildcard (every listed name already serves `<app>.<name>`). Returns the problem or null.
 */
export function hostNameProblem(name: string): string | null {
  if (name !== name.toLowerCase()) return `"${name}" must be lowercase`;
  if (!HOST_NAME.test(name)) return `"${name}" is not a host name (letters, digits, '-' and '.', no port or wildcard)`;
  return null;
}

export interface HostPolicy {
  /** The names whose subdomains are app names (`<app>.<suffix>`), loopback's first. */
  readonly suffixes: readonly string[];
  /** Whether a request with this Host header may be served. */
  allows(hostHeader: string | undefined): boolean;
}

const isLoopbackAddress = (host: string) => (isIPv4(host) && host.startsWith('127.')) || host === '[::1]';

export function hostPolicy(extraHosts: readonly string[] = []): HostPolicy {
  for (const name of extraHosts) {
    const problem = hostNameProblem(name);
    if (problem) throw new RangeError(`createRouter: hosts ${problem}`);
  }
  const suffixes = [...LOOPBACK_NAMES, ...extraHosts];
  return {
    suffixes,
    allows(hostHeader) {
      const host = hostnameOf(hostHeader);
      if (host === '') return false;
      if (isLoopbackAddress(host)) return true;
      return suffixes.some((suffix) => host === suffix || host.endsWith(`.${suffix}`));
    },
  };
}
