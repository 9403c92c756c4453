/**
 * The API as the benchmarks load it: the Hono app of functions/api on @hono/node-server, in a
 * process of its own (so the load generator does not share its event loop), with the
 * dependencies built from the environment as in the dev server and the Lambda. Started by
 * startApiServer() with `node --import tsx`; reports its port over IPC, stops on SIGTERM.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);

export interface ApiServer {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** Starts the API on a loopback port against `databaseUrl`; `env` adds to what it reads. */
export async function startApiServer(databaseUrl: string, env: Record<string, string> = {}): Promise<ApiServer> {
  const child: ChildProcess = fork(SELF, ['--serve'], {
    execArgv: ['--import', 'tsx'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      DATABASE_URL: databaseUrl,
      ORCHESTRY_RUNTIME: 'none',
      // Load from one client is not abuse: the limiter would answer 429 to the benchmark.
      ORCHESTRY_RATE_LIMIT_PER_MINUTE: '0',
      ...env,
    },
    // Request logs are written as in production (one JSON line each) and thrown away here.
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = once(child, 'exit');
  const port = await Promise.race([
    once(child, 'message').then(([message]) => (message as { port: number }).port),
    exited.then(([code]) => {
      throw new Error(`the API server exited (${String(code)}) before listening: ${stderr}`);
    }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the API server did not listen within 60 s: ${stderr}`)), 60_000).unref()),
  ]);
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function serve(): Promise<void> {
  const [{ createAdaptorServer }, { createDepsFromEnv }, { createApp }] = await Promise.all([
    import('@hono/node-server'),
    import('../../functions/deps.js'),
    import('../../functions/api/app.js'),
  ]);
  const handle = await createDepsFromEnv(process.env);
  const server = createAdaptorServer({ fetch: createApp(handle.deps).fetch }) as Server;
  // autocannon keeps its connections open for the whole run.
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as AddressInfo).port }));
  process.once('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => void handle.close().finally(() => process.exit(0)));
  });
}

if (process.argv[2] === '--serve') {
  serve().catch((e) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
