/**
 * The `orchestry` CLI as a user runs it (a child process: node cli/bin.js), against a real
 * API server on loopback: every command's table and JSON output, its exit code, and errors
 * as one readable line naming the API's code.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateApp } from '../../../db/queries/applications.js';
import { opsDeps } from '../../../functions/deps.js';
import { reconcile } from '../../../functions/ops/reconcile.js';
import { closedPort, parseTable, REPO, runCli, spawnCli, startTestServer, until, type CliOptions, type CliRun, type TestServer } from './harness.js';

const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };

let server: TestServer;
let configHome: string;

/** The CLI pointed at the test server with the admin key, its config file in a scratch directory. */
function cli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return runCli(args, {
    cwd: server.dir,
    ...options,
    env: { ORCHESTRY_URL: server.url, ORCHESTRY_TOKEN: server.adminKey, XDG_CONFIG_HOME: configHome, ...options.env },
  });
}

/** The run succeeded, with nothing on stderr but progress. */
function ok(run: CliRun): CliRun {
  expect(run.stderr, `stderr of a run that should succeed:\n${run.stderr}`).not.toMatch(/error:/);
  expect(run.code, `exit code; stderr:\n${run.stderr}`).toBe(0);
  return run;
}

/** The run failed with this exit code and one `error: ... (CODE)` line on stderr. */
function failed(run: CliRun, code: number, errorCode: string): string {
  expect(run.code, `exit code; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toBe(code);
  const lines = run.stderr.trimEnd().split('\n');
  const errorLine = lines.at(-1)!;
  expect(errorLine).toMatch(new RegExp(`^error: .+ \\(${errorCode}\\)$`));
  expect(lines.filter((line) => line.startsWith('error:'))).toHaveLength(1);
  return errorLine;
}

const json = <T = Record<string, unknown>>(run: CliRun): T => JSON.parse(run.stdout) as T;

function spec(name: string, extra = ''): string {
  return `apiVersion: v1
kind: App
metadata:
  name: ${name}
spec:
  image: nginx:1.27
  ports:
    - containerPort: 80
healthCheck:
  enabled: false
termination:
  drainSeconds: 0
${extra}`;
}

async function specFile(name: string, text: string): Promise<string> {
  const file = join(server.dir, name);
  await writeFile(file, text);
  return file;
}

/** Registers (and starts) an app through the API directly: setup, not what the test is about. */
async function setupApp(name: string, replicas = 0): Promise<void> {
  const document = {
    apiVersion: 'v1',
    kind: 'App',
    metadata: { name },
    spec: { image: 'nginx:1.27', ports: [{ containerPort: 80 }] },
    healthCheck: { enabled: false },
    termination: { drainSeconds: 0 },
  };
  const registered = await server.api('POST', '/apps/register', document);
  expect(registered.status, JSON.stringify(registered.body)).toBe(201);
  if (replicas > 0) {
    const started = await server.api('POST', `/apps/${name}/start`, { replicas });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
  }
}

beforeAll(async () => {
  server = await startTestServer();
  configHome = join(server.dir, 'config');
});

afterAll(async () => {
  await server?.close();
});

/** A CLI run costs about a second of CPU (node + tsx); the suite runs beside others on two cores. */
const SLOW = { timeout: 240_000 };

describe('orchestry CLI', SLOW, () => {
  describe('usage', () => {
    it('--help lists every command, the exit codes and the configuration; --version prints the version', async () => {
      const [help, versionRun] = await Promise.all([cli(['--help']), cli(['--version'])]);
      ok(help);
      for (const command of ['apply', 'start', 'stop', 'scale', 'delete', 'list', 'status', 'events', 'logs', 'metrics', 'scaling', 'explain', 'health', 'keys', 'config']) {
        expect(help.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
      }
      expect(help.stdout).toContain('Exit codes:');
      expect(help.stdout).toContain('4  --wait timed out');
      expect(help.stdout).toContain('ORCHESTRY_TOKEN');
      expect(ok(versionRun).stdout.trim()).toBe(version);
    });

    it('bad usage exits 2 with one error line, before calling the API', async () => {
      // Nothing listens there: a usage error must not even try.
      const down = { ORCHESTRY_URL: `http://127.0.0.1:${await closedPort()}` };
      const [unknown, notNumber, badFormat, badPair, noFile] = await Promise.all([
        cli(['frobnicate'], { env: down }),
        cli(['scale', 'web', 'lots'], { env: down }),
        cli(['list', '--output', 'yaml'], { env: down }),
        cli(['scaling', 'set', 'web', 'min_replicas'], { env: down }),
        cli(['apply', '-f', join(server.dir, 'no-such-file.yaml')], { env: down }),
      ]);
      for (const run of [unknown, notNumber, badFormat, badPair, noFile]) {
        expect(run!.code, run!.stderr).toBe(2);
        expect(run!.stderr.trimEnd().split('\n').filter((line) => line.startsWith('error:'))).toHaveLength(1);
        expect(run!.stdout).toBe('');
      }
      expect(unknown!.stderr).toContain("error: unknown command 'frobnicate'");
      expect(notNumber!.stderr).toContain('replicas must be a whole number of at least 0; got "lots"');
      expect(badFormat!.stderr).toContain('Allowed choices are table, json');
      expect(badPair!.stderr).toMatch(/^error: "min_replicas" is not key=value; .*\(USAGE\)$/m);
      expect(noFile!.stderr).toMatch(/^error: cannot read the spec file .*no-such-file\.yaml \(ENOENT\) \(FILE\)$/m);
    });
  });

  describe('reaching the API', () => {
    it('exits 3 when nothing answers, without a key, and with a key the API refuses', async () => {
      const port = await closedPort();
      const [down, noKey, badKey] = await Promise.all([
        cli(['list'], { env: { ORCHESTRY_URL: `http://127.0.0.1:${port}` } }),
        cli(['list'], { env: { ORCHESTRY_TOKEN: undefined } }),
        cli(['list'], { env: { ORCHESTRY_TOKEN: 'orch_not-a-key-at-all' } }),
      ]);
      const line = failed(down!, 3, 'UNREACHABLE');
      expect(line).toContain(`cannot reach the API at http://127.0.0.1:${port} (ECONNREFUSED)`);
      expect(failed(noKey!, 3, 'NO_API_KEY')).toContain('set ORCHESTRY_TOKEN');
      expect(failed(badKey!, 3, 'UNAUTHORIZED')).toMatch(/not valid/i);
    });
  });

  describe('apps', () => {
    it('apply registers an app, then updates its spec, and says what changed', async () => {
      const file = await specFile('apply-web.yaml', spec('apply-web'));
      const registered = ok(await cli(['apply', '-f', file]));
      expect(registered.stdout).toBe('apply-web registered (revision 1)\nstart it with: orchestry start apply-web\n');

      const unchanged = json(ok(await cli(['apply', '-f', file, '-o', 'json'])));
      expect(unchanged).toMatchObject({ action: 'updated', app_name: 'apply-web', revision: 1, changes: [] });

      await writeFile(file, spec('apply-web').replace('nginx:1.27', 'nginx:1.28'));
      const updated = ok(await cli(['apply', '-f', file]));
      expect(updated.stdout).toContain('revision 2');
      expect(updated.stdout).toContain('changed: spec.image');
      const stored = await server.api<{ image: string; revision: number }>('GET', '/apps/apply-web');
      expect(stored.body).toMatchObject({ image: 'nginx:1.28', revision: 2 });
    });

    it('apply reads JSON and standard input; a bad spec exits 1 with one INVALID_SPEC line naming the field', async () => {
      const document = { apiVersion: 'v1', kind: 'App', metadata: { name: 'apply-json' }, spec: { image: 'nginx:1.27', ports: [{ containerPort: 80 }] } };
      const jsonFile = await specFile('apply-json.json', JSON.stringify(document));
      const [fromFile, fromStdin, typo, syntax] = await Promise.all([
        cli(['apply', '-f', jsonFile, '-o', 'json']),
        cli(['apply', '-f', '-'], { input: spec('apply-stdin') }),
        cli(['apply', '-f', join(REPO, 'test/fixtures/specs/invalid/field-typo.yaml')]),
        cli(['apply', '-f', join(REPO, 'test/fixtures/specs/invalid/yaml-syntax.yaml')]),
      ]);
      expect(json(ok(fromFile!))).toMatchObject({ action: 'registered', app_name: 'apply-json', status: 'registered', revision: 1 });
      expect(ok(fromStdin!).stdout).toContain('apply-stdin registered');
      const line = failed(typo!, 1, 'INVALID_SPEC');
      expect(line).toContain('scaling.targetRpsPerReplica: unknown field');
      expect(line).toContain('did you mean "targetRPSPerReplica"?');
      expect(typo!.stdout).toBe('');
      expect(failed(syntax!, 1, 'INVALID_SPEC')).toContain('YAML syntax error at line');
    });

    it('list shows every app with status and replicas, as a table and as JSON', async () => {
      await setupApp('list-a');
      await setupApp('list-b', 2);
      const [table, asJson, running, badStatus] = await Promise.all([
        cli(['list']),
        cli(['list', '-o', 'json']),
        cli(['list', '--status', 'running']),
        cli(['list', '--status', 'sleeping']),
      ]);
      const rows = parseTable(ok(table!).stdout);
      expect(rows.find((r) => r.NAME === 'list-a')).toMatchObject({ STATUS: 'registered', MODE: 'auto', REPLICAS: '0/0', IMAGE: 'nginx:1.27' });
      expect(rows.find((r) => r.NAME === 'list-b')).toMatchObject({ STATUS: 'running', REPLICAS: '2/2' });
      expect(table!.stdout).toMatch(/^\d+ apps: \d+ running, \d+ scaled to zero, \d+ stopped, \d+ in error$/m);

      const listed = json<{ apps: Array<{ name: string; replicas: { desired: number } }>; total: number }>(ok(asJson!));
      expect(listed.apps.find((a) => a.name === 'list-b')?.replicas.desired).toBe(2);
      expect(listed.apps.map((a) => a.name)).toEqual(rows.map((r) => r.NAME));

      const names = parseTable(ok(running!).stdout).map((r) => r.NAME);
      expect(names).toContain('list-b');
      expect(names).not.toContain('list-a');
      expect(failed(badStatus!, 1, 'VALIDATION_ERROR')).toContain('status must be one of');
    });

    it('list follows the pages: --limit N shows the first N, --all every app, -o json one document', async () => {
      for (const name of ['pages-a', 'pages-b', 'pages-c', 'pages-d', 'pages-e']) {
        const document = { apiVersion: 'v1', kind: 'App', metadata: { name, labels: { suite: 'pages' } }, spec: { image: 'nginx:1.27', ports: [{ containerPort: 80 }] } };
        expect((await server.api('POST', '/apps/register', document)).status).toBe(201);
      }
      const pageOfTwo = ['--page-size', '2'];
      const [first, every, asJson, byDefault, none] = await Promise.all([
        cli(['list', '--label', 'suite=pages', '--limit', '3', ...pageOfTwo]),
        cli(['list', '-l', 'suite=pages', '--all', ...pageOfTwo]),
        cli(['list', '-l', 'suite=pages', '--all', ...pageOfTwo, '-o', 'json']),
        cli(['list', '-l', 'suite=pages', '--image', 'nginx:1.27', ...pageOfTwo]),
        cli(['list', '-l', 'suite=nothing']),
      ]);
      const names = (run: CliRun) => parseTable(ok(run).stdout).map((r) => r.NAME);
      expect(names(first!)).toEqual(['pages-a', 'pages-b', 'pages-c']);
      expect(first!.stdout).toContain('showing the first 3; --all shows every one');
      expect(names(every!)).toEqual(['pages-a', 'pages-b', 'pages-c', 'pages-d', 'pages-e']);
      expect(every!.stdout).not.toContain('showing the first');
      const merged = json<{ apps: Array<{ name: string }>; next_cursor: string | null; total: number }>(ok(asJson!));
      expect(merged.apps.map((a) => a.name)).toEqual(names(every!));
      expect(merged.next_cursor).toBeNull();
      expect(merged.total).toBeGreaterThanOrEqual(5);
      expect(names(byDefault!)).toHaveLength(5);
      expect(ok(none!).stdout).toContain('no apps match');
    });

    it('status shows the app and a table of its replicas with their health', async () => {
      await setupApp('status-new');
      await setupApp('status-web', 2);
      const [fresh, shown, asJson] = await Promise.all([cli(['status', 'status-new']), cli(['status', 'status-web']), cli(['status', 'status-web', '-o', 'json'])]);
      expect(ok(fresh!).stdout).toMatch(/^Status: +registered \(mode auto, revision 1\)$/m);
      expect(fresh!.stdout).toContain('no replicas; start them with: orchestry start status-new');

      expect(ok(shown!).stdout).toMatch(/^App: +status-web$/m);
      expect(shown!.stdout).toMatch(/^Replicas: +2 running \/ 2 desired, 2 healthy$/m);
      const replicas = parseTable(shown!.stdout);
      expect(replicas.map((r) => r.REPLICA)).toEqual(['0', '1']);
      for (const replica of replicas) {
        expect(replica).toMatchObject({ STATUS: 'running', HEALTH: 'unknown', REVISION: '1' });
        expect(replica.CONTAINER).toMatch(/^orchestry-status-web-r\d-v1$/);
        expect(replica.ADDRESS).toMatch(/^127\.0\.0\.1:\d+$/);
      }
      const detail = json<{ name: string; containers: unknown[] }>(ok(asJson!));
      expect(detail).toMatchObject({ name: 'status-web', replicas: { current: 2, desired: 2 } });
      expect(detail.containers).toHaveLength(2);
    });

    it('status shows an app scaled to zero as such, not as stopped, with its last wake and how long it took', async () => {
      await setupApp('status-napper', 1);
      const at = new Date(Date.now() - 120_000);
      await updateApp(server.deps.db.$primary, 'status-napper', { desiredReplicas: 0, status: 'scaled_to_zero', lastWokenAt: at, lastWakeSeconds: 1.5 });
      await reconcile(opsDeps(server.deps), 'status-napper');
      const [shown, asJson] = await Promise.all([cli(['status', 'status-napper']), cli(['status', 'status-napper', '-o', 'json'])]);
      expect(ok(shown!).stdout).toMatch(/^Status: +scaled to zero \(mode auto, revision 1\)$/m);
      expect(shown!.stdout).toMatch(new RegExp(`^Last wake: +${at.toISOString()} \\(2m ago\\), ready in 1\\.5 s$`, 'm'));
      expect(shown!.stdout).toContain('no replicas: scaled to zero for want of traffic; its next request wakes it');
      expect(json(ok(asJson!))).toMatchObject({ status: 'scaled_to_zero', last_wake: { at: at.toISOString(), ready_seconds: 1.5 } });
    });

    it('start --wait and scale --wait show progress and end with every replica ready', async () => {
      await setupApp('wait-web');
      const started = ok(await cli(['start', 'wait-web', '--wait', '--timeout', '30']));
      expect(started.stderr).toContain('starting wait-web');
      expect(started.stdout).toBe("Application 'wait-web' starting with 1 replica; every replica is running and healthy\n");

      const scaled = json(ok(await cli(['scale', 'wait-web', '3', '--wait', '--timeout', '30', '-o', 'json'])));
      expect(scaled).toMatchObject({ ready: true, previous_replicas: 1, current_replicas: 3 });
      expect(server.runtime.runningOf('wait-web')).toHaveLength(3);
    });

    it('--wait exits 4 when the replicas are not ready in time, naming them', async () => {
      await setupApp('slow-web');
      // The runtime reports new replicas as still provisioning, as a slow ECS task would.
      server.runtime.startState = 'starting';
      let run: CliRun;
      try {
        run = await cli(['start', 'slow-web', '--wait', '--timeout', '1']);
      } finally {
        server.runtime.startState = 'running';
      }
      const line = failed(run, 4, 'WAIT_TIMEOUT');
      expect(line).toBe('error: timed out after 1 s waiting for slow-web; not ready: #0 starting/unknown (WAIT_TIMEOUT)');
      expect(run.stdout).toContain('not ready');
    });

    it('scale, stop and delete; then the app is gone (exit 1, APP_NOT_FOUND)', async () => {
      await setupApp('gone-web', 2);
      const scaled = ok(await cli(['scale', 'gone-web', '1']));
      expect(scaled.stdout).toBe("Application 'gone-web' scaling from 2 to 1 replicas\n");
      const stopped = ok(await cli(['stop', 'gone-web', '--timeout', '10']));
      expect(stopped.stdout).toBe("Application 'gone-web' stopped\n");
      expect(server.runtime.containersOf('gone-web')).toHaveLength(0);

      await server.api('POST', '/apps/gone-web/start', {});
      const deleted = json(ok(await cli(['delete', 'gone-web', '-o', 'json'])));
      expect(deleted).toMatchObject({ app_name: 'gone-web', deleted: true });
      expect(server.runtime.containersOf('gone-web')).toHaveLength(0);

      const runs = await Promise.all([cli(['status', 'gone-web']), cli(['stop', 'gone-web', '--force']), cli(['delete', 'gone-web']), cli(['events', 'gone-web'])]);
      for (const run of runs) expect(failed(run, 1, 'APP_NOT_FOUND')).toBe("error: Application 'gone-web' not found (APP_NOT_FOUND)");
      expect(failed(await cli(['status', 'Not_A_Name']), 1, 'VALIDATION_ERROR')).toContain('must be a DNS label');
    });
  });

  describe('events', () => {
    it("shows an app's trail oldest first, filtered, as a table and as JSON", async () => {
      await setupApp('events-web', 1);
      await server.api('POST', '/apps/events-web/scale', { replicas: 2 });
      const [table, scaling, page, all, badType] = await Promise.all([
        cli(['events', 'events-web']),
        cli(['events', 'events-web', '--type', 'scaling']),
        cli(['events', 'events-web', '--limit', '2', '-o', 'json']),
        cli(['events', '--limit', '1000']),
        cli(['events', 'events-web', '--type', 'gossip']),
      ]);
      const rows = parseTable(ok(table!).stdout);
      expect(rows[0]).toMatchObject({ TYPE: 'registration', SEVERITY: 'info', MESSAGE: 'Application events-web registered (image nginx:1.27)' });
      expect(rows.map((r) => r.TYPE)).toContain('scaling');
      for (const row of rows) expect(row.TIME).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      expect(rows.map((r) => r.TIME)).toEqual(rows.map((r) => r.TIME).sort());

      expect(parseTable(ok(scaling!).stdout)).toEqual([
        { TIME: expect.any(String), SEVERITY: 'info', TYPE: 'scaling', MESSAGE: 'Scaling events-web from 1 to 2 replicas' },
      ]);
      const answer = json<{ app_name: string; events: unknown[]; has_more: boolean }>(ok(page!));
      expect(answer).toMatchObject({ app_name: 'events-web', has_more: true });
      expect(answer.events).toHaveLength(2);
      expect(parseTable(ok(all!).stdout).map((r) => r.APP)).toContain('events-web');
      expect(failed(badType!, 1, 'VALIDATION_ERROR')).toContain('type must be one of');
    });

    it('--follow prints new events as they happen and stops cleanly on Ctrl-C', async () => {
      await setupApp('follow-web');
      const follower = spawnCli(['events', 'follow-web', '--follow', '--poll-interval', '200'], {
        cwd: server.dir,
        env: { ORCHESTRY_URL: server.url, ORCHESTRY_TOKEN: server.adminKey, XDG_CONFIG_HOME: configHome },
      });
      try {
        await until(() => follower.stdout.includes('Application follow-web registered'), 'the existing events', 60_000);
        expect((await server.api('POST', '/apps/follow-web/start', { replicas: 1 })).status).toBe(200);
        await until(() => follower.stdout.includes('Starting follow-web with 1 replica'), 'the new event', 60_000);
      } finally {
        follower.child.kill('SIGINT');
      }
      const run = await follower.done;
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toBe('');
      const lines = run.stdout.trimEnd().split('\n');
      expect(lines.filter((line) => line.includes('Application follow-web registered'))).toHaveLength(1);
      expect(lines.findIndex((l) => l.includes('registered'))).toBeLessThan(lines.findIndex((l) => l.includes('Starting follow-web')));
    });

    it('--follow --output json prints one event per line; --max-polls bounds it', async () => {
      await setupApp('ndjson-web');
      const run = ok(await cli(['events', 'ndjson-web', '--follow', '-o', 'json', '--max-polls', '2', '--poll-interval', '100']));
      const events = run.stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as unknown);
      expect(events).toEqual([expect.objectContaining({ type: 'registration', app_name: 'ndjson-web' })]);
    });
  });

  describe('logs', () => {
    it("prints every replica's lines, as text and as JSON; --follow prints each line once", async () => {
      await setupApp('logs-web', 2);
      const [text, asJson, followed] = await Promise.all([
        cli(['logs', 'logs-web']),
        cli(['logs', 'logs-web', '--tail', '5', '-o', 'json']),
        cli(['logs', 'logs-web', '--follow', '--max-polls', '3', '--poll-interval', '100']),
      ]);
      const lines = ok(text!).stdout.trimEnd().split('\n');
      expect(lines).toHaveLength(2);
      for (const index of [0, 1]) {
        expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^\\d{4}-\\d{2}-\\d{2} [\\d:]{8} orchestry-logs-web-r${index}-v1 orchestry-logs-web-r${index}-v1 started$`)));
      }
      const answer = json<{ lines: Array<{ message: string; stream: string }> }>(ok(asJson!));
      expect(answer.lines.map((l) => l.message).sort()).toEqual(['orchestry-logs-web-r0-v1 started', 'orchestry-logs-web-r1-v1 started']);
      expect(ok(followed!).stdout.trimEnd().split('\n').sort()).toEqual([...lines].sort());
    });
  });

  describe('metrics', () => {
    beforeAll(async () => {
      await setupApp('metrics-web');
      const now = Date.now();
      const samples = Array.from({ length: 30 }, (_, i) => [
        { metric_type: 'rps', value: 40 + (i % 10) * 5, timestamp: new Date(now - i * 60_000).toISOString() },
        { metric_type: 'cpu_percent', value: 30 + (i % 5), timestamp: new Date(now - i * 60_000).toISOString() },
      ]).flat();
      expect((await server.api('POST', '/apps/metrics-web/metrics', { samples })).status).toBe(201);
    });

    it('shows current values and a chart of each metric, or JSON; --watch prints one document per poll', async () => {
      const [charts, plain, asJson, watched, badInterval] = await Promise.all([
        cli(['metrics', 'metrics-web']),
        cli(['metrics', 'metrics-web', '--no-charts', '--type', 'rps']),
        cli(['metrics', 'metrics-web', '--interval', '5m', '--history', '1h', '-o', 'json']),
        cli(['metrics', 'metrics-web', '--watch', '-o', 'json', '--max-polls', '2', '--poll-interval', '100']),
        cli(['metrics', 'metrics-web', '--interval', 'fortnight']),
      ]);
      const current = parseTable(ok(charts!).stdout);
      expect(current.map((r) => [r.METRIC, r.VALUE])).toEqual([
        ['rps', '40 req/s'],
        ['cpu_percent', '30%'],
      ]);
      expect(charts!.stdout).toContain('rps avg per 1m over the last 1h: 40–85 req/s');
      expect(charts!.stdout).toContain('cpu_percent avg per 1m over the last 1h: 30–34%');
      expect(charts!.stdout.match(/┤/g)!.length).toBeGreaterThanOrEqual(10);

      expect(ok(plain!).stdout).not.toContain('┤');
      expect(parseTable(plain!.stdout).map((r) => r.METRIC)).toEqual(['rps']);

      const answer = json<{ current: Record<string, { value: number }>; history: Record<string, unknown[]> }>(ok(asJson!));
      expect(answer.current.rps?.value).toBe(40);
      expect(answer.history.rps!.length).toBeGreaterThanOrEqual(6);

      const documents = ok(watched!).stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { app_name: string });
      expect(documents.map((d) => d.app_name)).toEqual(['metrics-web', 'metrics-web']);

      expect(failed(badInterval!, 1, 'VALIDATION_ERROR')).toContain('interval must be a duration');
    });
  });

  describe('scaling', () => {
    it('get shows the policy; set changes it and shows old and new values; bad settings name the field', async () => {
      await setupApp('scaling-web');
      const policy = parseTable(ok(await cli(['scaling', 'get', 'scaling-web'])).stdout);
      expect(policy.find((r) => r.SETTING === 'min_replicas')?.VALUE).toBe('1');

      const set = ok(await cli(['scaling', 'set', 'scaling-web', 'min_replicas=2', 'maxReplicas=8', 'mode=manual']));
      expect(parseTable(set.stdout)).toEqual(
        expect.arrayContaining([
          { SETTING: 'min_replicas', OLD: '1', NEW: '2' },
          { SETTING: 'max_replicas', OLD: expect.any(String), NEW: '8' },
          { SETTING: 'mode', OLD: 'auto', NEW: 'manual' },
        ]),
      );
      const [after, negative, unknown] = await Promise.all([
        cli(['scaling', 'get', 'scaling-web', '-o', 'json']),
        cli(['scaling', 'set', 'scaling-web', 'min_replicas=-1']),
        cli(['scaling', 'set', 'scaling-web', 'max-cpu=50']),
      ]);
      expect(json(ok(after!))).toMatchObject({ mode: 'manual', policy: { min_replicas: 2, max_replicas: 8 } });
      expect(failed(negative!, 1, 'VALIDATION_ERROR')).toContain('min_replicas');
      expect(failed(unknown!, 1, 'VALIDATION_ERROR')).toContain('max_cpu');
    });

    it('explain shows the decision and every input', async () => {
      await setupApp('explain-web', 1);
      const [text, asJson] = await Promise.all([cli(['explain', 'explain-web']), cli(['explain', 'explain-web', '-o', 'json'])]);
      expect(ok(text!).stdout).toMatch(/^Decision: +stay at 1 \(no_metrics\)$/m);
      expect(parseTable(text!.stdout).map((r) => r.METRIC).sort()).toEqual(['active_connections', 'cpu_percent', 'latency_p95', 'memory_percent', 'rps']);
      expect(json(ok(asJson!))).toMatchObject({ app_name: 'explain-web', decision: { reason: 'no_metrics', desired_replicas: 1 } });
    });
  });

  describe('health', () => {
    it("shows each replica's health, and probes on --check", async () => {
      await setupApp('health-web', 2);
      const [shown, asJson, checked, probe] = await Promise.all([
        cli(['health', 'health-web']),
        cli(['health', 'health-web', '-o', 'json']),
        cli(['health', 'health-web', '--check']),
        cli(['health', 'health-web', '--check', '-o', 'json']),
      ]);
      expect(ok(shown!).stdout).toMatch(/^Check: +disabled$/m);
      expect(shown!.stdout).toMatch(/^Replicas: +2 unknown$/m);
      expect(parseTable(shown!.stdout).map((r) => [r.REPLICA, r.STATUS, r.HEALTH, r['LAST CHECK']])).toEqual([
        ['0', 'running', 'unknown', 'never'],
        ['1', 'running', 'unknown', 'never'],
      ]);
      expect(json<{ replicas: unknown[] }>(ok(asJson!)).replicas).toHaveLength(2);

      expect(ok(checked!).stdout).toContain('health checks are disabled for health-web');
      expect(parseTable(checked!.stdout).map((r) => r.REPLICA)).toEqual(['0', '1']);
      const report = json<{ recorded: boolean; replicas: unknown[] }>(ok(probe!));
      expect(report.recorded).toBe(false);
      expect(report.replicas).toHaveLength(2);
    });
  });

  describe('keys', () => {
    it('create, list and revoke; scopes and revocation are enforced', async () => {
      const [asJson, asText] = await Promise.all([
        cli(['keys', 'create', '--name', 'ci reader', '--scope', 'read', '-o', 'json']),
        cli(['keys', 'create', '--name', 'deployer', '--scope', 'write']),
      ]);
      const created = json<{ id: number; key: string }>(ok(asJson!));
      expect(created).toMatchObject({ name: 'ci reader', scope: 'read' });
      expect(created.key).toMatch(/^orch_/);
      expect(ok(asText!).stdout).toMatch(/^created key \d+ "deployer" with write scope/m);
      expect(asText!.stdout).toMatch(/^orch_\S+$/m);

      const reader = { ORCHESTRY_TOKEN: created.key };
      const [listed, readerList, readerKeys, readerScale] = await Promise.all([
        cli(['keys', 'list']),
        cli(['list'], { env: reader }),
        cli(['keys', 'list'], { env: reader }),
        cli(['scale', 'nope', '1'], { env: reader }),
      ]);
      const row = parseTable(ok(listed!).stdout).find((r) => r.NAME === 'ci reader');
      expect(row).toMatchObject({ ID: String(created.id), SCOPE: 'read', PREFIX: `${created.key.slice(0, 12)}…`, STATE: 'active' });
      ok(readerList!);
      failed(readerKeys!, 1, 'FORBIDDEN');
      failed(readerScale!, 1, 'FORBIDDEN');

      expect(ok(await cli(['keys', 'revoke', String(created.id)])).stdout).toBe(`revoked key ${created.id} "ci reader"\n`);
      const [relisted, revokedUse, missing, notNumber] = await Promise.all([
        cli(['keys', 'list', '-o', 'json']),
        cli(['list'], { env: reader }),
        cli(['keys', 'revoke', '999999']),
        cli(['keys', 'revoke', 'first']),
      ]);
      const keys = json<{ keys: Array<{ id: number; revoked_at: string | null }> }>(ok(relisted!)).keys;
      expect(keys.find((k) => k.id === created.id)?.revoked_at).toEqual(expect.any(String));
      failed(revokedUse!, 3, 'UNAUTHORIZED');
      failed(missing!, 1, 'NOT_FOUND');
      expect(notNumber!.code).toBe(2);
    });

    it('create --scope ingest --app binds the key to that app: it posts that app\'s metrics and nothing else', async () => {
      ok(await cli(['apply', '-f', await specFile('ingest-web.yaml', spec('ingest-web'))]));
      const made = ok(await cli(['keys', 'create', '--name', 'meter ingest-web', '--scope', 'ingest', '--app', 'ingest-web']));
      expect(made.stdout).toMatch(/^created key \d+ "meter ingest-web" with ingest scope for app ingest-web/m);
      const key = /^(orch_\S+)$/m.exec(made.stdout)![1]!;
      const post = (app: string) =>
        fetch(`${server.url}/api/v1/apps/${app}/metrics`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ samples: [{ metric_type: 'rps', value: 3 }] }),
        });
      expect((await post('ingest-web')).status).toBe(201);
      expect((await post('apply-web')).status).toBe(403);
      failed(await cli(['metrics', 'ingest-web'], { env: { ORCHESTRY_TOKEN: key } }), 1, 'FORBIDDEN');
      const row = parseTable(ok(await cli(['keys', 'list'])).stdout).find((r) => r.NAME === 'meter ingest-web');
      expect(row).toMatchObject({ SCOPE: 'ingest (ingest-web)' });
      failed(await cli(['keys', 'create', '--name', 'x', '--scope', 'ingest']), 1, 'VALIDATION_ERROR');
    });
  });

  describe('config', () => {
    it('set saves url and token; get shows them redacted with their source; the environment wins', async () => {
      const home = join(server.dir, 'config-home');
      const env = { XDG_CONFIG_HOME: home, ORCHESTRY_URL: undefined, ORCHESTRY_TOKEN: undefined };
      const saved = ok(await cli(['config', 'set', `url=${server.url}/`, `token=${server.adminKey}`], { env }));
      expect(saved.stdout).toBe(`saved url and token in ${join(home, 'orchestry', 'config.json')}\n`);

      const port = await closedPort();
      const [asJson, text, listed, envUrl, envToken, badKey] = await Promise.all([
        cli(['config', 'get', '-o', 'json'], { env }),
        cli(['config', 'get'], { env }),
        cli(['list'], { env }),
        cli(['list'], { env: { ...env, ORCHESTRY_URL: `http://127.0.0.1:${port}` } }),
        cli(['list'], { env: { ...env, ORCHESTRY_TOKEN: 'orch_wrong' } }),
        cli(['config', 'set', 'colour=red'], { env }),
      ]);
      const shown = json<Record<string, string>>(ok(asJson!));
      expect(shown).toMatchObject({ url: server.url, url_source: 'config file', token_source: 'config file' });
      expect(shown.token).toBe(`${server.adminKey.slice(0, 6)}…${server.adminKey.slice(-4)}`);
      expect(ok(text!).stdout).toMatch(new RegExp(`^url: +${server.url} \\(config file\\)$`, 'm'));
      expect(text!.stdout).not.toContain(server.adminKey);
      ok(listed!);
      failed(envUrl!, 3, 'UNREACHABLE');
      failed(envToken!, 3, 'UNAUTHORIZED');
      expect(failed(badKey!, 2, 'USAGE')).toBe('error: unknown setting "colour"; the settings are url and token (USAGE)');

      ok(await cli(['config', 'unset', 'token'], { env }));
      const [noKey, ftp] = await Promise.all([cli(['list'], { env }), cli(['config', 'set', 'url=ftp://example'], { env })]);
      failed(noKey!, 3, 'NO_API_KEY');
      failed(ftp!, 2, 'USAGE');
    });

    it("finds a local dev server's key in .orchestry/admin-key, only for a loopback URL", async () => {
      const project = join(server.dir, 'project');
      const nested = join(project, 'deploy', 'specs');
      await mkdir(join(project, '.orchestry'), { recursive: true });
      await mkdir(nested, { recursive: true });
      await writeFile(join(project, '.orchestry', 'admin-key'), `${server.adminKey}\n`);
      const env = { XDG_CONFIG_HOME: join(server.dir, 'empty-config'), ORCHESTRY_TOKEN: undefined };

      const [listed, local, remote] = await Promise.all([
        cli(['list'], { cwd: nested, env }),
        cli(['config', 'get', '-o', 'json'], { cwd: nested, env }),
        cli(['config', 'get', '-o', 'json'], { cwd: nested, env: { ...env, ORCHESTRY_URL: 'https://orchestry.example.com' } }),
      ]);
      ok(listed!);
      expect(json(ok(local!))).toMatchObject({ token_source: 'dev server key', dev_key_file: join(project, '.orchestry', 'admin-key') });
      expect(json(ok(remote!))).toMatchObject({ url: 'https://orchestry.example.com', token: null, token_source: null });
    });
  });
});
