import { sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { queryRows } from '../../../db/client.js';
import { findApiKeyByHash, insertApiKey, listApiKeys, revokeApiKey, touchApiKey } from '../../../db/queries/api-keys.js';
import { insertApp } from '../../../db/queries/applications.js';
import { getHealthCheck, upsertHealthCheck } from '../../../db/queries/health-checks.js';
import { finishJobRun, lastRuns, listJobRuns, startJobRun } from '../../../db/queries/job-runs.js';
import { getPolicy, upsertPolicy } from '../../../db/queries/policies.js';
import { cleanupOldData } from '../../../db/queries/retention.js';
import { policyToApi } from '../../../db/queries/serialize.js';
import { describeEachTarget } from '../../support/db.js';
import { rejection, spec } from './helpers.js';

describeEachTarget('policies, health checks, API keys, job runs and retention queries', (t) => {
  it('upsertPolicy creates with defaults, then changes only the given fields; getPolicy reads it', async () => {
    await insertApp(t.db.$primary, { name: 'pol-app', spec: spec('a:1') });
    expect(await getPolicy(t.db.$primary, 'pol-app')).toBeNull();
    const created = await upsertPolicy(t.db.$primary, 'pol-app', { minReplicas: 2, maxReplicas: 8 });
    expect(created).toMatchObject({ minReplicas: 2, maxReplicas: 8, targetRpsPerReplica: 50, latencyWeight: 1.5, cooldownSeconds: 180 });
    const changed = await upsertPolicy(t.db.$primary, 'pol-app', { cooldownSeconds: 30 });
    expect(changed).toMatchObject({ minReplicas: 2, maxReplicas: 8, cooldownSeconds: 30 });
    expect(changed.updatedAt!.getTime()).toBeGreaterThanOrEqual(created.updatedAt!.getTime());
    expect(await getPolicy(t.db.$primary, 'pol-app')).toEqual(changed);

    const api = policyToApi(changed);
    expect(api).toMatchObject({ app_name: 'pol-app', min_replicas: 2, max_replicas: 8, cooldown_seconds: 30, connection_weight: 0.8 });
    expect(Object.keys(api)).not.toContain('created_at');
    expect(Object.keys(api)).toHaveLength(21);
  });

  it('upsertPolicy rejects min > max naming both fields, and an unknown app as APP_NOT_FOUND', async () => {
    await insertApp(t.db.$primary, { name: 'polv-app', spec: spec('a:1') });
    await upsertPolicy(t.db.$primary, 'polv-app', { minReplicas: 1, maxReplicas: 3 });
    const error = await rejection(upsertPolicy(t.db.$primary, 'polv-app', { minReplicas: 5 }));
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.details).toEqual({
      issues: [{ path: 'min_replicas/max_replicas', message: 'min_replicas must be <= max_replicas' }],
      constraint: 'valid_replica_bounds',
    });
    expect((await getPolicy(t.db.$primary, 'polv-app'))!.minReplicas).toBe(1);
    const missing = await rejection(upsertPolicy(t.db.$primary, 'polv-missing', {}));
    expect(missing.code).toBe('APP_NOT_FOUND');
  });

  it('upsertHealthCheck creates then replaces the app health check; getHealthCheck reads it', async () => {
    await insertApp(t.db.$primary, { name: 'hc-app', spec: spec('a:1') });
    expect(await getHealthCheck(t.db.$primary, 'hc-app')).toBeNull();
    const created = await upsertHealthCheck(t.db.$primary, 'hc-app', { port: 8080, path: '/health', headers: { 'x-a': 'b' } });
    expect(created).toMatchObject({
      protocol: 'HTTP', method: 'GET', port: 8080, path: '/health', expectedStatusCodes: [200],
      failureThreshold: 3, successThreshold: 1, enabled: true, headers: { 'x-a': 'b' },
    });
    const replaced = await upsertHealthCheck(t.db.$primary, 'hc-app', { port: 9090, expectedStatusCodes: [200, 204], periodSeconds: 5 });
    expect(replaced).toMatchObject({ id: created.id, port: 9090, path: '/health', expectedStatusCodes: [200, 204], periodSeconds: 5 });
    expect(await getHealthCheck(t.db.$primary, 'hc-app')).toEqual(replaced);
    const invalid = await rejection(upsertHealthCheck(t.db.$primary, 'hc-app', { port: 8080, timeoutSeconds: 0 }));
    expect(invalid.details).toMatchObject({ constraint: 'valid_timings' });
  });

  it('API keys: insert, find by hash, list, touch, revoke (idempotent); revoked keys are not found', async () => {
    const key = await insertApiKey(t.db.$primary, { name: 'ci', prefix: 'ok_abc', keyHash: 'a'.repeat(64), scope: 'write' });
    expect(key).toMatchObject({ name: 'ci', scope: 'write', lastUsedAt: null, revokedAt: null });
    expect(await findApiKeyByHash(t.db.$primary, 'a'.repeat(64))).toEqual(key);
    expect(await findApiKeyByHash(t.db.$primary, 'b'.repeat(64))).toBeNull();
    const duplicate = await rejection(insertApiKey(t.db.$primary, { name: 'x', prefix: 'p', keyHash: 'a'.repeat(64), scope: 'read' }));
    expect(duplicate).toMatchObject({ code: 'CONFLICT', details: { field: 'key_hash' } });

    const later = new Date('2025-02-02T00:00:00.000Z');
    await touchApiKey(t.db.$primary, key.id, later);
    await touchApiKey(t.db.$primary, key.id, new Date('2025-01-01T00:00:00.000Z'));
    expect((await findApiKeyByHash(t.db.$primary, 'a'.repeat(64)))!.lastUsedAt).toEqual(later);

    const other = await insertApiKey(t.db.$primary, { name: 'admin', prefix: 'ok_def', keyHash: 'c'.repeat(64), scope: 'admin' });
    const revoked = await revokeApiKey(t.db.$primary, key.id);
    expect(revoked!.revokedAt).toBeInstanceOf(Date);
    expect((await revokeApiKey(t.db.$primary, key.id))!.revokedAt).toEqual(revoked!.revokedAt);
    expect(await revokeApiKey(t.db.$primary, 999_999)).toBeNull();
    expect(await findApiKeyByHash(t.db.$primary, 'a'.repeat(64))).toBeNull();
    const all = await listApiKeys(t.db.$primary, { limit: 1000 });
    expect(all.items.map((k) => [k.id, k.revokedAt !== null])).toEqual([
      [key.id, true],
      [other.id, false],
    ]);
    expect(all.next).toBeNull();
    const first = await listApiKeys(t.db.$primary, { limit: 1 });
    expect(first).toEqual({ items: [all.items[0]], next: key.id });
    expect(await listApiKeys(t.db.$primary, { limit: 1, after: key.id })).toEqual({ items: [all.items[1]], next: null });
  });

  it('job runs: start, finish, and the latest run of each job', async () => {
    const first = await startJobRun(t.db.$primary, 'scaler', new Date('2025-01-01T00:00:00.000Z'));
    expect(first).toMatchObject({ job: 'scaler', outcome: 'running', finishedAt: null });
    const finished = await finishJobRun(t.db.$primary, first.id, {
      outcome: 'succeeded', counts: { apps: 3 }, at: new Date('2025-01-01T00:00:01.000Z'),
    });
    expect(finished).toMatchObject({ outcome: 'succeeded', counts: { apps: 3 }, finishedAt: new Date('2025-01-01T00:00:01.000Z'), error: null });
    const second = await startJobRun(t.db.$primary, 'scaler', new Date('2025-01-01T00:01:00.000Z'));
    const cleanup = await startJobRun(t.db.$primary, 'cleanup', new Date('2025-01-01T00:00:30.000Z'));
    await finishJobRun(t.db.$primary, cleanup.id, { outcome: 'failed', error: 'boom' });
    expect(await finishJobRun(t.db.$primary, 999_999, { outcome: 'skipped' })).toBeNull();

    const latest = await lastRuns(t.db.$primary);
    expect(latest.map((r) => [r.job, r.id, r.outcome])).toEqual([
      ['cleanup', cleanup.id, 'failed'],
      ['scaler', second.id, 'running'],
    ]);
    expect(latest[0]!.error).toBe('boom');

    const newest = await listJobRuns(t.db.$primary, { job: 'scaler' }, { limit: 1 });
    expect(newest.items.map((r) => r.id)).toEqual([second.id]);
    const older = await listJobRuns(t.db.$primary, { job: 'scaler' }, { limit: 1, after: newest.next! });
    expect(older).toMatchObject({ items: [{ id: first.id }], next: null });
    expect((await listJobRuns(t.db.$primary, { outcome: 'failed' }, { limit: 10 })).items.map((r) => r.id)).toEqual([cleanup.id]);
    expect((await listJobRuns(t.db.$primary, {}, { limit: 10 })).items.map((r) => r.id)).toEqual([second.id, cleanup.id, first.id]);
    const invalid = await rejection(startJobRun(t.db.$primary, 'nope' as 'scaler'));
    expect(invalid.details).toMatchObject({ issues: [{ path: 'job' }] });
  });

  it('cleanupOldData deletes what each bound retention period expires, and nothing else', async () => {
    await insertApp(t.db.$primary, { name: 'ret-app', spec: spec('a:1') });
    const daysAgo = (d: number) => sql`now() - make_interval(days => ${d})`;
    await t.db.$primary.execute(sql`
      INSERT INTO events (event_type, app_name, message, "timestamp") VALUES
        ('config', 'ret-app', 'old', ${daysAgo(40)}), ('config', 'ret-app', 'new', ${daysAgo(1)})`);
    await t.db.$primary.execute(sql`
      INSERT INTO metrics (app_name, metric_type, value, aggregation_level, "timestamp") VALUES
        ('ret-app', 'rps', 1, 'instance', ${daysAgo(8)}), ('ret-app', 'rps', 2, 'instance', ${daysAgo(2)}),
        ('ret-app', 'rps', 3, 'app', ${daysAgo(8)}), ('ret-app', 'rps', 4, 'app', ${daysAgo(31)})`);
    await t.db.$primary.execute(sql`
      INSERT INTO instances (app_name, container_id, container_name, replica_index, ip, port, status, updated_at) VALUES
        ('ret-app', 'r0', 'r0', 0, '127.0.0.1', 1, 'stopped', ${daysAgo(8)}),
        ('ret-app', 'r1', 'r1', 1, '127.0.0.1', 1, 'stopped', ${daysAgo(1)}),
        ('ret-app', 'r2', 'r2', 2, '127.0.0.1', 1, 'running', ${daysAgo(30)})`);
    const day = 86_400;
    const counts = await cleanupOldData(t.db.$primary, {
      eventsRetentionSeconds: 30 * day,
      instanceMetricsRetentionSeconds: 7 * day,
      appMetricsRetentionSeconds: 30 * day,
      stoppedInstancesRetentionSeconds: 7 * day,
    });
    expect(counts).toEqual([
      { table: 'events', deleted: 1 },
      { table: 'metrics (instance)', deleted: 1 },
      { table: 'metrics (app)', deleted: 1 },
      { table: 'instances (stopped)', deleted: 1 },
    ]);
    const left = await queryRows<{ events: string[]; metrics: number[]; instances: string[] }>(
      t.db,
      sql`SELECT
        (SELECT array_agg(message ORDER BY message) FROM events WHERE app_name = 'ret-app') AS events,
        (SELECT array_agg(value::int ORDER BY value) FROM metrics WHERE app_name = 'ret-app') AS metrics,
        (SELECT array_agg(container_id ORDER BY container_id) FROM instances WHERE app_name = 'ret-app') AS instances`,
    );
    expect(left[0]).toEqual({ events: ['new'], metrics: [2, 3], instances: ['r1', 'r2'] });

    const again = await cleanupOldData(t.db.$primary, {
      eventsRetentionSeconds: 30 * day,
      instanceMetricsRetentionSeconds: 7 * day,
      appMetricsRetentionSeconds: 30 * day,
      stoppedInstancesRetentionSeconds: 7 * day,
    });
    expect(again.every((c) => c.deleted === 0)).toBe(true);
    const bad = await rejection(
      cleanupOldData(t.db.$primary, {
        eventsRetentionSeconds: -1,
        instanceMetricsRetentionSeconds: 1,
        appMetricsRetentionSeconds: 1,
        stoppedInstancesRetentionSeconds: 1,
      }),
    );
    expect(bad.details).toMatchObject({ issues: [{ path: 'eventsRetentionSeconds' }] });
  });
});
