/**
 * Neon's serverless driver (a Pool over WebSocket), imported by db/client.ts only when chosen:
 * initializing it and ws took ~11 ms of the API bundle's import (node --cpu-prof on bench
 * cold_start's bundle).
 */
import { neonConfig, Pool } from '@neondatabase/serverless';
import { drizzle } from 'drizzle-orm/neon-serverless';
import ws from 'ws';
import type { Database, DbConfig, Opened } from '../client.js';
import * as schema from '../schema.js';

export async function openNeon(url: string | undefined, config: DbConfig): Promise<Opened> {
  if (!url) throw new Error('DATABASE_URL is required for the neon driver');
  configureNeon(config.neonWsProxy);
  const pool = new Pool({ connectionString: url, max: config.poolMax ?? 10 });
  pool.on('error', () => {});
  return { db: drizzle({ client: pool, schema }) as unknown as Database, close: () => pool.end() };
}

function configureNeon(wsProxy: string | undefined): void {
  // Node 20 has no global WebSocket.
  neonConfig.webSocketConstructor = ws;
  if (wsProxy) {
    neonConfig.wsProxy = (host, port) => `${wsProxy}?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineConnect = false;
    neonConfig.pipelineTLS = false;
  }
}
