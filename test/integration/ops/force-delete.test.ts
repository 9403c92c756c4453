/**
 * DELETE ?force=true on the real Docker engine (issue 13, item 19): every replica is stopped
 * at once (several stops in flight together, none drained, none given a grace period), and a
 * job's reconcile pass running meanwhile neither waits on the delete nor drains its replicas.
 */
import Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { deleteApp, registerApp, startApp } from '../../../functions/ops/apps.js';
import { reconcileAll } from '../../../functions/ops/reconcile-all.js';
import { systemClock, type OpsDeps } from '../../../functions/ops/deps.js';
import { DockerRuntime } from '../../../functions/runtime/docker.js';
import type { ContainerRuntime } from '../../../functions/runtime/types.js';
import { openTestDb, pollUntil, type TestDb } from '../../support/db.js';
import { buildTestImage, describeDocker, removeContainersByLabel, TEST_IMAGE, TEST_LABELS, uniqueTestApp } from '../../support/docker.js';
import { appDoc, depsWith, liveSlots } from './helpers.js';

/**
 * The Docker runtime with the test label, whose stops wait at a gate the test opens: while
 * it is shut, the stops a delete has begun can be counted and the rest of the system looked at.
 */
function gatedRuntime(inner: ContainerRuntime) {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const stops: Array<{ id: string; graceSeconds: number }> = [];
  let inFlight = 0;
  const runtime: ContainerRuntime = {
    kind: inner.kind,
    start: (req) => inner.start({ ...req, template: { ...req.template, labels: { ...req.template.labels, ...TEST_LABELS } } }),
    stop: async (replica, opts) => {
      stops.push({ id: replica.id, graceSeconds: opts.graceSeconds });
      inFlight++;
      try {
        await gate;
        await inner.stop(replica, opts);
      } finally {
        inFlight--;
      }
    },
    list: (app) => inner.list(app),
    stats: (replica) => inner.stats(replica),
    logs: (replica, opts) => inner.logs(replica, opts),
    ping: () => inner.ping(),
    addToRouting: (app, replica) => inner.addToRouting(app, replica),
    removeFromRouting: (app, replica) => inner.removeFromRouting(app, replica),
    ensureApp: (app) => inner.ensureApp(app),
    removeApp: (app) => inner.removeApp(app),
  };
  return { runtime, stops, inFlight: () => inFlight, open: () => open() };
}

describeDocker('DELETE ?force=true on Docker', () => {
  const app = uniqueTestApp('force');
  const docker = new Docker();
  let testDb: TestDb;

  const containers = () => docker.listContainers({ all: true, filters: { label: [`orchestry.app=${app}`] } });

  beforeAll(async () => {
    await buildTestImage();
    testDb = await openTestDb('pglite');
  });

  afterAll(async () => {
    await removeContainersByLabel(`orchestry.app=${app}`);
    await testDb?.close();
  });

  it('stops all five replicas at once, without draining or a grace period, and no job waits on it', async () => {
    const plain = gatedRuntime(new DockerRuntime());
    plain.open();
    const setup: OpsDeps = depsWith(testDb.db, plain.runtime, systemClock);
    // A long drain and grace: a delete that drained, or stopped one replica after another
    // with the grace period, could not finish before the test's deadline.
    await registerApp(setup, appDoc(app, { image: TEST_IMAGE, drainSeconds: 120, stopGraceSeconds: 60 }));
    expect(await startApp(setup, app, { replicas: 5 })).toMatchObject({ current_replicas: 5, status: 'running' });
    const started = (await liveSlots(testDb.db, app)).map((r) => r.containerId).sort();
    expect(started).toHaveLength(5);

    const gated = gatedRuntime(new DockerRuntime());
    const deps = depsWith(testDb.db, gated.runtime, systemClock);
    const deleting = deleteApp(deps, app, { force: true, timeoutMs: 60_000 });
    await pollUntil(async () => gated.inFlight() === 5, 'the five stops to be in flight together');

    // Every replica is being stopped; none is draining.
    expect((await liveSlots(testDb.db, app)).map((r) => r.status)).toEqual(Array(5).fill('stopping'));
    // A job's pass (the prober's or the dev reconcile timer's) finishes while the stops are
    // still held, and leaves those replicas to the delete.
    const pass = await reconcileAll(deps, undefined, { everyActive: true });
    expect(pass.failed).toEqual([]);
    expect(pass.results.find((r) => r.appName === app)).toMatchObject({ actions: 0 });
    expect(gated.stops).toHaveLength(5);

    gated.open();
    expect(await deleting).toMatchObject({ deleted: true, app_name: app });
    expect(gated.stops.map((s) => s.id).sort()).toEqual(started);
    expect(gated.stops.every((s) => s.graceSeconds === 0)).toBe(true);
    expect(await containers()).toEqual([]);
  });
});
