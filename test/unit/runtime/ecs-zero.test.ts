/**
 * Scale to zero on ECS against mocked AWS clients, at the exact requests: the app's listener
 * rule pointed at the shared activator target group and back at the app's own, and the
 * healthy target the activator sends a woken request to.
 */
import { ECSClient } from '@aws-sdk/client-ecs';
import {
  CreateRuleCommand,
  DescribeRulesCommand,
  DescribeTargetGroupsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
  ModifyRuleCommand,
  ModifyTargetGroupAttributesCommand,
  type Rule,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { EcsRuntime, type EcsRuntimeConfig } from '../../../functions/runtime/ecs.js';
import { ecsConfigFromEnv } from '../../../functions/runtime/ecs-config.js';
import { targetGroupName } from '../../../functions/runtime/ecs-routing.js';

const REGION = 'eu-west-1';
const LISTENER_ARN = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/orchestry/abc/def';
const APP_TG = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/orch-web/1';
const ACTIVATOR_TG = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/orch-activator/2';
const RULE_ARN = 'arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener-rule/app/orchestry/abc/def/r1';

const CONFIG: EcsRuntimeConfig = {
  stage: 'prod',
  cluster: 'orchestry',
  subnets: ['subnet-a'],
  securityGroups: ['sg-tasks'],
  executionRoleArn: 'arn:aws:iam::123456789012:role/exec',
  taskRoleArn: 'arn:aws:iam::123456789012:role/task',
  logGroup: '/orchestry/apps',
  region: REGION,
  vpcId: 'vpc-1',
  listenerArn: LISTENER_ARN,
  activatorTargetGroupArn: ACTIVATOR_TG,
};

const ruleTo = (targetGroupArn: string): Rule => ({
  RuleArn: RULE_ARN,
  Priority: '17',
  Conditions: [{ Field: 'host-header', HostHeaderConfig: { Values: ['web.*'] } }],
  Actions: [{ Type: 'forward', TargetGroupArn: targetGroupArn }],
});

function harness(rule: Rule, config: Partial<EcsRuntimeConfig> = {}) {
  const elb = new ElasticLoadBalancingV2Client({ region: REGION });
  const mock = mockClient(elb);
  let current = rule;
  mock.on(DescribeRulesCommand).callsFake(() => ({ Rules: [current] }));
  mock.on(DescribeTargetGroupsCommand).resolves({ TargetGroups: [{ TargetGroupArn: APP_TG }] });
  mock.on(ModifyTargetGroupAttributesCommand).resolves({});
  mock.on(ModifyRuleCommand).callsFake((input: { Actions: Rule['Actions'] }) => {
    current = { ...current, Actions: input.Actions };
    return { Rules: [current] };
  });
  const runtime = new EcsRuntime(
    { ...CONFIG, ...config },
    {
      clients: { elb, ecs: new ECSClient({ region: REGION }), logs: new CloudWatchLogsClient({ region: REGION }), cloudwatch: new CloudWatchClient({ region: REGION }) },
      retry: { retries: 0, baseDelayMs: 1, maxDelayMs: 1 },
    },
  );
  return { runtime, mock, rule: () => current };
}

describe('ECS runtime: scale to zero routing', () => {
  it("points the app's rule at the activator target group, once", async () => {
    const { runtime, mock, rule } = harness(ruleTo(APP_TG));
    await runtime.routeTrafficTo('web', 'activator');
    expect(mock.commandCalls(DescribeRulesCommand)[0]!.args[0].input).toEqual({ ListenerArn: LISTENER_ARN, PageSize: 400, Marker: undefined });
    const modified = mock.commandCalls(ModifyRuleCommand);
    expect(modified.map((c) => c.args[0].input)).toEqual([{ RuleArn: RULE_ARN, Actions: [{ Type: 'forward', TargetGroupArn: ACTIVATOR_TG }] }]);
    expect(rule().Actions).toEqual([{ Type: 'forward', TargetGroupArn: ACTIVATOR_TG }]);
    await runtime.routeTrafficTo('web', 'activator');
    expect(mock.commandCalls(ModifyRuleCommand)).toHaveLength(1);
  });

  it("points it back at the app's own target group, found by its name", async () => {
    const { runtime, mock } = harness(ruleTo(ACTIVATOR_TG));
    await runtime.routeTrafficTo('web', 'replicas');
    expect(mock.commandCalls(DescribeTargetGroupsCommand)[0]!.args[0].input).toEqual({ Names: [targetGroupName('prod', 'web')] });
    expect(mock.commandCalls(ModifyRuleCommand).map((c) => c.args[0].input)).toEqual([
      { RuleArn: RULE_ARN, Actions: [{ Type: 'forward', TargetGroupArn: APP_TG }] },
    ]);
  });

  it('does not make a second rule for an app whose rule points at the activator', async () => {
    const { runtime, mock } = harness(ruleTo(ACTIVATOR_TG));
    await runtime.ensureApp('web');
    expect(mock.commandCalls(CreateRuleCommand)).toHaveLength(0);
  });

  it('refuses to take an app to the activator when none is configured, naming the variable', async () => {
    const { runtime, mock } = harness(ruleTo(APP_TG), { activatorTargetGroupArn: undefined });
    await expect(runtime.routeTrafficTo('web', 'activator')).rejects.toThrow(/ORCHESTRY_ACTIVATOR_TARGET_GROUP_ARN/);
    expect(mock.commandCalls(ModifyRuleCommand)).toHaveLength(0);
  });

  it('answers a target the ALB finds healthy in the app group, or null while there is none', async () => {
    const { runtime, mock } = harness(ruleTo(ACTIVATOR_TG));
    mock.on(DescribeTargetHealthCommand).resolvesOnce({
      TargetHealthDescriptions: [{ Target: { Id: '10.0.1.7', Port: 8080 }, TargetHealth: { State: 'initial', Reason: 'Elb.RegistrationInProgress' } }],
    }).resolves({
      TargetHealthDescriptions: [
        { Target: { Id: '10.0.1.7', Port: 8080 }, TargetHealth: { State: 'healthy' } },
      ],
    });
    expect(await runtime.readyAddress('web')).toBeNull();
    expect(await runtime.readyAddress('web')).toEqual({ ip: '10.0.1.7', port: 8080 });
    expect(mock.commandCalls(DescribeTargetHealthCommand)[0]!.args[0].input).toEqual({ TargetGroupArn: APP_TG });
  });

  it('reads the activator target group from ORCHESTRY_ACTIVATOR_TARGET_GROUP_ARN', () => {
    const env = {
      ORCHESTRY_STAGE: 'prod', ORCHESTRY_ECS_CLUSTER: 'c', ORCHESTRY_ECS_SUBNETS: 's', ORCHESTRY_ECS_SECURITY_GROUPS: 'g',
      ORCHESTRY_ECS_EXECUTION_ROLE_ARN: 'e', ORCHESTRY_ECS_TASK_ROLE_ARN: 't', ORCHESTRY_ECS_LOG_GROUP: 'l', ORCHESTRY_VPC_ID: 'v',
      ORCHESTRY_ALB_LISTENER_ARN: 'x', AWS_REGION: REGION,
    };
    expect(ecsConfigFromEnv({ ...env, ORCHESTRY_ACTIVATOR_TARGET_GROUP_ARN: ACTIVATOR_TG }).activatorTargetGroupArn).toBe(ACTIVATOR_TG);
    expect(ecsConfigFromEnv(env).activatorTargetGroupArn).toBeUndefined();
  });
});
