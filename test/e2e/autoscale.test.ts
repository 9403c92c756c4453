/**
 * The whole loop, for real: the dev server (`tsx functions/dev.ts`) with the Docker runtime,
 * the test image, load through the local router, the router's metrics in the database, the
 * scaler scaling out and back in, the prober replacing a replica whose health fails, and the
 * events trail telling that story in order.
 */
import autocannon from 'autocannon';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { createScratchDatabase } from '../support/db.js';
import { buildTestImage, describeDocker, removeContainersByLabel, TEST_IMAGE, uniqueTestApp } from '../support/docker.js';
import { allEvents, apiClient, scratchDir, spawnDev, waitFor, type AppEvent, type DevProcess } from './support.js';

const app = uniqueTestApp('autoscale');
const MAX_REPLICAS = 3;

const spec = {
  apiVersion: 'v1',
  kind: 'App',
  metadata: { name: app, labels: { 'orchestry.test': '1' } },
  spec: { image: TEST_IMAGE, ports: [{ containerPort: 8080 }], resources: { cpu: '250m', memory: '32Mi' } },
  scaling: {
    mode: 'auto',
    minReplicas: 1,
    maxReplicas: MAX_REPLICAS,
    // A handful of requests per second is "a lot" here, so a small bounded load scales it.
    targetRPSPerReplica: 5,
    // Busybox CGI on a shared machine is slow; latency is not what this test scales on.
    maxP95LatencyMs: 5000,
    scaleOutThresholdPct: 80,
    scaleInThresholdPct: 30,
    windowSeconds: 10,
    stabilizationWindowSeconds: 20,
    cooldownSeconds: 5,
    maxScaleInStep: MAX_REPLICAS,
  },
  healthCheck: { path: '/health', initialDelaySeconds: 0, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 2, successThreshold: 1 },
  termination: { drainSeconds: 1, stopGraceSeconds: 2 },
};

interface AppView {
  status: string;
  replicas: { current: number; desired: number; healthy: number };
  containers: Array<{ id: string; name: string; replica_index: number; ip: string; port: number; status: string; health: string }>;
}

describeDocker('dev server: autoscaling with real containers and real load', () => {
  let cwd: Awaited<ReturnType<typeof scratchDir>> | undefined;
  let database: { url: string; drop(): Promise<void> } | undefined;
  let dev: DevProcess | undefined;
  let api: ReturnType<typeof apiClient>;

  beforeAll(async () => {
    await buildTestImage();
    cwd = await scratchDir('autoscale');
    // Its own Postgres database when the test server answers (as in CI), else PGlite in cwd.
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

  const view = async () => {
    const answer = await api<AppView>('GET', `/apps/${app}`);
    if (answer.status !== 200) throw new Error(`GET /apps/${app} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    return answer.body;
  };
  const healthyWith = (count: number) => async () => {
    const v = await view();
    const ready = v.containers.filter((c) => c.status === 'running' && c.health === 'healthy');
    return v.replicas.desired === count && ready.length === count && v.containers.length === count ? v : undefined;
  };

  it('registers, starts, scales out under load and spreads it, scales in, replaces a failed replica, stops and deletes', async () => {
    const registered = await api('POST', '/apps/register', stringify(spec), 'yaml');
    expect(registered.status, JSON.stringify(registered.body)).toBe(201);

    const started = await api('POST', `/apps/${app}/start`, { replicas: 1, wait: true, timeout: 60 });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const one = await waitFor('one healthy replica', healthyWith(1), 60_000);
    const firstContainer = one.containers[0]!;

    // The router answers for the app, from the one replica.
    const routerUrl = `http://127.0.0.1:${dev!.routerPort}/${app}/cgi-bin/echo`;
    const single = await fetch(routerUrl);
    expect(single.status).toBe(200);
    expect(firstContainer.id.startsWith((await single.text()).trim())).toBe(true);

    // Load through the router, bounded in count and in time; each answer names its replica.
    const answeredBy = new Map<string, number>();
    const loadStartedAt = Date.now();
    let finishLoad!: (outcome: { error: unknown; result: autocannon.Result }) => void;
    const loadDone = new Promise<{ error: unknown; result: autocannon.Result }>((resolve) => (finishLoad = resolve));
    const load = autocannon(
      {
        url: `http://127.0.0.1:${dev!.routerPort}`,
        connections: 4,
        amount: 20_000,
        duration: 60,
        requests: [
          {
            method: 'GET',
            path: `/${app}/cgi-bin/echo`,
            onResponse: (status: number, body: string) => {
              if (status === 200) answeredBy.set(body.trim(), (answeredBy.get(body.trim()) ?? 0) + 1);
            },
          },
        ],
      },
      (error, result) => finishLoad({ error, result }),
    );
    // `amount` makes autocannon ignore `duration`: this enforces it.
    const loadTimer = setTimeout(() => load.stop(), 60_000);
    let scaledOut: AppView;
    let loadResult: autocannon.Result;
    try {
      scaledOut = await waitFor(`${MAX_REPLICAS} healthy replicas under load`, healthyWith(MAX_REPLICAS), 50_000, 1000);
      // Every replica takes a share: the router spreads the load to the new ones.
      const shortIds = scaledOut.containers.map((c) => c.id.slice(0, 12));
      const countsAfter = new Map(answeredBy);
      await waitFor(
        'every replica to answer load through the router',
        async () => (shortIds.every((id) => (answeredBy.get(id) ?? 0) > (countsAfter.get(id) ?? 0) + 5) ? true : undefined),
        20_000,
      );
    } finally {
      clearTimeout(loadTimer);
      load.stop();
      const outcome = await loadDone;
      if (outcome.error) throw outcome.error;
      loadResult = outcome.result;
    }
    expect(Date.now() - loadStartedAt).toBeLessThan(75_000);
    expect(loadResult.non2xx, 'every request through the router succeeded while it scaled').toBe(0);
    expect(loadResult.errors).toBe(0);
    for (const c of scaledOut.containers) expect(answeredBy.get(c.id.slice(0, 12)) ?? 0).toBeGreaterThan(0);

    // The router's measurements reached the database as app-level metrics.
    const metrics = await api<{ current: Record<string, { value: number; container_id: string | null }> }>('GET', `/apps/${app}/metrics`);
    expect(metrics.status).toBe(200);
    for (const type of ['rps', 'latency_p50', 'latency_p95', 'latency_p99', 'active_connections', 'error_rate']) {
      expect(metrics.body.current[type], `${type} in ${JSON.stringify(metrics.body.current)}`).toBeDefined();
      expect(metrics.body.current[type]!.container_id).toBeNull();
    }

    // No load: after the window empties and the stabilization window passes, it scales in.
    const scaledIn = await waitFor('scale-in to one replica after the load', healthyWith(1), 90_000, 1000);

    // One replica's health fails (asked directly, on its own published port): it is replaced.
    const victim = scaledIn.containers[0]!;
    const failed = await fetch(`http://127.0.0.1:${victim.port}/cgi-bin/fail`);
    expect(failed.status).toBe(200);
    const replaced = await waitFor(
      'the unhealthy replica to be replaced by a healthy one',
      async () => {
        const v = await healthyWith(1)();
        return v && v.containers[0]!.id !== victim.id ? v : undefined;
      },
      60_000,
    );
    expect(replaced.containers[0]!.replica_index).toBe(victim.replica_index);
    expect(await (await fetch(routerUrl)).text()).toContain(replaced.containers[0]!.id.slice(0, 12));

    const stopped = await api('POST', `/apps/${app}/stop`, { timeout: 60 });
    expect(stopped.status, JSON.stringify(stopped.body)).toBe(200);
    await waitFor(
      'the app to be stopped with no replicas',
      async () => {
        const v = await view();
        return v.status === 'stopped' && v.containers.length === 0 ? v : undefined;
      },
      60_000,
    );

    // The events trail, oldest first, tells the story in order.
    const events = await allEvents(api, app);
    const trail = events.map((e) => `${e.type}: ${e.message}`);
    const firstIndex = (what: string, test: (e: AppEvent) => boolean, from = 0) => {
      const index = events.findIndex((e, i) => i >= from && test(e));
      expect(index, `${what} in the events trail after #${from}:\n${trail.join('\n')}`).toBeGreaterThanOrEqual(0);
      return index;
    };
    const detail = (e: AppEvent, field: string) => (e.details as Record<string, unknown> | null)?.[field];
    const scaled = (e: AppEvent) => e.type === 'scaling' && detail(e, 'applied') === true;
    const registration = firstIndex('the registration', (e) => e.type === 'registration');
    const out = firstIndex('a scale-out', (e) => scaled(e) && Number(detail(e, 'to')) > Number(detail(e, 'from')), registration);
    // Driven by the router's requests per second, as measured through it.
    const outInputs = (detail(events[out]!, 'decision') as { inputs: Record<string, { utilization: number | null }> }).inputs;
    expect(outInputs.rps!.utilization, JSON.stringify(outInputs)).toBeGreaterThan(spec.scaling.scaleOutThresholdPct / 100);
    const scaleIn = firstIndex('a scale-in', (e) => scaled(e) && Number(detail(e, 'to')) < Number(detail(e, 'from')), out);
    const unhealthy = firstIndex('the failed health', (e) => e.type === 'health' && e.container_id === victim.id && /unhealthy/.test(e.message), scaleIn);
    const replacement = firstIndex('the replacement running', (e) => e.container_id === replaced.containers[0]!.id, unhealthy);
    firstIndex('the app stopped', (e) => detail(e, 'to') === 'stopped', replacement);

    const deleted = await api('DELETE', `/apps/${app}`);
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);
    expect((await api('GET', `/apps/${app}`)).status).toBe(404);
    // Nothing of the app is left in Docker.
    expect(await removeContainersByLabel(`orchestry.app=${app}`)).toBe(0);
  }, 300_000);
});
