/**
 * The prober against real HTTP and TCP servers on loopback (one per replica slot), with the
 * fake runtime saying where each replica listens, on PGlite and Postgres. The same path
 * against real containers is in health-prober-docker.test.ts.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { upsertHealthCheck } from '../../../db/queries/health-checks.js';
import { instances, metrics } from '../../../db/schema.js';
import { probeApp, run } from '../../../functions/jobs/health-prober.js';
import type { ReplicaHandle, StartReplicaRequest } from '../../../functions/runtime/types.js';
import { describeEachTarget } from '../../support/db.js';
import { FakeRuntime } from '../../support/fake-runtime.js';
import { eventsOf, jobDeps, ManualClock, startedApp } from './helpers.js';
import { liveSlots } from '../ops/helpers.js';

/** A fake runtime whose replica i is reached at ports[i]. */
class ServingRuntime extends FakeRuntime {
  constructor(
    private readonly ports: () => number[],
    clock: ManualClock,
  ) {
    super({ now: () => clock.now() });
  }
  private at(handle: ReplicaHandle): ReplicaHandle {
    return { ...handle, port: this.ports()[handle.replicaIndex] ?? handle.port };
  }
  override async start(req: StartReplicaRequest): Promise<ReplicaHandle> {
    return this.at(await super.start(req));
  }
  override async list(app: string): Promise<ReplicaHandle[]> {
    return (await super.list(app)).map((h) => this.at(h));
  }
}

interface Replica {
  server: Server;
  port: number;
  status: number;
  /** Never answer (for timeouts). */
  hang: boolean;
  requests: Array<{ method: string; url: string; headers: IncomingMessage['headers']; body: string }>;
}

async function startReplicaServer(): Promise<Replica> {
  const replica = { status: 200, hang: false, requests: [] } as unknown as Replica;
  replica.server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      replica.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      if (replica.hang) return;
      res.writeHead(replica.status, { 'content-type': 'text/plain' }).end('health');
    });
  });
  await new Promise<void>((resolve) => replica.server.listen(0, '127.0.0.1', resolve));
  replica.port = (replica.server.address() as AddressInfo).port;
  return replica;
}

describeEachTarget(
  'health prober job',
  (t) => {
    const replicas: Replica[] = [];
    beforeAll(async () => {
      for (let i = 0; i < 3; i++) replicas.push(await startReplicaServer());
    });
    afterAll(async () => {
      for (const r of replicas) {
        r.server.closeAllConnections();
        await new Promise((resolve) => r.server.close(resolve));
      }
    });
    const setup = () => {
      const clock = new ManualClock();
      const runtime = new ServingRuntime(() => replicas.map((r) => r.port), clock);
      return { ...jobDeps(t.db, { runtime, clock }), runtime };
    };
    const reset = () => {
      for (const r of replicas) Object.assign(r, { status: 200, hang: false, requests: [] });
    };

    it('marks replicas healthy, then one that fails its threshold unhealthy, out of routing, and replaced', async () => {
      reset();
      const { deps, runtime, clock } = setup();
      await startedApp(deps, 'probed', 2, { healthChecks: true });
      expect((await liveSlots(t.db, 'probed')).map((r) => r.healthStatus)).toEqual(['starting', 'starting']);

      const first = await run(deps, clock.now());
      expect(first.counts).toMatchObject({ probes: 2, probes_failed: 0, became_healthy: 2 });
      expect((await liveSlots(t.db, 'probed')).map((r) => r.healthStatus)).toEqual(['healthy', 'healthy']);
      const samples = await t.db.$primary
        .select()
        .from(metrics)
        .where(and(eq(metrics.appName, 'probed'), eq(metrics.metricType, 'response_time')));
      expect(samples).toHaveLength(2);
      expect(samples.every((s) => s.aggregationLevel === 'instance' && s.containerId !== null && s.value >= 0)).toBe(true);

      // Not due again before the period (2 s) has passed.
      clock.advance(0.5);
      expect((await run(deps, clock.now())).counts).toMatchObject({ probes: 0 });

      const [, failing] = await liveSlots(t.db, 'probed');
      replicas[1]!.status = 503;
      for (let i = 1; i <= 2; i++) {
        clock.advance(2);
        const tick = await run(deps, clock.now());
        expect(tick.counts).toMatchObject({ probes: 2, probes_failed: 1, became_unhealthy: 0 });
      }
      const [row] = await t.db.$primary.select().from(instances).where(eq(instances.id, failing!.id));
      expect(row).toMatchObject({ healthStatus: 'healthy', consecutiveFailures: 2 });

      clock.advance(2);
      const third = await run(deps, clock.now());
      expect(third.counts).toMatchObject({ became_unhealthy: 1, reconcile_failures: 0 });
      // Replaced in place: the old container stopped, a new one in the same slot.
      expect(runtime.stops.map((s) => s.id)).toContain(failing!.containerId);
      const slots = await liveSlots(t.db, 'probed');
      expect(slots).toHaveLength(2);
      expect(slots[1]!.containerId).not.toBe(failing!.containerId);
      expect(slots[1]).toMatchObject({ status: 'running', healthStatus: 'starting' });
      expect(runtime.routing.get('probed')?.has(failing!.containerId)).toBe(false);
      expect(runtime.calls.removeFromRouting).toBeGreaterThan(0);

      const health = (await eventsOf(t.db, 'probed')).filter((e) => e.eventType === 'health' && e.source === 'health-prober');
      const unhealthy = health.find((e) => e.severity === 'warning')!;
      expect(unhealthy.containerId).toBe(failing!.containerId);
      expect(unhealthy.message).toMatch(/unhealthy after 3 failed health checks.*answered 503/);
      expect(health.filter((e) => e.severity === 'info')).toHaveLength(2);
    });

    it('marks an unhealthy replica healthy again when it recovers (with an event)', async () => {
      reset();
      const { deps, clock } = setup();
      await startedApp(deps, 'recovers', 1, { healthChecks: true });
      // Health checks flip it to unhealthy here without the reconciler getting to it first.
      await upsertHealthCheck(t.db.$primary, 'recovers', { port: 8080, failureThreshold: 1, successThreshold: 2 });
      replicas[0]!.status = 500;
      const report = await probeApp(deps, 'recovers');
      expect(report.recorded).toBe(true);
      expect(report.replicas[0]).toMatchObject({ ok: false, statusCode: 500, health: 'unhealthy', changed: true });
      // probeApp replaced it: the new replica is probed to health in two successes.
      replicas[0]!.status = 200;
      clock.advance(2);
      const first = await probeApp(deps, 'recovers');
      expect(first.replicas[0]).toMatchObject({ ok: true, health: 'starting', changed: false });
      const second = await probeApp(deps, 'recovers');
      expect(second.replicas[0]).toMatchObject({ ok: true, health: 'healthy', changed: true, previousHealth: 'starting' });
    });

    it('sends the method, path, headers and body of the check and accepts its expected codes', async () => {
      reset();
      const { deps } = setup();
      await startedApp(deps, 'custom-check', 1, { healthChecks: true });
      await upsertHealthCheck(t.db.$primary, 'custom-check', {
        port: 8080,
        method: 'POST',
        path: '/ready?deep=1',
        headers: { 'x-probe': 'orchestry' },
        body: '{"ping":true}',
        expectedStatusCodes: [204, 202],
      });
      replicas[0]!.status = 202;
      const ok = await probeApp(deps, 'custom-check');
      expect(ok.replicas[0]).toMatchObject({ ok: true, statusCode: 202 });
      const seen = replicas[0]!.requests.at(-1)!;
      expect(seen).toMatchObject({ method: 'POST', url: '/ready?deep=1', body: '{"ping":true}' });
      expect(seen.headers['x-probe']).toBe('orchestry');
      replicas[0]!.status = 200;
      const unexpected = await probeApp(deps, 'custom-check');
      expect(unexpected.replicas[0]).toMatchObject({ ok: false, statusCode: 200 });
      expect(unexpected.replicas[0]!.error).toMatch(/answered 200; expected 204 or 202/);
    });

    it('fails a probe that gets no answer within the timeout', async () => {
      reset();
      const { deps } = setup();
      await startedApp(deps, 'hangs', 1, { healthChecks: true });
      await upsertHealthCheck(t.db.$primary, 'hangs', { port: 8080, timeoutSeconds: 1 });
      replicas[0]!.hang = true;
      const report = await probeApp(deps, 'hangs');
      expect(report.replicas[0]).toMatchObject({ ok: false, statusCode: null, responseTimeMs: null });
      expect(report.replicas[0]!.error).toMatch(/no answer within the 1s timeout/);
    });

    it('probes TCP checks by connecting', async () => {
      reset();
      const tcp = createTcpServer((socket) => socket.end());
      await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
      const port = (tcp.address() as AddressInfo).port;
      const clock = new ManualClock();
      const runtime = new ServingRuntime(() => [port], clock);
      const { deps } = jobDeps(t.db, { runtime, clock });
      await startedApp(deps, 'tcp-app', 1, { healthChecks: true });
      await upsertHealthCheck(t.db.$primary, 'tcp-app', { protocol: 'TCP', port: 8080, path: null, method: null, expectedStatusCodes: null });
      const up = await probeApp(deps, 'tcp-app');
      expect(up.replicas[0]).toMatchObject({ ok: true, statusCode: null });
      expect(up.replicas[0]!.responseTimeMs).toBeGreaterThanOrEqual(0);
      await new Promise((resolve) => tcp.close(resolve));
      const down = await probeApp(deps, 'tcp-app');
      expect(down.replicas[0]).toMatchObject({ ok: false });
      expect(down.replicas[0]!.error).toMatch(/connection failed \(ECONNREFUSED\)/);
    });

    it('reports without acting when the app has health checks disabled, and knows no unknown app', async () => {
      reset();
      const { deps, clock } = setup();
      await startedApp(deps, 'unchecked', 1, { healthChecks: false });
      replicas[0]!.status = 500;
      const report = await probeApp(deps, 'unchecked');
      expect(report).toMatchObject({ checksEnabled: false, recorded: false });
      expect(report.replicas[0]).toMatchObject({ ok: false, changed: false });
      const [row] = await liveSlots(t.db, 'unchecked');
      expect(row!.consecutiveFailures).toBe(0);
      // The scheduled prober does not probe it at all.
      const tick = await run(deps, clock.now());
      expect(tick.outcome).toBe('succeeded');
      await expect(probeApp(deps, 'nobody')).rejects.toMatchObject({ code: 'APP_NOT_FOUND' });
    });
  },
  { targets: ['pglite', 'pg'] },
);
