/**
 * The app spec's model: its types, defaults and limits, the normalized form (every default
 * applied) of a document already validated, and the conversions into what the other parts
 * store and run (a container template, a scaling policy row, a health check row). Pure: no
 * I/O, and neither zod nor YAML, so that the scheduled jobs, which only read specs the API
 * validated when it stored them, bundle none of either (infra/bundle-budgets.ts). Reading and
 * validating a document written by a user is core/spec.ts, which re-exports all of this.
 *
 * Two forms exist. The *document* is what the user wrote, kept verbatim so that
 * `GET /apps/{name}/spec` returns it unchanged. `AppSpec` is the normalized form: every
 * default applied, quantities in millicores and bytes, the health check port resolved.
 */
import { invalidSpec, type FieldIssue } from './errors.js';
import { parseCpu, parseMemory } from './quantity.js';
import type { ScalingPolicy } from './scaling.js';
import type { ValidDocument } from './spec.js';

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

export const APP_TYPES = ['http', 'tcp'] as const;
export const PORT_PROTOCOLS = ['HTTP', 'TCP'] as const;
export const HEALTH_CHECK_PROTOCOLS = ['HTTP', 'TCP'] as const;
export const HEALTH_CHECK_METHODS = ['GET', 'POST', 'PUT', 'HEAD'] as const;
export const SCALING_MODES = ['auto', 'manual'] as const;

export type AppType = (typeof APP_TYPES)[number];
export type PortProtocol = (typeof PORT_PROTOCOLS)[number];
export type HealthCheckProtocol = (typeof HEALTH_CHECK_PROTOCOLS)[number];
export type HealthCheckMethod = (typeof HEALTH_CHECK_METHODS)[number];
export type ScalingMode = (typeof SCALING_MODES)[number];

export interface PortSpec {
  containerPort: number;
  protocol: PortProtocol;
  name?: string | undefined;
}

export type EnvVar = { name: string; value: string } | { name: string; valueFrom: { secret: string } };

/** The scaling section with every default applied; field names as the spec spells them. */
export interface ScalingSpec {
  mode: ScalingMode;
  minReplicas: number;
  maxReplicas: number;
  targetRPSPerReplica: number;
  maxP95LatencyMs: number;
  maxCPUPercent: number;
  maxMemoryPercent: number;
  maxConnectionsPerReplica: number;
  scaleOutThresholdPct: number;
  scaleInThresholdPct: number;
  windowSeconds: number;
  cooldownSeconds: number;
  maxScaleOutStep: number;
  maxScaleInStep: number;
  stabilizationWindowSeconds: number;
  cpuWeight: number;
  memoryWeight: number;
  rpsWeight: number;
  latencyWeight: number;
  connectionWeight: number;
  scaleToZeroAfterSeconds: number;
}

interface HealthCheckTimings {
  enabled: boolean;
  /** A container port of the app, resolved from a number or a port name. */
  port: number;
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
  successThreshold: number;
}

export interface HttpHealthCheckSpec extends HealthCheckTimings {
  protocol: 'HTTP';
  path: string;
  method: HealthCheckMethod;
  headers: Record<string, string>;
  body: string | null;
  expectedStatusCodes: number[];
}

export interface TcpHealthCheckSpec extends HealthCheckTimings {
  protocol: 'TCP';
}

export type HealthCheckSpec = HttpHealthCheckSpec | TcpHealthCheckSpec;

/** The normalized app spec: every default applied. */
export interface AppSpec {
  apiVersion: 'v1';
  kind: 'App';
  metadata: { name: string; labels: Record<string, string> };
  spec: {
    type: AppType;
    image: string;
    /** The first port serves the app's traffic. */
    ports: PortSpec[];
    resources: { cpuMillis: number; memoryBytes: number };
    command?: string[] | undefined;
    args?: string[] | undefined;
    workingDir?: string | undefined;
    env: EnvVar[];
  };
  scaling: ScalingSpec;
  healthCheck: HealthCheckSpec;
  termination: { drainSeconds: number; stopGraceSeconds: number };
}

/**
 * The scaling_policies columns (Drizzle names) that a spec or a policy update sets: the
 * same fields the scaling decision reads.
 */
export type PolicyRow = ScalingPolicy;

/** The health_checks columns (Drizzle names) but app_name, id and timestamps. */
export interface HealthCheckRow {
  protocol: HealthCheckProtocol;
  path: string | null;
  port: number;
  method: HealthCheckMethod | null;
  headers: Record<string, string> | null;
  body: string | null;
  expectedStatusCodes: number[] | null;
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
  successThreshold: number;
  enabled: boolean;
}

// ---------------------------------------------------------------------------
// Defaults and limits
// ---------------------------------------------------------------------------

export interface PolicyField {
  column: keyof PolicyRow;
  specKey: Exclude<keyof ScalingSpec, 'mode'>;
  apiKey: string;
  /** The scaling_policies column default. */
  default: number;
  integer: boolean;
  min: number;
  max: number;
}

/**
 * One row per policy field: its column, its name in the spec and in the API, the table's
 * default, and its bounds (the table's CHECKs plus upper bounds that stop absurd values).
 */
export const POLICY_FIELDS: readonly PolicyField[] = [
  { column: 'minReplicas', specKey: 'minReplicas', apiKey: 'min_replicas', default: 1, integer: true, min: 0, max: 1000 },
  { column: 'maxReplicas', specKey: 'maxReplicas', apiKey: 'max_replicas', default: 5, integer: true, min: 1, max: 1000 },
  { column: 'targetRpsPerReplica', specKey: 'targetRPSPerReplica', apiKey: 'target_rps_per_replica', default: 50, integer: true, min: 1, max: 1_000_000 },
  { column: 'maxP95LatencyMs', specKey: 'maxP95LatencyMs', apiKey: 'max_p95_latency_ms', default: 250, integer: true, min: 1, max: 600_000 },
  { column: 'maxCpuPercent', specKey: 'maxCPUPercent', apiKey: 'max_cpu_percent', default: 70, integer: false, min: 1, max: 100 },
  { column: 'maxMemoryPercent', specKey: 'maxMemoryPercent', apiKey: 'max_memory_percent', default: 75, integer: false, min: 1, max: 100 },
  { column: 'maxConnectionsPerReplica', specKey: 'maxConnectionsPerReplica', apiKey: 'max_connections_per_replica', default: 100, integer: true, min: 1, max: 1_000_000 },
  { column: 'scaleOutThresholdPct', specKey: 'scaleOutThresholdPct', apiKey: 'scale_out_threshold_pct', default: 80, integer: true, min: 1, max: 100 },
  { column: 'scaleInThresholdPct', specKey: 'scaleInThresholdPct', apiKey: 'scale_in_threshold_pct', default: 30, integer: true, min: 1, max: 100 },
  { column: 'cooldownSeconds', specKey: 'cooldownSeconds', apiKey: 'cooldown_seconds', default: 180, integer: true, min: 0, max: 86_400 },
  // Shorter than 10 s, a window rarely holds a metric sample and the scaler would see nothing.
  { column: 'evaluationWindowSeconds', specKey: 'windowSeconds', apiKey: 'evaluation_window_seconds', default: 60, integer: true, min: 10, max: 3600 },
  { column: 'maxScaleOutStep', specKey: 'maxScaleOutStep', apiKey: 'max_scale_out_step', default: 0, integer: true, min: 0, max: 1000 },
  { column: 'maxScaleInStep', specKey: 'maxScaleInStep', apiKey: 'max_scale_in_step', default: 1, integer: true, min: 1, max: 1000 },
  { column: 'stabilizationWindowSeconds', specKey: 'stabilizationWindowSeconds', apiKey: 'stabilization_window_seconds', default: 300, integer: true, min: 0, max: 3600 },
  { column: 'cpuWeight', specKey: 'cpuWeight', apiKey: 'cpu_weight', default: 1, integer: false, min: 0, max: 100 },
  { column: 'memoryWeight', specKey: 'memoryWeight', apiKey: 'memory_weight', default: 1, integer: false, min: 0, max: 100 },
  { column: 'rpsWeight', specKey: 'rpsWeight', apiKey: 'rps_weight', default: 1, integer: false, min: 0, max: 100 },
  { column: 'latencyWeight', specKey: 'latencyWeight', apiKey: 'latency_weight', default: 1.5, integer: false, min: 0, max: 100 },
  { column: 'connectionWeight', specKey: 'connectionWeight', apiKey: 'connection_weight', default: 0.8, integer: false, min: 0, max: 100 },
  // As short as the shortest window: below it the window could show no sample of a request just served.
  { column: 'scaleToZeroAfterSeconds', specKey: 'scaleToZeroAfterSeconds', apiKey: 'scale_to_zero_after_seconds', default: 300, integer: true, min: 10, max: 86_400 },
];

export const SCALING_DEFAULTS: ScalingSpec = {
  mode: 'auto',
  ...(Object.fromEntries(POLICY_FIELDS.map((f) => [f.specKey, f.default])) as Omit<ScalingSpec, 'mode'>),
};

/** The health_checks table defaults. */
export const HEALTH_CHECK_DEFAULTS = {
  path: '/',
  method: 'GET' as HealthCheckMethod,
  expectedStatusCodes: [200],
  initialDelaySeconds: 30,
  periodSeconds: 30,
  timeoutSeconds: 5,
  failureThreshold: 3,
  successThreshold: 1,
  enabled: true,
};

/** The smallest Fargate size (0.25 vCPU, 512 MiB), so a spec without resources runs everywhere. */
export const RESOURCE_DEFAULTS = { cpuMillis: 250, memoryBytes: 512 * 1024 * 1024 };

export const TERMINATION_DEFAULTS = { drainSeconds: 10, stopGraceSeconds: 30 };

// ---------------------------------------------------------------------------
// Validation and normalization
// ---------------------------------------------------------------------------

export type ValueNote = (field: keyof PolicyRow) => string;

/** The scaling_policies CHECKs that span two fields. */
export function policyIssues(policy: PolicyRow, name: (field: keyof PolicyRow) => string, note: ValueNote): Array<{ field: keyof PolicyRow; message: string }> {
  const issues: Array<{ field: keyof PolicyRow; message: string }> = [];
  if (policy.minReplicas > policy.maxReplicas) {
    issues.push({
      field: 'minReplicas',
      message: `${name('minReplicas')} (${policy.minReplicas}${note('minReplicas')}) must be <= ${name('maxReplicas')} (${policy.maxReplicas}${note('maxReplicas')})`,
    });
  }
  if (policy.scaleInThresholdPct >= policy.scaleOutThresholdPct) {
    issues.push({
      field: 'scaleInThresholdPct',
      message: `${name('scaleInThresholdPct')} (${policy.scaleInThresholdPct}${note('scaleInThresholdPct')}) must be < ${name('scaleOutThresholdPct')} (${policy.scaleOutThresholdPct}${note('scaleOutThresholdPct')})`,
    });
  }
  return issues;
}

const specKeyOf = (column: keyof PolicyRow) => POLICY_FIELDS.find((f) => f.column === column)!.specKey;
export const apiKeyOf = (column: keyof PolicyRow) => POLICY_FIELDS.find((f) => f.column === column)!.apiKey;

function normalizeScaling(written: ValidDocument['scaling'], issues: FieldIssue[]): ScalingSpec {
  const scaling = { ...SCALING_DEFAULTS } as ScalingSpec;
  for (const [key, value] of Object.entries(written ?? {})) {
    if (value !== undefined) (scaling as unknown as Record<string, unknown>)[key] = value;
  }
  const note: ValueNote = (column) => ((written as Record<string, unknown> | undefined)?.[specKeyOf(column)] === undefined ? ', the default' : '');
  for (const issue of policyIssues(scalingToPolicy(scaling), specKeyOf, note)) {
    issues.push({ path: `scaling.${specKeyOf(issue.field)}`, message: issue.message });
  }
  return scaling;
}

function normalizePorts(written: ValidDocument['spec'], type: AppType, issues: FieldIssue[]): PortSpec[] {
  const ports = written.ports.map((p) => ({
    containerPort: p.containerPort,
    protocol: p.protocol ?? (type === 'tcp' ? 'TCP' : 'HTTP'),
    ...(p.name === undefined ? {} : { name: p.name }),
  }));
  const servingProtocol = type === 'tcp' ? 'TCP' : 'HTTP';
  if (ports[0]!.protocol !== servingProtocol) {
    issues.push({
      path: 'spec.ports[0].protocol',
      message: `the first port serves the app's traffic, so for type ${type} it must be ${servingProtocol}`,
    });
  }
  return ports;
}

function normalizeEnv(written: ValidDocument['spec']['env'], issues: FieldIssue[]): EnvVar[] {
  const env = (written ?? []).map((v): EnvVar => (v.valueFrom ? { name: v.name, valueFrom: { secret: v.valueFrom.secret } } : { name: v.name, value: v.value! }));
  env.forEach((v, i) => {
    const first = env.findIndex((w) => w.name === v.name);
    if (first < i) issues.push({ path: `spec.env[${i}].name`, message: `${v.name} is already set by spec.env[${first}]; each variable may appear once` });
  });
  return env;
}

function normalizeHealthCheck(written: ValidDocument['healthCheck'], ports: PortSpec[], issues: FieldIssue[]): HealthCheckSpec {
  const given = written ?? {};
  let port = ports[0]!;
  if (given.port !== undefined) {
    const declared = ports.map((p) => p.containerPort).join(', ');
    const found = ports.find((p) => (typeof given.port === 'number' ? p.containerPort === given.port : p.name === given.port));
    if (found) port = found;
    else if (typeof given.port === 'number') {
      issues.push({ path: 'healthCheck.port', message: `port ${given.port} is not declared in spec.ports (declared: ${declared}); probe one of the app's ports` });
    } else {
      const names = ports.flatMap((p) => (p.name ? [p.name] : []));
      issues.push({
        path: 'healthCheck.port',
        message: `no port is named "${given.port}" in spec.ports (${names.length ? `names: ${names.join(', ')}` : 'no port has a name'})`,
      });
    }
  }
  const timings: HealthCheckTimings = {
    enabled: given.enabled ?? HEALTH_CHECK_DEFAULTS.enabled,
    port: port.containerPort,
    initialDelaySeconds: given.initialDelaySeconds ?? HEALTH_CHECK_DEFAULTS.initialDelaySeconds,
    periodSeconds: given.periodSeconds ?? HEALTH_CHECK_DEFAULTS.periodSeconds,
    timeoutSeconds: given.timeoutSeconds ?? HEALTH_CHECK_DEFAULTS.timeoutSeconds,
    failureThreshold: given.failureThreshold ?? HEALTH_CHECK_DEFAULTS.failureThreshold,
    successThreshold: given.successThreshold ?? HEALTH_CHECK_DEFAULTS.successThreshold,
  };
  if (timings.timeoutSeconds >= timings.periodSeconds) {
    const note = (field: 'timeoutSeconds' | 'periodSeconds') => (given[field] === undefined ? ', the default' : '');
    issues.push({
      path: 'healthCheck.timeoutSeconds',
      message: `timeoutSeconds (${timings.timeoutSeconds}${note('timeoutSeconds')}) must be < periodSeconds (${timings.periodSeconds}${note('periodSeconds')})`,
    });
  }
  const protocol = given.protocol ?? port.protocol;
  if (protocol === 'TCP') {
    for (const field of ['path', 'method', 'headers', 'body', 'expectedStatusCodes'] as const) {
      if (given[field] !== undefined) {
        issues.push({ path: `healthCheck.${field}`, message: `applies to HTTP health checks only; remove it or set healthCheck.protocol to HTTP` });
      }
    }
    return { protocol, ...timings };
  }
  const method = given.method ?? HEALTH_CHECK_DEFAULTS.method;
  if (given.body !== undefined && (method === 'GET' || method === 'HEAD')) {
    issues.push({ path: 'healthCheck.body', message: `a body is sent only with POST or PUT; method is ${method}` });
  }
  return {
    protocol,
    ...timings,
    path: given.path ?? HEALTH_CHECK_DEFAULTS.path,
    method,
    headers: given.headers ?? {},
    body: given.body ?? null,
    expectedStatusCodes: given.expectedStatusCodes ?? [...HEALTH_CHECK_DEFAULTS.expectedStatusCodes],
  };
}

/** A validated document (core/spec.ts) in its normalized form; INVALID_SPEC on a cross-field rule. */
export function normalize(document: ValidDocument): AppSpec {
  const issues: FieldIssue[] = [];
  const type = document.spec.type ?? 'http';
  const ports = normalizePorts(document.spec, type, issues);
  const env = normalizeEnv(document.spec.env, issues);
  const scaling = normalizeScaling(document.scaling, issues);
  const healthCheck = normalizeHealthCheck(document.healthCheck, ports, issues);
  if (issues.length > 0) throw invalidSpec(issues);
  const { resources, command, args, workingDir } = document.spec;
  return {
    apiVersion: 'v1',
    kind: 'App',
    metadata: { name: document.metadata.name, labels: { ...(document.metadata.labels ?? {}) } },
    spec: {
      type,
      image: document.spec.image,
      ports,
      resources: {
        cpuMillis: resources?.cpu === undefined ? RESOURCE_DEFAULTS.cpuMillis : (parseCpu(resources.cpu) as { value: number }).value,
        memoryBytes: resources?.memory === undefined ? RESOURCE_DEFAULTS.memoryBytes : (parseMemory(resources.memory) as { value: number }).value,
      },
      ...(command ? { command: [...command] } : {}),
      ...(args ? { args: [...args] } : {}),
      ...(workingDir ? { workingDir } : {}),
      env,
    },
    scaling,
    healthCheck,
    termination: {
      drainSeconds: document.termination?.drainSeconds ?? TERMINATION_DEFAULTS.drainSeconds,
      stopGraceSeconds: document.termination?.stopGraceSeconds ?? TERMINATION_DEFAULTS.stopGraceSeconds,
    },
  };
}

/**
 * The normalized form of a stored document: one the API validated (readSpec) before storing
 * it, so it is not validated again. Cross-field rules still throw INVALID_SPEC.
 */
export function storedSpec(document: unknown): AppSpec {
  return normalize(document as ValidDocument);
}

// ---------------------------------------------------------------------------
// Conversions
// ---------------------------------------------------------------------------

/**
 * What a replica is started from. The same shape as runtime/types.ts ContainerTemplate,
 * declared here because core/ imports nothing from runtime/ (a test checks they match).
 */
export interface SpecContainerTemplate {
  image: string;
  containerPort: number;
  cpuMillis: number;
  memoryBytes: number;
  command?: string[] | undefined;
  args?: string[] | undefined;
  workingDir?: string | undefined;
  env: Record<string, string>;
  secrets: Array<{ name: string; ref: string }>;
  labels: Record<string, string>;
  stopGraceSeconds: number;
}

export function toContainerTemplate(spec: AppSpec): SpecContainerTemplate {
  const env: Record<string, string> = {};
  const secrets: Array<{ name: string; ref: string }> = [];
  for (const variable of spec.spec.env) {
    if ('value' in variable) env[variable.name] = variable.value;
    else secrets.push({ name: variable.name, ref: variable.valueFrom.secret });
  }
  return {
    image: spec.spec.image,
    containerPort: spec.spec.ports[0]!.containerPort,
    cpuMillis: spec.spec.resources.cpuMillis,
    memoryBytes: spec.spec.resources.memoryBytes,
    command: spec.spec.command,
    args: spec.spec.args,
    workingDir: spec.spec.workingDir,
    env,
    secrets,
    labels: { ...spec.metadata.labels },
    stopGraceSeconds: spec.termination.stopGraceSeconds,
  };
}

function scalingToPolicy(scaling: ScalingSpec): PolicyRow {
  return Object.fromEntries(POLICY_FIELDS.map((f) => [f.column, scaling[f.specKey]])) as unknown as PolicyRow;
}

/** The scaling_policies row (without app_name and timestamps); the mode lives on applications.mode. */
export function toPolicyRow(spec: AppSpec): PolicyRow {
  return scalingToPolicy(spec.scaling);
}

/** The health_checks row (without id, app_name and timestamps). */
export function toHealthCheckRow(spec: AppSpec): HealthCheckRow {
  const check = spec.healthCheck;
  const common = {
    port: check.port,
    initialDelaySeconds: check.initialDelaySeconds,
    periodSeconds: check.periodSeconds,
    timeoutSeconds: check.timeoutSeconds,
    failureThreshold: check.failureThreshold,
    successThreshold: check.successThreshold,
    enabled: check.enabled,
  };
  if (check.protocol === 'TCP') {
    return { protocol: 'TCP', path: null, method: null, headers: null, body: null, expectedStatusCodes: null, ...common };
  }
  return {
    protocol: 'HTTP',
    path: check.path,
    method: check.method,
    headers: Object.keys(check.headers).length > 0 ? { ...check.headers } : null,
    body: check.body,
    expectedStatusCodes: [...check.expectedStatusCodes],
    ...common,
  };
}

/** How many replicas a newly started app gets: its minimum, and never none. */
export function initialReplicas(spec: AppSpec): number {
  return Math.max(spec.scaling.minReplicas, 1);
}

// ---------------------------------------------------------------------------
// Policies as the API shows them
// ---------------------------------------------------------------------------

/** The policy as the API shows it: snake_case fields. */
export function toApiPolicy(policy: PolicyRow): Record<string, number> {
  return Object.fromEntries(POLICY_FIELDS.map((f) => [f.apiKey, policy[f.column]]));
}

/** A stored policy as read from the database, where nullable columns may be null. */
export type StoredPolicy = { [K in keyof PolicyRow]?: number | null } & { mode?: ScalingMode | null };
