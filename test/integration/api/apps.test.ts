/**
 * The apps routes through app.request(), on PGlite and Postgres: register (JSON and YAML),
 * list with filters and totals, one app with replicas/metrics/containers, spec read-back and
 * replacement, start/scale with and without wait, stop, delete, logs.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { describeEachTarget } from '../../support/db.js';
import { expectErrorShape, makeHarness, specOf, yamlSpecOf, type Harness } from './harness.js';

describeEachTarget(
  'API apps',
  (t) => {
    let h: Harness;
    beforeAll(() => {
      h = makeHarness(t.db);
    });

    describe('register', () => {
      it('takes JSON and answers 201 with the documented shape', async () => {
        const answer = await h.call('POST', '/api/v1/apps/register', { body: specOf('reg-json') });
        expect(answer.status).toBe(201);
        expect(answer.body).toEqual({ message: "Application 'reg-json' registered", app_name: 'reg-json', status: 'registered', revision: 1 });
      });

      it.each(['application/yaml', 'application/x-yaml', 'text/yaml', 'application/yaml; charset=utf-8'])('takes YAML as %s', async (type) => {
        const name = `reg-yaml-${type.replace(/[^a-z]/g, '').slice(-8)}`;
        const answer = await h.call('POST', '/api/v1/apps/register', { body: yamlSpecOf(name), contentType: type });
        expect(answer.status).toBe(201);
        expect(answer.body.app_name).toBe(name);
        const spec = await h.call('GET', `/api/v1/apps/${name}/spec`);
        expect(spec.body.metadata).toEqual({ name });
        expect(spec.body.scaling).toEqual({ minReplicas: 1, maxReplicas: 4 });
      });

      it('answers 409 APP_ALREADY_EXISTS for a name taken', async () => {
        await h.call('POST', '/api/v1/apps/register', { body: specOf('reg-twice') });
        const again = await h.call('POST', '/api/v1/apps/register', { body: specOf('reg-twice', { image: 'registry.example.com/other:2' }) });
        expect(again.status).toBe(409);
        expectErrorShape(again, 'APP_ALREADY_EXISTS');
        expect((await h.call('GET', '/api/v1/apps/reg-twice/spec')).body.spec.image).toBe('registry.example.com/web:1.0.0');
      });

      it('answers 400 INVALID_SPEC naming each bad field', async () => {
        const bad = specOf('bad-spec') as any;
        bad.spec.ports = [{ containerPort: 70000 }];
        bad.scaling.minReplicas = -2;
        const answer = await h.call('POST', '/api/v1/apps/register', { body: bad });
        expect(answer.status).toBe(400);
        expectErrorShape(answer, 'INVALID_SPEC');
        const paths = answer.body.details.issues.map((i: { path: string }) => i.path);
        expect(paths).toEqual(expect.arrayContaining(['spec.ports[0].containerPort', 'scaling.minReplicas']));
      });
    });

    describe('read', () => {
      beforeAll(async () => {
        await h.call('POST', '/api/v1/apps/register', { body: specOf('list-a') });
        await h.call('POST', '/api/v1/apps/register', { body: specOf('list-b') });
        await h.call('POST', '/api/v1/apps/list-b/start', { body: { replicas: 2 } });
      });

      it('lists apps by name with totals by status', async () => {
        const answer = await h.call('GET', '/api/v1/apps');
        expect(answer.status).toBe(200);
        const names = answer.body.apps.map((a: { name: string }) => a.name);
        expect(names).toEqual([...names].sort());
        expect(names).toEqual(expect.arrayContaining(['list-a', 'list-b']));
        expect(answer.body.total).toBe(answer.body.apps.length);
        expect(answer.body.running).toBe(answer.body.by_status.running);
        const b = answer.body.apps.find((a: { name: string }) => a.name === 'list-b');
        expect(b).toMatchObject({ status: 'running', mode: 'auto', image: 'registry.example.com/web:1.0.0', replicas: { current: 2, desired: 2 } });
        expect(Date.parse(b.created_at)).not.toBeNaN();
      });

      it('filters by ?status= and keeps totals over every app', async () => {
        const all = await h.call('GET', '/api/v1/apps');
        const running = await h.call('GET', '/api/v1/apps?status=running');
        expect(running.body.apps.every((a: { status: string }) => a.status === 'running')).toBe(true);
        expect(running.body.apps.map((a: { name: string }) => a.name)).toContain('list-b');
        expect(running.body.total).toBe(all.body.total);
        const registered = await h.call('GET', '/api/v1/apps?status=registered');
        expect(registered.body.apps.map((a: { name: string }) => a.name)).toContain('list-a');
        expect(registered.body.apps.map((a: { name: string }) => a.name)).not.toContain('list-b');
      });

      it('shows one app with replicas {current, desired, healthy}, latest metrics and containers', async () => {
        await h.call('POST', '/api/v1/apps/list-b/metrics', {
          body: { samples: [{ metric_type: 'cpu_percent', value: 42 }, { metric_type: 'latency_p95', value: 120 }] },
        });
        const answer = await h.call('GET', '/api/v1/apps/list-b');
        expect(answer.status).toBe(200);
        expect(answer.body).toMatchObject({
          name: 'list-b',
          status: 'running',
          mode: 'auto',
          replicas: { current: 2, desired: 2, healthy: 2 },
          metrics: { cpu_percent: 42, latency_p95_ms: 120, rps: null, memory_percent: null, active_connections: null },
          health_checks_enabled: false,
        });
        expect(answer.body.containers).toHaveLength(2);
        for (const [index, container] of answer.body.containers.entries()) {
          expect(container).toMatchObject({ replica_index: index, status: 'running', ip: '127.0.0.1', revision: 1 });
          expect(typeof container.id).toBe('string');
          expect(['unknown', 'healthy', 'unhealthy', 'starting']).toContain(container.health);
          expect(Date.parse(container.started_at)).not.toBeNaN();
        }
        for (const field of ['created_at', 'updated_at', 'last_scaled_at']) expect(Date.parse(answer.body[field])).not.toBeNaN();
      });

      it('answers 404 APP_NOT_FOUND for an unknown app on every app route', async () => {
        for (const [method, path] of [
          ['GET', '/api/v1/apps/ghost'],
          ['GET', '/api/v1/apps/ghost/spec'],
          ['GET', '/api/v1/apps/ghost/events'],
          ['GET', '/api/v1/apps/ghost/metrics'],
          ['GET', '/api/v1/apps/ghost/logs'],
          ['GET', '/api/v1/apps/ghost/scaling'],
          ['GET', '/api/v1/apps/ghost/scaling/explain'],
          ['GET', '/api/v1/apps/ghost/health'],
          ['POST', '/api/v1/apps/ghost/health/check'],
          ['POST', '/api/v1/apps/ghost/start'],
          ['POST', '/api/v1/apps/ghost/stop'],
          ['DELETE', '/api/v1/apps/ghost'],
        ] as const) {
          const answer = await h.call(method, path);
          expect(answer.status, `${method} ${path}`).toBe(404);
          expectErrorShape(answer, 'APP_NOT_FOUND');
        }
        const scale = await h.call('POST', '/api/v1/apps/ghost/scale', { body: { replicas: 1 } });
        expectErrorShape(scale, 'APP_NOT_FOUND');
        const put = await h.call('PUT', '/api/v1/apps/ghost/spec', { body: specOf('ghost') });
        expectErrorShape(put, 'APP_NOT_FOUND');
        const metrics = await h.call('POST', '/api/v1/apps/ghost/metrics', { body: { samples: [{ metric_type: 'rps', value: 1 }] } });
        expectErrorShape(metrics, 'APP_NOT_FOUND');
        const policy = await h.call('PUT', '/api/v1/apps/ghost/scaling', { body: { max_replicas: 3 } });
        expectErrorShape(policy, 'APP_NOT_FOUND');
      });
    });

    describe('spec', () => {
      it('gives the spec back as registered and replaces it from YAML with a new revision', async () => {
        await h.call('POST', '/api/v1/apps/register', { body: specOf('spec-app') });
        const before = await h.call('GET', '/api/v1/apps/spec-app/spec');
        expect(before.body).toEqual(specOf('spec-app'));
        const put = await h.call('PUT', '/api/v1/apps/spec-app/spec', {
          body: yamlSpecOf('spec-app', 'registry.example.com/web:2.0.0'),
          contentType: 'application/yaml',
        });
        expect(put.status).toBe(200);
        expect(put.body).toMatchObject({ app_name: 'spec-app', revision: 2, rollout: false });
        expect(put.body.changes).toEqual(expect.arrayContaining(['spec.image']));
        const after = await h.call('GET', '/api/v1/apps/spec-app/spec');
        expect(after.body.spec.image).toBe('registry.example.com/web:2.0.0');
      });

      it('refuses a spec whose name is not the app of the URL', async () => {
        const answer = await h.call('PUT', '/api/v1/apps/spec-app/spec', { body: specOf('other-name') });
        expect(answer.status).toBe(400);
        expectErrorShape(answer, 'VALIDATION_ERROR');
        expect(answer.body.details.issues[0].path).toBe('metadata.name');
      });
    });

    describe('start, scale, stop, delete', () => {
      it('starts, scales and stops, answering previous and current replicas', async () => {
        await h.call('POST', '/api/v1/apps/register', { body: specOf('life') });
        const start = await h.call('POST', '/api/v1/apps/life/start', { body: { replicas: 2 } });
        expect(start.status).toBe(200);
        expect(start.body).toMatchObject({ app_name: 'life', previous_replicas: 0, current_replicas: 2 });
        expect(typeof start.body.message).toBe('string');
        expect(h.runtime.runningOf('life')).toHaveLength(2);

        const scale = await h.call('POST', '/api/v1/apps/life/scale', { body: { replicas: 3 } });
        expect(scale.body).toMatchObject({ app_name: 'life', previous_replicas: 2, current_replicas: 3 });
        expect(h.runtime.runningOf('life')).toHaveLength(3);

        const clamped = await h.call('POST', '/api/v1/apps/life/scale', { body: { replicas: 50 } });
        expect(clamped.body).toMatchObject({ current_replicas: 5, clamped: { min_replicas: 1, max_replicas: 5 } });

        const stop = await h.call('POST', '/api/v1/apps/life/stop', { body: { force: true, timeout: 5 } });
        expect(stop.status).toBe(200);
        expect(stop.body).toMatchObject({ app_name: 'life', previous_replicas: 5, current_replicas: 0, stopped: true, status: 'stopped' });
        expect(h.runtime.runningOf('life')).toHaveLength(0);
      });

      it('start with wait answers when every replica is running and healthy', async () => {
        await h.call('POST', '/api/v1/apps/register', { body: specOf('wait-ok') });
        const answer = await h.call('POST', '/api/v1/apps/wait-ok/start', { body: { replicas: 2, wait: true, timeout: 10 } });
        expect(answer.body).toMatchObject({ ready: true, timed_out: false, not_ready: [], status: 'running' });
      });

      it('start with wait says which replicas are not ready when the timeout passes', async () => {
        const spec = specOf('wait-slow', {
          healthCheck: { protocol: 'HTTP', path: '/health', initialDelaySeconds: 0, periodSeconds: 10, timeoutSeconds: 1 },
        });
        await h.call('POST', '/api/v1/apps/register', { body: spec });
        const answer = await h.call('POST', '/api/v1/apps/wait-slow/start', { body: { replicas: 2, wait: true, timeout: 1 } });
        expect(answer.status).toBe(200);
        expect(answer.body.ready).toBe(false);
        expect(answer.body.timed_out).toBe(true);
        expect(answer.body.not_ready.map((r: { replica_index: number }) => r.replica_index)).toEqual([0, 1]);
        expect(answer.body.message).toMatch(/2 replicas are not ready: replica 0 \(running, health (unknown|starting)\)/);
      });

      it('scale with wait polls until the new replicas are ready', async () => {
        await h.call('POST', '/api/v1/apps/register', { body: specOf('wait-scale') });
        await h.call('POST', '/api/v1/apps/wait-scale/start', { body: { replicas: 1 } });
        const answer = await h.call('POST', '/api/v1/apps/wait-scale/scale', { body: { replicas: 3, wait: true, timeout: 10 } });
        expect(answer.body).toMatchObject({ previous_replicas: 1, current_replicas: 3, ready: true, not_ready: [] });
      });

      it('refuses a timeout longer than the server allows', async () => {
        const tight = makeHarness(t.db, { config: { maxWaitSeconds: 5 } });
        const answer = await tight.call('POST', '/api/v1/apps/wait-ok/start', { body: { wait: true, timeout: 30 } });
        expect(answer.status).toBe(400);
        expect(answer.body.details.issues[0]).toMatchObject({ path: 'timeout' });
      });

      it('deletes an app with its replicas; a second delete is 404', async () => {
        await h.call('POST', '/api/v1/apps/register', { body: specOf('gone') });
        await h.call('POST', '/api/v1/apps/gone/start', { body: { replicas: 2 } });
        const answer = await h.call('DELETE', '/api/v1/apps/gone?force=true');
        expect(answer.status).toBe(200);
        expect(answer.body).toEqual({ message: "Application 'gone' deleted", app_name: 'gone', deleted: true });
        expect(h.runtime.containersOf('gone')).toHaveLength(0);
        expect((await h.call('GET', '/api/v1/apps/gone')).status).toBe(404);
        expect((await h.call('DELETE', '/api/v1/apps/gone')).status).toBe(404);
      });
    });

    describe('logs', () => {
      it('merges the replicas\' lines, or one replica\'s', async () => {
        await h.call('POST', '/api/v1/apps/register', { body: specOf('logs-app') });
        await h.call('POST', '/api/v1/apps/logs-app/start', { body: { replicas: 2 } });
        const all = await h.call('GET', '/api/v1/apps/logs-app/logs?tail=10');
        expect(all.status).toBe(200);
        expect(all.body.lines).toHaveLength(2);
        expect(all.body.lines[0]).toMatchObject({ stream: 'stdout', message: expect.stringContaining('started') });
        const one = await h.call('GET', '/api/v1/apps/logs-app/logs?container=1');
        expect(one.body.lines).toHaveLength(1);
        expect(one.body.lines[0].message).toContain('-r1-');
        const none = await h.call('GET', '/api/v1/apps/logs-app/logs?container=nope');
        expect(none.status).toBe(404);
        expectErrorShape(none, 'NOT_FOUND');
      });
    });
  },
  { targets: ['pglite', 'pg'] },
);
