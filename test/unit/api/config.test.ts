/** deps.ts: settings from the environment, the redacted view, and the runtime used without Docker. */
import { describe, expect, it } from 'vitest';
import { OrchestryError } from '../../../functions/core/errors.js';
import {
  configFromEnv,
  createRuntime,
  DEFAULT_CONFIG,
  LAMBDA_MAX_WAIT_SECONDS,
  NoRuntime,
  redactedConfig,
  secretsFromSst,
} from '../../../functions/deps.js';
import { silentLogger } from '../../../functions/log.js';

const issuesOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OrchestryError);
    return ((error as OrchestryError).details as { issues: Array<{ path: string; message: string }> }).issues;
  }
  throw new Error('expected a validation error');
};

describe('configFromEnv', () => {
  it('gives the defaults for an empty environment', () => {
    expect(configFromEnv({})).toEqual({ ...DEFAULT_CONFIG, adminToken: undefined });
  });

  it('reads every variable, converting days and hours to seconds', () => {
    const config = configFromEnv({
      ORCHESTRY_RUNTIME: 'ecs',
      ORCHESTRY_RATE_LIMIT_PER_MINUTE: '0',
      ORCHESTRY_MAX_BODY_BYTES: '65536',
      ORCHESTRY_MAX_METRICS_BODY_BYTES: '1048576',
      ORCHESTRY_MAX_WAIT_SECONDS: '120',
      SCALER_PERIOD_SECONDS: '5',
      PROBER_PERIOD_SECONDS: '15',
      ORCHESTRY_EVENTS_RETENTION_DAYS: '7',
      ORCHESTRY_INSTANCE_METRICS_RETENTION_HOURS: '6',
      ORCHESTRY_ADMIN_TOKEN: ' a-long-enough-admin-token ',
    });
    expect(config).toMatchObject({
      runtime: 'ecs',
      rateLimitPerMinute: 0,
      maxBodyBytes: 65536,
      maxMetricsBodyBytes: 1048576,
      maxWaitSeconds: 120,
      jobs: { scalerPeriodSeconds: 5, proberPeriodSeconds: 15 },
      retention: { eventsRetentionSeconds: 7 * 86400, instanceMetricsRetentionSeconds: 6 * 3600 },
      adminToken: 'a-long-enough-admin-token',
    });
  });

  it('names every wrong variable and the fix', () => {
    const issues = issuesOf(() =>
      configFromEnv({ ORCHESTRY_RUNTIME: 'k8s', ORCHESTRY_RATE_LIMIT_PER_MINUTE: 'lots', SCALER_PERIOD_SECONDS: '0', ORCHESTRY_ADMIN_TOKEN: 'short' }),
    );
    expect(issues.map((i) => i.path).sort()).toEqual(['ORCHESTRY_ADMIN_TOKEN', 'ORCHESTRY_RATE_LIMIT_PER_MINUTE', 'ORCHESTRY_RUNTIME', 'SCALER_PERIOD_SECONDS']);
    expect(issues.find((i) => i.path === 'ORCHESTRY_RUNTIME')!.message).toContain('docker, ecs, none');
  });

  it('keeps waits under API Gateway\'s limit in Lambda', () => {
    expect(configFromEnv({ AWS_LAMBDA_FUNCTION_NAME: 'api' }).maxWaitSeconds).toBe(LAMBDA_MAX_WAIT_SECONDS);
    const issues = issuesOf(() => configFromEnv({ AWS_LAMBDA_FUNCTION_NAME: 'api', ORCHESTRY_MAX_WAIT_SECONDS: '60' }));
    expect(issues[0]!.path).toBe('ORCHESTRY_MAX_WAIT_SECONDS');
  });

  it('never lets the metrics body limit fall below the general one', () => {
    const config = configFromEnv({ ORCHESTRY_MAX_BODY_BYTES: '4194304', ORCHESTRY_MAX_METRICS_BODY_BYTES: '1048576' });
    expect(config.maxMetricsBodyBytes).toBe(4194304);
  });
});

describe('redactedConfig', () => {
  it('replaces the admin token and drops nothing else', () => {
    const config = configFromEnv({ ORCHESTRY_ADMIN_TOKEN: 'super-secret-admin-token' });
    const shown = redactedConfig(config);
    expect(JSON.stringify(shown)).not.toContain('super-secret');
    expect(shown.adminToken).toBe('[redacted]');
    expect(redactedConfig(configFromEnv({})).adminToken).toBeNull();
    expect(shown.rateLimitPerMinute).toBe(config.rateLimitPerMinute);
  });
});

describe('NoRuntime', () => {
  it('refuses starts and stops with RUNTIME_UNAVAILABLE and says why on ping', async () => {
    const runtime = await createRuntime('none', {}, silentLogger);
    expect(runtime).toBeInstanceOf(NoRuntime);
    await expect(runtime.start({ app: 'a', revision: 1, replicaIndex: 0, template: {} as never })).rejects.toMatchObject({
      code: 'RUNTIME_UNAVAILABLE',
      status: 503,
    });
    await expect(runtime.stop({ id: 'x', app: 'a' }, { graceSeconds: 0 })).rejects.toMatchObject({ code: 'RUNTIME_UNAVAILABLE' });
    expect(await runtime.list('a')).toEqual([]);
    expect(await runtime.ping()).toMatchObject({ ok: false, detail: expect.stringContaining('ORCHESTRY_RUNTIME is none') });
  });
});

describe('secretsFromSst', () => {
  it('reads nothing when no SST secret is bound (outside Lambda)', async () => {
    expect(await secretsFromSst({ DATABASE_URL: 'postgres://x' })).toEqual({});
  });
});
