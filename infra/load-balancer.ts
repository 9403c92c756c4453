/**
 * The internet-facing ALB in front of every app. It starts with no routes: the ECS runtime
 * adds one target group and one host-header rule per app when the app is registered, and
 * removes them when it is deleted. Unknown hosts get a 404 from the default action.
 */
import { Duration } from 'aws-cdk-lib/core';
import { CfnSecurityGroup, Peer, Port, SecurityGroup, SubnetType } from 'aws-cdk-lib/aws-ec2';
import {
  ApplicationLoadBalancer,
  ApplicationProtocol,
  ListenerAction,
  ListenerCertificate,
  SslPolicy,
  type ApplicationListener,
} from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { use, type StackContext } from 'sst/constructs';
import { stageSettings } from './functions.js';
import { Network } from './network.js';

const NO_ROUTE = ListenerAction.fixedResponse(404, {
  contentType: 'application/json',
  messageBody: JSON.stringify({ error: 'No app is routed for this host', code: 'APP_NOT_FOUND' }),
});

/** CDK's own placeholder: no address is 255.255.255.255 and ICMP type 252 code 86 does not exist. */
const NO_TRAFFIC_EGRESS = { CidrIp: '255.255.255.255/32', IpProtocol: 'icmp', FromPort: 252, ToPort: 86, Description: 'Disallow all traffic' };

export function LoadBalancer({ stack, app }: StackContext) {
  const settings = stageSettings(app);
  const { vpc } = use(Network);

  // Egress is opened per destination (to the task security group, in the Cluster stack).
  const securityGroup = new SecurityGroup(stack, 'LoadBalancerSecurityGroup', {
    vpc,
    description: 'Orchestry load balancer: HTTP(S) from the internet, out only to app tasks',
    allowAllOutbound: false,
  });
  securityGroup.addIngressRule(Peer.anyIpv4(), Port.tcp(80), 'HTTP from the internet');
  // The rule to the tasks is a separate resource (it names a group of another stack), and
  // CDK then drops its inline "no traffic" placeholder. A group created with no inline
  // egress gets EC2's allow-all default, so the placeholder is pinned here.
  (securityGroup.node.defaultChild as CfnSecurityGroup).addPropertyOverride('SecurityGroupEgress', [NO_TRAFFIC_EGRESS]);

  const loadBalancer = new ApplicationLoadBalancer(stack, 'LoadBalancer', {
    vpc,
    internetFacing: true,
    securityGroup,
    vpcSubnets: { subnetType: SubnetType.PUBLIC },
    dropInvalidHeaderFields: true,
    idleTimeout: Duration.seconds(60),
  });

  let listener: ApplicationListener;
  if (settings.certificateArn) {
    securityGroup.addIngressRule(Peer.anyIpv4(), Port.tcp(443), 'HTTPS from the internet');
    listener = loadBalancer.addListener('Https', {
      port: 443,
      protocol: ApplicationProtocol.HTTPS,
      certificates: [ListenerCertificate.fromArn(settings.certificateArn)],
      sslPolicy: SslPolicy.RECOMMENDED_TLS,
      defaultAction: NO_ROUTE,
      open: false,
    });
    loadBalancer.addListener('HttpRedirect', {
      port: 80,
      protocol: ApplicationProtocol.HTTP,
      defaultAction: ListenerAction.redirect({ protocol: 'HTTPS', port: '443', permanent: true }),
      open: false,
    });
  } else {
    listener = loadBalancer.addListener('Http', {
      port: 80,
      protocol: ApplicationProtocol.HTTP,
      defaultAction: NO_ROUTE,
      open: false,
    });
  }

  stack.addOutputs({
    LoadBalancerDns: loadBalancer.loadBalancerDnsName,
    AppsListenerArn: listener.listenerArn,
  });
  return { loadBalancer, listener, securityGroup };
}
