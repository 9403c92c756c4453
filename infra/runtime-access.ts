/**
 * IAM for the functions that drive the ECS runtime (functions/runtime/ecs.ts and
 * ecs-routing.ts), one group per capability, so each function is granted only the calls it
 * makes. Statements name the stage's cluster, its two task roles, its task log group, the apps
 * listener and the runtime's own name patterns (task family `orchestry-<stage>_<app>`, target
 * group `orch-…`) wherever the action has resource-level permissions (RegisterTaskDefinition
 * and DescribeTaskDefinition are authorised against the task definition's family); where it
 * has none (the other describes, CloudWatch reads) the statement is on "*" and narrowed by a
 * condition where AWS offers one. Creates and deletes further require the
 * `orchestry:app` tag the runtime puts on everything it makes.
 *
 * Stages may share an account and region, so a stage's functions touch only that stage's
 * names: task definitions by the family pattern `orchestry-<stage>_*` (no stage or app holds
 * `_`, so it matches no other stage's families), target groups by their `orchestry:stage` tag,
 * because a target group name (32 characters, hashed) cannot carry the stage in a form a
 * pattern could match.
 */
import { Aws, Fn } from 'aws-cdk-lib/core';
import type { ICluster } from 'aws-cdk-lib/aws-ecs';
import type { IApplicationListener } from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { PolicyStatement, type IRole } from 'aws-cdk-lib/aws-iam';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';

/** The tag key ecs.ts puts on task definitions, tasks, target groups and listener rules. */
export const APP_TAG = 'orchestry:app';
/** The tag key ecs-routing.ts puts on target groups and listener rules: the stage they belong to. */
export const STAGE_TAG = 'orchestry:stage';

export interface RuntimeResources {
  /** The SST stage, which the runtime puts into its names (ORCHESTRY_STAGE). */
  stage: string;
  cluster: ICluster;
  executionRole: IRole;
  taskRole: IRole;
  taskLogGroup: ILogGroup;
  listener: IApplicationListener;
}

const arn = (service: string, resource: string): string =>
  `arn:${Aws.PARTITION}:${service}:${Aws.REGION}:${Aws.ACCOUNT_ID}:${resource}`;
/** The stage's task definition families, `orchestry-<stage>_<app>` (functions/runtime/ecs-task-definition.ts). */
const taskDefinitions = (stage: string) => arn('ecs', `task-definition/orchestry-${stage}_*:*`);
const targetGroups = arn('elasticloadbalancing', 'targetgroup/orch-*/*');
const requestTagged = { Null: { [`aws:RequestTag/${APP_TAG}`]: 'false' } };
const resourceTagged = { Null: { [`aws:ResourceTag/${APP_TAG}`]: 'false' } };
/** Target groups of this stage: made with its tag, or carrying it. */
const requestTaggedInStage = (stage: string) => ({ ...requestTagged, StringEquals: { [`aws:RequestTag/${STAGE_TAG}`]: stage } });
const resourceTaggedInStage = (stage: string) => ({ ...resourceTagged, StringEquals: { [`aws:ResourceTag/${STAGE_TAG}`]: stage } });

/** Start, stop, list and describe the cluster's tasks; register the task definitions they run. */
export function taskLifecycle(r: RuntimeResources): PolicyStatement[] {
  const inCluster = { ArnEquals: { 'ecs:cluster': r.cluster.clusterArn } };
  const clusterTasks = arn('ecs', `task/${r.cluster.clusterName}/*`);
  return [
    new PolicyStatement({
      sid: 'RunTasksInCluster',
      actions: ['ecs:RunTask'],
      resources: [taskDefinitions(r.stage)],
      conditions: inCluster,
    }),
    new PolicyStatement({
      sid: 'ManageClusterTasks',
      actions: ['ecs:StopTask', 'ecs:DescribeTasks'],
      resources: [clusterTasks],
      conditions: inCluster,
    }),
    new PolicyStatement({
      sid: 'ListClusterTasks',
      // ListTasks is authorised against container instances, which Fargate has none of.
      actions: ['ecs:ListTasks'],
      resources: ['*'],
      conditions: inCluster,
    }),
    new PolicyStatement({
      sid: 'DescribeCluster',
      actions: ['ecs:DescribeClusters'],
      resources: [r.cluster.clusterArn],
    }),
    new PolicyStatement({
      sid: 'RegisterTaggedTaskDefinitions',
      // Authorised against the family being registered: a stage registers only its own
      // families, and only with the tag the runtime puts on them.
      actions: ['ecs:RegisterTaskDefinition'],
      resources: [taskDefinitions(r.stage)],
      conditions: requestTagged,
    }),
    new PolicyStatement({
      sid: 'DescribeTaskDefinitions',
      actions: ['ecs:DescribeTaskDefinition'],
      resources: [taskDefinitions(r.stage)],
    }),
    new PolicyStatement({
      sid: 'TagTasksOnCreate',
      actions: ['ecs:TagResource'],
      resources: [clusterTasks, taskDefinitions(r.stage)],
      conditions: { StringEquals: { 'ecs:CreateAction': ['RunTask', 'RegisterTaskDefinition'] } },
    }),
    new PolicyStatement({
      sid: 'PassTaskRoles',
      actions: ['iam:PassRole'],
      resources: [r.executionRole.roleArn, r.taskRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    }),
  ];
}

/**
 * Put replicas into and take them out of their app's target group. Registering a replica
 * whose app has lost its target group or rule makes them again (the runtime repairs routing
 * from any caller), so creating both is part of this group; deleting them is not.
 */
export function replicaRouting(r: RuntimeResources): PolicyStatement[] {
  return [
    new PolicyStatement({
      sid: 'DescribeRouting',
      // Elastic Load Balancing describes have no resource types.
      actions: ['elasticloadbalancing:DescribeTargetGroups', 'elasticloadbalancing:DescribeRules'],
      resources: ['*'],
    }),
    new PolicyStatement({
      sid: 'RouteReplicas',
      actions: [
        'elasticloadbalancing:RegisterTargets',
        'elasticloadbalancing:DeregisterTargets',
        'elasticloadbalancing:ModifyTargetGroupAttributes',
      ],
      resources: [targetGroups],
      conditions: resourceTaggedInStage(r.stage),
    }),
    new PolicyStatement({
      sid: 'CreateTaggedTargetGroups',
      actions: ['elasticloadbalancing:CreateTargetGroup'],
      resources: [targetGroups],
      conditions: requestTaggedInStage(r.stage),
    }),
    new PolicyStatement({
      sid: 'AddRulesToAppsListener',
      actions: ['elasticloadbalancing:CreateRule'],
      resources: [r.listener.listenerArn],
    }),
    new PolicyStatement({
      sid: 'TagRoutingOnCreate',
      actions: ['elasticloadbalancing:AddTags'],
      resources: [targetGroups, listenerRulesOf(r.listener)],
      conditions: { StringEquals: { 'elasticloadbalancing:CreateAction': ['CreateTargetGroup', 'CreateRule'] } },
    }),
  ];
}

/** Remove an app's host-header rule and target group (DELETE /apps/{name}). */
export function routingRemoval(r: RuntimeResources): PolicyStatement[] {
  return [
    new PolicyStatement({
      sid: 'DeleteAppsListenerRules',
      actions: ['elasticloadbalancing:DeleteRule'],
      resources: [listenerRulesOf(r.listener)],
    }),
    new PolicyStatement({
      sid: 'DeleteOwnTargetGroups',
      actions: ['elasticloadbalancing:DeleteTargetGroup'],
      resources: [targetGroups],
      conditions: resourceTaggedInStage(r.stage),
    }),
  ];
}

/** Read replica logs from the task log group (GET /apps/{name}/logs). */
export function taskLogReads(r: RuntimeResources): PolicyStatement[] {
  return [
    new PolicyStatement({
      sid: 'ReadTaskLogs',
      actions: ['logs:GetLogEvents'],
      // logGroupArn ends in ":*", which covers the group's streams.
      resources: [r.taskLogGroup.logGroupArn],
    }),
  ];
}

/** Read replica CPU and memory from Container Insights. */
export function metricReads(): PolicyStatement[] {
  return [
    new PolicyStatement({
      sid: 'ReadMetrics',
      // CloudWatch metric reads have no resource types.
      actions: ['cloudwatch:GetMetricData'],
      resources: ['*'],
    }),
  ];
}

/**
 * arn:…:listener/app/NAME/LB_ID/LISTENER_ID → arn:…:listener-rule/app/NAME/LB_ID/LISTENER_ID/*
 * (the listener's ARN is only known at deploy time, so the rewrite is a CloudFormation expression).
 */
function listenerRulesOf(listener: IApplicationListener): string {
  const parts = Fn.split(':listener/', listener.listenerArn);
  return Fn.join('', [Fn.select(0, parts), ':listener-rule/', Fn.select(1, parts), '/*']);
}
