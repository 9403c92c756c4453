/**
 * The read replica, for real: the pg driver with a replica URL against the streaming
 * standby. Plain selects run on the standby, writes and `$primary` on the primary.
 */
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { queryRows } from '../../../db/client.js';
import { getApp, insertApp } from '../../../db/queries/applications.js';
import { applications } from '../../../db/schema.js';
import { describeIfAvailable, openReplicaPair, pollUntil, replicaPairAvailability, type ReplicaPair } from '../../support/db.js';
import { spec } from './helpers.js';

const one = sql`(SELECT 1) AS one`;

describeIfAvailable('read replica routing [pg]', replicaPairAvailability(), () => {
  let pair: ReplicaPair;
  beforeAll(async () => {
    pair = await openReplicaPair();
  });
  afterAll(async () => {
    await pair?.close();
  });

  it('a plain select runs on the standby; $primary and transactions run on the primary', async () => {
    const [replicaRead] = await pair.db.select({ inRecovery: sql<boolean>`pg_is_in_recovery()` }).from(one);
    expect(replicaRead!.inRecovery).toBe(true);
    const [primaryRead] = await pair.db.$primary.select({ inRecovery: sql<boolean>`pg_is_in_recovery()` }).from(one);
    expect(primaryRead!.inRecovery).toBe(false);
    const inTransaction = await pair.db.transaction(async (tx) => {
      const [row] = await tx.select({ inRecovery: sql<boolean>`pg_is_in_recovery()` }).from(one);
      return row!.inRecovery;
    });
    expect(inTransaction).toBe(false);
    const [raw] = await queryRows<{ r: boolean }>(pair.db, sql`SELECT pg_is_in_recovery() AS r`);
    expect(raw!.r).toBe(false);
  });

  it('a write lands on the primary, $primary reads it at once, and the replica catches up', async () => {
    await pair.db.insert(applications).values({ name: 'replicated-app', spec: spec('a:1') });
    // Read-after-write must not depend on replication lag.
    expect((await getApp(pair.db.$primary, 'replicated-app'))?.name).toBe('replicated-app');
    await pollUntil(async () => (await getApp(pair.db, 'replicated-app')) !== null, 'the replica to receive the row');
    const onStandby = await pair.db.$replicas[0]!
      .select({ name: applications.name, inRecovery: sql<boolean>`pg_is_in_recovery()` })
      .from(applications)
      .where(eq(applications.name, 'replicated-app'));
    expect(onStandby).toEqual([{ name: 'replicated-app', inRecovery: true }]);
  });

  it('query functions given the routed handle write through the primary', async () => {
    const inserted = await insertApp(pair.db, { name: 'routed-write', spec: spec('b:1') });
    expect(inserted.name).toBe('routed-write');
    expect(await getApp(pair.db.$primary, 'routed-write')).toEqual(inserted);
    await expect(pair.db.$replicas[0]!.insert(applications).values({ name: 'on-standby', spec: {} })).rejects.toThrow();
  });
});
