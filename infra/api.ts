/**
 * The control-plane API: the Hono app in one Lambda behind an HTTP API (payload 2.0), all
 * paths on the `$default` route, stage-wide throttling, CORS off unless origins are configured.
 */
import { RemovalPolicy } from 'aws-cdk-lib/core';
import { Api as HttpApi, Function, dependsOn, use, type StackContext } from 'sst/constructs';
import { Cluster } from './cluster.js';
import { Database } from './database.js';
import { bundledWith, functionLogGroup, retentionKey, stageSettings } from './functions.js';
import { LoadBalancer } from './load-balancer.js';
import { Network } from './network.js';
import { metricReads, replicaRouting, routingRemoval, taskLifecycle, taskLogReads, type RuntimeResources } from './runtime-access.js';
import { runtimeEnvironment } from './runtime-environment.js';

export function Api({ stack, app }: StackContext) {
  const settings = stageSettings(app);
  const network = use(Network);
  const loadBalancer = use(LoadBalancer);
  const cluster = use(Cluster);
  const { secrets } = use(Database);
  // New API code goes live only after this deploy's migrations have run.
  dependsOn(Database);

  const runtime: RuntimeResources = { ...cluster, listener: loadBalancer.listener, stage: app.stage };
  const bundling = bundledWith('neon');
  const handler = new Function(stack, 'ApiHandler', {
    nodejs: bundling.nodejs,
    handler: 'functions/api/lambda.handler',
    description: 'Orchestry HTTP API (Hono)',
    // API Gateway gives up on an integration after 30 s.
    timeout: 30,
    memorySize: 512,
    // In the VPC because register/start waits and POST /apps/{name}/health/check probe replicas.
    vpc: network.vpc,
    vpcSubnets: { subnets: network.privateSubnets.subnets },
    securityGroups: [network.probeSecurityGroup],
    environment: { ...runtimeEnvironment({ stage: app.stage, network, loadBalancer, cluster, settings }), ...bundling.environment },
    bind: [secrets.DATABASE_URL, secrets.DATABASE_REPLICA_URL, secrets.ORCHESTRY_ADMIN_TOKEN],
    permissions: [
      ...taskLifecycle(runtime),
      ...replicaRouting(runtime),
      ...routingRemoval(runtime),
      ...taskLogReads(runtime),
      ...metricReads(),
    ],
    logGroup: functionLogGroup(stack, 'ApiLogs', settings),
  });

  const api = new HttpApi(stack, 'Api', {
    routes: { $default: { function: handler } },
    cors:
      settings.corsOrigins.length > 0
        ? {
            allowOrigins: settings.corsOrigins,
            allowHeaders: ['authorization', 'content-type'],
            allowMethods: ['GET', 'POST', 'PUT', 'DELETE'],
            maxAge: '1 hour',
          }
        : false,
    defaults: { throttle: { rate: settings.apiThrottleRate, burst: settings.apiThrottleBurst } },
    accessLog: { retention: retentionKey(settings.logRetentionDays) },
  });
  api.cdk.accessLogGroup?.applyRemovalPolicy(RemovalPolicy.DESTROY);

  stack.addOutputs({ ApiUrl: api.url });
  return { api, handler };
}
