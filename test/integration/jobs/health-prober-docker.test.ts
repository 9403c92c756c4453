/**
 * The prober and the replacement path against real containers: the test image serves /health
 * until its /cgi-bin/fail script removes it, after which the replica must be found unhealthy,
 * taken out of routing, stopped, and replaced by a new container that passes its checks.
 * The collector reads the same containers' stats. Skipped without a Docker engine, except under CI=true.
 */
import Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { LABELS } from '../../../functions/runtime/names.js';
import { DockerRuntime } from '../../../functions/runtime/docker.js';
import { probeApp, run } from '../../../functions/jobs/health-prober.js';
import { run as collect } from '../../../functions/jobs/metric-collector.js';
import { opsDepsOf } from '../../../functions/jobs/job.js';
import { registerApp, startApp } from '../../../functions/ops/apps.js';
import { openTestDb, type TestDb } from '../../support/db.js';
import { buildTestImage, describeDocker, removeContainersByLabel, TEST_LABEL_KEY, uniqueTestApp } from '../../support/docker.js';
import { appDoc, liveSlots } from '../ops/helpers.js';
import { depsWith, eventsOf } from './helpers.js';

/** Runs `step` until `done` says so, failing with what was last seen once `ms` have passed. */
async function tickUntil<T>(what: string, ms: number, step: () => Promise<unknown>, done: () => Promise<T | false>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    await step();
    const value = await done();
    if (value !== false) return value;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describeDocker('health prober against real containers', () => {
  const docker = new Docker();
  const app = uniqueTestApp('prober');
  const network = `orchestry-test-${app}`;
  let db: TestDb;

  beforeAll(async () => {
    await buildTestImage();
    db = await openTestDb('pglite');
  });

  afterAll(async () => {
    await removeContainersByLabel(`${LABELS.app}=${app}`, docker);
    const leftovers = await docker.listNetworks({ filters: { name: [network] } });
    await Promise.all(leftovers.filter((n) => n.Name === network).map((n) => docker.getNetwork(n.Id).remove()));
    await db?.close();
  });

  it('finds a replica whose /health starts failing unhealthy and replaces it with a healthy one', async () => {
    const deps = depsWith(db.db, new DockerRuntime({ docker, network }), { now: () => new Date() });
    const doc = appDoc(app, { healthChecks: true, stopGraceSeconds: 2 }) as {
      metadata: Record<string, unknown>;
      healthCheck: Record<string, unknown>;
    };
    doc.metadata.labels = { [TEST_LABEL_KEY]: '1' };
    Object.assign(doc.healthCheck, { periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 2, successThreshold: 1 });
    await registerApp(opsDepsOf(deps), doc);
    await startApp(opsDepsOf(deps), app, { replicas: 2 });

    const healthy = () => liveSlots(db.db, app).then((rows) => rows.length === 2 && rows.every((r) => r.healthStatus === 'healthy') && rows);
    const before = await tickUntil('both replicas healthy', 30_000, () => run(deps, new Date()), healthy);
    const victim = before[0]!;

    // The collector reads the engine's stats of both containers.
    const collected = await collect(deps, new Date());
    expect(collected.counts).toMatchObject({ replicas: 2, collected: 2, samples: 6, instances_updated: 2, stats_failures: 0 });
    const usage = await liveSlots(db.db, app);
    expect(usage.every((r) => (r.memoryUsageBytes ?? 0) > 0)).toBe(true);

    const flipped = await fetch(`http://${victim.ip}:${victim.port}/cgi-bin/fail`, { signal: AbortSignal.timeout(5000) });
    expect(flipped.status).toBe(200);
    const report = await probeApp(deps, app);
    expect(report.replicas.find((r) => r.replicaIndex === 0)).toMatchObject({ ok: false, statusCode: 404 });

    const replaced = async () => {
      const rows = await liveSlots(db.db, app);
      const slot0 = rows.find((r) => r.replicaIndex === 0);
      return slot0 && slot0.containerId !== victim.containerId && slot0.status === 'running' ? rows : false;
    };
    await tickUntil('the failing replica replaced', 60_000, () => run(deps, new Date()), replaced);
    const after = await tickUntil('the replacement healthy', 30_000, () => run(deps, new Date()), healthy);
    expect(after[0]!.containerId).not.toBe(victim.containerId);
    expect(after[1]!.containerId).toBe(before[1]!.containerId);

    // The failed container is gone from the engine, and the story is in the audit trail.
    const gone = await docker.getContainer(victim.containerId).inspect().then(
      () => false,
      (e: { statusCode?: number }) => e.statusCode === 404,
    );
    expect(gone).toBe(true);
    const events = await eventsOf(db.db, app);
    const unhealthy = events.find((e) => e.eventType === 'health' && e.severity === 'warning' && e.containerId === victim.containerId);
    expect(unhealthy?.message).toMatch(/unhealthy after 2 failed health checks/);
  });
});
