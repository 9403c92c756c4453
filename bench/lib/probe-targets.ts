/**
 * Health-check targets for the prober benchmark: N HTTP servers on loopback ports, in a process
 * of their own (so that answering does not share the prober's event loop). One in ten is slow
 * (answers 200 after SLOW_MS), one in ten is failing (half answer 503, half refuse connections:
 * their port was bound, then closed), the rest answer 200 at once.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

export const SLOW_MS = 1000;

export type TargetKind = 'ok' | 'slow' | 'error_status' | 'refused';

export interface Target {
  port: number;
  kind: TargetKind;
}

export const kindOf = (i: number): TargetKind => (i % 10 === 0 ? 'slow' : i % 20 === 1 ? 'error_status' : i % 20 === 11 ? 'refused' : 'ok');

export interface TargetHost {
  targets: Target[];
  stop(): Promise<void>;
}

export async function startTargets(count: number): Promise<TargetHost> {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', String(count)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  const targets = await Promise.race([
    once(child, 'message').then(([message]) => message as Target[]),
    exited.then(([code]) => {
      throw new Error(`the probe targets exited (${String(code)}) before listening`);
    }),
  ]);
  return {
    targets,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function listen(server: Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as AddressInfo).port;
}

async function serve(count: number): Promise<void> {
  const servers: Server[] = [];
  const targets: Target[] = [];
  for (let i = 0; i < count; i++) {
    const kind = kindOf(i);
    const server = createServer((req, res) => {
      const answer = () => {
        res.writeHead(kind === 'error_status' ? 503 : 200, { 'content-type': 'text/plain' });
        res.end(kind === 'error_status' ? 'unavailable' : 'ok');
      };
      if (kind === 'slow') setTimeout(answer, SLOW_MS);
      else answer();
    });
    targets.push({ port: await listen(server), kind });
    servers.push(server);
  }
  // Closed only once every port is bound, so that no other target is given a refusing one's port.
  for (const [i, target] of targets.entries()) {
    if (target.kind === 'refused') await new Promise((resolve) => servers[i]!.close(resolve));
  }
  process.send!(targets);
  process.once('SIGTERM', () => {
    for (const server of servers) {
      server.closeAllConnections();
      server.close();
    }
    process.exit(0);
  });
}

if (process.argv[2] === '--serve') {
  serve(Number(process.argv[3])).catch((e) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}
