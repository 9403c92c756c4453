/**
 * The local runtime: one Docker container per replica, its port published on loopback with an
 * ephemeral host port, reached there (that also works on Docker Desktop, where container IPs
 * are not reachable from the host). Orchestry never pulls: images must already be in the engine.
 */
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import { OrchestryError } from '../core/errors.js';
import { identityFromLabels, LABELS, replicaLabels, replicaName } from './names.js';
import type {
  ContainerRuntime,
  ContainerTemplate,
  LogLine,
  ReplicaHandle,
  ReplicaState,
  ReplicaStats,
  RuntimeHealth,
  StartReplicaRequest,
} from './types.js';

export const DEFAULT_NETWORK = 'orchestry';
const LOOPBACK = '127.0.0.1';
/** How long Docker may take to report the published port of a container it just started. */
const PORT_WAIT_MS = 10_000;
const REMOVAL_WAIT_MS = 30_000;
const POLL_MS = 100;

export interface LocalSecretSource {
  /** Environment of the dev process, where `ORCHESTRY_SECRET_<REF>` is looked up. */
  env: Record<string, string | undefined>;
  /** Directory where a secret `team/db` is the file `<dir>/team/db`. */
  dir: string;
}

export interface DockerRuntimeOptions {
  docker?: Docker | undefined;
  /** The user-defined bridge network replicas join; created when absent. */
  network?: string | undefined;
  secrets?: Partial<LocalSecretSource> | undefined;
}

/** `team/db-url` → `ORCHESTRY_SECRET_TEAM_DB_URL`. */
export function secretEnvVar(ref: string): string {
  return `ORCHESTRY_SECRET_${ref.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

const SECRET_REF = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

/**
 * A secret's value on a laptop: the dev process's environment variable first, then a file
 * under `.orchestry/secrets/`. A trailing newline in the file is dropped (editors add one).
 */
export async function resolveLocalSecret(ref: string, source: LocalSecretSource): Promise<string> {
  const envVar = secretEnvVar(ref);
  const fromEnv = source.env[envVar];
  if (fromEnv !== undefined) return fromEnv;
  if (!SECRET_REF.test(ref) || ref.split('/').some((part) => part === '..')) {
    throw new OrchestryError(
      'RUNTIME_ERROR',
      `Secret '${ref}' is not set: set ${envVar} in the environment of the Orchestry process (the ref is not a valid file path, so no file is read)`,
      { secret_ref: ref, env_var: envVar },
    );
  }
  const file = join(source.dir, ref);
  try {
    return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new OrchestryError(
      'RUNTIME_ERROR',
      `Secret '${ref}' is not set: set ${envVar} in the environment of the Orchestry process or write the value to ${file}`,
      { secret_ref: ref, env_var: envVar, file },
    );
  }
}

interface DockerApiError {
  statusCode?: number;
  code?: string;
  json?: { message?: string } | null;
  reason?: string;
  message?: string;
}

const statusOf = (error: unknown): number | undefined => (error as DockerApiError | null)?.statusCode;

function engineMessage(error: unknown): string {
  const e = error as DockerApiError | null;
  return e?.json?.message ?? e?.message ?? String(error);
}

/** Engine errors become OrchestryErrors: unreachable engine → RUNTIME_UNAVAILABLE, the rest RUNTIME_ERROR. */
function runtimeError(action: string, error: unknown, details: Record<string, unknown> = {}): OrchestryError {
  if (error instanceof OrchestryError) return error;
  const code = (error as DockerApiError | null)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EACCES' || code === 'ECONNRESET') {
    return new OrchestryError('RUNTIME_UNAVAILABLE', `Docker engine unreachable while trying to ${action}: ${engineMessage(error)}`, details, {
      cause: error,
    });
  }
  return new OrchestryError('RUNTIME_ERROR', `Docker could not ${action}: ${engineMessage(error)}`, { ...details, status: statusOf(error) ?? null }, {
    cause: error,
  });
}

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

function replicaState(state: Docker.ContainerInspectInfo['State']): ReplicaState {
  switch (state.Status) {
    case 'created':
      // A failed start (say, the command does not exist) leaves the container created, with an error.
      return state.Error ? 'error' : 'starting';
    case 'restarting':
      return 'starting';
    case 'running':
      return 'running';
    case 'removing':
      return 'stopping';
    case 'paused':
      return 'stopped';
    case 'exited':
      // 143 is the exit of a process that honoured SIGTERM, as a replica being stopped does.
      return !state.OOMKilled && (state.ExitCode === 0 || state.ExitCode === 143) ? 'stopped' : 'error';
    default:
      return 'error';
  }
}

function startedAt(info: Docker.ContainerInspectInfo): Date | null {
  const at = new Date(info.State.StartedAt);
  // Docker reports a never-started container as 0001-01-01T00:00:00Z.
  return Number.isNaN(at.getTime()) || at.getUTCFullYear() < 2000 ? null : at;
}

function publishedPort(info: Docker.ContainerInspectInfo, containerPort: number): number | null {
  const bindings = info.NetworkSettings?.Ports?.[`${containerPort}/tcp`] ?? [];
  const binding = bindings.find((b) => b.HostIp === LOOPBACK) ?? bindings[0];
  const port = Number(binding?.HostPort);
  return Number.isInteger(port) && port > 0 ? port : null;
}

function toHandle(info: Docker.ContainerInspectInfo): ReplicaHandle | null {
  const identity = identityFromLabels(info.Config.Labels);
  if (!identity) return null;
  const containerPort = Number(info.Config.Labels[LABELS.containerPort]);
  return {
    id: info.Id,
    name: info.Name.replace(/^\//, ''),
    app: identity.app,
    replicaIndex: identity.replicaIndex,
    revision: identity.revision,
    ip: LOOPBACK,
    port: publishedPort(info, containerPort) ?? 0,
    state: replicaState(info.State),
    startedAt: startedAt(info),
  };
}

/** Splits Docker's multiplexed log stream (8-byte frame headers) into timestamped lines. */
function demultiplexLogs(buffer: Buffer, tty: boolean, replicaId: string): LogLine[] {
  const lines: LogLine[] = [];
  const addFrame = (stream: LogLine['stream'], payload: string) => {
    for (const raw of payload.split('\n')) {
      if (raw === '') continue;
      const space = raw.indexOf(' ');
      const at = new Date(raw.slice(0, space));
      const stamped = space > 0 && !Number.isNaN(at.getTime());
      lines.push({ at: stamped ? at : null, stream, message: (stamped ? raw.slice(space + 1) : raw).replace(/\r$/, ''), replicaId });
    }
  };
  if (tty) {
    addFrame('stdout', buffer.toString('utf8'));
    return lines;
  }
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const kind = buffer[offset];
    const size = buffer.readUInt32BE(offset + 4);
    const payload = buffer.subarray(offset + 8, offset + 8 + size).toString('utf8');
    addFrame(kind === 2 ? 'stderr' : 'stdout', payload);
    offset += 8 + size;
  }
  return lines;
}

/** Docker reads `since` as `<seconds>.<nanoseconds>`; a plain fraction would be taken as nanoseconds. */
function dockerTimestamp(at: Date): string {
  const ms = at.getTime();
  const seconds = Math.floor(ms / 1000);
  return `${seconds}.${String((ms - seconds * 1000) * 1_000_000).padStart(9, '0')}`;
}

export class DockerRuntime implements ContainerRuntime {
  readonly kind = 'docker' as const;
  private readonly docker: Docker;
  private readonly network: string;
  private readonly secrets: LocalSecretSource;

  constructor(options: DockerRuntimeOptions = {}) {
    this.docker = options.docker ?? new Docker();
    this.network = options.network ?? DEFAULT_NETWORK;
    this.secrets = {
      env: options.secrets?.env ?? process.env,
      dir: options.secrets?.dir ?? resolve('.orchestry', 'secrets'),
    };
  }

  async start(req: StartReplicaRequest): Promise<ReplicaHandle> {
    const { app, replicaIndex, revision, template } = req;
    const name = replicaName(app, replicaIndex, revision);
    const existing = await this.inspect(name);
    if (existing) return this.adopt(existing, app, template.containerPort);

    await this.requireImage(template.image, name);
    const env = await this.environment(template);
    const networkId = await this.ensureNetwork();
    try {
      await this.docker.createContainer({
        name,
        Image: template.image,
        Env: env,
        Labels: { ...template.labels, ...replicaLabels(app, replicaIndex, revision, template.containerPort) },
        // Kubernetes' meaning, which ECS mirrors: command replaces the entrypoint, args the CMD.
        ...(template.command?.length ? { Entrypoint: template.command, Cmd: template.args ?? [] } : {}),
        ...(!template.command?.length && template.args?.length ? { Cmd: template.args } : {}),
        ...(template.workingDir ? { WorkingDir: template.workingDir } : {}),
        ExposedPorts: { [`${template.containerPort}/tcp`]: {} },
        HostConfig: {
          NetworkMode: networkId,
          PortBindings: { [`${template.containerPort}/tcp`]: [{ HostIp: LOOPBACK, HostPort: '' }] },
          NanoCpus: template.cpuMillis * 1_000_000,
          Memory: template.memoryBytes,
          // No swap, as on Fargate, so memory percent means what it says.
          MemorySwap: template.memoryBytes,
          // Orchestry replaces failed replicas itself; an engine restart would hide the failure.
          RestartPolicy: { Name: 'no' },
          // json-file is what logs() can read back; rotation keeps a chatty replica from filling the disk.
          LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '3' } },
        },
      });
    } catch (error) {
      // A concurrent start of the same replica created it first: adopt that one. Docker
      // reserves the name a moment before the container can be inspected, hence the wait.
      if (statusOf(error) === 409) return this.adopt(await this.waitForContainer(name), app, template.containerPort);
      if (statusOf(error) === 404 && /image/i.test(engineMessage(error))) throw missingImage(template.image, name);
      throw runtimeError(`create container ${name}`, error, { container: name, image: template.image });
    }
    const created = await this.inspect(name);
    if (!created) throw new OrchestryError('RUNTIME_ERROR', `Container ${name} disappeared right after it was created`, { container: name });
    return this.adopt(created, app, template.containerPort);
  }

  async stop(replica: { id: string; app: string }, opts: { graceSeconds: number }): Promise<void> {
    const info = await this.inspect(replica.id);
    if (!info) return;
    this.requireOwned(info, replica.app);
    const container = this.docker.getContainer(info.Id);
    try {
      // Docker sends the image's stop signal (SIGTERM by default) and SIGKILL after t seconds.
      await container.stop({ t: Math.max(0, Math.ceil(opts.graceSeconds)) });
    } catch (error) {
      // 304: already stopped; 404: removed meanwhile. Both leave nothing to stop.
      if (statusOf(error) !== 304 && statusOf(error) !== 404) throw runtimeError(`stop container ${info.Id}`, error, { container: info.Id });
    }
    try {
      await container.remove({ force: true, v: true });
    } catch (error) {
      if (statusOf(error) === 404) return;
      // 409: another stop is removing it right now; done once it is gone.
      if (statusOf(error) !== 409) throw runtimeError(`remove container ${info.Id}`, error, { container: info.Id });
      await this.waitUntilGone(info.Id);
    }
  }

  async list(app: string): Promise<ReplicaHandle[]> {
    let containers: Docker.ContainerInfo[];
    try {
      containers = await this.docker.listContainers({
        all: true,
        filters: { label: [`${LABELS.app}=${app}`, `${LABELS.managed}=true`] },
      });
    } catch (error) {
      throw runtimeError(`list containers of app ${app}`, error, { app });
    }
    const infos = await Promise.all(containers.map((c) => this.inspect(c.Id)));
    return infos
      .map((info) => (info ? toHandle(info) : null))
      .filter((handle): handle is ReplicaHandle => handle !== null && handle.app === app)
      .sort((a, b) => a.replicaIndex - b.replicaIndex || a.revision - b.revision);
  }

  async stats(replica: { id: string; app: string }): Promise<ReplicaStats | null> {
    const info = await this.inspect(replica.id);
    if (!info) return null;
    this.requireOwned(info, replica.app);
    if (!info.State.Running) return null;
    let sample: Docker.ContainerStats;
    try {
      // Without one-shot, Docker samples twice, so precpu_stats holds the previous reading.
      sample = await this.docker.getContainer(info.Id).stats({ stream: false });
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw runtimeError(`read stats of container ${info.Id}`, error, { container: info.Id });
    }
    const cpuDelta = sample.cpu_stats.cpu_usage.total_usage - (sample.precpu_stats.cpu_usage?.total_usage ?? 0);
    const systemDelta = sample.cpu_stats.system_cpu_usage - (sample.precpu_stats.system_cpu_usage ?? 0);
    const onlineCpus = sample.cpu_stats.online_cpus || sample.cpu_stats.cpu_usage.percpu_usage?.length || 1;
    const limitCpus = info.HostConfig.NanoCpus ? info.HostConfig.NanoCpus / 1e9 : onlineCpus;
    const hostCpuFraction = systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * onlineCpus : 0;

    const memory = sample.memory_stats;
    // Page cache the kernel can drop is not the replica's memory (the docker CLI subtracts it too).
    const reclaimable = memory.stats?.total_inactive_file ?? memory.stats?.inactive_file ?? 0;
    const used = Math.max(0, (memory.usage ?? 0) - (reclaimable < (memory.usage ?? 0) ? reclaimable : 0));
    const memoryLimit = info.HostConfig.Memory || memory.limit || 0;
    return {
      cpuPercent: (hostCpuFraction / limitCpus) * 100,
      memoryPercent: memoryLimit > 0 ? (used / memoryLimit) * 100 : 0,
      memoryBytes: used,
      at: new Date(sample.read),
    };
  }

  async logs(replica: { id: string; app: string }, opts: { tail?: number | undefined; since?: Date | undefined }): Promise<LogLine[]> {
    const info = await this.inspect(replica.id);
    if (!info) return [];
    this.requireOwned(info, replica.app);
    let raw: Buffer;
    try {
      raw = await this.docker.getContainer(info.Id).logs({
        stdout: true,
        stderr: true,
        timestamps: true,
        follow: false,
        ...(opts.tail !== undefined ? { tail: Math.max(0, Math.floor(opts.tail)) } : {}),
        ...(opts.since ? { since: dockerTimestamp(opts.since) } : {}),
      });
    } catch (error) {
      if (statusOf(error) === 404) return [];
      throw runtimeError(`read logs of container ${info.Id}`, error, { container: info.Id });
    }
    const lines = demultiplexLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)), info.Config.Tty, info.Id);
    const since = opts.since?.getTime();
    return since === undefined ? lines : lines.filter((line) => !line.at || line.at.getTime() >= since);
  }

  async ping(): Promise<RuntimeHealth> {
    try {
      const version = await this.docker.version();
      return { ok: true, kind: 'docker', detail: `Docker ${version.Version} (API ${version.ApiVersion})` };
    } catch (error) {
      return { ok: false, kind: 'docker', detail: `Docker engine unreachable: ${engineMessage(error)}` };
    }
  }

  /** The local router reads the instances table, so there is nothing to register. */
  async addToRouting(_app: string, _replica: ReplicaHandle): Promise<void> {}

  async removeFromRouting(_app: string, _replica: ReplicaHandle): Promise<void> {}

  async ensureApp(_app: string): Promise<void> {
    await this.ensureNetwork();
  }

  /** Replicas share one network and Docker keeps nothing else per app. */
  async removeApp(_app: string): Promise<void> {}

  private async inspect(idOrName: string): Promise<Docker.ContainerInspectInfo | null> {
    try {
      return await this.docker.getContainer(idOrName).inspect();
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw runtimeError(`inspect container ${idOrName}`, error, { container: idOrName });
    }
  }

  private requireOwned(info: Docker.ContainerInspectInfo, app: string): void {
    const identity = identityFromLabels(info.Config.Labels);
    if (identity?.app !== app) {
      throw new OrchestryError(
        'RUNTIME_ERROR',
        `Container ${info.Name.replace(/^\//, '')} (${info.Id.slice(0, 12)}) is not a replica of app '${app}'; Orchestry leaves it alone`,
        { container: info.Id, app },
      );
    }
  }

  /** Makes an existing container of this replica running and reports where it is reached. */
  private async adopt(info: Docker.ContainerInspectInfo, app: string, containerPort: number): Promise<ReplicaHandle> {
    const name = info.Name.replace(/^\//, '');
    this.requireOwned(info, app);
    if (!info.State.Running) {
      try {
        await this.docker.getContainer(info.Id).start();
      } catch (error) {
        // 304: a concurrent start got there first.
        if (statusOf(error) !== 304) throw runtimeError(`start container ${name}`, error, { container: name });
      }
    }
    const deadline = Date.now() + PORT_WAIT_MS;
    for (;;) {
      const current = await this.inspect(info.Id);
      if (!current) throw new OrchestryError('RUNTIME_ERROR', `Container ${name} was removed while it was being started`, { container: name });
      if (!current.State.Running && current.State.Status !== 'created') throw await this.exitedEarly(current);
      const port = publishedPort(current, containerPort);
      const handle = toHandle(current);
      if (port !== null && handle && current.State.Running) return { ...handle, port };
      if (Date.now() > deadline) {
        throw new OrchestryError('RUNTIME_ERROR', `Container ${name} started but Docker did not publish port ${containerPort} on ${LOOPBACK}`, {
          container: name,
        });
      }
      await sleep(POLL_MS);
    }
  }

  private async exitedEarly(info: Docker.ContainerInspectInfo): Promise<OrchestryError> {
    const name = info.Name.replace(/^\//, '');
    const tail = await this.docker
      .getContainer(info.Id)
      .logs({ stdout: true, stderr: true, tail: 20, follow: false })
      .then((raw) => demultiplexLogs(raw, info.Config.Tty, info.Id).map((line) => line.message))
      .catch(() => [] as string[]);
    const why = info.State.Error || `exit code ${info.State.ExitCode}${info.State.OOMKilled ? ', killed for exceeding its memory limit' : ''}`;
    return new OrchestryError('RUNTIME_ERROR', `Container ${name} stopped right after it started (${why})`, {
      container: name,
      exit_code: info.State.ExitCode,
      last_logs: tail,
    });
  }

  private async requireImage(image: string, name: string): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
    } catch (error) {
      if (statusOf(error) === 404) throw missingImage(image, name);
      throw runtimeError(`inspect image ${image}`, error, { image });
    }
  }

  private async environment(template: ContainerTemplate): Promise<string[]> {
    const values = { ...template.env };
    for (const secret of template.secrets) values[secret.name] = await resolveLocalSecret(secret.ref, this.secrets);
    return Object.entries(values).map(([key, value]) => `${key}=${value}`);
  }

  /**
   * The network's id (ids, unlike names, are never ambiguous). Docker's duplicate-name check is
   * best effort, so two processes creating it at once can make two; the oldest wins and the
   * others are removed.
   */
  private async ensureNetwork(): Promise<string> {
    const find = async () => {
      // The name filter matches substrings; keep exact matches only.
      const networks = await this.docker.listNetworks({ filters: { name: [this.network] } });
      return networks
        .filter((n) => n.Name === this.network)
        .sort((a, b) => Date.parse(a.Created) - Date.parse(b.Created) || a.Id.localeCompare(b.Id));
    };
    try {
      let networks = await find();
      if (networks.length === 0) {
        try {
          await this.docker.createNetwork({
            Name: this.network,
            Driver: 'bridge',
            CheckDuplicate: true,
            Labels: { [LABELS.managed]: 'true' },
          });
        } catch (error) {
          if (statusOf(error) !== 409) throw error;
        }
        networks = await find();
      }
      const [winner, ...duplicates] = networks;
      if (!winner) throw new Error(`network ${this.network} was created but cannot be found`);
      await Promise.all(duplicates.map((n) => this.docker.getNetwork(n.Id).remove().catch(() => undefined)));
      return winner.Id;
    } catch (error) {
      throw runtimeError(`prepare network ${this.network}`, error, { network: this.network });
    }
  }

  private async waitForContainer(name: string): Promise<Docker.ContainerInspectInfo> {
    const deadline = Date.now() + PORT_WAIT_MS;
    for (;;) {
      const info = await this.inspect(name);
      if (info) return info;
      if (Date.now() > deadline) {
        throw new OrchestryError('RUNTIME_ERROR', `The name ${name} is taken but no container by that name appeared`, { container: name });
      }
      await sleep(POLL_MS);
    }
  }

  private async waitUntilGone(id: string): Promise<void> {
    const deadline = Date.now() + REMOVAL_WAIT_MS;
    while (await this.inspect(id)) {
      if (Date.now() > deadline) throw new OrchestryError('RUNTIME_ERROR', `Container ${id} is still being removed`, { container: id });
      await sleep(POLL_MS);
    }
  }
}

function missingImage(image: string, name: string): OrchestryError {
  return new OrchestryError(
    'RUNTIME_ERROR',
    `Image '${image}' is not present in the local Docker engine, and Orchestry never pulls images. ` +
      `Build it (docker build -t ${image} <dir>) or load it (docker pull ${image}, or docker load -i <file>), then start again`,
    { image, container: name },
  );
}
