/**
 * A dev server stopped in the middle of starting replicas (SIGTERM, as Ctrl-C or a process
 * manager sends it) exits cleanly, and the next one on the same database converges to what
 * was asked: exactly the desired replicas, each slot once, no container left behind.
 * PGlite, the dev default, is what a kill mid-write could damage, so this runs on it.
 */
import Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildTestImage, describeDocker, removeContainersByLabel, TEST_IMAGE, uniqueTestApp } from '../support/docker.js';
import { apiClient, scratchDir, spawnDev, waitFor, type DevProcess } from './support.js';

const app = uniqueTestApp('shutdown');
const REPLICAS = 3;
const docker = new Docker();

const spec = {
  apiVersion: 'v1',
  kind: 'App',
  metadata: { name: app, labels: { 'orchestry.test': '1' } },
  spec: { image: TEST_IMAGE, ports: [{ containerPort: 8080 }], resources: { cpu: '100m', memory: '32Mi' } },
  scaling: { mode: 'manual', minReplicas: 1, maxReplicas: 5 },
  healthCheck: { path: '/health', initialDelaySeconds: 0, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 2, successThreshold: 1 },
  termination: { drainSeconds: 0, stopGraceSeconds: 2 },
};

const env = {
  SCALER_PERIOD_SECONDS: '1',
  PROBER_PERIOD_SECONDS: '1',
  RECONCILE_PERIOD_SECONDS: '1',
  RECONCILE_SWEEP_PERIOD_SECONDS: '2',
  SHUTDOWN_GRACE_SECONDS: '5',
};

interface AppView {
  status: string;
  replicas: { current: number; desired: number; healthy: number };
  containers: Array<{ id: string; name: string; replica_index: number; status: string; health: string }>;
}

const appContainers = () => docker.listContainers({ all: true, filters: { label: [`orchestry.app=${app}`] } });

describeDocker('dev server: SIGTERM while replicas start, then a restart on the same database', () => {
  let cwd: Awaited<ReturnType<typeof scratchDir>> | undefined;
  const servers: DevProcess[] = [];

  beforeAll(async () => {
    await buildTestImage();
    cwd = await scratchDir('shutdown');
  }, 120_000);

  afterAll(async () => {
    for (const server of servers) await server.stop('SIGTERM').catch(() => server.kill());
    await removeContainersByLabel(`orchestry.app=${app}`);
    await cwd?.remove();
  }, 90_000);

  it('exits cleanly mid-start, and the next start converges to exactly 3 replicas with no orphans', async () => {
    const first = await spawnDev({ cwd: cwd!.dir, env });
    servers.push(first);
    const api1 = apiClient(first);
    expect((await api1('POST', '/apps/register', spec)).status).toBe(201);

    // Not awaited: the shutdown has to land while the start is under way.
    const start = api1('POST', `/apps/${app}/start`, { replicas: REPLICAS, wait: true, timeout: 60 }).catch((error: unknown) => error);
    await waitFor('the first replica container to exist', async () => ((await appContainers()).length > 0 ? true : undefined), 30_000, 50);
    const before = (await appContainers()).length;

    const code = await first.stop('SIGTERM');
    expect(code, first.output().slice(-5000)).toBe(0);
    const messages = first.logs().map((l) => l.msg);
    expect(messages).toContain('shutting down');
    expect(messages.at(-1)).toBe('stopped');
    await start;
    // The shutdown really did interrupt the start (else this test would prove nothing).
    expect(before, 'containers when SIGTERM was sent').toBeLessThan(REPLICAS);

    const second = await spawnDev({ cwd: cwd!.dir, env });
    servers.push(second);
    const api2 = apiClient(second);
    // Converged: the desired count healthy, each slot once, and Docker holding exactly the
    // containers the database knows (an orphan of the interrupted start would be stopped).
    const converged = await waitFor(
      `exactly ${REPLICAS} healthy replicas and no orphan after the restart`,
      async () => {
        const v = (await api2<AppView>('GET', `/apps/${app}`)).body;
        const healthy = v.containers.filter((c) => c.status === 'running' && c.health === 'healthy');
        if (v.replicas.desired !== REPLICAS || healthy.length !== REPLICAS || v.containers.length !== REPLICAS) return undefined;
        const inDocker = (await appContainers()).map((c) => c.Id).sort();
        return JSON.stringify(inDocker) === JSON.stringify(v.containers.map((c) => c.id).sort()) ? v : undefined;
      },
      90_000,
    );
    expect(converged.containers.map((c) => c.replica_index).sort()).toEqual([0, 1, 2]);
    expect((await appContainers()).every((c) => c.State === 'running')).toBe(true);

    expect(await second.stop('SIGTERM')).toBe(0);
  }, 240_000);
});
