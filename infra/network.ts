/**
 * The VPC: two availability zones, public subnets for the load balancer (and the NAT), private
 * subnets with egress for the app tasks and for the Lambdas that reach tasks directly (the API,
 * whose health checks and waits probe replicas, the scaler and the prober).
 *
 * Those Lambdas also need the internet (Neon, the AWS APIs), and a Lambda in a VPC never gets a
 * public address, so the private subnets always have a way out. `natGateways` managed NAT
 * gateways provide it (1 for production); with 0 (the demo default) a single t4g.nano NAT
 * instance does, at a tenth of the price and without the gateway's availability guarantees.
 */
import {
  GatewayVpcEndpointAwsService,
  InstanceClass,
  InstanceSize,
  InstanceType,
  NatProvider,
  NatTrafficDirection,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  Vpc,
  type NatInstanceProviderV2,
} from 'aws-cdk-lib/aws-ec2';
import type { StackContext } from 'sst/constructs';
import { stageSettings } from './functions.js';

export function Network({ stack, app }: StackContext) {
  const settings = stageSettings(app);
  const natInstance: NatInstanceProviderV2 | undefined =
    settings.natGateways === 0
      ? NatProvider.instanceV2({
          instanceType: InstanceType.of(InstanceClass.T4G, InstanceSize.NANO),
          // The default opens the instance to the whole internet; only the VPC may use it.
          defaultAllowedTraffic: NatTrafficDirection.OUTBOUND_ONLY,
        })
      : undefined;

  const vpc = new Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: Math.max(settings.natGateways, 1),
    natGatewayProvider: natInstance ?? NatProvider.gateway(),
    subnetConfiguration: [
      { name: 'public', subnetType: SubnetType.PUBLIC, cidrMask: 24 },
      { name: 'private', subnetType: SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
    ],
    // Image layers come from S3: the free gateway endpoint keeps them off the NAT's per-GB bill.
    gatewayEndpoints: { S3: { service: GatewayVpcEndpointAwsService.S3 } },
    restrictDefaultSecurityGroup: true,
  });
  natInstance?.connections.allowFrom(Peer.ipv4(vpc.vpcCidrBlock), Port.allTraffic(), 'NAT for the private subnets');

  // Worn by every Lambda that opens connections to tasks; the task security group admits it.
  const probeSecurityGroup = new SecurityGroup(stack, 'ProbeSecurityGroup', {
    vpc,
    description: 'Orchestry Lambdas that probe app tasks (API, scaler, health prober)',
    allowAllOutbound: true,
  });

  const privateSubnets = vpc.selectSubnets({ subnetType: SubnetType.PRIVATE_WITH_EGRESS });

  stack.addOutputs({ VpcId: vpc.vpcId });
  return { vpc, privateSubnets, probeSecurityGroup };
}
