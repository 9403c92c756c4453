/**
 * The ECS runtime's configuration: read from the environment and checked without loading the
 * AWS SDK, so that a Lambda can refuse a wrong configuration at once while creating the
 * runtime itself (functions/runtime/ecs.ts, which loads the SDK) only when it is first used.
 */
import { validationError, type FieldIssue } from '../core/errors.js';
import { stageProblem } from './ecs-task-definition.js';

export interface EcsRuntimeConfig {
  /**
   * The SST stage this deployment belongs to. Task definition families, target group names and
   * secret parameter paths carry it, so stages sharing an account and region never share them.
   */
  stage: string;
  /** Cluster name or ARN. */
  cluster: string;
  subnets: string[];
  securityGroups: string[];
  /** Tasks in public subnets without a NAT need a public IP to pull images. */
  assignPublicIp?: boolean | undefined;
  executionRoleArn: string;
  taskRoleArn: string;
  logGroup: string;
  region: string;
  vpcId: string;
  /** The shared ALB listener every app gets a host-header rule on. */
  listenerArn: string;
  /** The activator Lambda's target group: apps at zero are routed to it (docs/scale-to-zero.md). */
  activatorTargetGroupArn?: string | undefined;
  /** Without one, tasks use the FARGATE launch type. */
  capacityProvider?: 'FARGATE' | 'FARGATE_SPOT' | undefined;
}

const ENV = {
  stage: 'ORCHESTRY_STAGE',
  cluster: 'ORCHESTRY_ECS_CLUSTER',
  subnets: 'ORCHESTRY_ECS_SUBNETS',
  securityGroups: 'ORCHESTRY_ECS_SECURITY_GROUPS',
  executionRoleArn: 'ORCHESTRY_ECS_EXECUTION_ROLE_ARN',
  taskRoleArn: 'ORCHESTRY_ECS_TASK_ROLE_ARN',
  logGroup: 'ORCHESTRY_ECS_LOG_GROUP',
  vpcId: 'ORCHESTRY_VPC_ID',
  listenerArn: 'ORCHESTRY_ALB_LISTENER_ARN',
  region: 'AWS_REGION',
  assignPublicIp: 'ORCHESTRY_ECS_ASSIGN_PUBLIC_IP',
  capacityProvider: 'ORCHESTRY_ECS_CAPACITY_PROVIDER',
  activatorTargetGroupArn: 'ORCHESTRY_ACTIVATOR_TARGET_GROUP_ARN',
} as const;

const list = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);

/** The runtime configuration from the variables the infrastructure sets on every Lambda. */
export function ecsConfigFromEnv(env: Record<string, string | undefined> = process.env): EcsRuntimeConfig {
  const issues: FieldIssue[] = [];
  const required = (name: string) => {
    const value = env[name]?.trim();
    if (!value) issues.push({ path: name, message: 'is required for the ECS runtime' });
    return value ?? '';
  };
  const config: EcsRuntimeConfig = {
    stage: env[ENV.stage]?.trim() ?? '',
    cluster: required(ENV.cluster),
    subnets: list(required(ENV.subnets)),
    securityGroups: list(required(ENV.securityGroups)),
    executionRoleArn: required(ENV.executionRoleArn),
    taskRoleArn: required(ENV.taskRoleArn),
    logGroup: required(ENV.logGroup),
    vpcId: required(ENV.vpcId),
    listenerArn: required(ENV.listenerArn),
    region: required(ENV.region),
  };
  for (const field of ['subnets', 'securityGroups'] as const) {
    if (env[ENV[field]]?.trim() && config[field].length === 0) issues.push({ path: ENV[field], message: 'needs at least one comma-separated id' });
  }
  const stage = stageIssue(config.stage);
  if (stage) issues.push(stage);
  const publicIp = env[ENV.assignPublicIp]?.trim().toLowerCase();
  if (publicIp === 'true' || publicIp === 'false') config.assignPublicIp = publicIp === 'true';
  else if (publicIp) issues.push({ path: ENV.assignPublicIp, message: `must be 'true' or 'false', not '${publicIp}'` });
  const activator = env[ENV.activatorTargetGroupArn]?.trim();
  if (activator) config.activatorTargetGroupArn = activator;
  const provider = env[ENV.capacityProvider]?.trim();
  if (provider === 'FARGATE' || provider === 'FARGATE_SPOT') config.capacityProvider = provider;
  else if (provider) issues.push({ path: ENV.capacityProvider, message: `must be FARGATE or FARGATE_SPOT, not '${provider}'` });
  if (issues.length > 0) throw validationError(issues);
  return config;
}

/**
 * A stage that cannot scope the runtime's names, as an issue naming ORCHESTRY_STAGE and the
 * fix. Without a valid one the runtime refuses to start rather than fall back to unscoped
 * names another stage in the account could be using.
 */
function stageIssue(stage: string | undefined): FieldIssue | undefined {
  const problem = stageProblem(stage?.trim() ?? '');
  if (!problem) return undefined;
  return {
    path: ENV.stage,
    message:
      `${problem}. The ECS runtime needs the SST stage it was deployed as (it scopes task definition families, ` +
      `target group names and secret paths); the stacks set ${ENV.stage} from the stage, so redeploy with ` +
      '`npx sst deploy --stage NAME`, or set it to that stage (e.g. prod)',
  };
}

export function checkConfig(config: EcsRuntimeConfig): void {
  const issues: FieldIssue[] = [];
  const stage = stageIssue(config.stage);
  if (stage) issues.push(stage);
  for (const field of ['cluster', 'executionRoleArn', 'taskRoleArn', 'logGroup', 'region', 'vpcId', 'listenerArn'] as const) {
    if (!config[field]?.trim()) issues.push({ path: field, message: `is required (environment: ${ENV[field]})` });
  }
  for (const field of ['subnets', 'securityGroups'] as const) {
    if (!config[field]?.length) issues.push({ path: field, message: `needs at least one id (environment: ${ENV[field]}, comma-separated)` });
  }
  if (issues.length > 0) throw validationError(issues);
}
