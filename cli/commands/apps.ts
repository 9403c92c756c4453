/** apply, start, stop, scale, delete, list, status. */
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { seg, type ApiClient } from '../api.js';
import { api, outputOption, wholeNumber, type OutputOptions } from '../context.js';
import { ApiError, CliError, EXIT } from '../errors.js';
import type { AppDetail, AppList, ReplicaChange } from '../types.js';
import { collect, DEFAULT_LIMIT, MAX_PAGE, pages, pageSizeOption } from '../pages.js';
import { ago, c, fields, num, print, printJson, progress, status, streamTable, table } from '../ui.js';
import { describeNotReady, withReadinessProgress } from '../wait.js';

/** As the API's default; the API caps each wait (ORCHESTRY_MAX_WAIT_SECONDS: 300 locally, 25 on AWS). */
const DEFAULT_WAIT_SECONDS = 60;
const MAX_WAIT_SECONDS = 3600;
/** Beyond the wait itself, how long the request may take to answer. */
const ANSWER_MARGIN_MS = 30_000;

interface RegisterAnswer {
  message: string;
  app_name: string;
  revision: number;
}

interface UpdateAnswer {
  message: string;
  app_name: string;
  revision: number;
  changes: string[];
  rollout: boolean;
}

async function readSpecFile(file: string): Promise<string> {
  try {
    if (file === '-') {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    }
    return await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new CliError(`cannot read the spec file ${file} (${reason})`, 'FILE', EXIT.USAGE);
  }
}

/** The app a spec names, for the update after a register that found the app already there. */
async function specName(text: string, error: ApiError): Promise<string | undefined> {
  const fromApi = (error.details as { app_name?: unknown } | null)?.app_name;
  if (typeof fromApi === 'string') return fromApi;
  try {
    const { parse: parseYaml } = await import('yaml');
    const name = (parseYaml(text) as { metadata?: { name?: unknown } } | null)?.metadata?.name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}

interface WaitFlags {
  wait?: boolean;
  timeout: number;
}

function addWaitOptions(command: Command): Command {
  return command
    .addOption(new Option('--wait', 'wait until every replica runs and is healthy (exit 4 if the timeout passes first)'))
    .addOption(
      new Option('--timeout <seconds>', 'how long --wait waits').argParser(wholeNumber('--timeout', 1, MAX_WAIT_SECONDS)).default(DEFAULT_WAIT_SECONDS),
    );
}

type ReplicaAction = 'start' | 'scale';

/** start and scale: with --wait the request waits (the API polls), while a spinner shows progress. */
async function changeReplicas(action: ReplicaAction, name: string, body: Record<string, unknown>, options: OutputOptions & WaitFlags): Promise<void> {
  const client = await api();
  const send = () =>
    client.post<ReplicaChange>(`/apps/${seg(name)}/${action}`, options.wait ? { ...body, wait: true, timeout: options.timeout } : body, {
      timeoutMs: options.timeout * 1000 + ANSWER_MARGIN_MS,
    });
  const answer = options.wait ? await withReadinessProgress(client, name, action === 'start' ? 'starting' : 'scaling', send) : await send();
  if (options.output === 'json') printJson(answer);
  else print(answer.message);
  if (answer.ready === false) {
    throw new CliError(
      `timed out after ${options.timeout} s waiting for ${name}; not ready: ${describeNotReady(answer.not_ready ?? [])}`,
      'WAIT_TIMEOUT',
      EXIT.WAIT_TIMEOUT,
    );
  }
}

const start = (name: string, options: OutputOptions & WaitFlags & { replicas?: number }) =>
  changeReplicas('start', name, options.replicas !== undefined ? { replicas: options.replicas } : {}, options);

const scale = (name: string, replicas: number, options: OutputOptions & WaitFlags) => changeReplicas('scale', name, { replicas }, options);

async function apply(options: OutputOptions & { file: string }): Promise<void> {
  const client = await api();
  const text = await readSpecFile(options.file);
  const send = { body: text, contentType: 'application/yaml' };
  try {
    const answer = await client.request<RegisterAnswer>('POST', '/apps/register', send);
    if (options.output === 'json') return printJson({ action: 'registered', ...answer });
    print(`${c.bold(answer.app_name)} registered (revision ${answer.revision})`);
    print(c.dim(`start it with: orchestry start ${answer.app_name}`));
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== 'APP_ALREADY_EXISTS') throw error;
    const name = await specName(text, error);
    if (!name) throw error;
    const answer = await client.request<UpdateAnswer>('PUT', `/apps/${seg(name)}/spec`, send);
    if (options.output === 'json') return printJson({ action: 'updated', ...answer });
    print(answer.message);
    if (answer.changes.length > 0) print(c.dim(`changed: ${answer.changes.join(', ')}`));
  }
}

async function stop(name: string, options: OutputOptions & { force?: boolean; timeout?: number }): Promise<void> {
  const client = await api();
  const body = { ...(options.force ? { force: true } : {}), ...(options.timeout !== undefined ? { timeout: options.timeout } : {}) };
  const timeoutMs = (options.timeout ?? 0) * 1000 + ANSWER_MARGIN_MS;
  const shown = await progress(`stopping ${name}`);
  let answer: { message: string; stopped: boolean };
  try {
    answer = await client.post(`/apps/${seg(name)}/stop`, body, { timeoutMs });
  } finally {
    shown.stop();
  }
  if (options.output === 'json') return printJson(answer);
  print(answer.message);
}

async function remove(name: string, options: OutputOptions & { force?: boolean; timeout?: number }): Promise<void> {
  const client = await api();
  const shown = await progress(`deleting ${name}`);
  let answer: { message: string };
  try {
    answer = await client.delete(
      `/apps/${seg(name)}`,
      { force: options.force ? true : undefined, timeout: options.timeout },
      // The API lets replicas drain for up to a minute by default.
      { timeoutMs: (options.timeout ?? 60) * 1000 + ANSWER_MARGIN_MS },
    );
  } finally {
    shown.stop();
  }
  if (options.output === 'json') return printJson(answer);
  print(answer.message);
}

interface ListOptions extends OutputOptions {
  status?: string;
  mode?: string;
  image?: string;
  label?: string[];
  limit: number;
  all?: boolean;
  pageSize?: number;
}

async function list(options: ListOptions): Promise<void> {
  const client: ApiClient = await api();
  const query = { status: options.status, mode: options.mode, image: options.image, label: options.label?.join(',') };
  const wanted = { field: 'apps' as const, limit: options.limit, all: options.all, pageSize: options.pageSize };
  if (options.output === 'json') return printJson(await collect<AppList>(client, '/apps', query, wanted));
  const filtered = Object.values(query).some((v) => v !== undefined);
  const shown = streamTable(['NAME', 'STATUS', 'MODE', 'REPLICAS', 'IMAGE', 'AGE']);
  let last: AppList | undefined;
  let count = 0;
  for await (const page of pages<AppList>(client, '/apps', query, wanted)) {
    last = page;
    count += page.apps.length;
    if (page.apps.length === 0) continue;
    shown.rows(
      page.apps.map((app) => [
        app.name,
        status(app.status),
        app.mode ?? '-',
        `${app.replicas.current}/${app.replicas.desired}`,
        app.image ?? '-',
        ago(app.created_at),
      ]),
    );
  }
  if (count === 0) print(filtered ? 'no apps match' : 'no apps yet; register one with: orchestry apply -f app.yaml');
  print();
  if (last!.next_cursor !== null) print(c.dim(`showing the first ${count}; --all shows every one, --limit N the first N`));
  print(c.dim(`${last!.total} app${last!.total === 1 ? '' : 's'}: ${last!.running} running, ${last!.scaled_to_zero ?? 0} scaled to zero, ${last!.stopped} stopped, ${last!.error} in error`));
}

/** When the app was last woken from zero by a request, and how long until a replica served. */
function lastWake(wake: AppDetail['last_wake']): string {
  if (!wake) return '-';
  const took = wake.ready_seconds === null ? 'no replica ready yet' : `ready in ${wake.ready_seconds.toFixed(1)} s`;
  return `${wake.at} (${ago(wake.at)} ago), ${took}`;
}

async function showStatus(name: string, options: OutputOptions): Promise<void> {
  const client = await api();
  const app = await client.get<AppDetail>(`/apps/${seg(name)}`);
  if (options.output === 'json') return printJson(app);
  const m = app.metrics;
  const healthy = app.replicas.healthy ?? app.containers.filter((container) => container.health === 'healthy').length;
  print(
    fields([
      ['App', c.bold(app.name)],
      ['Status', `${status(app.status)} (mode ${app.mode ?? '-'}, revision ${app.revision})`],
      ['Image', app.image ?? '-'],
      ['Replicas', `${app.replicas.current} running / ${app.replicas.desired} desired, ${healthy} healthy`],
      [
        'Metrics',
        `cpu ${num(m.cpu_percent, '%')}  memory ${num(m.memory_percent, '%')}  rps ${num(m.rps)}  p95 ${num(m.latency_p95_ms, ' ms')}  connections ${num(m.active_connections)}`,
      ],
      ['Created', `${app.created_at ?? '-'} (${ago(app.created_at)} ago)`],
      ['Last scaled', app.last_scaled_at ? `${app.last_scaled_at} (${ago(app.last_scaled_at)} ago)` : '-'],
      ['Last wake', lastWake(app.last_wake)],
    ]),
  );
  print();
  if (app.containers.length === 0) {
    print(
      app.status === 'scaled_to_zero'
        ? 'no replicas: scaled to zero for want of traffic; its next request wakes it'
        : app.replicas.desired === 0
          ? `no replicas; start them with: orchestry start ${app.name}`
          : 'no replicas yet',
    );
    return;
  }
  print(
    table(
      ['REPLICA', 'CONTAINER', 'STATUS', 'HEALTH', 'ADDRESS', 'REVISION', 'CPU', 'MEMORY', 'AGE'],
      app.containers.map((container) => [
        container.replica_index,
        container.name,
        status(container.status),
        status(container.health),
        `${container.ip}:${container.port}`,
        container.revision,
        num(container.cpu_percent, '%'),
        num(container.memory_percent, '%'),
        ago(container.started_at),
      ]),
    ),
  );
}

export function registerAppCommands(program: Command): void {
  program
    .command('apply')
    .description('register an app from its spec, or update the spec of an app that exists')
    .requiredOption('-f, --file <file>', 'the app spec, YAML or JSON (- reads standard input)')
    .addOption(outputOption())
    .action(apply);

  addWaitOptions(
    program
      .command('start')
      .description('start an app (its replicas from the spec, or --replicas)')
      .argument('<name>', 'the app')
      .option('-r, --replicas <n>', 'how many replicas', wholeNumber('--replicas', 1)),
  )
    .addOption(outputOption())
    .action(start);

  program
    .command('stop')
    .description('stop every replica of an app (draining them first unless --force)')
    .argument('<name>', 'the app')
    .option('--force', 'stop at once, without draining')
    .option('--timeout <seconds>', 'wait up to this long for the replicas to stop', wholeNumber('--timeout', 0, MAX_WAIT_SECONDS))
    .addOption(outputOption())
    .action(stop);

  addWaitOptions(
    program
      .command('scale')
      .description('set how many replicas an app runs (kept within min/max in auto mode)')
      .argument('<name>', 'the app')
      .argument('<replicas>', 'the number of replicas', wholeNumber('replicas', 0)),
  )
    .addOption(outputOption())
    .action(scale);

  program
    .command('delete')
    .description('stop every replica of an app and remove it')
    .argument('<name>', 'the app')
    .option('--force', 'stop at once, without draining')
    .option('--timeout <seconds>', 'how long replicas may drain before they are stopped regardless', wholeNumber('--timeout', 0, MAX_WAIT_SECONDS))
    .addOption(outputOption())
    .action(remove);

  program
    .command('list')
    .alias('ls')
    .description('list apps with their status and replicas, by name')
    .option('--status <status>', 'only apps with this status (running, stopped, error, ...)')
    .option('--mode <mode>', 'only apps in this scaling mode (auto, manual)')
    .option('--image <image>', 'only apps running this image reference')
    .option('-l, --label <key=value>', 'only apps with this label (repeat for several, all must match)', (v: string, all: string[] = []) => [...all, v])
    .option('--limit <n>', `show at most this many apps (the API sends ${MAX_PAGE} a page at most)`, wholeNumber('--limit', 1), DEFAULT_LIMIT)
    .option('--all', 'every app, following the pages to the end')
    .addOption(pageSizeOption())
    .addOption(outputOption())
    .action(list);

  program
    .command('status')
    .description("an app's state, metrics and replicas with their health")
    .argument('<name>', 'the app')
    .addOption(outputOption())
    .action(showStatus);
}
