/**
 * The reconciler driving the real Docker engine (the test image: busybox httpd on 8080):
 * start, scale out and in with a drain, a rolling update, containers killed and removed
 * behind Orchestry's back, and a restarted process adopting what runs.
 */
import Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { instances } from '../../../db/schema.js';
import { eq } from 'drizzle-orm';
import { registerApp, scaleApp, startApp, stopApp, updateSpec } from '../../../functions/ops/apps.js';
import { systemClock, type OpsDeps } from '../../../functions/ops/deps.js';
import { reconcile } from '../../../functions/ops/reconcile.js';
import { reconcileUntilConverged } from '../../../functions/ops/wait.js';
import { replicaName } from '../../../functions/runtime/names.js';
import { DockerRuntime } from '../../../functions/runtime/docker.js';
import type { ContainerRuntime } from '../../../functions/runtime/types.js';
import { openTestDb, pollUntil, type TestDb } from '../../support/db.js';
import { buildTestImage, describeDocker, removeContainersByLabel, TEST_IMAGE, TEST_LABELS, uniqueTestApp } from '../../support/docker.js';
import { appDoc, depsWith, liveSlots } from './helpers.js';

/**
 * The Docker runtime with the test label on every container it makes (app specs may not
 * set orchestry.* labels themselves), so a failed run's leftovers are recognisable.
 */
function withTestLabels(inner: ContainerRuntime): ContainerRuntime {
  return {
    kind: inner.kind,
    start: (req) => inner.start({ ...req, template: { ...req.template, labels: { ...req.template.labels, ...TEST_LABELS } } }),
    stop: (replica, opts) => inner.stop(replica, opts),
    list: (app) => inner.list(app),
    stats: (replica) => inner.stats(replica),
    logs: (replica, opts) => inner.logs(replica, opts),
    ping: () => inner.ping(),
    addToRouting: (app, replica) => inner.addToRouting(app, replica),
    removeFromRouting: (app, replica) => inner.removeFromRouting(app, replica),
    ensureApp: (app) => inner.ensureApp(app),
    removeApp: (app) => inner.removeApp(app),
  };
}

const docker = new Docker();
const WAIT = { timeoutMs: 30_000 };

describeDocker('reconciler on Docker', () => {
  const app = uniqueTestApp('ops');
  const doc = (env?: Record<string, string>) => appDoc(app, { image: TEST_IMAGE, drainSeconds: 1, stopGraceSeconds: 2, env });
  let testDb: TestDb;
  let deps: OpsDeps;

  /** The app's containers as the engine has them, running or not. */
  const containers = async () =>
    (await docker.listContainers({ all: true, filters: { label: [`orchestry.app=${app}`] } })).sort((a, b) =>
      a.Names[0]!.localeCompare(b.Names[0]!),
    );

  const freshDeps = () => depsWith(testDb.db, withTestLabels(new DockerRuntime()), systemClock);

  beforeAll(async () => {
    await buildTestImage();
    testDb = await openTestDb('pglite');
    deps = freshDeps();
  });

  afterAll(async () => {
    await removeContainersByLabel(`orchestry.app=${app}`);
    await testDb?.close();
  });

  it('starts 3 replicas, each answering on its loopback port', async () => {
    await registerApp(deps, doc());
    const answer = await startApp(deps, app, { replicas: 3 });
    expect(answer).toMatchObject({ current_replicas: 3, status: 'running' });
    const rows = await liveSlots(testDb.db, app);
    expect(rows.map((r) => [r.replicaIndex, r.status, r.ip])).toEqual([0, 1, 2].map((i) => [i, 'running', '127.0.0.1']));
    const running = await containers();
    expect(running.map((c) => c.Names[0])).toEqual([0, 1, 2].map((i) => `/${replicaName(app, i, 1)}`));
    expect(running.every((c) => c.Labels['orchestry.test'] === '1' && c.State === 'running')).toBe(true);
    for (const row of rows) {
      await pollUntil(async () => (await fetch(`http://127.0.0.1:${row.port}/health`)).status === 200, `replica ${row.replicaIndex} to answer`);
    }
  });

  it('scales to 5, then to 1 after draining', async () => {
    await scaleApp(deps, app, 5);
    expect((await containers()).filter((c) => c.State === 'running')).toHaveLength(5);
    await scaleApp(deps, app, 1);
    expect((await liveSlots(testDb.db, app)).filter((r) => r.status === 'draining').map((r) => r.replicaIndex)).toEqual([1, 2, 3, 4]);
    const settled = await reconcileUntilConverged(deps, app, WAIT);
    expect(settled).toMatchObject({ converged: true, running: 1, status: 'running' });
    expect((await containers()).map((c) => c.Names[0])).toEqual([`/${replicaName(app, 0, 1)}`]);
  });

  it('rolls out a new revision', async () => {
    await scaleApp(deps, app, 2);
    const update = await updateSpec(deps, app, doc({ GREETING: 'hello' }));
    expect(update).toMatchObject({ revision: 2, rollout: true });
    const settled = await reconcileUntilConverged(deps, app, WAIT);
    expect(settled).toMatchObject({ converged: true, running: 2, status: 'running' });
    const now = await containers();
    expect(now.map((c) => c.Names[0])).toEqual([0, 1].map((i) => `/${replicaName(app, i, 2)}`));
    for (const c of now) {
      const info = await docker.getContainer(c.Id).inspect();
      expect(info.Config.Env).toContain('GREETING=hello');
    }
  });

  it('replaces containers killed or removed behind its back', async () => {
    const [first, second] = await liveSlots(testDb.db, app);
    await docker.getContainer(first!.containerId).kill();
    await docker.getContainer(second!.containerId).remove({ force: true });
    const result = await reconcile(deps, app);
    expect(result).toMatchObject({ converged: true, running: 2, errors: [] });
    const rows = await liveSlots(testDb.db, app);
    expect(rows.map((r) => r.replicaIndex)).toEqual([0, 1]);
    expect(rows.map((r) => r.containerId)).not.toContain(second!.containerId);
    const running = (await containers()).filter((c) => c.State === 'running');
    expect(running.map((c) => c.Id).sort()).toEqual(rows.map((r) => r.containerId).sort());
  });

  it('a restarted process adopts what runs, with its rows or without them', async () => {
    const before = (await containers()).map((c) => c.Id).sort();
    const restarted = freshDeps();
    expect(await reconcile(restarted, app)).toMatchObject({ converged: true, running: 2, actions: 0 });

    // Rows lost (a dev database wiped, say): the containers are recognised by their labels.
    await testDb.db.$primary.delete(instances).where(eq(instances.appName, app));
    const again = freshDeps();
    const adopted = await reconcile(again, app);
    expect(adopted).toMatchObject({ converged: true, running: 2, errors: [] });
    expect((await containers()).map((c) => c.Id).sort()).toEqual(before);
    expect((await liveSlots(testDb.db, app)).map((r) => r.containerId).sort()).toEqual(before);
  });

  it('stops with draining', async () => {
    const answer = await stopApp(deps, app, { timeoutMs: 30_000 });
    expect(answer).toMatchObject({ stopped: true, status: 'stopped' });
    expect(await containers()).toHaveLength(0);
  });
});
