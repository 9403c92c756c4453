/**
 * A real API server for CLI tests: createApp(deps) served over HTTP on 127.0.0.1 (random
 * port), on an in-memory PGlite database, with the fake runtime (replicas "start" at once);
 * and the CLI run as a child process (`node cli/bin.js ...`), as a user runs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serve } from '@hono/node-server';
import { createApp } from '../../../functions/api/app.js';
import { ensureBootstrapKey } from '../../../functions/api/keys.js';
import { DEFAULT_CONFIG, type Deps } from '../../../functions/deps.js';
import { silentLogger } from '../../../functions/log.js';
import { openTestDb, type TestDb } from '../../support/db.js';
import { FakeRuntime } from '../../support/fake-runtime.js';

export const REPO = resolve(import.meta.dirname, '../../..');
export const BIN = join(REPO, 'cli', 'bin.js');

export interface TestServer {
  url: string;
  adminKey: string;
  runtime: FakeRuntime;
  deps: Deps;
  /** A scratch directory (config home, spec files, working directories) removed at close. */
  dir: string;
  /** Calls the API directly (setting up what a test needs without the CLI). */
  api<T = unknown>(method: string, path: string, body?: unknown, key?: string): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

export async function startTestServer(): Promise<TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'orchestry-cli-'));
  let db: TestDb | undefined;
  let server: ReturnType<typeof serve> | undefined;
  try {
    db = await openTestDb('pglite');
    const runtime = new FakeRuntime();
    const deps: Deps = {
      db: db.db,
      runtime,
      log: silentLogger,
      now: () => new Date(),
      config: {
        ...DEFAULT_CONFIG,
        jobs: { ...DEFAULT_CONFIG.jobs },
        retention: { ...DEFAULT_CONFIG.retention },
        // Every test of the file shares one key; a limit would only make the suite flaky.
        rateLimitPerMinute: 0,
      },
    };
    const boot = await ensureBootstrapKey(deps, { file: join(dir, 'admin-key') });
    if (!boot.key) throw new Error('the bootstrap gave no admin key');
    const adminKey = boot.key;
    const app = createApp(deps);
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
    if (!server.listening) await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const opened = { db, server };
    return {
      url,
      adminKey,
      runtime,
      deps,
      dir,
      async api<T>(method: string, path: string, body?: unknown, key = adminKey) {
        const response = await fetch(`${url}/api/v1${path}`, {
          method,
          headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        return { status: response.status, body: (await response.json()) as T };
      },
      async close() {
        await new Promise<void>((done) => opened.server.close(() => done()));
        await opened.db.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    server?.close();
    await db?.close();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const probe: Server = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((done) => probe.close(() => done()));
  return port;
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Environment on top of a clean one (no ORCHESTRY_*, no colour forcing). */
  env?: Record<string, string | undefined>;
  cwd?: string;
  input?: string;
  timeoutMs?: number;
}

function cliEnv(extra: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (name.startsWith('ORCHESTRY_') || name === 'FORCE_COLOR' || name === 'NO_COLOR') delete env[name];
  }
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

/** A running CLI process whose output a test reads while it runs (--follow, --watch). */
export interface CliProcess {
  child: ChildProcess;
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves with the run once the process exits. */
  done: Promise<CliRun>;
}

export function spawnCli(args: string[], options: CliOptions = {}): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? REPO,
    env: cliEnv(options.env ?? {}),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin!.end(options.input ?? '');
  const timeoutMs = options.timeoutMs ?? 30_000;
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<CliRun>((resolveRun, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    done,
  };
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return spawnCli(args, options).done;
}

/** Polls `check` until true, or fails after `timeoutMs` saying what it waited for. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The rows of the first borderless table in `text`: its header line, then every line up to
 * a blank one, cut at the header's column starts (cells may hold single spaces).
 */
export function parseTable(text: string): Array<Record<string, string>> {
  const lines = text.split('\n');
  const headerAt = lines.findIndex((line) => /^[A-Z][A-Z]*( [A-Z]+)*( {2,}[A-Z]+( [A-Z]+)*)+$/.test(line.trim()));
  if (headerAt < 0) throw new Error(`no table header in:\n${text}`);
  const header = lines[headerAt]!;
  const columns = [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => ({ name: m[0], at: m.index }));
  const rows: Array<Record<string, string>> = [];
  for (const line of lines.slice(headerAt + 1)) {
    if (line.trim() === '') break;
    const row: Record<string, string> = {};
    columns.forEach((column, i) => {
      row[column.name] = line.slice(column.at, columns[i + 1]?.at ?? line.length).trim();
    });
    rows.push(row);
  }
  return rows;
}
