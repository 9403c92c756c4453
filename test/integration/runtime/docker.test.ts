import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrchestryError } from '../../../functions/core/errors.js';
import { parseSpec, toContainerTemplate } from '../../../functions/core/spec.js';
import { DockerRuntime, resolveLocalSecret, secretEnvVar } from '../../../functions/runtime/docker.js';
import { LABELS, parseReplicaName, replicaName } from '../../../functions/runtime/names.js';
import type { ContainerTemplate, ReplicaHandle, StartReplicaRequest } from '../../../functions/runtime/types.js';
import { buildTestImage, describeDocker, removeContainersByLabel, TEST_IMAGE, TEST_LABELS, uniqueTestApp } from '../../support/docker.js';

const MiB = 1024 * 1024;

function template(overrides: Partial<ContainerTemplate> = {}): ContainerTemplate {
  return {
    image: TEST_IMAGE,
    containerPort: 8080,
    cpuMillis: 500,
    memoryBytes: 64 * MiB,
    env: { GREETING: 'hello' },
    secrets: [],
    labels: { ...TEST_LABELS, team: 'runtime-tests' },
    stopGraceSeconds: 2,
    ...overrides,
  };
}

async function get(handle: ReplicaHandle, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://${handle.ip}:${handle.port}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: await response.text() };
}

/** Polls `probe` until it returns a value, failing with the last problem seen once `ms` have passed. */
async function eventually<T>(what: string, ms: number, probe: () => Promise<T | undefined | null | false>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown = 'no answer yet';
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = `got ${JSON.stringify(value)}`;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms: ${String(last)}`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

async function rejection(promise: Promise<unknown>): Promise<OrchestryError> {
  const error = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OrchestryError);
  return error as OrchestryError;
}

interface EngineEvent {
  Action: string;
  timeNano: number;
  Actor: { Attributes: Record<string, string> };
}

async function containerEvents(docker: Docker, id: string, sinceMs: number): Promise<EngineEvent[]> {
  const stream = await docker.getEvents({
    since: Math.floor(sinceMs / 1000) - 1,
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { container: [id] },
  } as Parameters<Docker['getEvents']>[0]);
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer>) text += chunk.toString();
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as EngineEvent);
}

describe('local secrets', () => {
  it('maps a ref to its environment variable', () => {
    expect(secretEnvVar('user-api/db')).toBe('ORCHESTRY_SECRET_USER_API_DB');
  });

  it('prefers the environment, then reads the file, and names both when neither has it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'orchestry-secrets-'));
    try {
      await mkdir(join(dir, 'team'), { recursive: true });
      await writeFile(join(dir, 'team', 'db'), 'from-file\n');
      expect(await resolveLocalSecret('team/db', { env: {}, dir })).toBe('from-file');
      expect(await resolveLocalSecret('team/db', { env: { ORCHESTRY_SECRET_TEAM_DB: 'from-env' }, dir })).toBe('from-env');
      const missing = await rejection(resolveLocalSecret('team/api-key', { env: {}, dir }));
      expect(missing.code).toBe('RUNTIME_ERROR');
      expect(missing.message).toContain('ORCHESTRY_SECRET_TEAM_API_KEY');
      expect(missing.message).toContain("'team/api-key'");
      expect(missing.message).toContain(join(dir, 'team', 'api-key'));
      const escaping = await rejection(resolveLocalSecret('../etc/passwd', { env: {}, dir }));
      expect(escaping.message).toContain('ORCHESTRY_SECRET____ETC_PASSWD');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('replica names', () => {
  it('are deterministic and parse back', () => {
    expect(replicaName('user-api', 3, 7)).toBe('orchestry-user-api-r3-v7');
    expect(parseReplicaName('/orchestry-user-api-r3-v7')).toEqual({ app: 'user-api', replicaIndex: 3, revision: 7 });
    expect(parseReplicaName('something-else')).toBeNull();
    expect(() => replicaName('User_API', 0, 1)).toThrow(/app 'User_API' must be a DNS label/);
    expect(() => replicaName('ok', -1, 0)).toThrow(/replicaIndex -1.*revision 0/);
  });
});

describeDocker('DockerRuntime against the real engine', () => {
  const docker = new Docker();
  const app = uniqueTestApp('rt');
  const network = `orchestry-test-${app}`;
  const runtime = new DockerRuntime({ docker, network });
  const request = (replicaIndex: number, overrides: Partial<ContainerTemplate> = {}): StartReplicaRequest => ({
    app,
    revision: 1,
    replicaIndex,
    template: template(overrides),
  });
  let replicas: ReplicaHandle[] = [];

  beforeAll(async () => {
    await buildTestImage(TEST_IMAGE, docker);
  });

  afterAll(async () => {
    await removeContainersByLabel(`${LABELS.app}=${app}`, docker);
    const leftovers = await docker.listNetworks({ filters: { name: [network] } });
    await Promise.all(leftovers.filter((n) => n.Name === network).map((n) => docker.getNetwork(n.Id).remove()));
  });

  it('creates its network once, even when asked twice at once', async () => {
    await Promise.all([runtime.ensureApp(app), runtime.ensureApp(app)]);
    const networks = (await docker.listNetworks({ filters: { name: [network] } })).filter((n) => n.Name === network);
    expect(networks).toHaveLength(1);
    expect(networks[0]!.Driver).toBe('bridge');
    expect(networks[0]!.Labels).toMatchObject({ [LABELS.managed]: 'true' });
  });

  it('starts three replicas that each answer on their own loopback port', async () => {
    replicas = await Promise.all([0, 1, 2].map((index) => runtime.start(request(index))));
    expect(new Set(replicas.map((r) => r.port)).size).toBe(3);
    for (const [index, replica] of replicas.entries()) {
      expect(replica).toMatchObject({ app, replicaIndex: index, revision: 1, ip: '127.0.0.1', state: 'running', name: replicaName(app, index, 1) });
      expect(replica.port).toBeGreaterThan(0);
      expect(replica.startedAt).toBeInstanceOf(Date);
      const health = await eventually(`replica ${index} /health`, 10_000, () => get(replica, '/health'));
      expect(health).toEqual({ status: 200, body: 'ok\n' });
      const echo = await get(replica, '/cgi-bin/echo');
      expect(echo.body.trim()).toBe(replica.id.slice(0, 12));
    }
  });

  it('labels, limits, network, port binding and restart policy are what the template asked for', async () => {
    const info = await docker.getContainer(replicas[1]!.id).inspect();
    expect(info.Name).toBe(`/orchestry-${app}-r1-v1`);
    expect(info.Config.Labels).toMatchObject({
      [LABELS.app]: app,
      [LABELS.replica]: '1',
      [LABELS.revision]: '1',
      [LABELS.managed]: 'true',
      'orchestry.test': '1',
      team: 'runtime-tests',
    });
    expect(info.Config.Env).toContain('GREETING=hello');
    expect(info.HostConfig.NanoCpus).toBe(500_000_000);
    expect(info.HostConfig.Memory).toBe(64 * MiB);
    expect(info.HostConfig.RestartPolicy?.Name).toBe('no');
    expect(info.HostConfig.PortBindings).toEqual({ '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }] });
    expect(Object.keys(info.NetworkSettings.Networks)).toEqual([network]);
  });

  it('a second start of the same replica returns the same container', async () => {
    const again = await runtime.start(request(0));
    expect(again.id).toBe(replicas[0]!.id);
    expect(again.port).toBe(replicas[0]!.port);
  });

  it('two concurrent starts of a new replica end with one container', async () => {
    const [a, b] = await Promise.all([runtime.start(request(5)), runtime.start(request(5))]);
    expect(a.id).toBe(b.id);
    const named = await docker.listContainers({ all: true, filters: { name: [`^/${replicaName(app, 5, 1)}$`] } });
    expect(named.map((c) => c.Id)).toEqual([a.id]);
    await runtime.stop(a, { graceSeconds: 5 });
  });

  it('lists every replica of the app, stopped ones too, and a start revives a stopped one', async () => {
    await docker.getContainer(replicas[2]!.id).stop({ t: 5 });
    const listed = await runtime.list(app);
    expect(listed.map((r) => [r.replicaIndex, r.state])).toEqual([
      [0, 'running'],
      [1, 'running'],
      [2, 'stopped'],
    ]);
    expect(listed[0]).toMatchObject({ id: replicas[0]!.id, port: replicas[0]!.port, ip: '127.0.0.1' });
    expect(await runtime.list('no-such-app-here')).toEqual([]);

    const revived = await runtime.start(request(2));
    expect(revived.id).toBe(replicas[2]!.id);
    expect(revived.state).toBe('running');
    replicas[2] = revived;
    expect(await eventually('revived replica /health', 10_000, () => get(revived, '/health'))).toMatchObject({ status: 200 });
  });

  it('reports CPU against the replica’s own limit and sees it rise under load', async () => {
    const idle = await runtime.stats(replicas[0]!);
    expect(idle).not.toBeNull();
    expect(idle!.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(idle!.memoryBytes).toBeGreaterThan(0);
    expect(idle!.memoryBytes).toBeLessThan(64 * MiB);
    expect(idle!.memoryPercent).toBeGreaterThan(0);
    expect(idle!.memoryPercent).toBeLessThan(100);
    expect(idle!.at).toBeInstanceOf(Date);

    // A 100m limit is saturated by one busy shell even when other work shares the host's cores.
    const small = await runtime.start(request(6, { cpuMillis: 100 }));
    await eventually('replica 6 /health', 10_000, () => get(small, '/health'));
    const load = new AbortController();
    const burning = fetch(`http://127.0.0.1:${small.port}/cgi-bin/burn?seconds=30`, { signal: load.signal }).catch(() => undefined);
    try {
      const busy = await eventually('cpu percent of the limit above 50', 30_000, async () => {
        const stats = await runtime.stats(small);
        return stats && stats.cpuPercent > 50 ? stats : null;
      });
      // The engine caps the replica at its limit (a sample may overshoot it a little).
      expect(busy.cpuPercent).toBeLessThan(150);
    } finally {
      load.abort();
      await burning;
      await runtime.stop(small, { graceSeconds: 1 });
    }
  });

  it('returns httpd output as demultiplexed log lines, honouring tail and since', async () => {
    await get(replicas[1]!, '/health');
    const lines = await eventually('a logged request for /health', 10_000, async () => {
      const all = await runtime.logs(replicas[1]!, {});
      return all.some((line) => line.message.includes('url:/health')) ? all : null;
    });
    const request = lines.find((line) => line.message.includes('url:/health'))!;
    expect(request).toMatchObject({ stream: 'stderr', replicaId: replicas[1]!.id });
    expect(request.at).toBeInstanceOf(Date);
    expect(await runtime.logs(replicas[1]!, { tail: 1 })).toHaveLength(1);
    expect(await runtime.logs(replicas[1]!, { since: new Date(Date.now() + 60_000) })).toEqual([]);
  });

  it('stop sends SIGTERM, and removes a replica that exits on it without a SIGKILL', async () => {
    const replica = replicas[1]!;
    const before = Date.now();
    await runtime.stop(replica, { graceSeconds: 10 });
    expect(await docker.getContainer(replica.id).inspect().catch((e: { statusCode?: number }) => e.statusCode)).toBe(404);
    const kills = (await containerEvents(docker, replica.id, before)).filter((e) => e.Action === 'kill').map((e) => e.Actor.Attributes.signal);
    expect(kills).toEqual(['15']);
    expect((await runtime.list(app)).map((r) => r.replicaIndex)).toEqual([0, 2]);
  });

  it('stop kills a replica that ignores SIGTERM once the grace period is over', async () => {
    const stubborn = await runtime.start(
      request(7, { command: ['/bin/sh', '-c', "trap '' TERM; /bin/busybox httpd -p 8080 -h /www; while true; do sleep 1; done"] }),
    );
    const before = Date.now();
    await runtime.stop(stubborn, { graceSeconds: 2 });
    expect(await docker.getContainer(stubborn.id).inspect().catch((e: { statusCode?: number }) => e.statusCode)).toBe(404);
    const kills = (await containerEvents(docker, stubborn.id, before)).filter((e) => e.Action === 'kill');
    expect(kills.map((e) => e.Actor.Attributes.signal)).toEqual(['15', '9']);
    expect(kills[1]!.timeNano - kills[0]!.timeNano).toBeGreaterThanOrEqual(1.9e9);
  });

  it('stopping a replica that is already gone is fine', async () => {
    await runtime.stop(replicas[1]!, { graceSeconds: 1 });
    await runtime.stop({ id: 'f'.repeat(64), app }, { graceSeconds: 1 });
  });

  it('never touches a container of another app', async () => {
    const error = await rejection(runtime.stop({ id: replicas[0]!.id, app: 'some-other-app' }, { graceSeconds: 1 }));
    expect(error.code).toBe('RUNTIME_ERROR');
    expect(error.message).toContain("is not a replica of app 'some-other-app'");
    expect((await docker.getContainer(replicas[0]!.id).inspect()).State.Running).toBe(true);
  });

  it('a missing image is a clear error and leaves no container behind', async () => {
    const error = await rejection(runtime.start(request(8, { image: 'orchestry-no-such-image:never' })));
    expect(error.code).toBe('RUNTIME_ERROR');
    expect(error.message).toContain("Image 'orchestry-no-such-image:never' is not present in the local Docker engine");
    expect(error.message).toContain('docker build -t orchestry-no-such-image:never');
    expect(await docker.listContainers({ all: true, filters: { name: [`^/${replicaName(app, 8, 1)}$`] } })).toEqual([]);
  });

  it('passes secrets from the environment or .orchestry/secrets, and names what is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'orchestry-secrets-'));
    try {
      await mkdir(join(dir, 'rt'), { recursive: true });
      await writeFile(join(dir, 'rt', 'api-key'), 'from-file\n');
      const withSecrets = new DockerRuntime({ docker, network, secrets: { env: { ORCHESTRY_SECRET_RT_DB: 'from-env' }, dir } });
      const secrets = [
        { name: 'DB_URL', ref: 'rt/db' },
        { name: 'API_KEY', ref: 'rt/api-key' },
      ];
      const replica = await withSecrets.start(request(9, { secrets }));
      const env = (await docker.getContainer(replica.id).inspect()).Config.Env;
      expect(env).toEqual(expect.arrayContaining(['DB_URL=from-env', 'API_KEY=from-file', 'GREETING=hello']));

      const error = await rejection(withSecrets.start(request(10, { secrets: [{ name: 'TOKEN', ref: 'rt/token' }] })));
      expect(error.message).toContain('ORCHESTRY_SECRET_RT_TOKEN');
      expect(error.message).toContain("'rt/token'");
      expect(await docker.listContainers({ all: true, filters: { name: [`^/${replicaName(app, 10, 1)}$`] } })).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a command that cannot run is an error, and a replica that dies shows as error with its logs', async () => {
    const error = await rejection(runtime.start(request(11, { command: ['/no/such/program'] })));
    expect(error.code).toBe('RUNTIME_ERROR');
    expect(error.message).toContain('/no/such/program');
    expect((await runtime.list(app)).find((r) => r.replicaIndex === 11)?.state).toBe('error');

    // It may die before or after start() returns; either way the listing and the logs tell.
    await runtime.start(request(12, { command: ['/bin/sh', '-c', 'echo cannot start >&2; exit 3'] })).catch((e: unknown) => {
      expect(e).toBeInstanceOf(OrchestryError);
    });
    const dead = await eventually('replica 12 listed as error', 10_000, async () =>
      (await runtime.list(app)).find((r) => r.replicaIndex === 12 && r.state === 'error'),
    );
    expect((await runtime.logs(dead, {})).map((line) => [line.stream, line.message])).toEqual([['stderr', 'cannot start']]);
  });

  it('ping reports the engine, or why it is unreachable', async () => {
    expect(await runtime.ping()).toMatchObject({ ok: true, kind: 'docker', detail: expect.stringMatching(/^Docker .+ \(API \d/) });
    const nowhere = new DockerRuntime({ docker: new Docker({ socketPath: '/nonexistent/docker.sock' }) });
    const health = await nowhere.ping();
    expect(health).toMatchObject({ ok: false, kind: 'docker' });
    expect(health.detail).toContain('unreachable');
    const error = await rejection(nowhere.list(app));
    expect(error.code).toBe('RUNTIME_UNAVAILABLE');
  });

  it('the demo image builds with examples/demo-image/build.sh and runs from its app.yaml', async () => {
    const demo = fileURLToPath(new URL('../../../examples/demo-image/', import.meta.url));
    const tag = `orchestry-demo:${app}`;
    try {
      await promisify(execFile)(join(demo, 'build.sh'), [tag], { env: { ...process.env, BUSYBOX: '/bin/busybox' } });
      const spec = parseSpec(await readFile(join(demo, 'app.yaml'), 'utf8'), 'yaml');
      const replica = await runtime.start({ app, revision: 2, replicaIndex: 0, template: { ...toContainerTemplate(spec), image: tag, labels: TEST_LABELS } });
      expect(await eventually('demo /health', 10_000, () => get(replica, '/health'))).toEqual({ status: 200, body: 'ok\n' });
      expect((await get(replica, '/cgi-bin/echo')).body.trim()).toBe(replica.id.slice(0, 12));
      await runtime.stop(replica, { graceSeconds: 5 });
    } finally {
      await docker.getImage(tag).remove().catch(() => undefined);
    }
  });
});
