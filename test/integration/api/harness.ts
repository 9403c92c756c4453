/**
 * The API under test: createApp() over a test database (PGlite or Postgres, one per file),
 * the in-memory fake runtime and a clock the test can move; requests go through
 * app.request() in process, exactly as Hono serves them.
 */
import { sql } from 'drizzle-orm';
import { queryRows, type Db } from '../../../db/client.js';
import type { ApiKeyScope } from '../../../db/schema.js';
import { createApp } from '../../../functions/api/app.js';
import { DEFAULT_CONFIG, type Deps, type OrchestryConfig } from '../../../functions/deps.js';
import { createLogger, type Logger } from '../../../functions/log.js';
import type { ContainerRuntime } from '../../../functions/runtime/types.js';
import { FakeRuntime } from '../../support/fake-runtime.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

/** A clock that follows real time, shifted by what the test adds. */
export class ShiftedClock {
  private offsetMs = 0;
  now = (): Date => new Date(Date.now() + this.offsetMs);
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

export interface Harness {
  deps: Deps;
  runtime: FakeRuntime;
  clock: ShiftedClock;
  /** Every log line written, parsed. */
  logs: Array<Record<string, unknown>>;
  app: ReturnType<typeof createApp>;
  call(method: string, path: string, options?: CallOptions): Promise<Answer>;
}

export interface CallOptions {
  /** A bearer token; default the admin token; null sends none. */
  key?: string | null | undefined;
  /** JSON-encoded unless a string. */
  body?: unknown;
  contentType?: string | undefined;
  headers?: Record<string, string> | undefined;
}

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

export function makeHarness(
  db: Db,
  options: { config?: Partial<OrchestryConfig> | undefined; runtime?: ContainerRuntime | undefined } = {},
): Harness {
  const clock = new ShiftedClock();
  const logs: Array<Record<string, unknown>> = [];
  const log: Logger = createLogger({ level: 'debug', write: (line) => logs.push(JSON.parse(line)) });
  const runtime = new FakeRuntime({ now: clock.now });
  const deps: Deps = {
    db,
    runtime: options.runtime ?? runtime,
    log,
    now: clock.now,
    config: {
      ...DEFAULT_CONFIG,
      adminToken: ADMIN_TOKEN,
      reconcileTiming: { pollSeconds: 1 },
      ...options.config,
    },
  };
  const app = createApp(deps);
  const call = async (method: string, path: string, opts: CallOptions = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...opts.headers };
    const key = opts.key === undefined ? ADMIN_TOKEN : opts.key;
    if (key !== null) headers.authorization = `Bearer ${key}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
      headers['content-type'] = opts.contentType ?? 'application/json';
    } else if (opts.contentType) {
      headers['content-type'] = opts.contentType;
    }
    const res = await app.request(path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON (Swagger UI's HTML): the text is the body.
    }
    return { status: res.status, headers: res.headers, body: parsed, text };
  };
  return { deps, runtime, clock, logs, app, call };
}

/** A spec document (JSON form) for an app of this name. */
export function specOf(
  name: string,
  overrides: { image?: string; scaling?: Record<string, unknown>; healthCheck?: Record<string, unknown>; drainSeconds?: number } = {},
) {
  return {
    apiVersion: 'v1',
    kind: 'App',
    metadata: { name, labels: { team: 'test' } },
    spec: { type: 'http', image: overrides.image ?? 'registry.example.com/web:1.0.0', ports: [{ containerPort: 8080, protocol: 'HTTP' }] },
    scaling: { mode: 'auto', minReplicas: 1, maxReplicas: 5, ...overrides.scaling },
    healthCheck: overrides.healthCheck ?? { enabled: false },
    ...(overrides.drainSeconds === undefined ? {} : { termination: { drainSeconds: overrides.drainSeconds } }),
  };
}

export const yamlSpecOf = (name: string, image = 'registry.example.com/web:1.0.0') => `apiVersion: v1
kind: App
metadata:
  name: ${name}
spec:
  image: ${image}
  ports:
    - containerPort: 8080
scaling:
  minReplicas: 1
  maxReplicas: 4
healthCheck:
  enabled: false
`;

/** A stored key of the given scope, made through the API. */
export async function makeKey(h: Harness, scope: ApiKeyScope, name = `${scope}-key`): Promise<{ id: number; key: string }> {
  const answer = await h.call('POST', '/api/v1/keys', { body: { name, scope } });
  if (answer.status !== 201) throw new Error(`could not make a ${scope} key: ${answer.text}`);
  return { id: answer.body.id, key: answer.body.key };
}

export const TABLES = [
  'applications',
  'instances',
  'events',
  'metrics',
  'scaling_policies',
  'health_checks',
  'api_keys',
  'job_runs',
  'metric_rollups',
  'events_compressed',
  'scaling_decisions',
] as const;

/** Every row of every table, as text, for before/after comparisons. */
export async function snapshot(db: Db): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of TABLES) {
    const rows = await queryRows<{ row: string }>(db.$primary, sql`SELECT row_to_json(t)::text AS row FROM ${sql.identifier(table)} t`);
    out[table] = rows
      .map((r) => r.row)
      .sort()
      .join('\n');
  }
  return out;
}

/** The error format every failure answers with. */
export function expectErrorShape(answer: Answer, code: string): void {
  const body = answer.body as Record<string, unknown>;
  if (typeof body !== 'object' || body === null) throw new Error(`not a JSON error: ${answer.text}`);
  const keys = Object.keys(body).sort();
  if (JSON.stringify(keys) !== JSON.stringify(['code', 'details', 'error', 'request_id', 'timestamp'])) {
    throw new Error(`error fields are ${keys.join(', ')}: ${answer.text}`);
  }
  if (body.code !== code) throw new Error(`expected ${code}, got ${String(body.code)} (${answer.status}): ${answer.text}`);
  if (Number.isNaN(Date.parse(String(body.timestamp)))) throw new Error(`timestamp is not a time: ${answer.text}`);
  if (body.request_id !== answer.headers.get('x-request-id')) throw new Error('request_id differs from the x-request-id header');
  if (/\n\s+at |node_modules|\.ts:\d+/.test(answer.text)) throw new Error(`stack trace in the answer: ${answer.text}`);
}
