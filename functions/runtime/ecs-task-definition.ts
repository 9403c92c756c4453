/**
 * From a resolved ContainerTemplate to the RegisterTaskDefinition input of one app revision:
 * the Fargate size, the `app` container, its secrets and its logs. Pure: no AWS calls.
 */
import { createHash } from 'node:crypto';
import type { ContainerDefinition, RegisterTaskDefinitionCommandInput } from '@aws-sdk/client-ecs';
import { validationError } from '../core/errors.js';
import type { ContainerTemplate } from './types.js';

export const CONTAINER_NAME = 'app';

export const TAG_APP = 'orchestry:app';
export const TAG_REVISION = 'orchestry:revision';
export const TAG_REPLICA = 'orchestry:replica';
export const TAG_NAME = 'orchestry:name';
export const TAG_PORT = 'orchestry:port';
/** On target groups and listener rules, whose names cannot carry the stage (see ecs-routing.ts). */
export const TAG_STAGE = 'orchestry:stage';
/** A digest of the registered definition, so a same-numbered revision with other content is never reused. */
export const TAG_TEMPLATE = 'orchestry:template';

/**
 * The SST stage the runtime belongs to is part of every name that is unique per account and
 * region (task definition families here, target group names in ecs-routing.ts, secret
 * parameter paths), so two stages in one account and region never share one. A stage is what
 * SST accepts (sst/project.js): a letter, then letters, digits and hyphens. Its length is
 * bounded so that the longest family, `orchestry-<stage>_<63-character app>`, stays within
 * ECS's 255 characters.
 */
const STAGE = /^[A-Za-z][A-Za-z0-9-]*$/;
const APP_NAME_MAX = 63;
const FAMILY_MAX = 255;
export const STAGE_MAX_LENGTH = FAMILY_MAX - 'orchestry-'.length - '_'.length - APP_NAME_MAX;

/** Why a stage cannot name ECS resources, or undefined when it can. */
export function stageProblem(stage: string): string | undefined {
  if (!stage) return 'is missing';
  if (!STAGE.test(stage)) return `'${stage}' is not an SST stage name: a letter, then letters, digits and hyphens`;
  if (stage.length > STAGE_MAX_LENGTH) return `'${stage.slice(0, 20)}…' is longer than ${STAGE_MAX_LENGTH} characters`;
  return undefined;
}

/**
 * `orchestry-<stage>_<app>`. The underscore, which neither a stage nor an app name can hold,
 * keeps stages apart: with a hyphen, stage `prod` app `eu-api` and stage `prod-eu` app `api`
 * would share `orchestry-prod-eu-api`, and IAM's `orchestry-prod-*` would match both stages.
 */
export const taskFamily = (stage: string, app: string) => `orchestry-${stage}_${app}`;

/** Where a stage's app secrets live in SSM Parameter Store: `/orchestry/<stage>/secrets/`. */
export const secretParameterPrefix = (stage: string) => `/orchestry/${stage}/secrets/`;

const steps = (from: number, to: number, step: number) =>
  Array.from({ length: (to - from) / step + 1 }, (_, i) => from + i * step);

/** The task sizes Fargate accepts (Linux, platform 1.4.0): CPU units → allowed memory in MiB. */
export const FARGATE_SIZES: ReadonlyArray<{ cpu: number; memoryMiB: readonly number[] }> = [
  { cpu: 256, memoryMiB: [512, 1024, 2048] },
  { cpu: 512, memoryMiB: steps(1024, 4096, 1024) },
  { cpu: 1024, memoryMiB: steps(2048, 8192, 1024) },
  { cpu: 2048, memoryMiB: steps(4096, 16384, 1024) },
  { cpu: 4096, memoryMiB: steps(8192, 30720, 1024) },
  { cpu: 8192, memoryMiB: steps(16384, 61440, 4096) },
  { cpu: 16384, memoryMiB: steps(32768, 122880, 8192) },
];

const MIB = 1024 * 1024;

/**
 * The smallest valid Fargate size that holds the request: CPU rounded up to a Fargate step
 * (1 vCPU = 1000 millicores = 1024 units), then memory rounded up to the next size allowed
 * at that CPU; when the memory does not fit that CPU's range, the next larger CPU is taken.
 */
export function fargateSize(cpuMillis: number, memoryBytes: number): { cpu: number; memoryMiB: number } {
  if (!(cpuMillis > 0) || !(memoryBytes > 0)) {
    throw validationError([{ path: 'spec.resources', message: 'cpu and memory must both be greater than zero' }]);
  }
  const cpuUnits = Math.ceil((cpuMillis * 1024) / 1000);
  const memoryMiB = Math.ceil(memoryBytes / MIB);
  for (const size of FARGATE_SIZES) {
    if (size.cpu < cpuUnits) continue;
    const memory = size.memoryMiB.find((m) => m >= memoryMiB);
    if (memory !== undefined) return { cpu: size.cpu, memoryMiB: memory };
  }
  throw validationError([
    {
      path: 'spec.resources',
      message: `cpu ${cpuMillis}m with memory ${memoryMiB}Mi exceeds the largest Fargate task (16 vCPU with 120Gi); lower cpu or memory`,
    },
  ]);
}

// SSM parameter names allow these characters; a leading '/' would make an empty path level.
const SECRET_REF = /^[A-Za-z0-9_.-][A-Za-z0-9_./-]*$/;

/** Secrets are SSM parameters under the stage's prefix, named (not ARN'd) so the same spec works in any account. */
export function secretParameterName(stage: string, ref: string, envName: string): string {
  if (!SECRET_REF.test(ref) || ref.includes('//')) {
    throw validationError([
      {
        path: `spec.env.${envName}.valueFrom.secret`,
        message: `'${ref}' is not a valid secret reference; use letters, digits and _ . - / (not starting with /), e.g. 'user-api/db'`,
      },
    ]);
  }
  return `${secretParameterPrefix(stage)}${ref}`;
}

export interface TaskDefinitionSettings {
  stage: string;
  executionRoleArn: string;
  taskRoleArn: string;
  logGroup: string;
  region: string;
}

const FARGATE_STOP_TIMEOUT = { min: 2, max: 120 };

const sortedByName = <T extends { name: string }>(items: T[]) => [...items].sort((a, b) => a.name.localeCompare(b.name));

/** The registration input without tags, plus a digest of it that identifies its content. */
export function buildTaskDefinition(
  app: string,
  template: ContainerTemplate,
  settings: TaskDefinitionSettings,
): { input: RegisterTaskDefinitionCommandInput; digest: string } {
  if (!Number.isInteger(template.containerPort) || template.containerPort < 1 || template.containerPort > 65535) {
    throw validationError([{ path: 'spec.ports.containerPort', message: `${template.containerPort} is not a port (1-65535)` }]);
  }
  const size = fargateSize(template.cpuMillis, template.memoryBytes);
  const container: ContainerDefinition = {
    name: CONTAINER_NAME,
    image: template.image,
    essential: true,
    portMappings: [{ containerPort: template.containerPort, protocol: 'tcp' }],
    // Sorted so the same env in another order digests the same and reuses the definition.
    environment: sortedByName(Object.entries(template.env).map(([name, value]) => ({ name, value }))),
    secrets: sortedByName(template.secrets.map((s) => ({ name: s.name, valueFrom: secretParameterName(settings.stage, s.ref, s.name) }))),
    // The spec follows Kubernetes: `command` replaces the image ENTRYPOINT, `args` its CMD.
    ...(template.command?.length ? { entryPoint: template.command } : {}),
    ...(template.args?.length ? { command: template.args } : {}),
    ...(template.workingDir ? { workingDirectory: template.workingDir } : {}),
    dockerLabels: Object.fromEntries(Object.entries(template.labels).sort(([a], [b]) => a.localeCompare(b))),
    stopTimeout: Math.min(FARGATE_STOP_TIMEOUT.max, Math.max(FARGATE_STOP_TIMEOUT.min, Math.ceil(template.stopGraceSeconds))),
    logConfiguration: {
      logDriver: 'awslogs',
      // Streams are named <prefix>/<container>/<task id>: `<app>/app/<task id>`.
      options: { 'awslogs-group': settings.logGroup, 'awslogs-region': settings.region, 'awslogs-stream-prefix': app },
    },
  };
  const input: RegisterTaskDefinitionCommandInput = {
    family: taskFamily(settings.stage, app),
    networkMode: 'awsvpc',
    requiresCompatibilities: ['FARGATE'],
    cpu: String(size.cpu),
    memory: String(size.memoryMiB),
    executionRoleArn: settings.executionRoleArn,
    taskRoleArn: settings.taskRoleArn,
    containerDefinitions: [container],
  };
  const digest = createHash('sha256').update(JSON.stringify(input)).digest('hex').slice(0, 16);
  return { input, digest };
}
