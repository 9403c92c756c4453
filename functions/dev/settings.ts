/**
 * The dev server's own settings (ports, the periods the cloud's schedules do not have) and
 * the local defaults it gives the shared configuration (job periods, the PGlite directory).
 * Like functions/deps.ts, a variable that is set but wrong is an error naming it.
 */
import { resolve } from 'node:path';
import { validationError, type FieldIssue } from '../core/errors.js';
import { hostNameProblem } from '../router/hosts.js';

type Env = Record<string, string | undefined>;

/** Where the dev server keeps its state, relative to the directory it runs in. */
export const DEV_STATE_DIR = '.orchestry';

/** Local job periods: quicker than the cloud's one-minute schedules, so a laptop demo reacts. */
export const DEV_JOB_DEFAULTS = {
  SCALER_PERIOD_SECONDS: '5',
  PROBER_PERIOD_SECONDS: '5',
  COLLECTOR_PERIOD_SECONDS: '10',
  ROLLUP_PERIOD_SECONDS: '60',
  CLEANUP_PERIOD_SECONDS: '3600',
} as const;

export interface DevSettings {
  /** Every listener binds here: the dev server is for this machine only. */
  host: '127.0.0.1';
  /** 0 asks the system for a free port (the banner and the ready log line say which). */
  apiPort: number;
  routerPort: number;
  /** Reconcile passes over apps with work to do (drains ending, retries due). */
  reconcilePeriodSeconds: number;
  /** A pass that also compares every active app with the runtime (containers removed behind Orchestry's back). */
  sweepPeriodSeconds: number;
  /** How often the router reports each app's traffic (rps, latency, connections). */
  routerMetricsPeriodSeconds: number;
  /** Requests the router holds per app while it wakes from zero (one more is answered 503). */
  routerHoldQueueSize: number;
  /** How long the router holds a request for a waking app's first ready replica. */
  routerHoldTimeoutSeconds: number;
  /** Host names the router serves besides loopback (each with `<app>.<name>`); others get 403. */
  routerHosts: string[];
  /** On shutdown, how long API requests in flight may take before their connections are cut. */
  shutdownGraceSeconds: number;
  stateDir: string;
  /** PGlite's directory, or undefined when DATABASE_URL names a Postgres. */
  pgliteDir: string | undefined;
  adminKeyFile: string;
}

export function devSettingsFromEnv(env: Env = process.env, cwd: string = process.cwd()): DevSettings {
  const issues: FieldIssue[] = [];
  const number = (name: string, fallback: number, min: number, max: number, whole = false): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    const shape = whole ? /^\d+$/ : /^\d+(\.\d+)?$/;
    if (!shape.test(raw) || value < min || value > max) {
      issues.push({ path: name, message: `must be ${whole ? 'a whole number' : 'a number'} from ${min} to ${max}; got "${raw}"` });
      return fallback;
    }
    return value;
  };
  const stateDir = resolve(cwd, DEV_STATE_DIR);
  const settings: DevSettings = {
    host: '127.0.0.1',
    apiPort: number('PORT', 8000, 0, 65535, true),
    routerPort: number('ROUTER_PORT', 8080, 0, 65535, true),
    reconcilePeriodSeconds: number('RECONCILE_PERIOD_SECONDS', 2, 1, 3600),
    sweepPeriodSeconds: number('RECONCILE_SWEEP_PERIOD_SECONDS', 30, 1, 86400),
    routerMetricsPeriodSeconds: number('ROUTER_METRICS_PERIOD_SECONDS', 10, 1, 3600),
    routerHoldQueueSize: number('ROUTER_HOLD_QUEUE_SIZE', 100, 1, 100_000, true),
    routerHoldTimeoutSeconds: number('ROUTER_HOLD_TIMEOUT_SECONDS', 30, 1, 900),
    routerHosts: hostList('ROUTER_HOSTS', env, issues),
    shutdownGraceSeconds: number('SHUTDOWN_GRACE_SECONDS', 10, 0, 600),
    stateDir,
    pgliteDir: env.DATABASE_URL?.trim() ? undefined : resolve(cwd, env.PGLITE_DIR?.trim() || `${DEV_STATE_DIR}/pglite`),
    adminKeyFile: resolve(stateDir, 'admin-key'),
  };
  if (settings.apiPort !== 0 && settings.apiPort === settings.routerPort) {
    issues.push({ path: 'ROUTER_PORT', message: `must differ from PORT (both are ${settings.apiPort})` });
  }
  if (issues.length > 0) throw validationError(issues);
  return settings;
}

/** A comma-separated list of host names; each one that is not a lowercase DNS name is an issue. */
function hostList(name: string, env: Env, issues: FieldIssue[]): string[] {
  const names = (env[name] ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  for (const host of names) {
    const problem = hostNameProblem(host);
    if (problem) issues.push({ path: name, message: `${problem}; give comma-separated names such as myapps.test` });
  }
  return names;
}

/**
 * The environment the shared configuration (functions/deps.ts) reads: the user's, over the
 * local defaults, with PGlite pointed at the state directory (db/client.ts keeps PGlite in
 * memory without PGLITE_DIR, which would forget everything at every restart).
 */
export function depsEnv(env: Env, settings: DevSettings): Env {
  const merged: Env = { ...DEV_JOB_DEFAULTS };
  for (const [name, value] of Object.entries(env)) if (value !== undefined && value.trim() !== '') merged[name] = value;
  if (settings.pgliteDir) merged.PGLITE_DIR = settings.pgliteDir;
  return merged;
}

/** Query parameters that libpq and node-postgres read a password from. */
const SECRET_PARAMS = ['password', 'sslpassword'];

/**
 * A database URL fit for a banner: the password hidden. Parsed as a URL, not matched with a
 * pattern, so a password holding '/', '@' or ':' cannot end the match early and show its rest;
 * a URL that does not parse is not shown at all, since where its password ends is unknowable.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '(a URL that does not parse; not shown)';
  }
  if (parsed.password) parsed.password = '***';
  for (const name of SECRET_PARAMS) if (parsed.searchParams.has(name)) parsed.searchParams.set(name, '***');
  return parsed.toString();
}
