/**
 * The cloud runtime: one Fargate task per replica, one task definition per app revision,
 * task IPs registered in the app's ALB target group. Every create is findable again (task
 * definitions by tags, tasks by tags and a deterministic clientToken, target groups by name,
 * rules by target), so a retried or repeated call adopts what the first one made.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MetricDataQuery } from '@aws-sdk/client-cloudwatch';
import type { RunTaskCommandInput, Task } from '@aws-sdk/client-ecs';
import { OrchestryError } from '../core/errors.js';
import { silentLogger, type Logger } from '../log.js';
import { awsErrorMessage, awsErrorName, createAwsCaller, DEFAULT_RETRY_POLICY, tolerating, type AwsCaller, type RetryPolicy } from './ecs-aws.js';
import { checkConfig, type EcsRuntimeConfig } from './ecs-config.js';
import { EcsRouting } from './ecs-routing.js';
import {
  buildTaskDefinition,
  TAG_APP,
  TAG_NAME,
  TAG_PORT,
  TAG_REPLICA,
  TAG_REVISION,
  TAG_TEMPLATE,
  taskFamily,
} from './ecs-task-definition.js';
import { replicaName } from './names.js';
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

export { ecsConfigFromEnv, type EcsRuntimeConfig } from './ecs-config.js';

// The AWS SDK is imported dynamically, though at this module's top level: a bundle that leaves
// @aws-sdk/* out (the Node 20 Lambda runtime has it; bench cold_start bundles so) hoists static
// imports of it to its own top, so the four clients loaded with the bundle, ~190 ms of that
// cold start, though a read such as GET /apps never calls ECS. Dynamic, they load when this
// module does, which functions/deps.ts imports when the runtime is first used.
const [
  { CloudWatchClient, GetMetricDataCommand },
  { CloudWatchLogsClient, GetLogEventsCommand },
  {
    DescribeClustersCommand,
    DescribeTaskDefinitionCommand,
    DescribeTasksCommand,
    ECSClient,
    ListTasksCommand,
    RegisterTaskDefinitionCommand,
    RunTaskCommand,
    StopTaskCommand,
  },
  { ElasticLoadBalancingV2Client },
] = await Promise.all([
  import('@aws-sdk/client-cloudwatch'),
  import('@aws-sdk/client-cloudwatch-logs'),
  import('@aws-sdk/client-ecs'),
  import('@aws-sdk/client-elastic-load-balancing-v2'),
]);
type CloudWatchClient = InstanceType<typeof CloudWatchClient>;
type CloudWatchLogsClient = InstanceType<typeof CloudWatchLogsClient>;
type ECSClient = InstanceType<typeof ECSClient>;
type ElasticLoadBalancingV2Client = InstanceType<typeof ElasticLoadBalancingV2Client>;

export interface EcsClients {
  ecs: ECSClient;
  elb: ElasticLoadBalancingV2Client;
  logs: CloudWatchLogsClient;
  cloudwatch: CloudWatchClient;
}

export interface EcsRuntimeOptions {
  clients?: Partial<EcsClients> | undefined;
  retry?: Partial<RetryPolicy> | undefined;
  /** How long start() waits for a task's network interface to get its private IP. */
  addressTimeoutMs?: number | undefined;
  /** Pause between DescribeTasks polls while waiting for that IP. */
  pollIntervalMs?: number | undefined;
  /** Clock for metric windows and for telling a fresh task from an earlier one. */
  now?: (() => Date) | undefined;
  log?: Logger | undefined;
}

const STARTED_BY = 'orchestry';
const STOP_REASON = 'Stopped by Orchestry';
const DESCRIBE_CHUNK = 100;
/** Tokens chained past earlier incarnations of one replica before start() gives up. */
const MAX_TOKEN_HOPS = 5;
const METRICS_WINDOW_MS = 5 * 60_000;
const METRIC_PERIOD_SECONDS = 60;
const MIB = 1024 * 1024;
/** GetLogEvents answers at most this many events per call. */
const MAX_LOG_EVENTS = 10_000;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const tagsOf = (task: { tags?: Array<{ key?: string | undefined; value?: string | undefined }> | undefined }) =>
  Object.fromEntries((task.tags ?? []).filter((t) => t.key !== undefined).map((t) => [t.key!, t.value ?? '']));

const wholeNumber = (text: string | undefined) => (text !== undefined && /^\d{1,9}$/.test(text) ? Number(text) : undefined);

const taskIdOf = (taskArn: string) => taskArn.slice(taskArn.lastIndexOf('/') + 1);

const isStopped = (task: Task) => task.desiredStatus === 'STOPPED' || task.lastStatus === 'STOPPED';

function privateIpOf(task: Task): string | undefined {
  for (const attachment of task.attachments ?? []) {
    const detail = attachment.details?.find((d) => d.name === 'privateIPv4Address');
    if (detail?.value) return detail.value;
  }
  return task.containers?.flatMap((c) => c.networkInterfaces ?? []).find((n) => n.privateIpv4Address)?.privateIpv4Address;
}

function stateOf(task: Task): ReplicaState {
  switch (task.lastStatus) {
    case 'STOPPED':
      return task.stopCode === 'TaskFailedToStart' || task.containers?.some((c) => (c.exitCode ?? 0) !== 0) ? 'error' : 'stopped';
    case 'RUNNING':
      return task.desiredStatus === 'STOPPED' ? 'stopping' : 'running';
    case 'DEACTIVATING':
    case 'STOPPING':
    case 'DEPROVISIONING':
      return 'stopping';
    default:
      // PROVISIONING, PENDING, ACTIVATING
      return task.desiredStatus === 'STOPPED' ? 'stopping' : 'starting';
  }
}

function stopDescription(task: Task): string {
  const exits = (task.containers ?? [])
    .filter((c) => c.reason || c.exitCode !== undefined)
    .map((c) => `${c.name}: ${c.reason ?? `exit code ${c.exitCode}`}`);
  return [task.stopCode, task.stoppedReason, ...exits].filter(Boolean).join('; ') || 'no reason given';
}

export class EcsRuntime implements ContainerRuntime {
  readonly kind = 'ecs' as const;

  private readonly ecs: ECSClient;
  private readonly logsClient: CloudWatchLogsClient;
  private readonly cloudwatch: CloudWatchClient;
  private readonly routing: EcsRouting;
  private readonly call: AwsCaller;
  private readonly addressTimeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly now: () => Date;
  /** Task definition ARN per app, revision and content: a promise, so concurrent starts register once. */
  private readonly taskDefinitions = new Map<string, Promise<string>>();

  constructor(
    private readonly config: EcsRuntimeConfig,
    options: EcsRuntimeOptions = {},
  ) {
    checkConfig(config);
    // Orchestry retries on its own terms (below); SDK retries on top would multiply attempts.
    const sdk = { region: config.region, maxAttempts: 1 };
    const clients = options.clients ?? {};
    this.ecs = clients.ecs ?? new ECSClient(sdk);
    this.logsClient = clients.logs ?? new CloudWatchLogsClient(sdk);
    this.cloudwatch = clients.cloudwatch ?? new CloudWatchClient(sdk);
    this.call = createAwsCaller({ ...DEFAULT_RETRY_POLICY, ...options.retry }, options.log ?? silentLogger);
    this.routing = new EcsRouting(config, clients.elb ?? new ElasticLoadBalancingV2Client(sdk), this.call);
    this.addressTimeoutMs = options.addressTimeoutMs ?? 120_000;
    this.pollIntervalMs = options.pollIntervalMs ?? 2_000;
    this.now = options.now ?? (() => new Date());
  }

  async start(req: StartReplicaRequest): Promise<ReplicaHandle> {
    const name = replicaName(req.app, req.replicaIndex, req.revision);
    const taskDefinitionArn = await this.taskDefinitionFor(req.app, req.revision, req.template);
    // A clientToken lives 24 hours; a replica started longer ago is only found by looking.
    const existing = (await this.describeAppTasks(req.app)).find((task) => tagsOf(task)[TAG_NAME] === name);
    const task = existing ? await this.waitForAddress(existing, name) : await this.runReplica(req, name, taskDefinitionArn);
    return {
      id: task.taskArn!,
      name,
      app: req.app,
      replicaIndex: req.replicaIndex,
      revision: req.revision,
      ip: privateIpOf(task)!,
      port: req.template.containerPort,
      state: stateOf(task),
      startedAt: task.startedAt ?? null,
    };
  }

  async stop(replica: { id: string; app: string }, _opts: { graceSeconds: number }): Promise<void> {
    // The grace period is the task definition's stopTimeout (from the template): ECS takes no per-call value.
    const [task] = await this.describeTasks([replica.id]);
    const handle = task && !isStopped(task) ? this.toHandle(task, replica.app) : undefined;
    if (handle?.ip) await this.removeFromRouting(replica.app, handle);
    try {
      await this.call('StopTask', () =>
        this.ecs.send(new StopTaskCommand({ cluster: this.config.cluster, task: replica.id, reason: STOP_REASON })),
      );
    } catch (error) {
      // ECS forgets a task some time after it stopped; gone is what stop wants.
      if (!(awsErrorName(error) === 'InvalidParameterException' && /not found/i.test(awsErrorMessage(error)))) throw error;
    }
  }

  async list(app: string): Promise<ReplicaHandle[]> {
    const tasks = await this.describeAppTasks(app);
    return tasks.flatMap((task) => this.toHandle(task, app) ?? []);
  }

  async stats(replica: { id: string; app: string }): Promise<ReplicaStats | null> {
    const now = this.now();
    const clusterName = this.clusterName();
    const family = taskFamily(this.config.stage, replica.app);
    const taskId = taskIdOf(replica.id);
    // Per-task values need Container Insights with enhanced observability; the family
    // average (plain Container Insights) stands in when they are absent.
    const levels = {
      task: [
        { Name: 'ClusterName', Value: clusterName },
        { Name: 'TaskDefinitionFamily', Value: family },
        { Name: 'TaskId', Value: taskId },
      ],
      family: [
        { Name: 'ClusterName', Value: clusterName },
        { Name: 'TaskDefinitionFamily', Value: family },
      ],
    };
    const metrics = { cpuUsed: 'CpuUtilized', cpuReserved: 'CpuReserved', memUsed: 'MemoryUtilized', memReserved: 'MemoryReserved' };
    const queries: MetricDataQuery[] = Object.entries(levels).flatMap(([level, dimensions]) =>
      Object.entries(metrics).map(([key, metricName]) => ({
        Id: `${level}_${key}`.toLowerCase(),
        MetricStat: {
          Metric: { Namespace: 'ECS/ContainerInsights', MetricName: metricName, Dimensions: dimensions },
          Period: METRIC_PERIOD_SECONDS,
          Stat: 'Average',
        },
        ReturnData: true,
      })),
    );
    const answer = await this.call('GetMetricData', () =>
      this.cloudwatch.send(
        new GetMetricDataCommand({
          StartTime: new Date(now.getTime() - METRICS_WINDOW_MS),
          EndTime: now,
          ScanBy: 'TimestampDescending',
          MetricDataQueries: queries,
        }),
      ),
    );
    const latest = (id: string) => {
      const result = answer.MetricDataResults?.find((r) => r.Id === id);
      const value = result?.Values?.[0];
      const at = result?.Timestamps?.[0];
      return value === undefined || at === undefined ? undefined : { value, at };
    };
    for (const level of Object.keys(levels)) {
      const cpuUsed = latest(`${level}_cpuused`);
      const cpuReserved = latest(`${level}_cpureserved`);
      const memUsed = latest(`${level}_memused`);
      const memReserved = latest(`${level}_memreserved`);
      if (!cpuUsed || !cpuReserved || !memUsed || !memReserved || cpuReserved.value <= 0 || memReserved.value <= 0) continue;
      return {
        cpuPercent: (cpuUsed.value / cpuReserved.value) * 100,
        memoryPercent: (memUsed.value / memReserved.value) * 100,
        // Container Insights reports memory in megabytes (MiB).
        memoryBytes: Math.round(memUsed.value * MIB),
        at: cpuUsed.at,
      };
    }
    return null;
  }

  async logs(replica: { id: string; app: string }, opts: { tail?: number | undefined; since?: Date | undefined }): Promise<LogLine[]> {
    if (opts.tail !== undefined && opts.tail <= 0) return [];
    const answer = await tolerating(
      // The stream appears with the container's first line; no stream yet means no logs yet.
      ['ResourceNotFoundException'],
      this.call('GetLogEvents', () =>
        this.logsClient.send(
          new GetLogEventsCommand({
            logGroupName: this.config.logGroup,
            logStreamName: `${replica.app}/app/${taskIdOf(replica.id)}`,
            startFromHead: false,
            ...(opts.tail !== undefined ? { limit: Math.min(Math.floor(opts.tail), MAX_LOG_EVENTS) } : {}),
            ...(opts.since !== undefined ? { startTime: opts.since.getTime() } : {}),
          }),
        ),
      ),
    );
    return (answer?.events ?? []).map((event) => ({
      at: event.timestamp !== undefined ? new Date(event.timestamp) : null,
      // awslogs merges stdout and stderr into one stream.
      stream: 'stdout' as const,
      message: (event.message ?? '').replace(/\r?\n$/, ''),
      replicaId: replica.id,
    }));
  }

  async ping(): Promise<RuntimeHealth> {
    try {
      const answer = await this.call(
        'DescribeClusters',
        () => this.ecs.send(new DescribeClustersCommand({ clusters: [this.config.cluster] })),
        { retries: 0 },
      );
      const cluster = answer.clusters?.[0];
      if (cluster?.status === 'ACTIVE') return { ok: true, kind: this.kind, detail: `cluster ${cluster.clusterName} is ACTIVE` };
      const failure = answer.failures?.[0];
      return {
        ok: false,
        kind: this.kind,
        detail: cluster ? `cluster ${cluster.clusterName} is ${cluster.status}` : `cluster ${this.config.cluster}: ${failure?.reason ?? 'not found'}`,
      };
    } catch (error) {
      return { ok: false, kind: this.kind, detail: error instanceof Error ? error.message : String(error) };
    }
  }

  async addToRouting(app: string, replica: ReplicaHandle): Promise<void> {
    if (!replica.ip) {
      throw new OrchestryError('RUNTIME_ERROR', `Replica ${replica.name} has no IP yet and cannot take traffic`, { replica: replica.name });
    }
    await this.routing.register(app, replica.ip, replica.port);
  }

  async removeFromRouting(app: string, replica: ReplicaHandle): Promise<void> {
    // A task that never got an address was never registered.
    if (!replica.ip) return;
    await this.routing.deregister(app, replica.ip, replica.port);
  }

  async routeTrafficTo(app: string, to: 'activator' | 'replicas'): Promise<void> {
    await this.routing.pointRule(app, to);
  }

  async readyAddress(app: string): Promise<{ ip: string; port: number } | null> {
    return this.routing.healthyTarget(app);
  }

  async ensureApp(app: string): Promise<void> {
    await this.routing.ensureApp(app);
  }

  async removeApp(app: string): Promise<void> {
    await this.routing.removeApp(app);
  }

  private clusterName(): string {
    const cluster = this.config.cluster;
    return cluster.startsWith('arn:') ? cluster.slice(cluster.lastIndexOf('/') + 1) : cluster;
  }

  private taskDefinitionFor(app: string, revision: number, template: ContainerTemplate): Promise<string> {
    const { input, digest } = buildTaskDefinition(app, template, this.config);
    const key = `${app}|${revision}|${digest}`;
    let pending = this.taskDefinitions.get(key);
    if (!pending) {
      pending = this.findOrRegisterTaskDefinition(app, revision, digest, input);
      pending.catch(() => this.taskDefinitions.delete(key));
      this.taskDefinitions.set(key, pending);
    }
    return pending;
  }

  private async findOrRegisterTaskDefinition(
    app: string,
    revision: number,
    digest: string,
    input: ReturnType<typeof buildTaskDefinition>['input'],
  ): Promise<string> {
    // The family's latest definition is the one a retried or concurrent start of this revision
    // made. The family is this stage's own, so another stage's registrations never show up here.
    const latest = await tolerating(
      ['ClientException'],
      this.call('DescribeTaskDefinition', () =>
        this.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: taskFamily(this.config.stage, app), include: ['TAGS'] })),
      ),
    );
    const tags = tagsOf(latest ?? {});
    const latestArn = latest?.taskDefinition?.taskDefinitionArn;
    if (latestArn && latest?.taskDefinition?.status === 'ACTIVE' && tags[TAG_REVISION] === String(revision) && tags[TAG_TEMPLATE] === digest) {
      return latestArn;
    }
    const registered = await this.call('RegisterTaskDefinition', () =>
      this.ecs.send(
        new RegisterTaskDefinitionCommand({
          ...input,
          tags: [
            { key: TAG_APP, value: app },
            { key: TAG_REVISION, value: String(revision) },
            { key: TAG_TEMPLATE, value: digest },
          ],
        }),
      ),
    );
    const arn = registered.taskDefinition?.taskDefinitionArn;
    if (!arn) throw new OrchestryError('RUNTIME_ERROR', `RegisterTaskDefinition answered no ARN for app '${app}'`, { app_name: app });
    return arn;
  }

  /**
   * RunTask with a clientToken that is a digest of the request itself (replica name, task
   * definition, network), so a retried call gets the first call's task and a changed request
   * never collides with an old token. ECS remembers a token for 24 hours, so a replica
   * replaced within a day would get its stopped predecessor back: then the next token is
   * derived from the previous one and that task, which a retry derives identically.
   */
  private async runReplica(req: StartReplicaRequest, name: string, taskDefinitionArn: string): Promise<Task> {
    const input = this.runTaskInput(req, name, taskDefinitionArn);
    let clientToken = sha256(JSON.stringify(input));
    for (let hop = 0; hop <= MAX_TOKEN_HOPS; hop += 1) {
      const sentAt = this.now();
      const started = await this.runTask({ ...input, clientToken }, name);
      const [current = started] = await this.describeTasks([started.taskArn!]);
      const earlier = isStopped(current) && current.createdAt !== undefined && current.createdAt < sentAt;
      if (!earlier) return this.waitForAddress(current, name);
      clientToken = sha256(`${clientToken}|${current.taskArn}`);
    }
    throw new OrchestryError('RUNTIME_ERROR', `Replica ${name}: RunTask kept answering stopped tasks of earlier starts`, {
      replica: name,
      hops: MAX_TOKEN_HOPS,
    });
  }

  private runTaskInput(req: StartReplicaRequest, name: string, taskDefinitionArn: string): RunTaskCommandInput {
    const { app, replicaIndex, revision, template } = req;
    return {
      cluster: this.config.cluster,
      taskDefinition: taskDefinitionArn,
      count: 1,
      startedBy: STARTED_BY,
      group: `orchestry:${app}`,
      ...(this.config.capacityProvider
        ? { capacityProviderStrategy: [{ capacityProvider: this.config.capacityProvider, weight: 1 }] }
        : { launchType: 'FARGATE' as const }),
      networkConfiguration: {
        awsvpcConfiguration: {
          subnets: this.config.subnets,
          securityGroups: this.config.securityGroups,
          assignPublicIp: this.config.assignPublicIp ? 'ENABLED' : 'DISABLED',
        },
      },
      tags: [
        { key: TAG_APP, value: app },
        { key: TAG_REPLICA, value: String(replicaIndex) },
        { key: TAG_REVISION, value: String(revision) },
        { key: TAG_NAME, value: name },
        { key: TAG_PORT, value: String(template.containerPort) },
      ],
      enableECSManagedTags: true,
      propagateTags: 'TASK_DEFINITION',
    };
  }

  private async runTask(input: RunTaskCommandInput, name: string): Promise<Task> {
    const answer = await this.call('RunTask', () => this.ecs.send(new RunTaskCommand(input)));
    const failures = answer.failures ?? [];
    if (failures.length > 0) {
      const reasons = failures.map((f) => `${f.reason ?? 'unknown reason'}${f.detail ? ` (${f.detail})` : ''}${f.arn ? ` for ${f.arn}` : ''}`);
      throw new OrchestryError('RUNTIME_ERROR', `RunTask could not start replica ${name}: ${reasons.join('; ')}`, {
        replica: name,
        failures: failures.map((f) => ({ arn: f.arn ?? null, reason: f.reason ?? null, detail: f.detail ?? null })),
      });
    }
    const task = answer.tasks?.[0];
    if (!task?.taskArn) throw new OrchestryError('RUNTIME_ERROR', `RunTask answered no task for replica ${name}`, { replica: name });
    return task;
  }

  /** Poll until the task's network interface has its private IP, within a deadline. */
  private async waitForAddress(task: Task, name: string): Promise<Task> {
    const deadline = Date.now() + this.addressTimeoutMs;
    let current = task;
    for (;;) {
      if (isStopped(current)) {
        throw new OrchestryError('RUNTIME_ERROR', `Replica ${name} (task ${current.taskArn}) stopped while starting: ${stopDescription(current)}`, {
          replica: name,
          task_arn: current.taskArn ?? null,
          stop_code: current.stopCode ?? null,
          stopped_reason: current.stoppedReason ?? null,
        });
      }
      if (privateIpOf(current)) return current;
      if (Date.now() >= deadline) {
        throw new OrchestryError(
          'RUNTIME_ERROR',
          `Replica ${name} (task ${current.taskArn}) has no private IP after ${Math.round(this.addressTimeoutMs / 1000)}s; it is left starting and a later start adopts it`,
          { replica: name, task_arn: current.taskArn ?? null, last_status: current.lastStatus ?? null },
        );
      }
      await sleep(this.pollIntervalMs);
      // Right after RunTask, DescribeTasks may not know the task yet: keep the last view.
      [current = current] = await this.describeTasks([current.taskArn!]);
    }
  }

  private async describeTasks(taskArns: string[]): Promise<Task[]> {
    const tasks: Task[] = [];
    for (let i = 0; i < taskArns.length; i += DESCRIBE_CHUNK) {
      const chunk = taskArns.slice(i, i + DESCRIBE_CHUNK);
      const answer = await this.call('DescribeTasks', () =>
        this.ecs.send(new DescribeTasksCommand({ cluster: this.config.cluster, tasks: chunk, include: ['TAGS'] })),
      );
      tasks.push(...(answer.tasks ?? []));
    }
    return tasks;
  }

  /**
   * The app's tasks that ECS means to keep running (desired RUNNING, which includes those
   * still provisioning; ECS never lists a desired status of PENDING). Tasks on their way
   * out are not replicas any more and are left out.
   */
  private async describeAppTasks(app: string): Promise<Task[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.call('ListTasks', () =>
        this.ecs.send(
          new ListTasksCommand({ cluster: this.config.cluster, family: taskFamily(this.config.stage, app), desiredStatus: 'RUNNING', maxResults: 100, nextToken }),
        ),
      );
      arns.push(...(page.taskArns ?? []));
      nextToken = page.nextToken;
    } while (nextToken);
    const tasks = await this.describeTasks(arns);
    return tasks.filter((task) => tagsOf(task)[TAG_APP] === app && !isStopped(task));
  }

  /** A task as a replica, or undefined when it does not carry Orchestry's tags. */
  private toHandle(task: Task, app: string): ReplicaHandle | undefined {
    const tags = tagsOf(task);
    const replicaIndex = wholeNumber(tags[TAG_REPLICA]);
    const revision = wholeNumber(tags[TAG_REVISION]);
    const port = wholeNumber(tags[TAG_PORT]);
    if (!task.taskArn || tags[TAG_APP] !== app || replicaIndex === undefined || !revision || !port) return undefined;
    return {
      id: task.taskArn,
      name: replicaName(app, replicaIndex, revision),
      app,
      replicaIndex,
      revision,
      ip: privateIpOf(task) ?? '',
      port,
      state: stateOf(task),
      startedAt: task.startedAt ?? null,
    };
  }
}
