/**
 * LazyRuntime: the runtime functions/deps.ts hands out for ECS, so that the AWS SDK loads on the
 * runtime's first use rather than on every cold start.
 */
import { describe, expect, it, vi } from 'vitest';
import { createRuntime } from '../../../functions/deps.js';
import { silentLogger } from '../../../functions/log.js';
import { LazyRuntime } from '../../../functions/runtime/lazy.js';
import type { ContainerRuntime, StartReplicaRequest } from '../../../functions/runtime/types.js';

const fakeRuntime = (): ContainerRuntime => ({
  kind: 'fake',
  start: vi.fn(async (req: StartReplicaRequest) => ({ id: 'r1', name: 'n', app: req.app, replicaIndex: 0, revision: 1, ip: '10.0.0.1', port: 80, state: 'running' as const, startedAt: null })),
  stop: vi.fn(async () => {}),
  list: vi.fn(async () => []),
  stats: vi.fn(async () => null),
  logs: vi.fn(async () => []),
  ping: vi.fn(async () => ({ ok: true, kind: 'fake' })),
  addToRouting: vi.fn(async () => {}),
  removeFromRouting: vi.fn(async () => {}),
  ensureApp: vi.fn(async () => {}),
  removeApp: vi.fn(async () => {}),
});

describe('LazyRuntime', () => {
  it('makes nothing until used, then makes the runtime once and passes every call through', async () => {
    const inner = fakeRuntime();
    const make = vi.fn(async () => inner);
    const lazy = new LazyRuntime('ecs', make);
    expect(lazy.kind).toBe('ecs');
    expect(make).not.toHaveBeenCalled();
    await Promise.all([lazy.ping(), lazy.list('a'), lazy.ensureApp('a')]);
    await lazy.stop({ id: 'x', app: 'a' }, { graceSeconds: 3 });
    expect(make).toHaveBeenCalledTimes(1);
    expect(inner.list).toHaveBeenCalledWith('a');
    expect(inner.stop).toHaveBeenCalledWith({ id: 'x', app: 'a' }, { graceSeconds: 3 });
    expect(await lazy.ping()).toEqual({ ok: true, kind: 'fake' });
  });

  it('tries again on the next call after failing to make the runtime', async () => {
    const inner = fakeRuntime();
    const make = vi.fn<() => Promise<ContainerRuntime>>().mockRejectedValueOnce(new Error('no SDK')).mockResolvedValue(inner);
    const lazy = new LazyRuntime('ecs', make);
    await expect(lazy.list('a')).rejects.toThrow('no SDK');
    expect(await lazy.list('a')).toEqual([]);
    expect(make).toHaveBeenCalledTimes(2);
  });
});

describe('createRuntime(ecs)', () => {
  const env = {
    AWS_REGION: 'eu-west-1',
    ORCHESTRY_STAGE: 'test',
    ORCHESTRY_ECS_CLUSTER: 'orchestry',
    ORCHESTRY_ECS_SUBNETS: 'subnet-1',
    ORCHESTRY_ECS_SECURITY_GROUPS: 'sg-1',
    ORCHESTRY_ECS_EXECUTION_ROLE_ARN: 'arn:aws:iam::123456789012:role/execution',
    ORCHESTRY_ECS_TASK_ROLE_ARN: 'arn:aws:iam::123456789012:role/task',
    ORCHESTRY_ECS_LOG_GROUP: '/orchestry/replicas',
    ORCHESTRY_VPC_ID: 'vpc-1',
    ORCHESTRY_ALB_LISTENER_ARN: 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/orchestry/1/1',
  };

  it('checks the configuration at once, though the runtime is made on first use', async () => {
    await expect(createRuntime('ecs', { ...env, ORCHESTRY_ECS_CLUSTER: '' }, silentLogger)).rejects.toMatchObject({
      code: 'VALIDATION_ERROR',
      message: expect.stringContaining('ORCHESTRY_ECS_CLUSTER'),
    });
    const runtime = await createRuntime('ecs', env, silentLogger);
    expect(runtime).toBeInstanceOf(LazyRuntime);
    expect(runtime.kind).toBe('ecs');
    expect((await (runtime as LazyRuntime).runtime()).kind).toBe('ecs');
  });
});
