/**
 * Where app replicas run: an ECS cluster with Fargate and Fargate Spot, the two roles every
 * task definition names, the log group their containers write to, and the security group
 * that admits traffic only from the load balancer and from the Lambdas that probe tasks.
 */
import { Aws, RemovalPolicy } from 'aws-cdk-lib/core';
import { Port, SecurityGroup } from 'aws-cdk-lib/aws-ec2';
import { Cluster as EcsCluster, ContainerInsights } from 'aws-cdk-lib/aws-ecs';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import { use, type StackContext } from 'sst/constructs';
import { retentionDays, stageSettings } from './functions.js';
import { LoadBalancer } from './load-balancer.js';
import { Network } from './network.js';

/**
 * App secrets (`valueFrom: {secret: NAME}` in a spec) are SSM parameters under this path of
 * their stage (the ECS runtime's secretParameterPrefix); a stage's execution role can read no
 * other parameter, another stage's secrets included.
 */
export const appSecretsPath = (stage: string) => `/orchestry/${stage}/secrets/`;

export function Cluster({ stack, app }: StackContext) {
  const settings = stageSettings(app);
  const { vpc, probeSecurityGroup } = use(Network);
  const { securityGroup: loadBalancerSecurityGroup } = use(LoadBalancer);

  const cluster = new EcsCluster(stack, 'Cluster', {
    vpc,
    // The runtime picks FARGATE or FARGATE_SPOT per task (ORCHESTRY_ECS_CAPACITY_PROVIDER).
    enableFargateCapacityProviders: true,
    // Per-task CPU and memory in CloudWatch: the ECS runtime's stats() reads them. Billed per
    // metric of running tasks only, so an idle cluster costs nothing.
    containerInsightsV2: ContainerInsights.ENHANCED,
  });

  const taskLogGroup = new LogGroup(stack, 'TaskLogs', {
    logGroupName: `/orchestry/${app.stage}/tasks`,
    retention: retentionDays(settings.logRetentionDays),
    removalPolicy: RemovalPolicy.DESTROY,
  });

  const taskSecurityGroup = new SecurityGroup(stack, 'TaskSecurityGroup', {
    vpc,
    description: 'Orchestry app tasks: reachable only from the load balancer and the probing Lambdas',
    // Replicas pull images and call whatever their apps call.
    allowAllOutbound: true,
  });
  // Apps listen on any port their spec names, so the rules name sources, not ports.
  taskSecurityGroup.connections.allowFrom(loadBalancerSecurityGroup, Port.allTcp(), 'app traffic from the load balancer');
  taskSecurityGroup.connections.allowFrom(probeSecurityGroup, Port.allTcp(), 'health probes from Orchestry Lambdas');

  const executionRole = new Role(stack, 'TaskExecutionRole', {
    assumedBy: ecsTasksPrincipal(),
    description: 'ECS agent for Orchestry tasks: pull images, write task logs, read app secrets',
  });
  executionRole.addToPolicy(
    new PolicyStatement({
      sid: 'WriteTaskLogs',
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [taskLogGroup.logGroupArn],
    }),
  );
  executionRole.addToPolicy(
    new PolicyStatement({
      sid: 'EcrLogin',
      // GetAuthorizationToken has no resource type: it can only be granted on "*".
      actions: ['ecr:GetAuthorizationToken'],
      resources: ['*'],
    }),
  );
  executionRole.addToPolicy(
    new PolicyStatement({
      sid: 'PullImagesFromThisAccount',
      actions: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
      resources: [`arn:${Aws.PARTITION}:ecr:${Aws.REGION}:${Aws.ACCOUNT_ID}:repository/*`],
    }),
  );
  executionRole.addToPolicy(
    new PolicyStatement({
      sid: 'ReadAppSecrets',
      actions: ['ssm:GetParameters'],
      resources: [`arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${Aws.ACCOUNT_ID}:parameter${appSecretsPath(app.stage)}*`],
    }),
  );

  // Assumed by the app containers themselves. Apps get no AWS permissions unless an operator
  // attaches them to this role.
  const taskRole = new Role(stack, 'TaskRole', {
    assumedBy: ecsTasksPrincipal(),
    description: 'Assumed by Orchestry app containers; grants nothing by default',
  });

  stack.addOutputs({ ClusterName: cluster.clusterName, TaskLogGroup: taskLogGroup.logGroupName });
  return { cluster, taskLogGroup, taskSecurityGroup, executionRole, taskRole };
}

/** ECS tasks of this account and region only (confused-deputy guard on the trust policy). */
function ecsTasksPrincipal(): ServicePrincipal {
  return new ServicePrincipal('ecs-tasks.amazonaws.com', {
    conditions: {
      StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
      ArnLike: { 'aws:SourceArn': `arn:${Aws.PARTITION}:ecs:${Aws.REGION}:${Aws.ACCOUNT_ID}:*` },
    },
  });
}
