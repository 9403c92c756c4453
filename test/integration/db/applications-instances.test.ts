import { eq, sql } from 'drizzle-orm';
import { expect, it } from 'vitest';
import { createDb, queryRows } from '../../../db/client.js';
import {
  appStatusCounts,
  deleteApp,
  getApp,
  getAppDetail,
  getAppWithInstances,
  insertApp,
  listAppPage,
  lockApp,
  updateApp,
} from '../../../db/queries/applications.js';
import {
  createInstance,
  deleteInstance,
  listInstances,
  recordProbe,
  transitionInstance,
  updateInstanceStats,
} from '../../../db/queries/instances.js';
import { getHealthCheck, upsertHealthCheck } from '../../../db/queries/health-checks.js';
import { insertMetrics, latestMetrics } from '../../../db/queries/metrics.js';
import { appToApi, instanceToApi } from '../../../db/queries/serialize.js';
import { instances, type NewInstance } from '../../../db/schema.js';
import { describeEachTarget } from '../../support/db.js';
import { rejection, spec } from './helpers.js';

const instance = (app: string, replicaIndex: number, extra: Partial<NewInstance> = {}): NewInstance => ({
  appName: app,
  containerId: `${app}-c${replicaIndex}`,
  containerName: `${app}-${replicaIndex}`,
  replicaIndex,
  ip: '127.0.0.1',
  port: 30000 + replicaIndex,
  ...extra,
});

describeEachTarget('applications and instances queries', (t) => {
  it('insertApp stores the spec with defaults; getApp reads it back; a second insert is APP_ALREADY_EXISTS', async () => {
    const inserted = await insertApp(t.db.$primary, { name: 'ins-app', spec: spec('nginx:1') });
    expect(inserted).toMatchObject({ name: 'ins-app', status: 'registered', mode: 'auto', replicas: 0, desiredReplicas: 0, revision: 1 });
    expect(inserted.createdAt).toBeInstanceOf(Date);
    expect(await getApp(t.db.$primary, 'ins-app')).toEqual(inserted);
    expect(await getApp(t.db.$primary, 'no-such-app')).toBeNull();

    const error = await rejection(insertApp(t.db.$primary, { name: 'ins-app', spec: spec('nginx:2') }));
    expect(error.code).toBe('APP_ALREADY_EXISTS');
    expect(error.details).toEqual({ app_name: 'ins-app' });
    expect((await getApp(t.db.$primary, 'ins-app'))!.spec).toEqual(spec('nginx:1'));
  });

  it('updateApp changes the given columns and always moves updated_at; an unknown app is APP_NOT_FOUND', async () => {
    const before = await insertApp(t.db.$primary, { name: 'upd-app', spec: spec('a:1') });
    const after = await updateApp(t.db.$primary, 'upd-app', { desiredReplicas: 3, status: 'running' });
    expect(after).toMatchObject({ desiredReplicas: 3, status: 'running', replicas: 0, spec: spec('a:1') });
    expect(after.updatedAt!.getTime()).toBeGreaterThanOrEqual(before.updatedAt!.getTime());
    const [row] = await queryRows<{ moved: boolean }>(
      t.db,
      sql`SELECT updated_at > created_at AS moved FROM applications WHERE name = 'upd-app'`,
    );
    expect(row!.moved).toBe(true);
    expect((await rejection(updateApp(t.db.$primary, 'upd-missing', { replicas: 1 }))).code).toBe('APP_NOT_FOUND');
    const invalid = await rejection(updateApp(t.db.$primary, 'upd-app', { desiredReplicas: -1 }));
    expect(invalid.code).toBe('VALIDATION_ERROR');
  });

  it('lockApp returns the row inside a transaction (null for none) and holds it until commit', async () => {
    await insertApp(t.db.$primary, { name: 'lock-app', spec: spec('a:1') });
    const seen = await t.db.transaction(async (tx) => {
      const row = await lockApp(tx, 'lock-app');
      await updateApp(tx, 'lock-app', { desiredReplicas: (row!.desiredReplicas ?? 0) + 1 });
      return { row, missing: await lockApp(tx, 'lock-missing') };
    });
    expect(seen.row?.name).toBe('lock-app');
    expect(seen.missing).toBeNull();
    expect((await getApp(t.db.$primary, 'lock-app'))!.desiredReplicas).toBe(1);
  });

  it('two transactions incrementing through lockApp both count (they take turns on the row)', async () => {
    // A second pool on the same database; embedded PGlite has one connection, so it races itself.
    const other = t.config ? await createDb(t.config) : undefined;
    const otherDb = other?.db ?? t.db;
    try {
      await insertApp(t.db.$primary, { name: 'race-app', spec: spec('a:1') });
      const bump = (db: typeof t.db) =>
        db.transaction(async (tx) => {
          const row = await lockApp(tx, 'race-app');
          await updateApp(tx, 'race-app', { desiredReplicas: row!.desiredReplicas! + 1 });
        });
      await Promise.all([bump(t.db), bump(otherDb), bump(t.db), bump(otherDb)]);
      expect((await getApp(t.db.$primary, 'race-app'))!.desiredReplicas).toBe(4);
    } finally {
      await other?.close();
    }
  });

  it('getAppWithInstances returns the app and its non-stopped instances by replica index, in one statement', async () => {
    await insertApp(t.db.$primary, { name: 'gwi-app', spec: spec('a:1') });
    await createInstance(t.db.$primary, instance('gwi-app', 2, { status: 'running', startedAt: new Date('2025-01-02T03:04:05.678Z') }));
    await createInstance(t.db.$primary, instance('gwi-app', 0, { status: 'running', memoryUsageBytes: 5_000_000_000 }));
    await createInstance(t.db.$primary, instance('gwi-app', 1, { status: 'stopped' }));
    const found = await getAppWithInstances(t.db.$primary, 'gwi-app');
    expect(found!.app.name).toBe('gwi-app');
    expect(found!.instances.map((i) => i.replicaIndex)).toEqual([0, 2]);
    const direct = await listInstances(t.db.$primary, 'gwi-app');
    // The json_agg rows decode to exactly what a plain select returns.
    expect(found!.instances).toEqual(direct);
    expect(found!.instances[1]!.startedAt).toEqual(new Date('2025-01-02T03:04:05.678Z'));
    expect(found!.instances[0]!.memoryUsageBytes).toBe(5_000_000_000);

    await insertApp(t.db.$primary, { name: 'gwi-empty', spec: spec('a:1') });
    expect(await getAppWithInstances(t.db.$primary, 'gwi-empty')).toEqual({
      app: await getApp(t.db.$primary, 'gwi-empty'),
      instances: [],
    });
    expect(await getAppWithInstances(t.db.$primary, 'gwi-missing')).toBeNull();
  });

  it('getAppDetail reads in one statement what getAppWithInstances, getHealthCheck and latestMetrics read', async () => {
    const at = (s: number) => new Date(Date.UTC(2025, 0, 2, 3, 4, s, 678));
    const separately = async (name: string) => {
      const found = await getAppWithInstances(t.db.$primary, name);
      if (!found) return null;
      const check = await getHealthCheck(t.db.$primary, name);
      return { ...found, healthChecksEnabled: check?.enabled === true, latest: await latestMetrics(t.db.$primary, name) };
    };
    await insertApp(t.db.$primary, { name: 'det-app', spec: spec('a:1') });
    await createInstance(t.db.$primary, instance('det-app', 1, { status: 'running', healthStatus: 'healthy' }));
    await createInstance(t.db.$primary, instance('det-app', 0, { status: 'stopped' }));
    await insertMetrics(t.db.$primary, [
      { appName: 'det-app', metricType: 'rps', value: 1, timestamp: at(1) },
      { appName: 'det-app', metricType: 'rps', value: 2.5, timestamp: at(3), containerId: 'c-2' },
      { appName: 'det-app', metricType: 'cpu_percent', value: 44.1, timestamp: at(2) },
    ]);
    await upsertHealthCheck(t.db.$primary, 'det-app', { protocol: 'HTTP', path: '/h', port: 8080, enabled: true });
    const detail = await getAppDetail(t.db.$primary, 'det-app');
    expect(detail).toEqual(await separately('det-app'));
    expect(detail!.healthChecksEnabled).toBe(true);
    expect(detail!.latest).toEqual({
      rps: { value: 2.5, at: at(3), containerId: 'c-2' },
      cpu_percent: { value: 44.1, at: at(2), containerId: null },
    });
    expect(detail!.instances.map((i) => i.replicaIndex)).toEqual([1]);

    await upsertHealthCheck(t.db.$primary, 'det-app', { protocol: 'HTTP', path: '/h', port: 8080, enabled: false });
    expect((await getAppDetail(t.db.$primary, 'det-app'))!.healthChecksEnabled).toBe(false);

    await insertApp(t.db.$primary, { name: 'det-bare', spec: spec('a:1') });
    expect(await getAppDetail(t.db.$primary, 'det-bare')).toEqual({
      app: await getApp(t.db.$primary, 'det-bare'),
      instances: [],
      healthChecksEnabled: false,
      latest: {},
    });
    expect(await getAppDetail(t.db.$primary, 'det-missing')).toBeNull();
  });

  it('listAppPage counts running and ready replicas of each app, without the spec document', async () => {
    await insertApp(t.db.$primary, { name: 'sum-a', spec: spec('a:1'), status: 'running', desiredReplicas: 3 });
    await insertApp(t.db.$primary, { name: 'sum-b', spec: spec('b:1'), status: 'stopped' });
    await insertApp(t.db.$primary, { name: 'sum-c', spec: spec('c:1'), status: 'running', desiredReplicas: 1 });
    await createInstance(t.db.$primary, instance('sum-a', 0, { status: 'running', healthStatus: 'healthy' }));
    await createInstance(t.db.$primary, instance('sum-a', 1, { status: 'running', healthStatus: 'unhealthy' }));
    await createInstance(t.db.$primary, instance('sum-a', 2, { status: 'starting', healthStatus: 'healthy' }));
    await createInstance(t.db.$primary, instance('sum-c', 0, { status: 'running', healthStatus: 'unknown' }));
    await upsertHealthCheck(t.db.$primary, 'sum-a', { port: 8080, enabled: true });
    // sum-c has no health check: every running replica is ready.

    const page = await listAppPage(t.db.$primary, {}, { limit: 1000 });
    const byName = new Map(page.items.map((app) => [app.name, app]));
    expect(byName.get('sum-a')).toMatchObject({ status: 'running', image: 'a:1', desiredReplicas: 3, runningReplicas: 2, readyReplicas: 1 });
    expect(byName.get('sum-b')).toMatchObject({ status: 'stopped', image: 'b:1', desiredReplicas: 0, runningReplicas: 0, readyReplicas: 0 });
    expect(byName.get('sum-c')).toMatchObject({ runningReplicas: 1, readyReplicas: 1 });
    expect(Object.keys(byName.get('sum-a')!)).not.toContain('spec');
    const names = page.items.map((app) => app.name);
    expect(names).toEqual([...names].sort());
    expect(page.next).toBeNull();

    const stopped = await listAppPage(t.db.$primary, { status: 'stopped' }, { limit: 1000 });
    expect(stopped.items.every((app) => app.status === 'stopped')).toBe(true);
    expect(stopped.items.map((app) => app.name)).toContain('sum-b');

    const [{ n }] = (await queryRows<{ n: number }>(t.db, sql`SELECT count(*)::int AS n FROM applications`)) as [{ n: number }];
    const counts = await appStatusCounts(t.db.$primary);
    expect(Object.values(counts).reduce((x, y) => x + y, 0)).toBe(n);
    expect(counts.stopped).toBeGreaterThanOrEqual(1);
    expect(counts.updating).toBe(0);
  });

  it('listAppPage filters by mode, image and labels, and pages by name after a key', async () => {
    const labelled = (image: string, labels: Record<string, string>) => ({ ...spec(image), metadata: { name: 'x', labels } });
    await insertApp(t.db.$primary, { name: 'flt-1', spec: labelled('web:2', { team: 'a', tier: 'front' }), mode: 'manual' });
    await insertApp(t.db.$primary, { name: 'flt-2', spec: labelled('web:2', { team: 'b' }), mode: 'auto' });
    await insertApp(t.db.$primary, { name: 'flt-3', spec: labelled('web:3', { team: 'a' }), mode: 'auto' });
    const names = async (filters: Parameters<typeof listAppPage>[1]) =>
      (await listAppPage(t.db.$primary, filters, { limit: 1000 })).items.map((a) => a.name).filter((n) => n.startsWith('flt-'));
    expect(await names({ mode: 'manual' })).toEqual(['flt-1']);
    expect(await names({ image: 'web:2' })).toEqual(['flt-1', 'flt-2']);
    expect(await names({ labels: { team: 'a' } })).toEqual(['flt-1', 'flt-3']);
    expect(await names({ labels: { team: 'a', tier: 'front' } })).toEqual(['flt-1']);
    expect(await names({ labels: { team: 'a' }, mode: 'auto', image: 'web:3' })).toEqual(['flt-3']);
    expect(await names({ labels: { team: 'nobody' } })).toEqual([]);

    const first = await listAppPage(t.db.$primary, { image: 'web:2' }, { limit: 1 });
    expect(first.items.map((a) => a.name)).toEqual(['flt-1']);
    expect(first.next).toBe('flt-1');
    const second = await listAppPage(t.db.$primary, { image: 'web:2' }, { limit: 1, after: first.next! });
    expect(second.items.map((a) => a.name)).toEqual(['flt-2']);
    expect(second.next).toBeNull();
    expect((await rejection(listAppPage(t.db.$primary, {}, { limit: 1001 }))).details).toMatchObject({ issues: [{ path: 'limit' }] });
  });

  it('deleteApp removes the app and reports whether there was one', async () => {
    await insertApp(t.db.$primary, { name: 'del-app', spec: spec('a:1') });
    await createInstance(t.db.$primary, instance('del-app', 0));
    expect(await deleteApp(t.db.$primary, 'del-app')).toBe(true);
    expect(await getApp(t.db.$primary, 'del-app')).toBeNull();
    expect(await listInstances(t.db.$primary, 'del-app', { includeStopped: true })).toEqual([]);
    expect(await deleteApp(t.db.$primary, 'del-app')).toBe(false);
  });

  it('createInstance applies the defaults; listInstances hides stopped ones unless asked', async () => {
    await insertApp(t.db.$primary, { name: 'li-app', spec: spec('a:1') });
    const created = await createInstance(t.db.$primary, instance('li-app', 1));
    expect(created).toMatchObject({
      status: 'starting',
      healthStatus: 'unknown',
      failureCount: 0,
      consecutiveFailures: 0,
      consecutiveSuccesses: 0,
      revision: 1,
      ip: '127.0.0.1',
    });
    await createInstance(t.db.$primary, instance('li-app', 0, { status: 'stopped' }));
    expect((await listInstances(t.db.$primary, 'li-app')).map((i) => i.replicaIndex)).toEqual([1]);
    expect((await listInstances(t.db.$primary, 'li-app', { includeStopped: true })).map((i) => i.replicaIndex)).toEqual([0, 1]);

    const duplicate = await rejection(createInstance(t.db.$primary, instance('li-app', 1, { containerId: 'other-id' })));
    expect(duplicate.code).toBe('CONFLICT');
    expect(duplicate.details).toMatchObject({ field: 'app_name/replica_index' });
    const orphan = await rejection(createInstance(t.db.$primary, instance('li-missing', 0)));
    expect(orphan.code).toBe('APP_NOT_FOUND');
    expect(orphan.details).toEqual({ app_name: 'li-missing' });
  });

  it('transitionInstance changes status and health and stamps updated_at; null for a gone instance', async () => {
    await insertApp(t.db.$primary, { name: 'tr-app', spec: spec('a:1') });
    const created = await createInstance(t.db.$primary, instance('tr-app', 0));
    const startedAt = new Date('2025-03-04T05:06:07.000Z');
    const moved = await transitionInstance(t.db.$primary, created.id, { status: 'running', healthStatus: 'starting', startedAt });
    expect(moved).toMatchObject({ status: 'running', healthStatus: 'starting', startedAt });
    expect(moved!.updatedAt!.getTime()).toBeGreaterThanOrEqual(created.updatedAt!.getTime());
    expect(await transitionInstance(t.db.$primary, 999_999, { status: 'stopped' })).toBeNull();
    const invalid = await rejection(transitionInstance(t.db.$primary, created.id, { status: 'sleeping' as 'running' }));
    expect(invalid.code).toBe('VALIDATION_ERROR');
  });

  it('recordProbe counts failures and successes and turns health at the thresholds', async () => {
    await insertApp(t.db.$primary, { name: 'pr-app', spec: spec('a:1') });
    const { id } = await createInstance(t.db.$primary, instance('pr-app', 0, { status: 'running' }));
    const thresholds = { failureThreshold: 3, successThreshold: 2 };
    const at = (s: number) => new Date(Date.UTC(2025, 0, 1, 0, 0, s));
    const probe = (ok: boolean, s: number) => recordProbe(t.db.$primary, id, { ok, at: at(s), ...thresholds });

    expect(await probe(true, 1)).toEqual({
      previous: 'unknown', healthStatus: 'unknown', changed: false, consecutiveFailures: 0, consecutiveSuccesses: 1, failureCount: 0,
    });
    expect(await probe(true, 2)).toMatchObject({ previous: 'unknown', healthStatus: 'healthy', changed: true, consecutiveSuccesses: 2 });
    expect(await probe(false, 3)).toMatchObject({ healthStatus: 'healthy', changed: false, consecutiveFailures: 1, consecutiveSuccesses: 0, failureCount: 1 });
    expect(await probe(false, 4)).toMatchObject({ healthStatus: 'healthy', changed: false, consecutiveFailures: 2 });
    expect(await probe(false, 5)).toMatchObject({ previous: 'healthy', healthStatus: 'unhealthy', changed: true, consecutiveFailures: 3, failureCount: 3 });
    expect(await probe(true, 6)).toMatchObject({ healthStatus: 'unhealthy', changed: false, consecutiveFailures: 0, consecutiveSuccesses: 1, failureCount: 3 });
    expect(await probe(true, 7)).toMatchObject({ previous: 'unhealthy', healthStatus: 'healthy', changed: true });

    const [row] = await t.db.$primary.select().from(instances).where(eq(instances.id, id));
    expect(row).toMatchObject({ lastHealthCheck: at(7), lastFailureAt: at(5), failureCount: 3, healthStatus: 'healthy' });
    expect(await recordProbe(t.db.$primary, 999_999, { ok: true, at: at(8), ...thresholds })).toBeNull();
  });

  it('recordProbe from concurrent probers loses no count', async () => {
    await insertApp(t.db.$primary, { name: 'prc-app', spec: spec('a:1') });
    const { id } = await createInstance(t.db.$primary, instance('prc-app', 0));
    await Promise.all(
      Array.from({ length: 8 }, () => recordProbe(t.db.$primary, id, { ok: false, at: new Date(), failureThreshold: 100, successThreshold: 1 })),
    );
    const [row] = await t.db.$primary.select().from(instances).where(eq(instances.id, id));
    expect(row).toMatchObject({ failureCount: 8, consecutiveFailures: 8 });
  });

  it('updateInstanceStats writes many instances in one statement and skips unknown containers', async () => {
    await insertApp(t.db.$primary, { name: 'st-app', spec: spec('a:1') });
    const rows = await Promise.all([0, 1, 2].map((i) => createInstance(t.db.$primary, instance('st-app', i))));
    const updated = await updateInstanceStats(t.db.$primary, [
      { containerId: rows[0]!.containerId, cpuPercent: 12.5, memoryPercent: 50, memoryUsageBytes: 1024 },
      { containerId: rows[2]!.containerId, cpuPercent: 250, memoryPercent: 1.5, memoryUsageBytes: 6_000_000_000 },
      { containerId: 'no-such-container', cpuPercent: 1, memoryPercent: 1, memoryUsageBytes: 1 },
    ]);
    expect(updated).toBe(2);
    const after = await listInstances(t.db.$primary, 'st-app');
    expect(after.map((i) => [i.cpuPercent, i.memoryPercent, i.memoryUsageBytes])).toEqual([
      [12.5, 50, 1024],
      [0, 0, 0],
      [250, 1.5, 6_000_000_000],
    ]);
    expect(await updateInstanceStats(t.db.$primary, [])).toBe(0);
    const invalid = await rejection(
      updateInstanceStats(t.db.$primary, [{ containerId: rows[1]!.containerId, cpuPercent: 1, memoryPercent: 101, memoryUsageBytes: 1 }]),
    );
    expect(invalid.code).toBe('VALIDATION_ERROR');
    expect(invalid.details).toMatchObject({ issues: [{ path: 'memory_percent' }] });
  });

  it('probes that do not change health, and stats, leave updated_at alone (drains are timed from it)', async () => {
    await insertApp(t.db.$primary, { name: 'ua-app', spec: spec('a:1') });
    const { id, containerId } = await createInstance(t.db.$primary, instance('ua-app', 0, { status: 'draining' }));
    const stamp = async () => (await t.db.$primary.select().from(instances).where(eq(instances.id, id)))[0]!.updatedAt!.getTime();
    const before = await stamp();
    await updateInstanceStats(t.db.$primary, [{ containerId, cpuPercent: 5, memoryPercent: 5, memoryUsageBytes: 5 }]);
    await recordProbe(t.db.$primary, id, { ok: false, at: new Date(), failureThreshold: 3, successThreshold: 1 });
    expect(await stamp()).toBe(before);
    await recordProbe(t.db.$primary, id, { ok: true, at: new Date(), failureThreshold: 3, successThreshold: 1 });
    expect(await stamp()).toBeGreaterThanOrEqual(before);
    expect((await listInstances(t.db.$primary, 'ua-app'))[0]!.healthStatus).toBe('healthy');
  });

  it('deleteInstance removes one instance and reports whether there was one', async () => {
    await insertApp(t.db.$primary, { name: 'di-app', spec: spec('a:1') });
    const created = await createInstance(t.db.$primary, instance('di-app', 0));
    expect(await deleteInstance(t.db.$primary, created.id)).toBe(true);
    expect(await deleteInstance(t.db.$primary, created.id)).toBe(false);
    expect(await listInstances(t.db.$primary, 'di-app', { includeStopped: true })).toEqual([]);
  });

  it('appToApi and instanceToApi give the API shapes (snake_case, ISO 8601)', async () => {
    const app = await insertApp(t.db.$primary, {
      name: 'ser-app',
      spec: spec('registry.example.com/web:2'),
      replicas: 2,
      desiredReplicas: 3,
      lastScaledAt: new Date('2025-05-06T07:08:09.010Z'),
    });
    expect(appToApi(app)).toEqual({
      name: 'ser-app',
      status: 'registered',
      mode: 'auto',
      image: 'registry.example.com/web:2',
      revision: 1,
      replicas: { current: 2, desired: 3 },
      created_at: app.createdAt!.toISOString(),
      updated_at: app.updatedAt!.toISOString(),
      last_scaled_at: '2025-05-06T07:08:09.010Z',
    });
    const created = await createInstance(t.db.$primary, instance('ser-app', 0, { startedAt: new Date('2025-05-06T07:08:10.000Z') }));
    expect(instanceToApi(created)).toMatchObject({
      id: 'ser-app-c0',
      name: 'ser-app-0',
      replica_index: 0,
      ip: '127.0.0.1',
      port: 30000,
      status: 'starting',
      health: 'unknown',
      started_at: '2025-05-06T07:08:10.000Z',
      last_health_check: null,
    });
  });
});
