/**
 * The composition root: the one place that turns configuration (the environment) into the
 * database, the container runtime, the logger, the clock and the settings that the API and
 * the jobs receive. Nothing else reads process.env for these.
 */
import { createDb, dbConfigFromEnv, type Db } from '../db/client.js';
import { OrchestryError, validationError, type FieldIssue } from './core/errors.js';
import { createLogger, type Logger } from './log.js';
import type { OpsDeps, ReconcileTiming } from './ops/deps.js';
import { ecsConfigFromEnv } from './runtime/ecs-config.js';
import { LazyRuntime } from './runtime/lazy.js';
import type { ContainerRuntime, RuntimeHealth } from './runtime/types.js';

export type RuntimeKind = 'docker' | 'ecs' | 'none';
export const RUNTIME_KINDS: readonly RuntimeKind[] = ['docker', 'ecs', 'none'];

export interface RetentionConfig {
  eventsRetentionSeconds: number;
  instanceMetricsRetentionSeconds: number;
  appMetricsRetentionSeconds: number;
  stoppedInstancesRetentionSeconds: number;
  rollups1mRetentionSeconds: number;
  rollups1hRetentionSeconds: number;
  compressedEventsRetentionSeconds: number;
  jobRunsRetentionSeconds: number;
  /** Rows per DELETE statement, so a large backlog never holds a long lock. */
  batchSize: number;
}

export interface JobPeriods {
  scalerPeriodSeconds: number;
  proberPeriodSeconds: number;
  collectorPeriodSeconds: number;
  rollupPeriodSeconds: number;
  cleanupPeriodSeconds: number;
}

export interface OrchestryConfig {
  runtime: RuntimeKind;
  /** Requests per minute per API key; 0 turns rate limiting off. */
  rateLimitPerMinute: number;
  /** The largest request body, in bytes (metric batches have their own limit). */
  maxBodyBytes: number;
  maxMetricsBodyBytes: number;
  /**
   * The longest `timeout` a start/scale/stop/delete may wait within one request. In Lambda it
   * stays under API Gateway's 30 s integration limit.
   */
  maxWaitSeconds: number;
  jobs: JobPeriods;
  retention: RetentionConfig;
  reconcileTiming?: Partial<ReconcileTiming> | undefined;
  /** A key with admin scope that lives outside the database (a secret); never serialized. */
  adminToken?: string | undefined;
}

export interface Deps {
  db: Db;
  runtime: ContainerRuntime;
  log: Logger;
  now: () => Date;
  config: OrchestryConfig;
}

const KIB = 1024;
const HOUR = 3600;
const DAY = 24 * HOUR;

export const DEFAULT_CONFIG: Omit<OrchestryConfig, 'adminToken'> = Object.freeze({
  runtime: 'none',
  rateLimitPerMinute: 600,
  maxBodyBytes: 256 * KIB,
  maxMetricsBodyBytes: 2048 * KIB,
  maxWaitSeconds: 300,
  jobs: { scalerPeriodSeconds: 10, proberPeriodSeconds: 10, collectorPeriodSeconds: 60, rollupPeriodSeconds: 60, cleanupPeriodSeconds: HOUR },
  // The data model's retention periods, and the design's for what it adds.
  retention: {
    eventsRetentionSeconds: 30 * DAY,
    instanceMetricsRetentionSeconds: 7 * DAY,
    appMetricsRetentionSeconds: 30 * DAY,
    stoppedInstancesRetentionSeconds: 7 * DAY,
    rollups1mRetentionSeconds: 30 * DAY,
    rollups1hRetentionSeconds: 400 * DAY,
    compressedEventsRetentionSeconds: 400 * DAY,
    jobRunsRetentionSeconds: 7 * DAY,
    batchSize: 5000,
  },
});

/** API Gateway ends an integration after 30 s; a wait leaves room to answer. */
export const LAMBDA_MAX_WAIT_SECONDS = 25;

type Env = Record<string, string | undefined>;

const isLambda = (env: Env) => Boolean(env.AWS_LAMBDA_FUNCTION_NAME);

/**
 * The settings from the environment. Every variable is optional; a value that is set but
 * wrong is a VALIDATION_ERROR naming the variable, so a typo never silently means "default".
 * `runtime` here is only what ORCHESTRY_RUNTIME says (createDepsFromEnv probes Docker when unset).
 */
export function configFromEnv(env: Env = process.env): OrchestryConfig {
  const issues: FieldIssue[] = [];
  const number = (names: string | string[], fallback: number, min: number, max: number, scale = 1): number => {
    for (const name of Array.isArray(names) ? names : [names]) {
      const raw = env[name]?.trim();
      if (!raw) continue;
      const value = Number(raw);
      if (!/^\d+(\.\d+)?$/.test(raw) || value < min || value > max) {
        issues.push({ path: name, message: `must be a number from ${min} to ${max}; got "${raw}"` });
        return fallback;
      }
      return value * scale;
    }
    return fallback;
  };
  const runtimeRaw = env.ORCHESTRY_RUNTIME?.trim();
  let runtime: RuntimeKind = DEFAULT_CONFIG.runtime;
  if (runtimeRaw) {
    if ((RUNTIME_KINDS as readonly string[]).includes(runtimeRaw)) runtime = runtimeRaw as RuntimeKind;
    else issues.push({ path: 'ORCHESTRY_RUNTIME', message: `must be one of ${RUNTIME_KINDS.join(', ')}; got "${runtimeRaw}"` });
  }
  const d = DEFAULT_CONFIG;
  const waitCeiling = isLambda(env) ? LAMBDA_MAX_WAIT_SECONDS : 3600;
  const config: OrchestryConfig = {
    runtime,
    rateLimitPerMinute: number('ORCHESTRY_RATE_LIMIT_PER_MINUTE', d.rateLimitPerMinute, 0, 1_000_000),
    maxBodyBytes: number('ORCHESTRY_MAX_BODY_BYTES', d.maxBodyBytes, 1024, 10 * 1024 * KIB),
    maxMetricsBodyBytes: number('ORCHESTRY_MAX_METRICS_BODY_BYTES', d.maxMetricsBodyBytes, 1024, 50 * 1024 * KIB),
    maxWaitSeconds: number('ORCHESTRY_MAX_WAIT_SECONDS', Math.min(d.maxWaitSeconds, waitCeiling), 0, waitCeiling),
    jobs: {
      scalerPeriodSeconds: number('SCALER_PERIOD_SECONDS', d.jobs.scalerPeriodSeconds, 1, 3600),
      proberPeriodSeconds: number('PROBER_PERIOD_SECONDS', d.jobs.proberPeriodSeconds, 1, 3600),
      collectorPeriodSeconds: number('COLLECTOR_PERIOD_SECONDS', d.jobs.collectorPeriodSeconds, 1, 3600),
      rollupPeriodSeconds: number('ROLLUP_PERIOD_SECONDS', d.jobs.rollupPeriodSeconds, 1, DAY),
      cleanupPeriodSeconds: number('CLEANUP_PERIOD_SECONDS', d.jobs.cleanupPeriodSeconds, 1, DAY),
    },
    retention: {
      eventsRetentionSeconds: number('ORCHESTRY_EVENTS_RETENTION_DAYS', d.retention.eventsRetentionSeconds, 0, 3650, DAY),
      instanceMetricsRetentionSeconds: number(
        'ORCHESTRY_INSTANCE_METRICS_RETENTION_HOURS',
        d.retention.instanceMetricsRetentionSeconds,
        0,
        24 * 3650,
        HOUR,
      ),
      appMetricsRetentionSeconds: number('ORCHESTRY_APP_METRICS_RETENTION_DAYS', d.retention.appMetricsRetentionSeconds, 0, 3650, DAY),
      stoppedInstancesRetentionSeconds: number(
        'ORCHESTRY_STOPPED_INSTANCES_RETENTION_HOURS',
        d.retention.stoppedInstancesRetentionSeconds,
        0,
        24 * 3650,
        HOUR,
      ),
      rollups1mRetentionSeconds: number('ORCHESTRY_ROLLUPS_1M_RETENTION_DAYS', d.retention.rollups1mRetentionSeconds, 0, 3650, DAY),
      rollups1hRetentionSeconds: number('ORCHESTRY_ROLLUPS_1H_RETENTION_DAYS', d.retention.rollups1hRetentionSeconds, 0, 3650, DAY),
      compressedEventsRetentionSeconds: number(
        'ORCHESTRY_COMPRESSED_EVENTS_RETENTION_DAYS',
        d.retention.compressedEventsRetentionSeconds,
        0,
        3650,
        DAY,
      ),
      jobRunsRetentionSeconds: number('ORCHESTRY_JOB_RUNS_RETENTION_DAYS', d.retention.jobRunsRetentionSeconds, 0, 3650, DAY),
      batchSize: number('ORCHESTRY_CLEANUP_BATCH_SIZE', d.retention.batchSize, 1, 1_000_000),
    },
    adminToken: env.ORCHESTRY_ADMIN_TOKEN?.trim() || undefined,
  };
  if (config.maxMetricsBodyBytes < config.maxBodyBytes) config.maxMetricsBodyBytes = config.maxBodyBytes;
  if (config.adminToken !== undefined && config.adminToken.length < 16) {
    issues.push({ path: 'ORCHESTRY_ADMIN_TOKEN', message: 'must be at least 16 characters (use a random string: openssl rand -hex 24)' });
  }
  if (issues.length > 0) throw validationError(issues);
  return config;
}

/** The configuration as GET /config shows it: every secret replaced by whether it is set. */
export function redactedConfig(config: OrchestryConfig) {
  const { adminToken, reconcileTiming: _timing, ...rest } = config;
  return { ...rest, adminToken: adminToken ? '[redacted]' : null };
}

/**
 * The runtime used when there is none: everything that reads works, and starting or stopping
 * says why it cannot. It owns nothing, so listing finds nothing and removing an app's
 * resources has nothing to do.
 */
export class NoRuntime implements ContainerRuntime {
  // ContainerRuntime['kind'] does not list 'none' yet (a change asked of functions/runtime/types.ts).
  readonly kind = 'none' as unknown as ContainerRuntime['kind'];
  constructor(private readonly reason: string) {}

  /** The error every start or stop answers; the API raises it before changing any desired state. */
  unavailable(): OrchestryError {
    return new OrchestryError('RUNTIME_UNAVAILABLE', `Starting apps needs a Docker engine: ${this.reason}`, {
      runtime: 'none',
      fix: 'start Docker (or set ORCHESTRY_RUNTIME=docker) and restart Orchestry',
    });
  }

  async start(): Promise<never> {
    throw this.unavailable();
  }
  async stop(): Promise<never> {
    throw this.unavailable();
  }
  async list() {
    return [];
  }
  async stats() {
    return null;
  }
  async logs() {
    return [];
  }
  async ping(): Promise<RuntimeHealth> {
    return { ok: false, kind: 'none', detail: `no container runtime: ${this.reason}` };
  }
  async addToRouting(): Promise<void> {}
  async removeFromRouting(): Promise<void> {}
  async ensureApp(): Promise<void> {}
  async removeApp(): Promise<void> {}
}

/**
 * The Docker runtime's module. Its name goes through a variable so that esbuild (the Lambda
 * bundles) leaves this import alone: a literal one put dockerode, ssh2 and gRPC (0.9 MB of the
 * API's 2.5 MB, bench cold_start) into every Lambda, where ORCHESTRY_RUNTIME is always ecs or
 * none and the module is never loaded.
 */
const DOCKER_RUNTIME_MODULE = './runtime/docker.js';
const loadDockerRuntime = (): Promise<typeof import('./runtime/docker.js')> => import(DOCKER_RUNTIME_MODULE);

/** Whether a Docker engine answers, without loading dockerode when the answer is no. */
async function dockerAnswers(): Promise<{ ok: boolean; detail: string }> {
  const { DockerRuntime } = await loadDockerRuntime();
  const health = await new DockerRuntime().ping();
  return { ok: health.ok, detail: health.detail ?? '' };
}

/**
 * The runtime ORCHESTRY_RUNTIME names; unset, Docker when an engine answers, else none.
 * Runtimes are imported on demand so that the Lambda bundle never loads dockerode and the
 * dev server never loads the AWS SDK; the ECS runtime is made on its first use.
 */
export async function createRuntime(kind: RuntimeKind | undefined, env: Env, log: Logger): Promise<ContainerRuntime> {
  if (kind === 'ecs') {
    // The configuration is checked now; the runtime, and with it the AWS SDK, is loaded when
    // first used (a read such as GET /apps never uses it).
    const config = ecsConfigFromEnv(env);
    return new LazyRuntime('ecs', async () => {
      const { EcsRuntime } = await import('./runtime/ecs.js');
      return new EcsRuntime(config, { log });
    });
  }
  if (kind === 'none') return new NoRuntime('ORCHESTRY_RUNTIME is none');
  if (kind === 'docker') {
    const { DockerRuntime } = await loadDockerRuntime();
    return new DockerRuntime();
  }
  const docker = await dockerAnswers();
  if (docker.ok) {
    const { DockerRuntime } = await loadDockerRuntime();
    return new DockerRuntime();
  }
  log.warn('no Docker engine answers; apps can be registered but not started', { detail: docker.detail });
  return new NoRuntime(`${docker.detail || 'no engine answered'}; start Docker and restart Orchestry`);
}

/**
 * SST secrets (infra/database.ts) reach a Lambda as `SST_Secret_value_NAME=__FETCH_FROM_SSM__`;
 * `sst/node/config` fetches them from SSM when imported. Only then is it imported, and the
 * values are returned as environment variables of the same names.
 */
export async function secretsFromSst(env: Env): Promise<Env> {
  const bound = Object.keys(env).some((name) => name.startsWith('SST_Secret_value_'));
  if (!bound) return {};
  const { Config } = (await import('sst/node/config')) as unknown as { Config: Record<string, string | undefined> };
  const out: Env = {};
  for (const name of ['DATABASE_URL', 'DATABASE_REPLICA_URL', 'ORCHESTRY_ADMIN_TOKEN']) {
    if (env[`SST_Secret_value_${name}`] === undefined) continue;
    const value = Config[name];
    if (value) out[name] = value;
  }
  // An SST secret cannot be empty: a stage without a read replica sets the primary's URL again
  // (docs/deploy.md), which means "no replica", not a second pool on the same database.
  if (out.DATABASE_REPLICA_URL !== undefined && out.DATABASE_REPLICA_URL === out.DATABASE_URL) delete out.DATABASE_REPLICA_URL;
  return out;
}

export interface DepsHandle {
  deps: Deps;
  close(): Promise<void>;
}

/** Everything from the environment (and, in Lambda, from SST secrets). */
export async function createDepsFromEnv(env: Env = process.env, overrides: { log?: Logger | undefined } = {}): Promise<DepsHandle> {
  const merged: Env = { ...env, ...(await secretsFromSst(env)) };
  const config = configFromEnv(merged);
  const log = overrides.log ?? createLogger();
  const runtime = await createRuntime(merged.ORCHESTRY_RUNTIME?.trim() ? config.runtime : undefined, merged, log);
  config.runtime = runtime instanceof NoRuntime ? 'none' : runtime.kind === 'ecs' ? 'ecs' : 'docker';
  const handle = await createDb(dbConfigFromEnv(merged as NodeJS.ProcessEnv));
  return {
    deps: { db: handle.db, runtime, log, now: () => new Date(), config },
    close: handle.close,
  };
}

/** The subset the operations on apps take (functions/ops/deps.ts), from the full deps. */
export function opsDeps(deps: Deps): OpsDeps {
  return { db: deps.db, runtime: deps.runtime, log: deps.log, clock: { now: deps.now }, reconcileTiming: deps.config.reconcileTiming };
}
