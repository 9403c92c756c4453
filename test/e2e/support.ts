/**
 * End-to-end tests drive the real dev server as `npm run dev` runs it (node with tsx's
 * loader, functions/dev.ts) in its own process, over real HTTP, with real containers. This spawns it in a scratch working
 * directory (its PGlite files and admin key land there), waits for its "ready" log line, and
 * talks to its API and its router.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
// By location: the server runs in a scratch directory, where `--import tsx` would not resolve.
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const DEV_ENTRY = join(REPO, 'functions', 'dev.ts');

export interface LogLine {
  msg?: string;
  level?: string;
  [field: string]: unknown;
}

export interface DevProcess {
  child: ChildProcess;
  apiUrl: string;
  routerPort: number;
  /** The admin key the server wrote to <cwd>/.orchestry/admin-key. */
  key: string;
  /** Everything it printed so far (stdout and stderr), for failure messages. */
  output(): string;
  /** Its JSON log lines so far. */
  logs(): LogLine[];
  /** Sends `signal` and resolves with the exit code once it has exited. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** SIGKILL to the process group, if it is still there. */
  kill(): void;
}

/** A scratch working directory for a dev server; remove it with the returned function. */
export async function scratchDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `orchestry-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * The environment of a dev server under test: the user's own database and admin token
 * never leak in, both ports are picked by the system, and `env` comes last.
 */
function devEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(DATABASE_|PGLITE_DIR$|ORCHESTRY_|PORT$|ROUTER_PORT$|.*_PERIOD_SECONDS$)/.test(name)) continue;
    base[name] = value;
  }
  return { ...base, PORT: '0', ROUTER_PORT: '0', LOG_LEVEL: 'info', ...env };
}

export async function spawnDev(options: { cwd: string; env?: Record<string, string>; readyTimeoutMs?: number }): Promise<DevProcess> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, DEV_ENTRY], {
    cwd: options.cwd,
    env: devEnv(options.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group: a Ctrl-C in the terminal running the tests is not also a
    // signal to it (each test stops its server itself), and kill() reaches the whole group.
    detached: true,
  });
  let output = '';
  const lines: LogLine[] = [];
  let partial = '';
  let onReady: ((line: LogLine) => void) | undefined;
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    output += chunk;
    partial += chunk;
    const complete = partial.split('\n');
    partial = complete.pop()!;
    for (const text of complete) {
      if (!text.startsWith('{')) continue;
      try {
        const line = JSON.parse(text) as LogLine;
        lines.push(line);
        if (line.msg === 'dev server ready') onReady?.(line);
      } catch {
        // A human-readable line that happens to start with a brace.
      }
    }
  });
  child.stderr!.on('data', (chunk: string) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : null))));

  const kill = () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };

  const timeoutMs = options.readyTimeoutMs ?? 90_000;
  const ready = await new Promise<LogLine>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the dev server was not ready within ${timeoutMs} ms:\n${output}`)), timeoutMs);
    onReady = (line) => {
      clearTimeout(timer);
      resolve(line);
    };
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the dev server exited (code ${code}) before it was ready:\n${output}`));
    });
  }).catch((error: unknown) => {
    kill();
    throw error;
  });

  const key = (await readFile(join(options.cwd, '.orchestry', 'admin-key'), 'utf8')).trim();
  return {
    child,
    apiUrl: String(ready.api_url),
    routerPort: Number(ready.router_port),
    key,
    output: () => output,
    logs: () => [...lines],
    async stop(signal = 'SIGTERM', stopTimeoutMs = 60_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(kill, stopTimeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
    kill,
  };
}

export interface ApiAnswer<T = any> {
  status: number;
  body: T;
}

/** A JSON API client for one dev server. */
export function apiClient(dev: Pick<DevProcess, 'apiUrl' | 'key'>) {
  return async function api<T = any>(
    method: string,
    path: string,
    body?: unknown,
    contentType: 'json' | 'yaml' = 'json',
  ): Promise<ApiAnswer<T>> {
    const headers: Record<string, string> = { authorization: `Bearer ${dev.key}` };
    let payload: string | undefined;
    if (body !== undefined) {
      headers['content-type'] = contentType === 'yaml' ? 'application/yaml' : 'application/json';
      payload = typeof body === 'string' ? body : JSON.stringify(body);
    }
    const response = await fetch(`${dev.apiUrl}/api/v1${path}`, { method, headers, body: payload, signal: AbortSignal.timeout(120_000) });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: keep the text.
    }
    return { status: response.status, body: parsed as T };
  };
}

/**
 * Polls `probe` until it returns something other than undefined, or fails after `timeoutMs`
 * with `what` and the last value seen (the state a failure needs to be understood).
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 500): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error instanceof Error ? error.message : error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${JSON.stringify(last)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface AppEvent {
  id: number;
  type: string;
  category: string;
  severity: string;
  message: string;
  details: unknown;
  container_id: string | null;
  timestamp: string;
}

/** Every event of an app, oldest first, following the cursor through all pages. */
export async function allEvents(api: ReturnType<typeof apiClient>, app: string): Promise<AppEvent[]> {
  const events: AppEvent[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const query = new URLSearchParams({ limit: '100' });
    if (cursor) query.set('cursor', cursor);
    const answer = await api<{ events: AppEvent[]; has_more: boolean; next_cursor: string | null }>('GET', `/apps/${app}/events?${query}`);
    if (answer.status !== 200) throw new Error(`GET events answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    events.push(...answer.body.events);
    if (!answer.body.has_more || !answer.body.next_cursor) break;
    cursor = answer.body.next_cursor;
  }
  return events.sort((a, b) => a.id - b.id);
}
