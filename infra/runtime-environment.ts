/**
 * The plain (non-secret) environment of the functions that use the ECS runtime: what
 * functions/runtime/ecs.ts's ecsConfigFromEnv reads (AWS_REGION is Lambda's own). Tasks run in
 * private subnets behind the NAT, so ORCHESTRY_ECS_ASSIGN_PUBLIC_IP stays unset (false).
 * ORCHESTRY_STAGE is the SST stage: the runtime puts it into every name that is unique per
 * account and region (task definition families, target groups, secret paths), so stages can
 * share an account and region.
 * Secrets are never here: they are SST secrets bound to the functions (infra/database.ts).
 */
import type { Cluster } from './cluster.js';
import type { DeploySettings } from './settings.js';
import type { LoadBalancer } from './load-balancer.js';
import type { Network } from './network.js';

export interface RuntimeEnvironmentParts {
  stage: string;
  network: ReturnType<typeof Network>;
  loadBalancer: ReturnType<typeof LoadBalancer>;
  cluster: ReturnType<typeof Cluster>;
  settings: DeploySettings;
}

export function runtimeEnvironment({ stage, network, loadBalancer, cluster, settings }: RuntimeEnvironmentParts): Record<string, string> {
  return {
    ORCHESTRY_RUNTIME: 'ecs',
    ORCHESTRY_STAGE: stage,
    ORCHESTRY_ECS_CLUSTER: cluster.cluster.clusterName,
    ORCHESTRY_ECS_SUBNETS: network.privateSubnets.subnetIds.join(','),
    ORCHESTRY_ECS_SECURITY_GROUPS: cluster.taskSecurityGroup.securityGroupId,
    ORCHESTRY_ECS_EXECUTION_ROLE_ARN: cluster.executionRole.roleArn,
    ORCHESTRY_ECS_TASK_ROLE_ARN: cluster.taskRole.roleArn,
    ORCHESTRY_ECS_LOG_GROUP: cluster.taskLogGroup.logGroupName,
    ORCHESTRY_ECS_CAPACITY_PROVIDER: settings.capacityProvider,
    ORCHESTRY_VPC_ID: network.vpc.vpcId,
    ORCHESTRY_ALB_LISTENER_ARN: loadBalancer.listener.listenerArn,
  };
}
