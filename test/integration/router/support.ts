/**
 * Real HTTP on loopback for the router tests: upstream servers that answer with their own id,
 * ports that refuse or reset connections, a plain client, and polling with a deadline.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import type { Target } from '../../../functions/router/router.js';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Upstream {
  id: string;
  port: number;
  target: Target;
  seen: SeenRequest[];
  /** Requests to /hold/... waiting for release(). */
  readonly heldCount: number;
  release(): void;
  close(): Promise<void>;
}

export interface UpstreamOptions {
  /** Runs when a request has arrived in full, before it is answered. */
  onRequest?: (request: SeenRequest) => void;
}

/**
 * An app replica: answers `{id, method, url, headers, body}`; `?status=N` answers with N;
 * paths under /hold/ are answered only when release() is called.
 */
export async function startUpstream(id: string, options: UpstreamOptions = {}): Promise<Upstream> {
  const seen: SeenRequest[] = [];
  const held: Array<() => void> = [];
  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(request);
      options.onRequest?.(request);
      const status = Number(new URL(request.url, 'http://upstream').searchParams.get('status') ?? 200);
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/json', 'x-upstream-id': id, 'set-cookie': ['a=1', 'b=2'] });
        res.end(JSON.stringify({ id, ...request }));
      };
      if (request.url.startsWith('/hold/')) held.push(answer);
      else answer();
    });
  });
  const port = await listenOnLoopback(server);
  return {
    id,
    port,
    target: { id, host: '127.0.0.1', port },
    seen,
    get heldCount() {
      return held.length;
    },
    release() {
      for (const answer of held.splice(0)) answer();
    },
    async close() {
      for (const answer of held.splice(0)) answer();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port with nothing listening: connecting to it is refused. */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listenOnLoopback(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A server that accepts connections and resets them before answering anything. */
export async function startResetter(): Promise<{ port: number; accepted: () => number; close: () => Promise<void> }> {
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted += 1;
    socket.resetAndDestroy();
  });
  const port = await listenOnLoopback(server);
  return { port, accepted: () => accepted, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

async function listenOnLoopback(server: net.Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  json: () => any;
}

export interface RequestSpec {
  method?: string;
  path?: string;
  host?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Written one by one with no Content-Length, so the body goes out chunked. */
  chunks?: string[];
}

/** A request on its own connection; `abort` cuts it off from the client side. */
export function open(port: number, spec: RequestSpec = {}): { reply: Promise<Reply>; abort: () => void } {
  const req = http.request({
    host: '127.0.0.1',
    port,
    method: spec.method ?? 'GET',
    path: spec.path ?? '/',
    headers: { host: spec.host ?? `localhost:${port}`, ...spec.headers },
    agent: false,
  });
  const reply = new Promise<Reply>((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
      });
    });
  });
  for (const chunk of spec.chunks ?? []) req.write(chunk);
  req.end(spec.body);
  return { reply, abort: () => req.destroy() };
}

export const send = (port: number, spec: RequestSpec = {}): Promise<Reply> => open(port, spec).reply;

/** Polls `check` until it returns a value other than undefined/false, or fails at the deadline. */
export async function pollUntil<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
