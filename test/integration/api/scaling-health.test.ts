/**
 * Scaling policy (read, partial update with a config event), the decision explained without
 * acting, per-replica health and probing on demand (against a real HTTP server on loopback),
 * GET /health, /jobs and /config, on PGlite and Postgres.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplicaHandle, StartReplicaRequest } from '../../../functions/runtime/types.js';
import { describeEachTarget } from '../../support/db.js';
import { FakeRuntime } from '../../support/fake-runtime.js';
import { ADMIN_TOKEN, expectErrorShape, makeHarness, snapshot, specOf, type Harness } from './harness.js';

/** Replicas reached at one HTTP server on loopback. */
class ServingRuntime extends FakeRuntime {
  constructor(private readonly port: () => number) {
    super();
  }
  override async start(req: StartReplicaRequest): Promise<ReplicaHandle> {
    return { ...(await super.start(req)), port: this.port() };
  }
  override async list(app: string): Promise<ReplicaHandle[]> {
    return (await super.list(app)).map((r) => ({ ...r, port: this.port() }));
  }
}

describeEachTarget(
  'API scaling and health',
  (t) => {
    let h: Harness;
    let server: Server;
    let status = 200;
    beforeAll(async () => {
      server = createServer((_req, res) => res.writeHead(status).end('ok'));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const port = (server.address() as AddressInfo).port;
      h = makeHarness(t.db, { runtime: new ServingRuntime(() => port) });
      await h.call('POST', '/api/v1/apps/register', { body: specOf('sc-app', { scaling: { minReplicas: 1, maxReplicas: 6 }, drainSeconds: 0 }) });
      await h.call('POST', '/api/v1/apps/sc-app/start', { body: { replicas: 4 } });
    });
    afterAll(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    describe('scaling policy', () => {
      it('shows the mode, every policy field and the last decision', async () => {
        const answer = await h.call('GET', '/api/v1/apps/sc-app/scaling');
        expect(answer.status).toBe(200);
        expect(answer.body).toMatchObject({ app_name: 'sc-app', mode: 'auto', last_decision: null });
        expect(answer.body.policy).toMatchObject({ min_replicas: 1, max_replicas: 6, scale_out_threshold_pct: 80, latency_weight: 1.5 });
        expect(Object.keys(answer.body.policy)).toHaveLength(20);
      });

      it('takes a subset of fields, records old and new values, and moves the desired count into new bounds', async () => {
        const answer = await h.call('PUT', '/api/v1/apps/sc-app/scaling', { body: { max_replicas: 3, cooldown_seconds: 60 } });
        expect(answer.status).toBe(200);
        expect(answer.body.changes).toEqual({ max_replicas: { old: 6, new: 3 }, cooldown_seconds: { old: 180, new: 60 } });
        expect(answer.body).toMatchObject({ mode: 'auto', desired_replicas: 3, runtime_errors: [] });
        expect(answer.body.policy).toMatchObject({ max_replicas: 3, cooldown_seconds: 60, min_replicas: 1 });
        const events = await h.call('GET', '/api/v1/apps/sc-app/events?type=config&limit=1');
        expect(events.body.events[0].details).toEqual({ changes: answer.body.changes });
        expect((await h.call('GET', '/api/v1/apps/sc-app')).body.replicas.desired).toBe(3);
      });

      it('writes the update into the stored spec, so a spec fetched and PUT back keeps it', async () => {
        const spec = await h.call('GET', '/api/v1/apps/sc-app/spec');
        expect(spec.body.scaling).toMatchObject({ minReplicas: 1, maxReplicas: 3, cooldownSeconds: 60 });
        // Fields left to their defaults stay out of the document.
        expect(spec.body.scaling).not.toHaveProperty('latencyWeight');
        expect(spec.body.spec).toEqual(specOf('sc-app', { scaling: { minReplicas: 1, maxReplicas: 6 }, drainSeconds: 0 }).spec);
        const revision = (await h.call('GET', '/api/v1/apps/sc-app')).body;
        const back = await h.call('PUT', '/api/v1/apps/sc-app/spec', { body: spec.body });
        expect(back.status).toBe(200);
        const policy = await h.call('GET', '/api/v1/apps/sc-app/scaling');
        expect(policy.body.policy).toMatchObject({ max_replicas: 3, cooldown_seconds: 60 });
        expect((await h.call('GET', '/api/v1/apps/sc-app')).body.replicas.desired).toBe(revision.replicas.desired);
      });

      it('switches mode and changes nothing when nothing changes', async () => {
        const manual = await h.call('PUT', '/api/v1/apps/sc-app/scaling', { body: { mode: 'manual' } });
        expect(manual.body.changes).toEqual({ mode: { old: 'auto', new: 'manual' } });
        const before = await snapshot(t.db);
        const same = await h.call('PUT', '/api/v1/apps/sc-app/scaling', { body: { mode: 'manual', max_replicas: 3 } });
        expect(same.status).toBe(200);
        expect(same.body.changes).toEqual({});
        expect(await snapshot(t.db)).toEqual(before);
        await h.call('PUT', '/api/v1/apps/sc-app/scaling', { body: { mode: 'auto' } });
      });

      it('refuses a policy breaking a rule, naming the fields', async () => {
        const before = await snapshot(t.db);
        const answer = await h.call('PUT', '/api/v1/apps/sc-app/scaling', { body: { min_replicas: 5, scale_in_threshold_pct: 90 } });
        expect(answer.status).toBe(400);
        expectErrorShape(answer, 'VALIDATION_ERROR');
        expect(answer.body.details.issues.map((i: { path: string }) => i.path).sort()).toEqual(['min_replicas', 'scale_in_threshold_pct']);
        expect(await snapshot(t.db)).toEqual(before);
      });
    });

    describe('explain', () => {
      it('runs the decision on current inputs without writing anything', async () => {
        await h.call('POST', '/api/v1/apps/sc-app/metrics', {
          body: { samples: [{ metric_type: 'cpu_percent', value: 95 }, { metric_type: 'cpu_percent', value: 90 }] },
        });
        const before = await snapshot(t.db);
        const answer = await h.call('GET', '/api/v1/apps/sc-app/scaling/explain');
        expect(answer.status).toBe(200);
        expect(answer.body).toMatchObject({ app_name: 'sc-app', mode: 'auto', status: 'running', evaluated_by_scaler: true, note: null });
        const decision = answer.body.decision;
        expect(decision).toMatchObject({ current_replicas: 3, desired_replicas: 3, reason: 'at_max' });
        expect(decision.inputs.cpu_percent).toMatchObject({ target: 70, stale: false, ignored: false });
        expect(decision.inputs.cpu_percent.observed).toBeGreaterThanOrEqual(90);
        expect(decision.inputs.rps).toMatchObject({ ignored: true });
        expect(typeof decision.message).toBe('string');
        expect(await snapshot(t.db)).toEqual(before);
      });

      it('says when the scaler leaves the app alone', async () => {
        await h.call('POST', '/api/v1/apps/register', { body: specOf('sc-idle') });
        const answer = await h.call('GET', '/api/v1/apps/sc-idle/scaling/explain');
        expect(answer.body.evaluated_by_scaler).toBe(false);
        expect(answer.body.note).toMatch(/registered/);
      });
    });

    describe('replica health', () => {
      it('lists each replica\'s health and the health check', async () => {
        const answer = await h.call('GET', '/api/v1/apps/sc-app/health');
        expect(answer.status).toBe(200);
        expect(answer.body.health_check).toMatchObject({ enabled: false, port: 8080 });
        expect(answer.body.replicas).toHaveLength(3);
        expect(answer.body.replicas[0]).toMatchObject({ replica_index: 0, status: 'running', consecutive_failures: 0 });
        expect(Object.values(answer.body.summary).reduce((a, b) => (a as number) + (b as number), 0)).toBe(3);
      });

      it('probes every running replica now and records the result', async () => {
        await h.call('POST', '/api/v1/apps/register', {
          body: specOf('probe-app', { healthCheck: { path: '/healthz', initialDelaySeconds: 0, periodSeconds: 30, timeoutSeconds: 2 } }),
        });
        await h.call('POST', '/api/v1/apps/probe-app/start', { body: { replicas: 2 } });
        status = 200;
        const ok = await h.call('POST', '/api/v1/apps/probe-app/health/check');
        expect(ok.status).toBe(200);
        expect(ok.body).toMatchObject({ app_name: 'probe-app', checks_enabled: true, recorded: true });
        expect(ok.body.replicas).toHaveLength(2);
        expect(ok.body.replicas[0]).toMatchObject({ ok: true, status_code: 200, health: 'healthy' });
        status = 500;
        const failing = await h.call('POST', '/api/v1/apps/probe-app/health/check');
        expect(failing.body.replicas[0]).toMatchObject({ ok: false, status_code: 500, health: 'healthy' });
        const health = await h.call('GET', '/api/v1/apps/probe-app/health');
        expect(health.body.replicas[0]).toMatchObject({ consecutive_failures: 1, failure_count: 1 });
        status = 200;
      });
    });

    describe('system', () => {
      it('GET /health answers database, runtime, jobs and app counts', async () => {
        const answer = await h.call('GET', '/health', { key: null });
        expect(answer.status).toBe(200);
        expect(answer.body).toMatchObject({ status: 'healthy', failing: [] });
        expect(answer.body.database.primary.ok).toBe(true);
        expect(answer.body.database.primary.response_ms).toBeGreaterThanOrEqual(0);
        expect(answer.body.database.replica.configured).toBe(false);
        expect(answer.body.runtime).toMatchObject({ ok: true, kind: 'fake' });
        expect(answer.body.jobs.map((j: { job: string }) => j.job)).toEqual(['scaler', 'health-prober', 'metric-collector', 'metric-rollup', 'cleanup']);
        expect(answer.body.apps.total).toBeGreaterThanOrEqual(3);
        expect(answer.body.apps.by_status.running).toBeGreaterThanOrEqual(1);
      });

      it('GET /jobs lists each job with its period and state', async () => {
        const answer = await h.call('GET', '/api/v1/jobs');
        expect(answer.status).toBe(200);
        expect(answer.body.jobs.find((j: { job: string }) => j.job === 'scaler')).toMatchObject({ period_seconds: 10, state: 'never', last_run: null });
      });

      it('GET /config shows the settings and never the admin token', async () => {
        const answer = await h.call('GET', '/api/v1/config');
        expect(answer.status).toBe(200);
        expect(answer.body).toMatchObject({ rate_limit_per_minute: 600, max_body_bytes: 262144, admin_token: '[redacted]' });
        expect(answer.body.jobs.scaler_period_seconds).toBe(10);
        expect(answer.text).not.toContain(ADMIN_TOKEN);
      });
    });
  },
  { targets: ['pglite', 'pg'] },
);
