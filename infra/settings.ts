/**
 * Per-stage deployment settings, read from the environment at synth time (SST loads
 * `.env`, `.env.<stage>` and their `.local` variants before the stacks run, so a stage's
 * settings can live in `.env.<stage>`). Nothing secret belongs here: secrets are SST
 * secrets (`npx sst secrets set`), bound to the functions and fetched from SSM at runtime.
 */

export interface DeploySettings {
  /** Managed NAT gateways. 0 puts one t4g.nano NAT instance in their place (see infra/network.ts). */
  natGateways: number;
  /** ACM certificate for the apps' HTTPS listener; without one the listener is plain HTTP. */
  certificateArn: string | undefined;
  /** Where replicas run: FARGATE_SPOT costs about a third of FARGATE and may be interrupted. */
  capacityProvider: CapacityProvider;
  /** Allowed browser origins for the API; none means CORS stays off. */
  corsOrigins: string[];
  /** Steady-state requests per second across the API stage, and the burst above it. */
  apiThrottleRate: number;
  apiThrottleBurst: number;
  /** Retention of every log group the stacks create (task logs, function logs, API access logs). */
  logRetentionDays: LogRetentionDays;
  /** Sub-minute periods of the scaler and prober loops inside their one-minute invocations. */
  scalerPeriodSeconds: number;
  proberPeriodSeconds: number;
}

/** The retention periods CloudWatch Logs accepts. */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;
export type LogRetentionDays = (typeof LOG_RETENTION_DAYS)[number];

export const CAPACITY_PROVIDERS = ['FARGATE', 'FARGATE_SPOT'] as const;
export type CapacityProvider = (typeof CAPACITY_PROVIDERS)[number];

/** Stages that get production defaults (a NAT gateway, on-demand Fargate, a month of logs). */
export const PRODUCTION_STAGES: readonly string[] = ['prod', 'production'];

export class DeploySettingsError extends Error {
  constructor(
    readonly variable: SettingVariable,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'DeploySettingsError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

/** Every variable readDeploySettings reads. */
export const SETTING_VARIABLES = [
  'ORCHESTRY_NAT_GATEWAYS',
  'ORCHESTRY_CERTIFICATE_ARN',
  'ORCHESTRY_CAPACITY_PROVIDER',
  'ORCHESTRY_API_CORS_ORIGINS',
  'ORCHESTRY_API_THROTTLE_RATE',
  'ORCHESTRY_API_THROTTLE_BURST',
  'ORCHESTRY_LOG_RETENTION_DAYS',
  'SCALER_PERIOD_SECONDS',
  'PROBER_PERIOD_SECONDS',
] as const;
export type SettingVariable = (typeof SETTING_VARIABLES)[number];

export function readDeploySettings(stage: string, env: Env): DeploySettings {
  const production = PRODUCTION_STAGES.includes(stage);
  const settings: DeploySettings = {
    natGateways: integer(env, 'ORCHESTRY_NAT_GATEWAYS', production ? 1 : 0, 0, 2),
    certificateArn: certificateArn(env),
    capacityProvider: capacityProvider(env, production ? 'FARGATE' : 'FARGATE_SPOT'),
    corsOrigins: corsOrigins(env),
    apiThrottleRate: integer(env, 'ORCHESTRY_API_THROTTLE_RATE', 50, 1, 10_000),
    apiThrottleBurst: integer(env, 'ORCHESTRY_API_THROTTLE_BURST', 100, 1, 5_000),
    logRetentionDays: logRetention(env, production ? 30 : 7),
    scalerPeriodSeconds: integer(env, 'SCALER_PERIOD_SECONDS', 10, 1, 60),
    proberPeriodSeconds: integer(env, 'PROBER_PERIOD_SECONDS', 10, 1, 60),
  };
  if (settings.apiThrottleBurst < settings.apiThrottleRate) {
    throw new DeploySettingsError(
      'ORCHESTRY_API_THROTTLE_BURST',
      `must be at least ORCHESTRY_API_THROTTLE_RATE (${settings.apiThrottleRate}); got ${settings.apiThrottleBurst}`,
    );
  }
  return settings;
}

function value(env: Env, name: SettingVariable): string | undefined {
  const raw = env[name]?.trim();
  return raw ? raw : undefined;
}

function integer(env: Env, name: SettingVariable, fallback: number, min: number, max: number): number {
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new DeploySettingsError(name, `must be a whole number from ${min} to ${max}; got "${raw}"`);
  }
  return Number(raw);
}

function logRetention(env: Env, fallback: LogRetentionDays): LogRetentionDays {
  const name: SettingVariable = 'ORCHESTRY_LOG_RETENTION_DAYS';
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  const days = LOG_RETENTION_DAYS.find((d) => String(d) === raw);
  if (days === undefined) {
    throw new DeploySettingsError(name, `must be one of CloudWatch's retention periods (${LOG_RETENTION_DAYS.join(', ')}); got "${raw}"`);
  }
  return days;
}

function certificateArn(env: Env): string | undefined {
  const name: SettingVariable = 'ORCHESTRY_CERTIFICATE_ARN';
  const raw = value(env, name);
  if (raw !== undefined && !/^arn:aws[\w-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[\w-]+$/.test(raw)) {
    throw new DeploySettingsError(name, `must be an ACM certificate ARN (arn:aws:acm:REGION:ACCOUNT:certificate/ID); got "${raw}"`);
  }
  return raw;
}

function capacityProvider(env: Env, fallback: CapacityProvider): CapacityProvider {
  const name: SettingVariable = 'ORCHESTRY_CAPACITY_PROVIDER';
  const raw = value(env, name);
  if (raw === undefined) return fallback;
  const provider = CAPACITY_PROVIDERS.find((p) => p === raw.toUpperCase());
  if (provider === undefined) throw new DeploySettingsError(name, `must be ${CAPACITY_PROVIDERS.join(' or ')}; got "${raw}"`);
  return provider;
}

function corsOrigins(env: Env): string[] {
  const name: SettingVariable = 'ORCHESTRY_API_CORS_ORIGINS';
  const raw = value(env, name);
  if (raw === undefined) return [];
  const origins = raw.split(',').map((o) => o.trim()).filter(Boolean);
  for (const origin of origins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new DeploySettingsError(name, `each origin must look like https://host[:port] with no path; got "${origin}"`);
    }
  }
  return origins;
}
