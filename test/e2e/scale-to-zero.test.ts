/**
 * Scale to zero and back, for real: the dev server with the Docker runtime takes an idle app
 * with minReplicas 0 to zero; a burst of 50 concurrent requests at zero is held by the router
 * while the app wakes and every one is answered 200 by the replica, each forwarded once; the
 * app then returns to zero after its idle time (kedacore/http-add-on #854, #1492, #1692 and
 * keda #6987 are the failures this guards against).
 */
import Docker from 'dockerode';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createScratchDatabase } from '../support/db.js';
import { buildTestImage, describeDocker, removeContainersByLabel, TEST_IMAGE, uniqueTestApp } from '../support/docker.js';
import { allEvents, apiClient, scratchDir, spawnDev, waitFor, type DevProcess } from './support.js';

const app = uniqueTestApp('zero');
const BURST = 50;

const spec = {
  apiVersion: 'v1',
  kind: 'App',
  metadata: { name: app, labels: { 'orchestry.test': '1' } },
  spec: { image: TEST_IMAGE, ports: [{ containerPort: 8080 }], resources: { cpu: '250m', memory: '32Mi' } },
  scaling: { mode: 'auto', minReplicas: 0, maxReplicas: 1, windowSeconds: 10, scaleToZeroAfterSeconds: 10, maxP95LatencyMs: 60_000 },
  healthCheck: { path: '/health', initialDelaySeconds: 0, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 3, successThreshold: 1 },
  termination: { drainSeconds: 0, stopGraceSeconds: 2 },
};

describeDocker('dev server: scale to zero and wake on the first request', () => {
  let cwd: Awaited<ReturnType<typeof scratchDir>> | undefined;
  let database: { url: string; drop(): Promise<void> } | undefined;
  let dev: DevProcess | undefined;
  let api: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    await buildTestImage();
    cwd = await scratchDir('zero');
    database = await createScratchDatabase().catch(() => undefined);
    dev = await spawnDev({
      cwd: cwd.dir,
      env: {
        ...(database ? { DATABASE_URL: database.url } : {}),
        SCALER_PERIOD_SECONDS: '1',
        PROBER_PERIOD_SECONDS: '1',
        COLLECTOR_PERIOD_SECONDS: '2',
        RECONCILE_PERIOD_SECONDS: '1',
        ROUTER_METRICS_PERIOD_SECONDS: '1',
      },
    });
    api = apiClient(dev);
  }, 120_000);

  afterAll(async () => {
    const code = await dev?.stop('SIGTERM');
    if (code !== 0 && dev) console.error(`dev server exit code ${code}; output:\n${dev.output().slice(-20_000)}`);
    await removeContainersByLabel(`orchestry.app=${app}`);
    await database?.drop();
    await cwd?.remove();
  }, 90_000);

  const statusOf = async () => (await api<{ status: string; replicas: { desired: number } }>('GET', `/apps/${app}`)).body;
  const atZero = async () => {
    const view = await statusOf();
    return view.status === 'scaled_to_zero' && (await runningContainers()).length === 0 ? view : undefined;
  };
  const docker = new Docker();
  const runningContainers = () => docker.listContainers({ filters: { label: [`orchestry.app=${app}`] } });

  it('goes to zero when idle, answers a burst of 50 at zero with 200s each sent once, and goes back to zero', async () => {
    const registered = await api('POST', '/apps/register', stringify(spec), 'yaml');
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);
    const started = await api('POST', `/apps/${app}/start`, { wait: true, timeout: 60 });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const routerUrl = (path: string) => `http://127.0.0.1:${dev!.routerPort}/${app}${path}`;
    // One request gives the router's meter the app, so idleness is measured from here on.
    expect((await fetch(routerUrl('/cgi-bin/echo'))).status).toBe(200);

    await waitFor('the app scaled to zero', atZero, 120_000);

    const replies = await Promise.all(
      Array.from({ length: BURST }, async (_, i) => {
        const response = await fetch(routerUrl(`/cgi-bin/echo/k${i}x`), { signal: AbortSignal.timeout(60_000) });
        return { status: response.status, body: (await response.text()).trim() };
      }),
    );
    expect(replies.map((r) => r.status)).toEqual(Array.from({ length: BURST }, () => 200));
    const [container] = await runningContainers();
    expect(container, 'the replica that answered').toBeDefined();
    expect(new Set(replies.map((r) => r.body))).toEqual(new Set([container!.Id.slice(0, 12)]));
    // busybox httpd -vv logs each request path once (not its query): every token exactly once means none was sent twice.
    const logs = (await docker.getContainer(container!.Id).logs({ stdout: true, stderr: true })).toString('utf8');
    const counts = Array.from({ length: BURST }, (_, i) => logs.split(`/cgi-bin/echo/k${i}x\n`).length - 1);
    expect(counts).toEqual(Array.from({ length: BURST }, () => 1));

    const events = await allEvents(api, app);
    const wakes = events.filter((e) => e.type === 'scaling' && (e.details as { reason?: string } | null)?.reason === 'activated');
    expect(wakes).toHaveLength(1);
    const toZero = events.filter((e) => e.type === 'scaling' && (e.details as { reason?: string } | null)?.reason === 'idle_to_zero');
    expect(toZero.length).toBeGreaterThanOrEqual(1);

    await waitFor('the app back at zero after its idle time', atZero, 120_000);
  }, 360_000);
});
