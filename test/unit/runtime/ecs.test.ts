/**
 * The ECS Fargate runtime against mocked AWS clients: which commands it sends, with which
 * parameters, in which order, and what it makes of the answers (including throttling,
 * failures and tasks that already exist).
 */
import { createHash } from 'node:crypto';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient, GetLogEventsCommand, ResourceNotFoundException } from '@aws-sdk/client-cloudwatch-logs';
import {
  AccessDeniedException,
  ClientException,
  DescribeClustersCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  InvalidParameterException,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  type RunTaskCommandInput,
  type Task,
} from '@aws-sdk/client-ecs';
import {
  CreateRuleCommand,
  CreateTargetGroupCommand,
  DeleteRuleCommand,
  DeleteTargetGroupCommand,
  DeregisterTargetsCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  ElasticLoadBalancingV2Client,
  ModifyTargetGroupAttributesCommand,
  PriorityInUseException,
  RegisterTargetsCommand,
  TargetGroupNotFoundException,
  type Rule,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { OrchestryError } from '../../../functions/core/errors.js';
import { EcsRuntime, ecsConfigFromEnv, type EcsRuntimeConfig } from '../../../functions/runtime/ecs.js';
import { isTransientAwsError } from '../../../functions/runtime/ecs-aws.js';
import { rulePriority, targetGroupName } from '../../../functions/runtime/ecs-routing.js';
import { buildTaskDefinition, fargateSize, STAGE_MAX_LENGTH, taskFamily } from '../../../functions/runtime/ecs-task-definition.js';
import type { ContainerTemplate, ReplicaHandle } from '../../../functions/runtime/types.js';

const REGION = 'eu-west-1';
const CLUSTER_ARN = 'arn:aws:ecs:eu-west-1:123456789012:cluster/orchestry';
const LISTENER_ARN = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/orchestry/abc/def';
const NOW = new Date('2025-03-01T12:00:00Z');

const CONFIG: EcsRuntimeConfig = {
  stage: 'prod',
  cluster: CLUSTER_ARN,
  subnets: ['subnet-a', 'subnet-b'],
  securityGroups: ['sg-tasks'],
  executionRoleArn: 'arn:aws:iam::123456789012:role/orchestry-exec',
  taskRoleArn: 'arn:aws:iam::123456789012:role/orchestry-task',
  logGroup: '/orchestry/apps',
  region: REGION,
  vpcId: 'vpc-1',
  listenerArn: LISTENER_ARN,
};

const TEMPLATE: ContainerTemplate = {
  image: 'registry.example.com/web:1.0.0',
  containerPort: 8080,
  cpuMillis: 500,
  memoryBytes: 512 * 1024 * 1024,
  command: ['node', 'server.js'],
  args: ['--port', '8080'],
  workingDir: '/srv',
  env: { NODE_ENV: 'production', A_FIRST: '1' },
  secrets: [{ name: 'DB_URL', ref: 'web/db' }],
  labels: { team: 'backend' },
  stopGraceSeconds: 15,
};

const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $metadata: { httpStatusCode: 400 } });
const awsMeta = { $metadata: {} };
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const tag = (task: { tags?: Array<{ key?: string; value?: string }> }, key: string) => task.tags?.find((t) => t.key === key)?.value;

/**
 * A small stand-in for ECS behind the mocks: RunTask is idempotent per clientToken (as ECS
 * is), tasks get their IP after `pollsUntilIp` DescribeTasks calls.
 */
function fakeEcs(ecs: AwsClientStub<ECSClient>, options: { pollsUntilIp?: number; createdAt?: Date } = {}) {
  const tasks = new Map<string, Task>();
  const polls = new Map<string, number>();
  let registered = 0;
  ecs.on(DescribeTaskDefinitionCommand).rejects(new ClientException({ message: 'Unable to describe task definition.', ...awsMeta }));
  ecs.on(RegisterTaskDefinitionCommand).callsFake((input: { family: string }) => {
    registered += 1;
    return { taskDefinition: { taskDefinitionArn: `arn:aws:ecs:eu-west-1:123456789012:task-definition/${input.family}:${registered}`, status: 'ACTIVE' } };
  });
  ecs.on(ListTasksCommand).callsFake(() => ({ taskArns: [...tasks.values()].filter((t) => t.desiredStatus === 'RUNNING').map((t) => t.taskArn) }));
  ecs.on(RunTaskCommand).callsFake((input: RunTaskCommandInput) => {
    const arn = `arn:aws:ecs:eu-west-1:123456789012:task/orchestry/${input.clientToken!.slice(0, 32)}`;
    if (!tasks.has(arn)) {
      tasks.set(arn, {
        taskArn: arn,
        taskDefinitionArn: input.taskDefinition,
        lastStatus: 'PROVISIONING',
        desiredStatus: 'RUNNING',
        createdAt: options.createdAt ?? NOW,
        tags: input.tags,
        attachments: [{ type: 'ElasticNetworkInterface', status: 'PRECREATED', details: [{ name: 'subnetId', value: 'subnet-a' }] }],
      });
    }
    return { tasks: [tasks.get(arn)], failures: [] };
  });
  ecs.on(DescribeTasksCommand).callsFake((input: { tasks: string[] }) => {
    const found: Task[] = [];
    for (const arn of input.tasks) {
      const task = tasks.get(arn);
      if (!task) continue;
      const seen = (polls.get(arn) ?? 0) + 1;
      polls.set(arn, seen);
      if (seen >= (options.pollsUntilIp ?? 1) && task.lastStatus === 'PROVISIONING') {
        task.lastStatus = 'PENDING';
        task.attachments = [
          { type: 'ElasticNetworkInterface', status: 'ATTACHED', details: [{ name: 'privateIPv4Address', value: `10.0.${tasks.size}.${seen}` }] },
        ];
      }
      found.push(structuredClone(task));
    }
    return { tasks: found, failures: [] };
  });
  return { tasks };
}

function harness(options: { retries?: number; addressTimeoutMs?: number; config?: Partial<EcsRuntimeConfig> } = {}) {
  const clients = {
    ecs: new ECSClient({ region: REGION }),
    elb: new ElasticLoadBalancingV2Client({ region: REGION }),
    logs: new CloudWatchLogsClient({ region: REGION }),
    cloudwatch: new CloudWatchClient({ region: REGION }),
  };
  const mocks = {
    ecs: mockClient(clients.ecs),
    elb: mockClient(clients.elb),
    logs: mockClient(clients.logs),
    cloudwatch: mockClient(clients.cloudwatch),
  };
  const runtime = new EcsRuntime({ ...CONFIG, ...options.config }, {
    clients,
    retry: { retries: options.retries ?? 3, baseDelayMs: 1, maxDelayMs: 2 },
    pollIntervalMs: 1,
    addressTimeoutMs: options.addressTimeoutMs ?? 5_000,
    now: () => NOW,
  });
  return { runtime, ...mocks };
}

async function rejection(promise: Promise<unknown>): Promise<OrchestryError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OrchestryError);
  return error as OrchestryError;
}

const start = (runtime: EcsRuntime, replicaIndex: number, revision = 1, template = TEMPLATE) =>
  runtime.start({ app: 'web', revision, replicaIndex, template });

describe('EcsRuntime.start', () => {
  it('registers the revision task definition, runs one tagged task with a clientToken and waits for its IP', async () => {
    const { runtime, ecs } = harness();
    fakeEcs(ecs, { pollsUntilIp: 3 });

    const handle = await start(runtime, 0);

    const [register] = ecs.commandCalls(RegisterTaskDefinitionCommand);
    expect(register!.args[0].input).toEqual({
      family: 'orchestry-prod_web',
      networkMode: 'awsvpc',
      requiresCompatibilities: ['FARGATE'],
      cpu: '512',
      memory: '1024',
      executionRoleArn: CONFIG.executionRoleArn,
      taskRoleArn: CONFIG.taskRoleArn,
      containerDefinitions: [
        {
          name: 'app',
          image: 'registry.example.com/web:1.0.0',
          essential: true,
          portMappings: [{ containerPort: 8080, protocol: 'tcp' }],
          environment: [
            { name: 'A_FIRST', value: '1' },
            { name: 'NODE_ENV', value: 'production' },
          ],
          secrets: [{ name: 'DB_URL', valueFrom: '/orchestry/prod/secrets/web/db' }],
          entryPoint: ['node', 'server.js'],
          command: ['--port', '8080'],
          workingDirectory: '/srv',
          dockerLabels: { team: 'backend' },
          stopTimeout: 15,
          logConfiguration: {
            logDriver: 'awslogs',
            options: { 'awslogs-group': '/orchestry/apps', 'awslogs-region': REGION, 'awslogs-stream-prefix': 'web' },
          },
        },
      ],
      tags: [
        { key: 'orchestry:app', value: 'web' },
        { key: 'orchestry:revision', value: '1' },
        { key: 'orchestry:template', value: expect.stringMatching(/^[0-9a-f]{16}$/) },
      ],
    });

    const runs = ecs.commandCalls(RunTaskCommand);
    expect(runs).toHaveLength(1);
    const run = runs[0]!.args[0].input;
    expect(run).toEqual({
      cluster: CLUSTER_ARN,
      taskDefinition: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/orchestry-prod_web:1',
      count: 1,
      startedBy: 'orchestry',
      group: 'orchestry:web',
      launchType: 'FARGATE',
      networkConfiguration: {
        awsvpcConfiguration: { subnets: ['subnet-a', 'subnet-b'], securityGroups: ['sg-tasks'], assignPublicIp: 'DISABLED' },
      },
      tags: [
        { key: 'orchestry:app', value: 'web' },
        { key: 'orchestry:replica', value: '0' },
        { key: 'orchestry:revision', value: '1' },
        { key: 'orchestry:name', value: 'orchestry-web-r0-v1' },
        { key: 'orchestry:port', value: '8080' },
      ],
      enableECSManagedTags: true,
      propagateTags: 'TASK_DEFINITION',
      clientToken: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    // One look right after RunTask, then polls until the ENI has its address.
    expect(ecs.commandCalls(DescribeTasksCommand).map((c) => c.args[0].input)).toEqual([
      { cluster: CLUSTER_ARN, tasks: [handle.id], include: ['TAGS'] },
      { cluster: CLUSTER_ARN, tasks: [handle.id], include: ['TAGS'] },
      { cluster: CLUSTER_ARN, tasks: [handle.id], include: ['TAGS'] },
    ]);
    expect(handle).toEqual({
      id: expect.stringMatching(/^arn:aws:ecs:.*:task\/orchestry\//),
      name: 'orchestry-web-r0-v1',
      app: 'web',
      replicaIndex: 0,
      revision: 1,
      ip: '10.0.1.3',
      port: 8080,
      state: 'starting',
      startedAt: null,
    });
  });

  it('keeps two stages in one account apart: own family, own latest definition, own secrets, own tasks', async () => {
    const stages = ['dev', 'prod'].map((stage) => {
      const h = harness({ config: { stage } });
      fakeEcs(h.ecs);
      return h;
    });
    for (const { runtime } of stages) await start(runtime, 0);

    const [dev, prod] = stages.map(({ ecs }) => ({
      register: ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input,
      latest: ecs.commandCalls(DescribeTaskDefinitionCommand)[0]!.args[0].input,
      listed: ecs.commandCalls(ListTasksCommand)[0]!.args[0].input,
    }));
    expect(dev!.register.family).toBe('orchestry-dev_web');
    expect(prod!.register.family).toBe('orchestry-prod_web');
    expect(dev!.latest.taskDefinition).toBe('orchestry-dev_web');
    expect(prod!.latest.taskDefinition).toBe('orchestry-prod_web');
    expect(dev!.listed.family).toBe('orchestry-dev_web');
    expect(prod!.listed.family).toBe('orchestry-prod_web');
    expect(dev!.register.containerDefinitions![0]!.secrets).toEqual([{ name: 'DB_URL', valueFrom: '/orchestry/dev/secrets/web/db' }]);
    expect(prod!.register.containerDefinitions![0]!.secrets).toEqual([{ name: 'DB_URL', valueFrom: '/orchestry/prod/secrets/web/db' }]);
    // Hyphens in stage and app names cannot make two stages' families meet.
    expect(taskFamily('prod', 'eu-api')).not.toBe(taskFamily('prod-eu', 'api'));
  });

  it('uses a capacity provider strategy and a public IP when configured', async () => {
    const clients = { ecs: new ECSClient({ region: REGION }) };
    const ecs = mockClient(clients.ecs);
    fakeEcs(ecs);
    const runtime = new EcsRuntime(
      { ...CONFIG, capacityProvider: 'FARGATE_SPOT', assignPublicIp: true },
      { clients, pollIntervalMs: 1, retry: { baseDelayMs: 1 } },
    );

    await start(runtime, 0);

    const run = ecs.commandCalls(RunTaskCommand)[0]!.args[0].input;
    expect(run.launchType).toBeUndefined();
    expect(run.capacityProviderStrategy).toEqual([{ capacityProvider: 'FARGATE_SPOT', weight: 1 }]);
    expect(run.networkConfiguration?.awsvpcConfiguration?.assignPublicIp).toBe('ENABLED');
  });

  it('scales out with one task definition and a distinct, stable clientToken per replica', async () => {
    const { runtime, ecs } = harness();
    fakeEcs(ecs);

    const handles = await Promise.all([0, 1, 2].map((index) => start(runtime, index)));

    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(1);
    const tokens = ecs.commandCalls(RunTaskCommand).map((c) => c.args[0].input.clientToken);
    expect(new Set(tokens).size).toBe(3);
    expect(handles.map((h) => h.name)).toEqual(['orchestry-web-r0-v1', 'orchestry-web-r1-v1', 'orchestry-web-r2-v1']);
    expect(new Set(handles.map((h) => h.id)).size).toBe(3);

    // Another process computes the same tokens for the same replicas and task definition.
    const other = harness();
    fakeEcs(other.ecs);
    for (const index of [0, 1, 2]) await start(other.runtime, index);
    expect(other.ecs.commandCalls(RunTaskCommand).map((c) => c.args[0].input.clientToken)).toEqual(tokens);
  });

  it('derives another clientToken when the network configuration changes, so ECS never sees a token with other parameters', async () => {
    const tokenWith = async (config: EcsRuntimeConfig) => {
      const clients = { ecs: new ECSClient({ region: REGION }) };
      const ecs = mockClient(clients.ecs);
      fakeEcs(ecs);
      await start(new EcsRuntime(config, { clients, pollIntervalMs: 1, retry: { baseDelayMs: 1 } }), 0);
      return ecs.commandCalls(RunTaskCommand)[0]!.args[0].input.clientToken;
    };

    const before = await tokenWith(CONFIG);
    expect(await tokenWith(CONFIG)).toBe(before);
    expect(await tokenWith({ ...CONFIG, subnets: ['subnet-c'] })).not.toBe(before);
  });

  it('reuses the family latest task definition when it is tagged with the same revision and content', async () => {
    const first = harness();
    fakeEcs(first.ecs);
    await start(first.runtime, 0);
    const registeredTags = first.ecs.commandCalls(RegisterTaskDefinitionCommand)[0]!.args[0].input.tags;

    const second = harness();
    fakeEcs(second.ecs);
    second.ecs.on(DescribeTaskDefinitionCommand).resolves({
      taskDefinition: { taskDefinitionArn: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/orchestry-prod_web:7', status: 'ACTIVE' },
      tags: registeredTags,
    });

    await start(second.runtime, 1);
    await start(second.runtime, 2);

    expect(second.ecs.commandCalls(DescribeTaskDefinitionCommand).map((c) => c.args[0].input)).toEqual([
      { taskDefinition: 'orchestry-prod_web', include: ['TAGS'] },
    ]);
    expect(second.ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
    expect(second.ecs.commandCalls(RunTaskCommand).map((c) => c.args[0].input.taskDefinition)).toEqual([
      'arn:aws:ecs:eu-west-1:123456789012:task-definition/orchestry-prod_web:7',
      'arn:aws:ecs:eu-west-1:123456789012:task-definition/orchestry-prod_web:7',
    ]);
  });

  it('registers anew when the latest definition has the same revision number but other content', async () => {
    const { runtime, ecs } = harness();
    fakeEcs(ecs);
    ecs.on(DescribeTaskDefinitionCommand).resolves({
      taskDefinition: { taskDefinitionArn: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/orchestry-prod_web:3', status: 'ACTIVE' },
      tags: [
        { key: 'orchestry:app', value: 'web' },
        { key: 'orchestry:revision', value: '1' },
        { key: 'orchestry:template', value: '0000000000000000' },
      ],
    });

    await start(runtime, 0);

    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(1);
  });

  it('rolls to a new revision with one new task definition and the new revision token', async () => {
    const { runtime, ecs } = harness();
    fakeEcs(ecs);
    const v1 = await start(runtime, 0, 1);
    const v2Template = { ...TEMPLATE, image: 'registry.example.com/web:2.0.0' };

    const v2 = await Promise.all([start(runtime, 0, 2, v2Template), start(runtime, 1, 2, v2Template)]);

    const registers = ecs.commandCalls(RegisterTaskDefinitionCommand).map((c) => c.args[0].input);
    expect(registers).toHaveLength(2);
    expect(registers[1]!.containerDefinitions![0]!.image).toBe('registry.example.com/web:2.0.0');
    expect(tag(registers[1]!, 'orchestry:revision')).toBe('2');
    const runs = ecs.commandCalls(RunTaskCommand).map((c) => c.args[0].input);
    expect(runs.slice(1).map((r) => r.taskDefinition)).toEqual([
      'arn:aws:ecs:eu-west-1:123456789012:task-definition/orchestry-prod_web:2',
      'arn:aws:ecs:eu-west-1:123456789012:task-definition/orchestry-prod_web:2',
    ]);
    expect(runs[1]!.clientToken).not.toBe(runs[0]!.clientToken);
    expect(runs.slice(1).map((r) => tag(r, 'orchestry:revision'))).toEqual(['2', '2']);
    expect(v2.map((h) => h.name)).toEqual(['orchestry-web-r0-v2', 'orchestry-web-r1-v2']);
    expect(v2[0]!.id).not.toBe(v1.id);
  });

  it('adopts a running task of the same replica instead of starting another', async () => {
    const { runtime, ecs } = harness();
    const { tasks } = fakeEcs(ecs);
    const first = await start(runtime, 0);
    expect(tasks.size).toBe(1);

    const again = await start(runtime, 0);

    expect(again.id).toBe(first.id);
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(1);
    expect(ecs.commandCalls(ListTasksCommand)[1]!.args[0].input).toMatchObject({
      cluster: CLUSTER_ARN,
      family: 'orchestry-prod_web',
      desiredStatus: 'RUNNING',
    });
  });

  it('retries a throttled RunTask with the same clientToken and ends with one task', async () => {
    const { runtime, ecs } = harness();
    const { tasks } = fakeEcs(ecs);
    let calls = 0;
    ecs.on(RunTaskCommand).callsFake((input: RunTaskCommandInput) => {
      calls += 1;
      const arn = `arn:aws:ecs:eu-west-1:123456789012:task/orchestry/${input.clientToken!.slice(0, 32)}`;
      // The first attempt starts the task but its answer is lost to throttling on the way back.
      tasks.set(arn, {
        taskArn: arn,
        lastStatus: 'PROVISIONING',
        desiredStatus: 'RUNNING',
        createdAt: NOW,
        tags: input.tags,
      });
      if (calls === 1) throw throttled();
      return { tasks: [tasks.get(arn)], failures: [] };
    });

    const handle = await start(runtime, 0);

    const runs = ecs.commandCalls(RunTaskCommand).map((c) => c.args[0].input);
    expect(runs).toHaveLength(2);
    expect(runs[1]).toEqual(runs[0]);
    expect(tasks.size).toBe(1);
    expect(handle.id).toBe([...tasks.keys()][0]);
  });

  it('chains to a fresh clientToken when the token answers a stopped task of an earlier start', async () => {
    const earlier = new Date(NOW.getTime() - 60 * 60_000);
    const { runtime, ecs } = harness();
    const { tasks } = fakeEcs(ecs);
    // The replica ran an hour ago under the first token and was stopped since.
    await start(runtime, 0);
    const firstArn = [...tasks.keys()][0]!;
    Object.assign(tasks.get(firstArn)!, { desiredStatus: 'STOPPED', lastStatus: 'STOPPED', createdAt: earlier });

    const replacement = await start(runtime, 0);

    const tokens = ecs.commandCalls(RunTaskCommand).map((c) => c.args[0].input.clientToken!);
    expect(tokens).toHaveLength(3);
    expect(tokens[1]).toBe(tokens[0]);
    expect(tokens[2]).toBe(sha256(`${tokens[0]}|${firstArn}`));
    expect(replacement.id).not.toBe(firstArn);
    expect(tasks.get(replacement.id)!.desiredStatus).toBe('RUNNING');
  });

  it('turns a RunTask failures[] answer into RUNTIME_ERROR naming the reason and ARN', async () => {
    const { runtime, ecs } = harness();
    fakeEcs(ecs);
    ecs.on(RunTaskCommand).resolves({
      tasks: [],
      failures: [{ arn: 'arn:aws:ecs:eu-west-1:123456789012:cluster/orchestry', reason: 'RESOURCE:ENI', detail: 'no free addresses' }],
    });

    const error = await rejection(start(runtime, 0));

    expect(error.code).toBe('RUNTIME_ERROR');
    expect(error.message).toContain('RESOURCE:ENI');
    expect(error.message).toContain('arn:aws:ecs:eu-west-1:123456789012:cluster/orchestry');
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(1);
    expect(ecs.commandCalls(DescribeTasksCommand)).toHaveLength(0);
  });

  it('fails at once on a non-retryable error, with the AWS error name and message', async () => {
    const { runtime, ecs } = harness();
    fakeEcs(ecs);
    ecs.on(RunTaskCommand).rejects(new AccessDeniedException({ message: 'not authorized to perform ecs:RunTask', ...awsMeta }));

    const error = await rejection(start(runtime, 0));

    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(1);
    expect(error.code).toBe('RUNTIME_ERROR');
    expect(error.message).toContain('AccessDeniedException');
    expect(error.message).toContain('not authorized to perform ecs:RunTask');
    expect(error.details).toMatchObject({ operation: 'RunTask', aws_error: 'AccessDeniedException', attempts: 1 });
  });

  it('retries throttling and 5xx answers and then succeeds', async () => {
    const { runtime, ecs } = harness();
    fakeEcs(ecs);
    ecs
      .on(ListTasksCommand)
      .rejectsOnce(throttled())
      .rejectsOnce({ name: 'TooManyRequestsException', message: 'slow down' })
      .rejectsOnce({ name: 'ServerException', message: 'internal', $metadata: { httpStatusCode: 500 } })
      .resolves({ taskArns: [] });

    const handle = await start(runtime, 0);

    expect(handle.ip).toMatch(/^10\.0\./);
    expect(ecs.commandCalls(ListTasksCommand)).toHaveLength(4);
  });

  it('gives up after a bounded number of retries', async () => {
    const { runtime, ecs } = harness({ retries: 2 });
    fakeEcs(ecs);
    ecs.on(RunTaskCommand).rejects(throttled());

    const error = await rejection(start(runtime, 0));

    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(3);
    expect(error.message).toContain('after 3 attempts');
    expect(error.details).toMatchObject({ aws_error: 'ThrottlingException', attempts: 3 });
  });

  it('reports a task that stops while starting, with its reason', async () => {
    const { runtime, ecs } = harness();
    const { tasks } = fakeEcs(ecs, { pollsUntilIp: 99 });
    ecs.on(DescribeTasksCommand).callsFake((input: { tasks: string[] }) => ({
      tasks: input.tasks.map((arn) => ({
        ...tasks.get(arn),
        lastStatus: 'STOPPED',
        desiredStatus: 'STOPPED',
        stopCode: 'TaskFailedToStart',
        stoppedReason: 'CannotPullContainerError: image not found',
      })),
    }));

    const error = await rejection(start(runtime, 0));

    expect(error.code).toBe('RUNTIME_ERROR');
    expect(error.message).toContain('CannotPullContainerError: image not found');
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(1);
  });

  it('stops waiting for an address at its deadline', async () => {
    const { runtime, ecs } = harness({ addressTimeoutMs: 30 });
    fakeEcs(ecs, { pollsUntilIp: Number.MAX_SAFE_INTEGER });

    const error = await rejection(start(runtime, 0));

    expect(error.code).toBe('RUNTIME_ERROR');
    expect(error.message).toMatch(/has no private IP/);
  });

  it('rejects a template no Fargate size can hold, naming the field', async () => {
    const { runtime, ecs } = harness();
    fakeEcs(ecs);

    const error = await rejection(start(runtime, 0, 1, { ...TEMPLATE, cpuMillis: 32_000 }));

    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.message).toContain('spec.resources');
    expect(ecs.commandCalls(RunTaskCommand)).toHaveLength(0);
  });
});

describe('EcsRuntime.stop', () => {
  const runningTask = (arn: string): Task => ({
    taskArn: arn,
    lastStatus: 'RUNNING',
    desiredStatus: 'RUNNING',
    tags: [
      { key: 'orchestry:app', value: 'web' },
      { key: 'orchestry:replica', value: '0' },
      { key: 'orchestry:revision', value: '1' },
      { key: 'orchestry:port', value: '8080' },
    ],
    attachments: [{ type: 'ElasticNetworkInterface', details: [{ name: 'privateIPv4Address', value: '10.0.3.4' }] }],
  });
  const TASK = 'arn:aws:ecs:eu-west-1:123456789012:task/orchestry/0123456789abcdef';
  const TG = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/orch-web/1';

  it('deregisters the task IP from the target group before StopTask', async () => {
    const { runtime, ecs, elb } = harness();
    ecs.on(DescribeTasksCommand).resolves({ tasks: [runningTask(TASK)] });
    ecs.on(StopTaskCommand).resolves({ task: { taskArn: TASK } });
    elb.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [{ TargetGroupArn: TG }] });
    elb.on(DeregisterTargetsCommand).resolves({});

    await runtime.stop({ id: TASK, app: 'web' }, { graceSeconds: 10 });

    const deregister = elb.commandCalls(DeregisterTargetsCommand);
    const stop = ecs.commandCalls(StopTaskCommand);
    expect(deregister.map((c) => c.args[0].input)).toEqual([{ TargetGroupArn: TG, Targets: [{ Id: '10.0.3.4', Port: 8080 }] }]);
    expect(stop.map((c) => c.args[0].input)).toEqual([{ cluster: CLUSTER_ARN, task: TASK, reason: 'Stopped by Orchestry' }]);
    expect(deregister[0]!.calledBefore(stop[0]!)).toBe(true);
    expect(elb.commandCalls(DescribeTargetGroupsCommand)[0]!.args[0].input).toEqual({ Names: [targetGroupName('prod', 'web')] });
  });

  it('treats a task ECS no longer knows as stopped', async () => {
    const { runtime, ecs, elb } = harness();
    ecs.on(DescribeTasksCommand).resolves({ tasks: [], failures: [{ arn: TASK, reason: 'MISSING' }] });
    ecs.on(StopTaskCommand).rejects(new InvalidParameterException({ message: 'The referenced task was not found.', ...awsMeta }));

    await runtime.stop({ id: TASK, app: 'web' }, { graceSeconds: 10 });

    expect(elb.commandCalls(DeregisterTargetsCommand)).toHaveLength(0);
    expect(ecs.commandCalls(StopTaskCommand)).toHaveLength(1);
  });

  it('still fails on other invalid parameters', async () => {
    const { runtime, ecs } = harness();
    ecs.on(DescribeTasksCommand).resolves({ tasks: [] });
    ecs.on(StopTaskCommand).rejects(new InvalidParameterException({ message: 'reason is too long', ...awsMeta }));

    const error = await rejection(runtime.stop({ id: TASK, app: 'web' }, { graceSeconds: 10 }));

    expect(error.message).toContain('reason is too long');
  });
});

describe('EcsRuntime.list', () => {
  it('maps the app tasks to replicas with IPs, across ListTasks pages and DescribeTasks chunks', async () => {
    const { runtime, ecs } = harness();
    const arns = Array.from({ length: 150 }, (_, i) => `arn:aws:ecs:eu-west-1:123456789012:task/orchestry/t${i}`);
    const taskFor = (arn: string, i: number): Task => {
      if (i === 149) return { taskArn: arn, lastStatus: 'RUNNING', desiredStatus: 'RUNNING', tags: [{ key: 'owner', value: 'someone-else' }] };
      return {
        taskArn: arn,
        lastStatus: i === 0 ? 'PROVISIONING' : 'RUNNING',
        desiredStatus: 'RUNNING',
        startedAt: i === 0 ? undefined : NOW,
        tags: [
          { key: 'orchestry:app', value: 'web' },
          { key: 'orchestry:replica', value: String(i) },
          { key: 'orchestry:revision', value: i < 100 ? '1' : '2' },
          { key: 'orchestry:name', value: `orchestry-web-r${i}-v1` },
          { key: 'orchestry:port', value: '8080' },
        ],
        attachments:
          i === 0 ? [] : [{ type: 'ElasticNetworkInterface', details: [{ name: 'privateIPv4Address', value: `10.1.${Math.floor(i / 250)}.${i % 250}` }] }],
      };
    };
    ecs
      .on(ListTasksCommand)
      .resolvesOnce({ taskArns: arns.slice(0, 100), nextToken: 'page-2' })
      .resolvesOnce({ taskArns: arns.slice(100) });
    ecs.on(DescribeTasksCommand).callsFake((input: { tasks: string[] }) => ({
      tasks: input.tasks.map((arn) => taskFor(arn, arns.indexOf(arn))),
    }));

    const replicas = await runtime.list('web');

    expect(ecs.commandCalls(ListTasksCommand).map((c) => c.args[0].input)).toEqual([
      { cluster: CLUSTER_ARN, family: 'orchestry-prod_web', desiredStatus: 'RUNNING', maxResults: 100, nextToken: undefined },
      { cluster: CLUSTER_ARN, family: 'orchestry-prod_web', desiredStatus: 'RUNNING', maxResults: 100, nextToken: 'page-2' },
    ]);
    expect(ecs.commandCalls(DescribeTasksCommand).map((c) => c.args[0].input.tasks?.length)).toEqual([100, 50]);
    expect(replicas).toHaveLength(149);
    expect(replicas[0]).toEqual<ReplicaHandle>({
      id: arns[0]!,
      name: 'orchestry-web-r0-v1',
      app: 'web',
      replicaIndex: 0,
      revision: 1,
      ip: '',
      port: 8080,
      state: 'starting',
      startedAt: null,
    });
    expect(replicas[120]).toEqual<ReplicaHandle>({
      id: arns[120]!,
      name: 'orchestry-web-r120-v2',
      app: 'web',
      replicaIndex: 120,
      revision: 2,
      ip: '10.1.0.120',
      port: 8080,
      state: 'running',
      startedAt: NOW,
    });
  });

  it('answers an empty list without describing anything', async () => {
    const { runtime, ecs } = harness();
    ecs.on(ListTasksCommand).resolves({ taskArns: [] });

    expect(await runtime.list('web')).toEqual([]);
    expect(ecs.commandCalls(DescribeTasksCommand)).toHaveLength(0);
  });
});

describe('EcsRuntime routing', () => {
  const TG = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/orch-web/1';

  /** A listener whose rules and target groups live in memory, answering like ELBv2 does. */
  function fakeElb(elb: AwsClientStub<ElasticLoadBalancingV2Client>, initialRules: Rule[] = []) {
    const rules = [...initialRules];
    const groups = new Map<string, string>();
    elb.on(DescribeTargetGroupsCommand).callsFake((input: { Names: string[] }) => {
      const arn = groups.get(input.Names[0]!);
      if (!arn) throw new TargetGroupNotFoundException({ message: 'One or more target groups not found', ...awsMeta });
      return { TargetGroups: [{ TargetGroupArn: arn, TargetGroupName: input.Names[0] }] };
    });
    elb.on(CreateTargetGroupCommand).callsFake((input: { Name: string }) => {
      if (!groups.has(input.Name)) groups.set(input.Name, TG);
      return { TargetGroups: [{ TargetGroupArn: groups.get(input.Name) }] };
    });
    elb.on(ModifyTargetGroupAttributesCommand).resolves({});
    elb.on(DescribeRulesCommand).callsFake(() => ({ Rules: rules.map((r) => ({ ...r })) }));
    elb.on(CreateRuleCommand).callsFake((input: { Priority: number; Actions: Rule['Actions'] }) => {
      if (rules.some((r) => r.Priority === String(input.Priority))) {
        throw new PriorityInUseException({ message: 'Priority in use', ...awsMeta });
      }
      const rule = { RuleArn: `rule-${input.Priority}`, Priority: String(input.Priority), Actions: input.Actions };
      rules.push(rule);
      return { Rules: [rule] };
    });
    elb.on(DeleteRuleCommand).callsFake((input: { RuleArn: string }) => {
      rules.splice(
        rules.findIndex((r) => r.RuleArn === input.RuleArn),
        1,
      );
      return {};
    });
    elb.on(DeleteTargetGroupCommand).callsFake(() => {
      groups.clear();
      return {};
    });
    return { rules, groups };
  }

  it('creates the target group and host-header rule once, and finds them the second time', async () => {
    const { runtime, elb } = harness();
    const { rules } = fakeElb(elb, [{ RuleArn: 'default', Priority: 'default', IsDefault: true, Actions: [{ Type: 'fixed-response' }] }]);

    await runtime.ensureApp('web');
    await runtime.ensureApp('web');

    expect(elb.commandCalls(CreateTargetGroupCommand).map((c) => c.args[0].input)).toEqual([
      {
        Name: targetGroupName('prod', 'web'),
        TargetType: 'ip',
        Protocol: 'HTTP',
        Port: 80,
        VpcId: 'vpc-1',
        HealthCheckProtocol: 'HTTP',
        HealthCheckPath: '/',
        Matcher: { HttpCode: '200-499' },
        HealthCheckIntervalSeconds: 10,
        HealthCheckTimeoutSeconds: 5,
        HealthyThresholdCount: 2,
        UnhealthyThresholdCount: 3,
        Tags: [
          { Key: 'orchestry:app', Value: 'web' },
          { Key: 'orchestry:stage', Value: 'prod' },
        ],
      },
    ]);
    expect(elb.commandCalls(ModifyTargetGroupAttributesCommand)[0]!.args[0].input).toEqual({
      TargetGroupArn: TG,
      Attributes: [{ Key: 'deregistration_delay.timeout_seconds', Value: '5' }],
    });
    expect(elb.commandCalls(CreateRuleCommand).map((c) => c.args[0].input)).toEqual([
      {
        ListenerArn: LISTENER_ARN,
        Priority: rulePriority('web', new Set()),
        Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: ['web.*'] } }],
        Actions: [{ Type: 'forward', TargetGroupArn: TG }],
        Tags: [
          { Key: 'orchestry:app', Value: 'web' },
          { Key: 'orchestry:stage', Value: 'prod' },
        ],
      },
    ]);
    expect(rules).toHaveLength(2);
  });

  it('gives the same app in two stages its own target group, tagged with the stage', async () => {
    const created = [];
    for (const stage of ['dev', 'prod']) {
      const { runtime, elb } = harness({ config: { stage } });
      fakeElb(elb);
      await runtime.ensureApp('web');
      expect(elb.commandCalls(DescribeTargetGroupsCommand)[0]!.args[0].input).toEqual({ Names: [targetGroupName(stage, 'web')] });
      created.push(elb.commandCalls(CreateTargetGroupCommand)[0]!.args[0].input);
    }
    expect(created.map((input) => input.Name)).toEqual([targetGroupName('dev', 'web'), targetGroupName('prod', 'web')]);
    expect(created[0]!.Name).not.toBe(created[1]!.Name);
    expect(created.map((input) => input.Tags?.find((t) => t.Key === 'orchestry:stage')?.Value)).toEqual(['dev', 'prod']);
  });

  it('takes the next free priority when the derived one is in use, also when it is taken in a race', async () => {
    const { runtime, elb } = harness();
    const derived = rulePriority('web', new Set());
    const next = (derived % 50_000) + 1;
    const { rules } = fakeElb(elb, [{ RuleArn: 'other-app', Priority: String(derived), Actions: [{ Type: 'forward', TargetGroupArn: 'other' }] }]);
    // Between our DescribeRules and CreateRule another app takes the next one too.
    elb
      .on(CreateRuleCommand)
      .callsFakeOnce(() => {
        rules.push({ RuleArn: 'racer', Priority: String(next), Actions: [{ Type: 'forward', TargetGroupArn: 'racer' }] });
        throw new PriorityInUseException({ message: 'Priority in use', ...awsMeta });
      })
      .callsFake((input: { Priority: number; Actions: Rule['Actions'] }) => {
        rules.push({ RuleArn: 'ours', Priority: String(input.Priority), Actions: input.Actions });
        return {};
      });

    await runtime.ensureApp('web');

    expect(elb.commandCalls(CreateRuleCommand).map((c) => c.args[0].input.Priority)).toEqual([next, (next % 50_000) + 1]);
    expect(rules.filter((r) => r.Actions?.[0]?.TargetGroupArn === TG)).toHaveLength(1);
  });

  it('removes the rule and then the target group, and a second removal is a no-op', async () => {
    const { runtime, elb } = harness();
    const { rules, groups } = fakeElb(elb);
    await runtime.ensureApp('web');

    await runtime.removeApp('web');
    await runtime.removeApp('web');

    const deleteRule = elb.commandCalls(DeleteRuleCommand);
    const deleteGroup = elb.commandCalls(DeleteTargetGroupCommand);
    expect(deleteRule).toHaveLength(1);
    expect(deleteGroup.map((c) => c.args[0].input)).toEqual([{ TargetGroupArn: TG }]);
    expect(deleteRule[0]!.calledBefore(deleteGroup[0]!)).toBe(true);
    expect(rules).toHaveLength(0);
    expect(groups.size).toBe(0);
  });

  it('retries a target group deletion the ALB still calls in use', async () => {
    const { runtime, elb } = harness();
    fakeElb(elb);
    await runtime.ensureApp('web');
    elb
      .on(DeleteTargetGroupCommand)
      .rejectsOnce({ name: 'ResourceInUseException', message: 'Target group is currently in use by a listener or a rule' })
      .resolves({});

    await runtime.removeApp('web');

    expect(elb.commandCalls(DeleteTargetGroupCommand)).toHaveLength(2);
  });

  it('registers and deregisters a replica by IP and port', async () => {
    const { runtime, elb } = harness();
    fakeElb(elb);
    elb.on(RegisterTargetsCommand).resolves({});
    elb.on(DeregisterTargetsCommand).resolves({});
    const replica: ReplicaHandle = {
      id: 'arn:task',
      name: 'orchestry-web-r0-v1',
      app: 'web',
      replicaIndex: 0,
      revision: 1,
      ip: '10.0.0.7',
      port: 8080,
      state: 'running',
      startedAt: NOW,
    };
    await runtime.ensureApp('web');

    await runtime.addToRouting('web', replica);
    await runtime.removeFromRouting('web', replica);

    expect(elb.commandCalls(RegisterTargetsCommand).map((c) => c.args[0].input)).toEqual([
      { TargetGroupArn: TG, Targets: [{ Id: '10.0.0.7', Port: 8080 }] },
    ]);
    expect(elb.commandCalls(DeregisterTargetsCommand).map((c) => c.args[0].input)).toEqual([
      { TargetGroupArn: TG, Targets: [{ Id: '10.0.0.7', Port: 8080 }] },
    ]);
  });

  it('makes the app routing first when a replica is added to an app that has none', async () => {
    const { runtime, elb } = harness();
    const { rules } = fakeElb(elb);
    elb.on(RegisterTargetsCommand).resolves({});

    await runtime.addToRouting('web', {
      id: 'arn:task',
      name: 'orchestry-web-r0-v1',
      app: 'web',
      replicaIndex: 0,
      revision: 1,
      ip: '10.0.0.7',
      port: 8080,
      state: 'starting',
      startedAt: null,
    });

    expect(elb.commandCalls(CreateTargetGroupCommand)).toHaveLength(1);
    expect(rules).toHaveLength(1);
    expect(elb.commandCalls(RegisterTargetsCommand)).toHaveLength(1);
  });

  it('names target groups within 32 characters, valid for ELB, distinct per stage and app', () => {
    const ELB_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$/;
    const long = 'a'.repeat(63);
    const names = [
      targetGroupName('prod', long),
      targetGroupName('x'.repeat(STAGE_MAX_LENGTH), long),
      targetGroupName('prod', 'web'),
      targetGroupName('Dev-1', 'a'),
      targetGroupName('prod', 'abcdefghijklmno-xyz'),
    ];
    for (const name of names) expect(name).toMatch(ELB_NAME);
    expect(targetGroupName('prod', 'web')).toMatch(/^orch-web-[0-9a-f]{10}$/);
    expect(targetGroupName('prod', `${'b'.repeat(40)}-one`)).not.toBe(targetGroupName('prod', `${'b'.repeat(40)}-two`));
    expect(targetGroupName('prod', 'abcdefghijklmno-xyz')).not.toMatch(/--/);
    // The same app in two stages, and stage/app pairs that run together the same way.
    expect(targetGroupName('dev', 'web')).not.toBe(targetGroupName('prod', 'web'));
    expect(targetGroupName('prod', 'eu-api')).not.toBe(targetGroupName('prod-eu', 'api'));
  });
});

describe('EcsRuntime.logs and stats', () => {
  const TASK = 'arn:aws:ecs:eu-west-1:123456789012:task/orchestry/0123456789abcdef';

  it('reads the task log stream from the tail, since a time', async () => {
    const { runtime, logs } = harness();
    logs.on(GetLogEventsCommand).resolves({
      events: [
        { timestamp: NOW.getTime() - 2000, message: 'listening on 8080\n' },
        { timestamp: NOW.getTime() - 1000, message: 'GET /health 200' },
      ],
    });
    const since = new Date(NOW.getTime() - 60_000);

    const lines = await runtime.logs({ id: TASK, app: 'web' }, { tail: 2, since });

    expect(logs.commandCalls(GetLogEventsCommand).map((c) => c.args[0].input)).toEqual([
      {
        logGroupName: '/orchestry/apps',
        logStreamName: 'web/app/0123456789abcdef',
        startFromHead: false,
        limit: 2,
        startTime: since.getTime(),
      },
    ]);
    expect(lines).toEqual([
      { at: new Date(NOW.getTime() - 2000), stream: 'stdout', message: 'listening on 8080', replicaId: TASK },
      { at: new Date(NOW.getTime() - 1000), stream: 'stdout', message: 'GET /health 200', replicaId: TASK },
    ]);
  });

  it('answers no lines while the log stream does not exist yet', async () => {
    const { runtime, logs } = harness();
    logs.on(GetLogEventsCommand).rejects(new ResourceNotFoundException({ message: 'The specified log stream does not exist.', ...awsMeta }));

    expect(await runtime.logs({ id: TASK, app: 'web' }, {})).toEqual([]);
  });

  const series = (id: string, value: number, at = NOW) => ({ Id: id, Timestamps: [at], Values: [value], StatusCode: 'Complete' as const });

  it('computes CPU and memory as a percent of the task reservation from Container Insights', async () => {
    const { runtime, cloudwatch } = harness();
    const at = new Date(NOW.getTime() - 60_000);
    cloudwatch.on(GetMetricDataCommand).resolves({
      MetricDataResults: [
        series('task_cpuused', 256, at),
        series('task_cpureserved', 512, at),
        series('task_memused', 256, at),
        series('task_memreserved', 1024, at),
        series('family_cpuused', 100, at),
        series('family_cpureserved', 512, at),
        series('family_memused', 100, at),
        series('family_memreserved', 1024, at),
      ],
    });

    const stats = await runtime.stats({ id: TASK, app: 'web' });

    expect(stats).toEqual({ cpuPercent: 50, memoryPercent: 25, memoryBytes: 256 * 1024 * 1024, at });
    const input = cloudwatch.commandCalls(GetMetricDataCommand)[0]!.args[0].input;
    expect(input.StartTime).toEqual(new Date(NOW.getTime() - 5 * 60_000));
    expect(input.EndTime).toEqual(NOW);
    expect(input.MetricDataQueries?.find((q) => q.Id === 'task_cpuused')?.MetricStat).toEqual({
      Metric: {
        Namespace: 'ECS/ContainerInsights',
        MetricName: 'CpuUtilized',
        Dimensions: [
          { Name: 'ClusterName', Value: 'orchestry' },
          { Name: 'TaskDefinitionFamily', Value: 'orchestry-prod_web' },
          { Name: 'TaskId', Value: '0123456789abcdef' },
        ],
      },
      Period: 60,
      Stat: 'Average',
    });
    expect(input.MetricDataQueries?.find((q) => q.Id === 'family_memreserved')?.MetricStat?.Metric?.Dimensions).toEqual([
      { Name: 'ClusterName', Value: 'orchestry' },
      { Name: 'TaskDefinitionFamily', Value: 'orchestry-prod_web' },
    ]);
  });

  it('falls back to the family average without task-level metrics, and answers null without any', async () => {
    const { runtime, cloudwatch } = harness();
    cloudwatch
      .on(GetMetricDataCommand)
      .resolvesOnce({
        MetricDataResults: [
          { Id: 'task_cpuused', Timestamps: [], Values: [] },
          series('family_cpuused', 128),
          series('family_cpureserved', 512),
          series('family_memused', 512),
          series('family_memreserved', 1024),
        ],
      })
      .resolves({ MetricDataResults: [{ Id: 'task_cpuused', Timestamps: [], Values: [] }] });

    expect(await runtime.stats({ id: TASK, app: 'web' })).toEqual({ cpuPercent: 25, memoryPercent: 50, memoryBytes: 512 * 1024 * 1024, at: NOW });
    expect(await runtime.stats({ id: TASK, app: 'web' })).toBeNull();
  });
});

describe('EcsRuntime.ping', () => {
  it('is ok when the cluster is ACTIVE and not otherwise', async () => {
    const { runtime, ecs } = harness();
    ecs
      .on(DescribeClustersCommand)
      .resolvesOnce({ clusters: [{ clusterName: 'orchestry', status: 'ACTIVE' }] })
      .resolvesOnce({ clusters: [{ clusterName: 'orchestry', status: 'INACTIVE' }] })
      .resolvesOnce({ clusters: [], failures: [{ arn: CLUSTER_ARN, reason: 'MISSING' }] })
      .rejects(new AccessDeniedException({ message: 'denied', ...awsMeta }));

    expect(await runtime.ping()).toEqual({ ok: true, kind: 'ecs', detail: 'cluster orchestry is ACTIVE' });
    expect(await runtime.ping()).toMatchObject({ ok: false, detail: 'cluster orchestry is INACTIVE' });
    expect(await runtime.ping()).toMatchObject({ ok: false, detail: expect.stringContaining('MISSING') });
    expect(await runtime.ping()).toMatchObject({ ok: false, detail: expect.stringContaining('AccessDeniedException') });
    expect(ecs.commandCalls(DescribeClustersCommand)[0]!.args[0].input).toEqual({ clusters: [CLUSTER_ARN] });
  });
});

describe('configuration', () => {
  const ENV = {
    ORCHESTRY_STAGE: 'prod',
    ORCHESTRY_ECS_CLUSTER: 'orchestry',
    ORCHESTRY_ECS_SUBNETS: 'subnet-a, subnet-b',
    ORCHESTRY_ECS_SECURITY_GROUPS: 'sg-1',
    ORCHESTRY_ECS_EXECUTION_ROLE_ARN: 'arn:exec',
    ORCHESTRY_ECS_TASK_ROLE_ARN: 'arn:task',
    ORCHESTRY_ECS_LOG_GROUP: '/orchestry/apps',
    ORCHESTRY_VPC_ID: 'vpc-1',
    ORCHESTRY_ALB_LISTENER_ARN: 'arn:listener',
    AWS_REGION: 'eu-west-1',
  };

  it('reads the runtime configuration from the environment', () => {
    expect(ecsConfigFromEnv(ENV)).toEqual({
      stage: 'prod',
      cluster: 'orchestry',
      subnets: ['subnet-a', 'subnet-b'],
      securityGroups: ['sg-1'],
      executionRoleArn: 'arn:exec',
      taskRoleArn: 'arn:task',
      logGroup: '/orchestry/apps',
      vpcId: 'vpc-1',
      listenerArn: 'arn:listener',
      region: 'eu-west-1',
    });
    expect(
      ecsConfigFromEnv({ ...ENV, ORCHESTRY_ECS_ASSIGN_PUBLIC_IP: 'true', ORCHESTRY_ECS_CAPACITY_PROVIDER: 'FARGATE_SPOT' }),
    ).toMatchObject({ assignPublicIp: true, capacityProvider: 'FARGATE_SPOT' });
  });

  it('names every missing or malformed variable', () => {
    const { ORCHESTRY_ECS_SUBNETS: _subnets, ORCHESTRY_ALB_LISTENER_ARN: _listener, ...partial } = ENV;
    let error: unknown;
    try {
      ecsConfigFromEnv({ ...partial, ORCHESTRY_ECS_CAPACITY_PROVIDER: 'EC2' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OrchestryError);
    const message = (error as OrchestryError).message;
    expect(message).toContain('ORCHESTRY_ECS_SUBNETS');
    expect(message).toContain('ORCHESTRY_ALB_LISTENER_ARN');
    expect(message).toContain('ORCHESTRY_ECS_CAPACITY_PROVIDER');
    expect((error as OrchestryError).code).toBe('VALIDATION_ERROR');
  });

  it('refuses a missing or invalid ORCHESTRY_STAGE, saying how to fix it', () => {
    const { ORCHESTRY_STAGE: _stage, ...withoutStage } = ENV;
    for (const env of [withoutStage, { ...ENV, ORCHESTRY_STAGE: '  ' }]) {
      expect(() => ecsConfigFromEnv(env)).toThrow(/ORCHESTRY_STAGE: is missing\..*npx sst deploy --stage NAME/);
    }
    for (const stage of ['my_stage', '1prod', '-prod', 'prod/eu', 'prod eu', 'x'.repeat(STAGE_MAX_LENGTH + 1)]) {
      expect(() => ecsConfigFromEnv({ ...ENV, ORCHESTRY_STAGE: stage }), stage).toThrow(/ORCHESTRY_STAGE: '.*'/);
    }
    for (const stage of ['dev', 'prod', 'Pr-42', 'pr-42-', 'x'.repeat(STAGE_MAX_LENGTH)]) {
      expect(ecsConfigFromEnv({ ...ENV, ORCHESTRY_STAGE: stage }).stage).toBe(stage);
    }
  });

  it('refuses a configuration whose stage cannot scope names', () => {
    expect(() => new EcsRuntime({ ...CONFIG, stage: '' })).toThrow(/ORCHESTRY_STAGE: is missing/);
    expect(() => new EcsRuntime({ ...CONFIG, stage: 'dev_1' })).toThrow(/ORCHESTRY_STAGE: 'dev_1' is not an SST stage name/);
  });

  it('refuses a configuration without subnets', () => {
    expect(() => new EcsRuntime({ ...CONFIG, subnets: [] })).toThrow(/subnets/);
  });
});

describe('task definition building', () => {
  const MI = 1024 * 1024;
  it.each([
    [250, 512 * MI, 256, 512],
    [100, 100 * MI, 256, 512],
    [250, 1500 * MI, 256, 2048],
    [300, 512 * MI, 512, 1024],
    [500, 512 * MI, 512, 1024],
    [1000, 3 * 1024 * MI, 1024, 3072],
    [250, 6 * 1024 * MI, 1024, 6144],
    [2000, 2 * 1024 * MI, 2048, 4096],
    [4000, 40 * 1024 * MI, 8192, 40960],
    [16000, 120 * 1024 * MI, 16384, 122880],
  ])('fits %im with %i bytes into %i CPU units and %i MiB', (cpuMillis, memoryBytes, cpu, memoryMiB) => {
    expect(fargateSize(cpuMillis, memoryBytes)).toEqual({ cpu, memoryMiB });
  });

  it('refuses sizes beyond Fargate and zero sizes', () => {
    expect(() => fargateSize(17_000, 1024 * MI)).toThrow(/largest Fargate task/);
    expect(() => fargateSize(1000, 121 * 1024 * MI)).toThrow(/largest Fargate task/);
    expect(() => fargateSize(0, 1024 * MI)).toThrow(/greater than zero/);
  });

  it('refuses a secret reference that is not an SSM parameter path', () => {
    const settings = { stage: 'prod', executionRoleArn: 'e', taskRoleArn: 't', logGroup: 'g', region: REGION };
    expect(() => buildTaskDefinition('web', { ...TEMPLATE, secrets: [{ name: 'DB_URL', ref: '/abs/path' }] }, settings)).toThrow(
      /spec\.env\.DB_URL\.valueFrom\.secret/,
    );
    expect(() => buildTaskDefinition('web', { ...TEMPLATE, secrets: [{ name: 'DB_URL', ref: 'has space' }] }, settings)).toThrow(
      /not a valid secret reference/,
    );
  });

  it('digests the same content the same way whatever the order of env and labels', () => {
    const settings = { stage: 'prod', executionRoleArn: 'e', taskRoleArn: 't', logGroup: 'g', region: REGION };
    const a = buildTaskDefinition('web', { ...TEMPLATE, env: { A: '1', B: '2' }, labels: { x: '1', y: '2' } }, settings);
    const b = buildTaskDefinition('web', { ...TEMPLATE, env: { B: '2', A: '1' }, labels: { y: '2', x: '1' } }, settings);
    const c = buildTaskDefinition('web', { ...TEMPLATE, env: { A: '1', B: '3' } }, settings);
    expect(a.digest).toBe(b.digest);
    expect(c.digest).not.toBe(a.digest);
  });
});

describe('retry classification', () => {
  it('retries throttling, 5xx and dropped connections, nothing else', () => {
    for (const name of ['ThrottlingException', 'TooManyRequestsException', 'Throttling', 'RequestLimitExceeded', 'ServerException']) {
      expect(isTransientAwsError({ name })).toBe(true);
    }
    expect(isTransientAwsError({ name: 'Whatever', $metadata: { httpStatusCode: 503 } })).toBe(true);
    expect(isTransientAwsError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isTransientAwsError({ name: 'TimeoutError' })).toBe(true);
    expect(isTransientAwsError({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } })).toBe(false);
    expect(isTransientAwsError({ name: 'InvalidParameterException' })).toBe(false);
    expect(isTransientAwsError({ name: 'ResourceInUseException' }, ['ResourceInUseException'])).toBe(true);
  });
});
