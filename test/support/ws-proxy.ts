/**
 * A WebSocket-to-TCP proxy, so the Neon serverless driver (which speaks the Postgres
 * protocol over a WebSocket) can reach a plain Postgres in tests, as Neon's own proxy lets
 * it reach Neon in the cloud. It accepts `ws://HOST:PORT/v1?address=host:port` and pipes
 * binary frames to and from a TCP connection to that address. Only loopback addresses
 * are proxied: tests send traffic nowhere else.
 */
import net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface WsProxy {
  /** What `neonWsProxy` (DATABASE_NEON_WS_PROXY) takes: `127.0.0.1:PORT/v1`. */
  address: string;
  close(): Promise<void>;
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);

export async function startWsProxy(): Promise<WsProxy> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/v1' });
  const sockets = new Set<net.Socket>();
  server.on('connection', (ws: WebSocket, req) => {
    const target = new URL(req.url ?? '', 'ws://proxy').searchParams.get('address') ?? '';
    const m = /^(.+):(\d+)$/.exec(target);
    if (!m || !isLoopback(m[1]!)) {
      ws.close(1008, 'address must be a loopback host:port');
      return;
    }
    const tcp = net.connect(Number(m[2]), m[1]!);
    sockets.add(tcp);
    tcp.on('data', (chunk) => ws.send(chunk, { binary: true }));
    tcp.on('close', () => {
      sockets.delete(tcp);
      ws.close();
    });
    tcp.on('error', () => ws.terminate());
    // Writes before the TCP connect completes are queued by the socket.
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      tcp.write(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer));
    });
    ws.on('close', () => tcp.end());
    ws.on('error', () => tcp.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${port}/v1`,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      for (const client of server.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
