/**
 * The API over a primary and a streaming read replica (TEST_DATABASE_URL and TEST_REPLICA_URL):
 * GET /health checks both, single-app reads see a write at once (primary), listings catch up
 * from the replica.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeIfAvailable, openReplicaPair, pollUntil, replicaPairAvailability, type ReplicaPair } from '../../support/db.js';
import { makeHarness, specOf, type Harness } from './harness.js';

describeIfAvailable('API on a primary and a read replica', replicaPairAvailability(), () => {
  let pair: ReplicaPair;
  let h: Harness;
  beforeAll(async () => {
    pair = await openReplicaPair();
    h = makeHarness(pair.db);
  });
  afterAll(async () => {
    await pair?.close();
  });

  it('checks the primary and the replica on /health, each with its response time', async () => {
    const answer = await h.call('GET', '/health', { key: null });
    expect(answer.status).toBe(200);
    expect(answer.body.database.primary).toMatchObject({ ok: true, error: null });
    expect(answer.body.database.replica).toMatchObject({ ok: true, configured: true, error: null });
    expect(answer.body.database.replica.response_ms).toBeGreaterThanOrEqual(0);
  });

  it('answers a single app at once after its registration, and lists it once the replica has it', async () => {
    expect((await h.call('POST', '/api/v1/apps/register', { body: specOf('rep-app') })).status).toBe(201);
    const app = await h.call('GET', '/api/v1/apps/rep-app');
    expect(app.status).toBe(200);
    expect((await h.call('GET', '/api/v1/apps/rep-app/spec')).body.metadata.name).toBe('rep-app');
    await pollUntil(async () => {
      const list = await h.call('GET', '/api/v1/apps');
      return list.body.apps.some((a: { name: string }) => a.name === 'rep-app');
    }, 'the listing (read on the replica) to show the new app');
  });
});
