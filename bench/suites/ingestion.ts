/**
 * ingestion: POST /api/v1/apps/{name}/metrics with batches of 1,000 samples from 32 concurrent
 * clients over HTTP (autocannon), each client posting for its own app, authenticated with a
 * stored write key; samples per second stored.
 *
 * The reference is COPY of the same rows (the same batches, as many samples as the API stored)
 * into the same table, through one connection (pg-copy-streams): how fast this Postgres takes
 * these rows at all.
 */
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { insertApiKey } from '../../db/queries/api-keys.js';
import { generateKey } from '../../functions/api/keys.js';
import { startApiServer } from '../lib/api-server.js';
import { openDb, withBenchDatabase } from '../lib/db.js';
import { httpLoad } from '../lib/load.js';
import { appName, seedFleet } from '../lib/seed.js';
import { msSince, ratioOf, round } from '../lib/stats.js';
import type { BenchContext, Suite } from '../lib/types.js';

const SIZES = { clients: 32, batch: 1000, seconds: 10, warmupSeconds: 2 };
const TINY = { clients: 2, batch: 50, seconds: 1, warmupSeconds: 0.5 };

const TYPES = ['cpu_percent', 'memory_percent', 'rps', 'latency_p95', 'active_connections'] as const;

interface Sample {
  metric_type: (typeof TYPES)[number];
  value: number;
  timestamp: string;
  aggregation_level: 'instance';
  container_id: string;
}

/** One client's batch: `size` samples of its app's three replicas over the last minute. */
function batchFor(client: number, size: number, now: number): Sample[] {
  return Array.from({ length: size }, (_, i) => ({
    metric_type: TYPES[i % TYPES.length]!,
    value: Math.round(((client * 31 + i * 17) % 990) / 10) + 0.5,
    timestamp: new Date(now - 60_000 + ((i * 60_000) / size)).toISOString(),
    aggregation_level: 'instance',
    container_id: `bench-${client + 1}-${i % 3}`,
  }));
}

/** COPY text format: tab-separated, one row per line (no value here needs escaping). */
function copyLines(app: string, batch: Sample[]): string {
  return batch.map((s) => `${app}\t${s.metric_type}\t${s.timestamp}\t${s.value}\t${s.aggregation_level}\t${s.container_id}\n`).join('');
}

async function copyRows(url: string, chunks: () => Generator<string>): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    const began = performance.now();
    const stream = client.query(copyFrom('COPY metrics (app_name, metric_type, "timestamp", value, aggregation_level, container_id) FROM STDIN'));
    await pipeline(Readable.from(chunks()), stream);
    return msSince(began) / 1000;
  } finally {
    await client.end();
  }
}

async function countMetrics(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM metrics');
    return Number(rows[0]!.n);
  } finally {
    await client.end();
  }
}

export const ingestionSuite: Suite = {
  names: ['ingestion'],
  async run(ctx: BenchContext) {
    const size = ctx.tiny ? TINY : SIZES;
    return withBenchDatabase(ctx.serverUrl, 'ingestion', async (database) => {
      await seedFleet(database.url, { apps: size.clients, replicas: 3, start: new Date() });
      const handle = await openDb(database.url, 2);
      const key = generateKey();
      try {
        await insertApiKey(handle.db.$primary, { name: 'bench', prefix: key.prefix, keyHash: key.keyHash, scope: 'write' });
      } finally {
        await handle.close();
      }
      const now = Date.now();
      const batches = Array.from({ length: size.clients }, (_, c) => batchFor(c, size.batch, now));
      const bodies = batches.map((samples) => JSON.stringify({ samples }));
      const server = await startApiServer(database.url);
      try {
        const headers = { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' };
        // autocannon gives every connection the whole list: each starts at its own app.
        const requests = bodies.map((body, c) => ({ method: 'POST' as const, path: `/api/v1/apps/${appName(c + 1)}/metrics`, body }));
        const load = { url: server.url, connections: size.clients, headers, requests };
        await httpLoad({ ...load, seconds: size.warmupSeconds });
        const before = await countMetrics(database.url);
        ctx.log(`ingestion: ${size.clients} clients posting ${size.batch}-sample batches for ${size.seconds} s`);
        const orchestry = await httpLoad({ ...load, seconds: size.seconds });
        if (orchestry.non_2xx > 0 || orchestry.errors > 0) {
          const probe = await fetch(server.url + requests[0]!.path, { method: 'POST', headers, body: requests[0]!.body });
          throw new Error(
            `ingestion: ${orchestry.non_2xx} answers were not 2xx and ${orchestry.errors} failed; one more answered ${probe.status} ${(await probe.text()).slice(0, 300)}`,
          );
        }
        await server.stop();
        // Batches answered after autocannon stopped counting are stored too; only answered ones count.
        const stored = (await countMetrics(database.url)) - before;
        const samples = orchestry.completed * size.batch;
        if (stored < samples) throw new Error(`the API answered 201 for ${samples} samples but stored ${stored}`);
        const perSecond = samples / orchestry.duration_seconds;

        ctx.log(`ingestion: COPY of the same ${samples} rows`);
        const lines = batches.map((batch, c) => copyLines(appName(c + 1), batch));
        const copySeconds = await copyRows(database.url, function* () {
          for (let i = 0; i < orchestry.completed; i++) yield lines[i % lines.length]!;
        });
        const copyPerSecond = samples / copySeconds;
        const ratio = ratioOf(perSecond, copyPerSecond);
        return {
          results: {
            ingestion: {
              orchestry: round(perSecond, 4),
              reference: round(copyPerSecond, 4),
              unit: 'samples/s',
              ratio,
              higher_is_better: true,
              orchestry_does: `POST /api/v1/apps/{name}/metrics, ${size.batch}-sample JSON batches, ${size.clients} clients over HTTP`,
              reference_does: 'COPY of the same rows into the metrics table through one connection',
              goals: [
                { goal: '>= 100,000 samples/s', actual: `${Math.round(perSecond).toLocaleString('en-US')} samples/s`, met: perSecond >= 100_000 },
                { goal: '>= 0.3 x COPY', actual: `${ratio} x`, met: ratio >= 0.3 },
              ],
              batches_per_second: orchestry.per_second,
              batch_latency_ms: orchestry.latency_ms,
              samples: samples,
              body_bytes: Buffer.byteLength(bodies[0]!),
              copy_seconds: round(copySeconds, 4),
            },
          },
        };
      } finally {
        await server.stop();
      }
    });
  },
};
