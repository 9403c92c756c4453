/**
 * The scaler reads and writes every app with set-based statements: the number of SQL
 * statements one tick sends is the same for 3 apps as for 30. Counted with Drizzle's query
 * logger on a handle of our own (PGlite, and Postgres when there is one).
 */
import { PGlite } from '@electric-sql/pglite';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { withReplicas } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Database, Db } from '../../../db/client.js';
import { insertMetrics } from '../../../db/queries/metrics.js';
import { migrate } from '../../../db/migrate.js';
import * as schema from '../../../db/schema.js';
import { run } from '../../../functions/jobs/scaler.js';
import { createScratchDatabase, describeIfAvailable, testTargets, type TestTarget } from '../../support/db.js';
import { jobDeps, startedApp } from './helpers.js';

interface CountingDb {
  db: Db;
  statements: string[];
  close(): Promise<void>;
}

async function openCountingDb(target: TestTarget): Promise<CountingDb> {
  const statements: string[] = [];
  const logger = { logQuery: (query: string) => void statements.push(query) };
  let inner: Database;
  let close: () => Promise<void>;
  if (target === 'pglite') {
    const client = new PGlite();
    inner = drizzlePglite({ client, schema, logger }) as unknown as Database;
    close = () => client.close();
  } else {
    const scratch = await createScratchDatabase();
    const pool = new pg.Pool({ connectionString: scratch.url, max: 4 });
    pool.on('error', () => {});
    inner = drizzlePg({ client: pool, schema, logger }) as unknown as Database;
    close = async () => {
      await pool.end();
      await scratch.drop();
    };
  }
  const db = withReplicas(inner, [inner]) as Db;
  await migrate(db.$primary);
  return { db, statements, close };
}

for (const availability of testTargets().filter((a) => a.target !== 'neon')) {
  describeIfAvailable(`scaler statements per tick [${availability.target}]`, availability, () => {
    let counting: CountingDb;
    beforeAll(async () => {
      counting = await openCountingDb(availability.target);
    });
    afterAll(async () => {
      await counting?.close();
    });

    it('does not depend on the number of apps', async () => {
      const { deps, clock } = jobDeps(counting.db);
      let apps = 0;
      const addApps = async (count: number) => {
        for (let i = 0; i < count; i++) await startedApp(deps, `app-${apps++}`, 1, { maxReplicas: 3 });
      };
      // Every app has a fresh, moderate CPU sample (within thresholds: nothing to change).
      const load = () =>
        insertMetrics(
          counting.db.$primary,
          Array.from({ length: apps }, (_, i) => ({
            appName: `app-${i}`,
            metricType: 'cpu_percent' as const,
            value: 50,
            aggregationLevel: 'instance' as const,
            timestamp: clock.now(),
          })),
        );
      const countedTick = async () => {
        clock.advance(10);
        await load();
        counting.statements.length = 0;
        const tick = await run(deps, clock.now());
        return { tick, statements: [...counting.statements] };
      };

      await addApps(3);
      clock.advance(300);
      await countedTick(); // the first evaluation of each app writes its first event
      const small = await countedTick();
      await addApps(27);
      await countedTick();
      const large = await countedTick();

      expect(small.tick.counts).toMatchObject({ apps_evaluated: 3, scaled_out: 0, scaled_in: 0, events: 0 });
      expect(large.tick.counts).toMatchObject({ apps_evaluated: 30, scaled_out: 0, scaled_in: 0, events: 0 });
      expect(large.statements.length).toBe(small.statements.length);
      // The lease (lock, check, insert), the inputs, the decisions, the run's end; plus
      // begin/commit where the driver logs them.
      const work = small.statements.filter((q) => !/^(begin|commit)$/i.test(q.trim()));
      expect(work).toHaveLength(6);
    });
  });
}
