/**
 * The stacks as CloudFormation will see them, synthesized offline (no credentials, no network)
 * for a demo stage with default settings and for a production stage with a certificate and
 * CORS. Functions keep SST's placeholder code here; bundle.test.ts builds the real bundles.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { useFunctions } from 'sst/constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { secretParameterName, taskFamily } from '../../functions/runtime/ecs-task-definition.js';
import { LOOPING_JOB_TIMEOUT_SECONDS } from '../../infra/jobs.js';
import { synthesize, type StackName, type Synthesized } from '../../infra/synth.js';
import {
  ORCHESTRY_FUNCTIONS,
  actionsOf,
  allStatements,
  getAtt,
  logicalId,
  orchestryFunction,
  ref,
  resolveImports,
  resource,
  resourcesOf,
  resourcesOfType,
  type FunctionKey,
  type Json,
  type Statement,
} from './support.js';

const CERTIFICATE_ARN = 'arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
const SECRET_NAMES = ['DATABASE_URL', 'DATABASE_REPLICA_URL', 'ORCHESTRY_ADMIN_TOKEN'];
// Present in the deployer's environment while synthesizing: none may reach a template.
const SECRET_CANARIES: Record<string, string> = {
  DATABASE_URL: 'postgres://canary-user:canary-primary-password@db.example.com/orchestry',
  DATABASE_REPLICA_URL: 'postgres://canary-user:canary-replica-password@replica.example.com/orchestry',
  ORCHESTRY_ADMIN_TOKEN: 'canary-admin-token-3f9a',
};

let outDir: string;
let demo: Synthesized;
let production: Synthesized;
let canaries: string[];

beforeAll(async () => {
  outDir = mkdtempSync(path.join(tmpdir(), 'orchestry-infra-'));
  const saved = Object.fromEntries(SECRET_NAMES.map((name) => [name, process.env[name]]));
  try {
    Object.assign(process.env, SECRET_CANARIES);
    demo = await synthesize({ stage: 'demo', outDir: path.join(outDir, 'demo') });
    // Synthesized last: SST's registry of function build settings (useFunctions) is production's.
    production = await synthesize({
      stage: 'production',
      outDir: path.join(outDir, 'production'),
      env: {
        ORCHESTRY_CERTIFICATE_ARN: CERTIFICATE_ARN,
        ORCHESTRY_API_CORS_ORIGINS: 'https://console.example.com',
        ORCHESTRY_API_THROTTLE_RATE: '20',
        ORCHESTRY_API_THROTTLE_BURST: '40',
      },
    });
    // SST loads .env files into the environment: what is there now is what could have leaked.
    canaries = SECRET_NAMES.map((name) => process.env[name]).filter((v): v is string => Boolean(v));
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}, 180_000);

afterAll(() => {
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

const stackNames = (synth: Synthesized) => Object.keys(synth.templates) as StackName[];

describe('stacks', () => {
  it('are named after the stage and ordered so migrations run before new code takes traffic', () => {
    expect(stackNames(demo).map((name) => demo.stacks[name].stackName)).toEqual([
      'demo-orchestry-Network',
      'demo-orchestry-LoadBalancer',
      'demo-orchestry-Cluster',
      'demo-orchestry-Database',
      'demo-orchestry-Api',
      'demo-orchestry-Jobs',
    ]);
    for (const dependent of ['Api', 'Jobs'] as const) {
      expect(demo.stacks[dependent].dependencies).toContain(demo.stacks.Database);
    }
  });
});

describe('network', () => {
  const subnets = (synth: Synthesized) => Object.values(synth.templates.Network.findResources('AWS::EC2::Subnet')) as Json[];

  it('spans two availability zones with a public and a private subnet in each', () => {
    const all = subnets(demo);
    expect(all).toHaveLength(4);
    expect(new Set(all.map((s) => s.Properties.AvailabilityZone)).size).toBe(2);
    expect(all.filter((s) => s.Properties.MapPublicIpOnLaunch === true)).toHaveLength(2);
  });

  it('gives a demo stage no NAT gateway: one t4g.nano NAT instance open only to the VPC', () => {
    const network = demo.templates.Network;
    network.resourceCountIs('AWS::EC2::NatGateway', 0);
    const instances = Object.values(network.findResources('AWS::EC2::Instance')) as Json[];
    expect(instances).toHaveLength(1);
    expect(instances[0].Properties).toMatchObject({ InstanceType: 't4g.nano', SourceDestCheck: false });

    const natGroupId = instances[0].Properties.SecurityGroupIds[0]['Fn::GetAtt'][0];
    const ingress = resource(demo, 'Network', natGroupId).Properties.SecurityGroupIngress;
    expect(ingress).toEqual([
      expect.objectContaining({ CidrIp: { 'Fn::GetAtt': [logicalId(demo.stacks.Network, 'Vpc'), 'CidrBlock'] }, IpProtocol: '-1' }),
    ]);

    const privateRoutes = (Object.values(network.findResources('AWS::EC2::Route')) as Json[]).filter((r) => r.Properties.InstanceId);
    expect(privateRoutes).toHaveLength(2);
  });

  it('gives production one managed NAT gateway and no NAT instance', () => {
    production.templates.Network.resourceCountIs('AWS::EC2::NatGateway', 1);
    production.templates.Network.resourceCountIs('AWS::EC2::Instance', 0);
  });

  it('puts exactly the functions that reach tasks (API, scaler, prober) in the private subnets', () => {
    const probeGroup = getAtt('Network', logicalId(demo.stacks.Network, 'ProbeSecurityGroup'), 'GroupId');
    for (const key of ['api', 'scaler', 'prober'] as const) {
      const vpc = resolveImports(demo, orchestryFunction(demo, key).props.VpcConfig);
      expect(vpc.SecurityGroupIds, key).toEqual([probeGroup]);
      expect(vpc.SubnetIds, key).toEqual([
        ref('Network', logicalId(demo.stacks.Network, 'Vpc', 'privateSubnet1', 'Subnet')),
        ref('Network', logicalId(demo.stacks.Network, 'Vpc', 'privateSubnet2', 'Subnet')),
      ]);
    }
    for (const key of ['rollup', 'cleanup', 'migrate'] as const) {
      expect(orchestryFunction(demo, key).props.VpcConfig, key).toBeUndefined();
    }
  });
});

describe('security groups', () => {
  const ids = (synth: Synthesized) => ({
    task: logicalId(synth.stacks.Cluster, 'TaskSecurityGroup'),
    loadBalancer: logicalId(synth.stacks.LoadBalancer, 'LoadBalancerSecurityGroup'),
    probe: logicalId(synth.stacks.Network, 'ProbeSecurityGroup'),
  });

  it('let traffic into tasks only from the load balancer and the probing Lambdas', () => {
    const { task, loadBalancer, probe } = ids(demo);
    expect(resource(demo, 'Cluster', task).Properties.SecurityGroupIngress).toBeUndefined();
    const taskGroup = getAtt('Cluster', task, 'GroupId');
    const rulesIntoTasks = resourcesOfType(demo, 'AWS::EC2::SecurityGroupIngress')
      .map(({ stack, resource: r }) => ({ stack, props: resolveImports(demo, r.Properties) }))
      .filter(({ stack, props }) => stack === 'Cluster' && props.GroupId['Fn::GetAtt']?.[0] === taskGroup.value['Fn::GetAtt'][0]);
    expect(rulesIntoTasks.map(({ props }) => props.SourceSecurityGroupId)).toEqual(
      expect.arrayContaining([getAtt('LoadBalancer', loadBalancer, 'GroupId'), getAtt('Network', probe, 'GroupId')]),
    );
    expect(rulesIntoTasks).toHaveLength(2);
    for (const { props } of rulesIntoTasks) {
      expect(props.CidrIp).toBeUndefined();
      expect(props).toMatchObject({ IpProtocol: 'tcp', FromPort: 0, ToPort: 65535 });
    }
  });

  it('let the load balancer in from the internet on its listener ports and out only to the tasks', () => {
    for (const [synth, ports] of [
      [demo, [80]],
      [production, [80, 443]],
    ] as const) {
      const { task, loadBalancer } = ids(synth);
      const group = resource(synth, 'LoadBalancer', loadBalancer).Properties;
      expect(group.SecurityGroupIngress.map((r: Json) => [r.CidrIp, r.FromPort, r.ToPort])).toEqual(
        ports.map((p) => ['0.0.0.0/0', p, p]),
      );
      // The only inline egress matches nothing, so EC2 does not add its allow-all default.
      expect(group.SecurityGroupEgress).toEqual([
        expect.objectContaining({ CidrIp: '255.255.255.255/32', IpProtocol: 'icmp', FromPort: 252, ToPort: 86 }),
      ]);
      const egress = resourcesOfType(synth, 'AWS::EC2::SecurityGroupEgress').map(({ resource: r }) => resolveImports(synth, r.Properties));
      expect(egress).toEqual([
        expect.objectContaining({
          GroupId: getAtt('LoadBalancer', loadBalancer, 'GroupId'),
          DestinationSecurityGroupId: { 'Fn::GetAtt': [task, 'GroupId'] },
          IpProtocol: 'tcp',
        }),
      ]);
    }
  });
});

describe('cluster', () => {
  it('offers Fargate and Fargate Spot with per-task Container Insights', () => {
    const cluster = demo.templates.Cluster;
    cluster.hasResourceProperties('AWS::ECS::ClusterCapacityProviderAssociations', {
      CapacityProviders: ['FARGATE', 'FARGATE_SPOT'],
    });
    cluster.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enhanced' }],
    });
  });

  it('has a task execution role that writes task logs, pulls images and reads only its stage’s app secrets', () => {
    const roleId = logicalId(demo.stacks.Cluster, 'TaskExecutionRole');
    const statements = Object.values(demo.templates.Cluster.findResources('AWS::IAM::Policy'))
      .filter((p: Json) => p.Properties.Roles.some((r: Json) => r.Ref === roleId))
      .flatMap((p: Json) => p.Properties.PolicyDocument.Statement) as Statement[];
    const bySid = Object.fromEntries(statements.map((s) => [s.Sid, s]));
    expect(Object.keys(bySid).sort()).toEqual(['EcrLogin', 'PullImagesFromThisAccount', 'ReadAppSecrets', 'WriteTaskLogs']);
    expect(bySid.WriteTaskLogs!.Resource).toEqual({ 'Fn::GetAtt': [logicalId(demo.stacks.Cluster, 'TaskLogs'), 'Arn'] });
    expect(JSON.stringify(bySid.ReadAppSecrets!.Resource)).toContain(':parameter/orchestry/demo/secrets/*');
    // The path the runtime names a secret by (ecs-task-definition.ts) is the one the role may read.
    expect(secretParameterName('demo', 'user-api/db', 'DB_URL').startsWith('/orchestry/demo/secrets/')).toBe(true);
    expect(JSON.stringify(resource(production, 'Cluster', logicalId(production.stacks.Cluster, 'TaskExecutionRole', 'DefaultPolicy')))).toContain(
      ':parameter/orchestry/production/secrets/*',
    );
    expect(JSON.stringify(bySid.PullImagesFromThisAccount!.Resource)).toContain(':repository/*');
  });

  it('has a task role with no permissions, both roles assumable only by ECS tasks of this account', () => {
    const cluster = demo.templates.Cluster;
    for (const role of ['TaskRole', 'TaskExecutionRole']) {
      const props = resource(demo, 'Cluster', logicalId(demo.stacks.Cluster, role)).Properties;
      expect(props.AssumeRolePolicyDocument.Statement).toEqual([
        expect.objectContaining({
          Principal: { Service: 'ecs-tasks.amazonaws.com' },
          Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
        }),
      ]);
      expect(props.ManagedPolicyArns).toBeUndefined();
    }
    const taskRole = logicalId(demo.stacks.Cluster, 'TaskRole');
    const attached = Object.values(cluster.findResources('AWS::IAM::Policy')).filter((p: Json) =>
      p.Properties.Roles.some((r: Json) => r.Ref === taskRole),
    );
    expect(attached).toEqual([]);
  });
});

describe('load balancer', () => {
  it('is internet-facing with an HTTP listener that answers 404 until the runtime adds app rules', () => {
    const lb = demo.templates.LoadBalancer;
    lb.hasResourceProperties('AWS::ElasticLoadBalancingV2::LoadBalancer', { Scheme: 'internet-facing', Type: 'application' });
    lb.resourceCountIs('AWS::ElasticLoadBalancingV2::Listener', 1);
    lb.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      Protocol: 'HTTP',
      DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404', ContentType: 'application/json' } }],
    });
    lb.resourceCountIs('AWS::ElasticLoadBalancingV2::ListenerRule', 0);
    lb.resourceCountIs('AWS::ElasticLoadBalancingV2::TargetGroup', 0);
  });

  it('serves HTTPS with the given certificate and redirects HTTP to it', () => {
    const lb = production.templates.LoadBalancer;
    lb.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 443,
      Protocol: 'HTTPS',
      Certificates: [{ CertificateArn: CERTIFICATE_ARN }],
      DefaultActions: [{ Type: 'fixed-response', FixedResponseConfig: { StatusCode: '404' } }],
    });
    lb.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', {
      Port: 80,
      DefaultActions: [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }],
    });
  });

  it('hands the runtime the listener that carries the app rules', () => {
    for (const [synth, listener] of [
      [demo, 'Http'],
      [production, 'Https'],
    ] as const) {
      const env = resolveImports(synth, orchestryFunction(synth, 'api').props.Environment.Variables);
      expect(env.ORCHESTRY_ALB_LISTENER_ARN).toEqual(ref('LoadBalancer', logicalId(synth.stacks.LoadBalancer, 'LoadBalancer', listener)));
    }
  });
});

describe('API', () => {
  it('sends every path to the Hono Lambda on the $default route with payload 2.0', () => {
    const api = demo.templates.Api;
    api.resourceCountIs('AWS::ApiGatewayV2::Route', 1);
    api.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$default' });
    api.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [orchestryFunction(demo, 'api').id, 'Arn'] },
    });
    expect(orchestryFunction(demo, 'api').props.Timeout).toBeLessThanOrEqual(30);
  });

  it('throttles the stage', () => {
    demo.templates.Api.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
    });
    production.templates.Api.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 20, ThrottlingBurstLimit: 40 },
    });
  });

  it('leaves CORS off unless origins are configured', () => {
    const [demoApi] = Object.values(demo.templates.Api.findResources('AWS::ApiGatewayV2::Api')) as Json[];
    expect(demoApi.Properties.CorsConfiguration).toBeUndefined();
    const [prodApi] = Object.values(production.templates.Api.findResources('AWS::ApiGatewayV2::Api')) as Json[];
    expect(prodApi.Properties.CorsConfiguration).toMatchObject({
      AllowOrigins: ['https://console.example.com'],
      AllowHeaders: ['authorization', 'content-type'],
    });
  });
});

describe('jobs', () => {
  const schedules = (synth: Synthesized) =>
    Object.fromEntries(
      (Object.values(synth.templates.Jobs.findResources('AWS::Events::Rule')) as Json[]).map((rule) => [
        rule.Properties.Targets[0].Arn['Fn::GetAtt'][0],
        rule.Properties.ScheduleExpression,
      ]),
    );

  it('runs the scaler, prober and collector every minute, rollup every five, cleanup daily', () => {
    const byFunction = schedules(demo);
    expect(Object.keys(byFunction)).toHaveLength(5);
    expect(byFunction[orchestryFunction(demo, 'scaler').id]).toBe('rate(1 minute)');
    expect(byFunction[orchestryFunction(demo, 'prober').id]).toBe('rate(1 minute)');
    expect(byFunction[orchestryFunction(demo, 'collector').id]).toBe('rate(1 minute)');
    expect(byFunction[orchestryFunction(demo, 'rollup').id]).toBe('rate(5 minutes)');
    expect(byFunction[orchestryFunction(demo, 'cleanup').id]).toBe('rate(1 day)');
  });

  it('lets one scaler and one prober loop at a time run past the minute, and drops stale ticks', () => {
    for (const key of ['scaler', 'prober'] as const) {
      const fn = orchestryFunction(demo, key);
      expect(fn.props.Timeout, key).toBe(LOOPING_JOB_TIMEOUT_SECONDS);
      expect(fn.props.Timeout, key).toBeGreaterThan(60);
      expect(fn.props.ReservedConcurrentExecutions, key).toBe(1);
      demo.templates.Jobs.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
        FunctionName: { Ref: fn.id },
        MaximumRetryAttempts: 0,
        MaximumEventAgeInSeconds: 60,
      });
    }
    expect(orchestryFunction(demo, 'scaler').props.Environment.Variables.SCALER_PERIOD_SECONDS).toBe('10');
    expect(orchestryFunction(demo, 'prober').props.Environment.Variables.PROBER_PERIOD_SECONDS).toBe('10');
    for (const key of ['collector', 'rollup', 'cleanup', 'api', 'migrate'] as const) {
      expect(orchestryFunction(demo, key).props.ReservedConcurrentExecutions, key).toBeUndefined();
    }
  });

  it('gives rollup and cleanup time to finish', () => {
    expect(orchestryFunction(demo, 'rollup').props.Timeout).toBe(120);
    expect(orchestryFunction(demo, 'cleanup').props.Timeout).toBe(300);
  });
});

describe('function environment', () => {
  it('tells the ECS runtime its stage and where its cluster, network, roles, logs and listener are', () => {
    const stack = (name: StackName) => demo.stacks[name];
    for (const key of ['api', 'scaler', 'prober', 'collector'] as const) {
      const env = resolveImports(demo, orchestryFunction(demo, key).props.Environment.Variables);
      expect(env, key).toMatchObject({
        ORCHESTRY_RUNTIME: 'ecs',
        ORCHESTRY_STAGE: 'demo',
        ORCHESTRY_ECS_CLUSTER: ref('Cluster', logicalId(stack('Cluster'), 'Cluster')),
        ORCHESTRY_ECS_SECURITY_GROUPS: getAtt('Cluster', logicalId(stack('Cluster'), 'TaskSecurityGroup'), 'GroupId'),
        ORCHESTRY_ECS_EXECUTION_ROLE_ARN: getAtt('Cluster', logicalId(stack('Cluster'), 'TaskExecutionRole'), 'Arn'),
        ORCHESTRY_ECS_TASK_ROLE_ARN: getAtt('Cluster', logicalId(stack('Cluster'), 'TaskRole'), 'Arn'),
        ORCHESTRY_ECS_LOG_GROUP: ref('Cluster', logicalId(stack('Cluster'), 'TaskLogs')),
        ORCHESTRY_ECS_CAPACITY_PROVIDER: 'FARGATE_SPOT',
        ORCHESTRY_VPC_ID: ref('Network', logicalId(stack('Network'), 'Vpc')),
        ORCHESTRY_ALB_LISTENER_ARN: ref('LoadBalancer', logicalId(stack('LoadBalancer'), 'LoadBalancer', 'Http')),
      });
      expect(env.ORCHESTRY_ECS_SUBNETS, key).toEqual({
        'Fn::Join': [
          '',
          [
            ref('Network', logicalId(stack('Network'), 'Vpc', 'privateSubnet1', 'Subnet')),
            ',',
            ref('Network', logicalId(stack('Network'), 'Vpc', 'privateSubnet2', 'Subnet')),
          ],
        ],
      });
    }
    expect(resolveImports(production, orchestryFunction(production, 'api').props.Environment.Variables).ORCHESTRY_ECS_CAPACITY_PROVIDER).toBe(
      'FARGATE',
    );
  });

  it('gives every function that builds the ECS runtime its own stage, so names never meet another stage’s', () => {
    for (const [synth, stage] of [
      [demo, 'demo'],
      [production, 'production'],
    ] as const) {
      for (const key of Object.keys(ORCHESTRY_FUNCTIONS) as FunctionKey[]) {
        const env = orchestryFunction(synth, key).props.Environment.Variables;
        expect(env.ORCHESTRY_STAGE, key).toBe(env.ORCHESTRY_RUNTIME === 'ecs' ? stage : undefined);
      }
    }
  });

  it('tells the database-only jobs and the migration that there is no runtime to drive', () => {
    for (const key of ['rollup', 'cleanup'] as const) {
      const env = orchestryFunction(demo, key).props.Environment.Variables;
      expect(env.ORCHESTRY_RUNTIME, key).toBe('none');
      expect(Object.keys(env).filter((name) => name.startsWith('ORCHESTRY_ECS_') || name.startsWith('ORCHESTRY_ALB_')), key).toEqual([]);
    }
    expect(Object.keys(orchestryFunction(demo, 'migrate').props.Environment.Variables).filter((n) => n.startsWith('ORCHESTRY_'))).toEqual([
      'ORCHESTRY_MIGRATIONS_DIR',
    ]);
  });

  it('names the one database driver each function is built with: Neon for the API, node-postgres for the jobs and the migration', () => {
    for (const key of Object.keys(ORCHESTRY_FUNCTIONS) as FunctionKey[]) {
      const driver = key === 'api' ? 'neon' : 'pg';
      expect(orchestryFunction(demo, key).props.Environment.Variables.DATABASE_DRIVER, key).toBe(driver);
      const { stack, id } = ORCHESTRY_FUNCTIONS[key];
      // SST keeps one build per construct path: the last synthesized stage's (as below).
      const build = useFunctions().fromID(production.stacks[stack].node.findChild(id).node.addr);
      expect(build?.nodejs?.esbuild?.define, key).toEqual({ 'process.env.ORCHESTRY_BUNDLED_DRIVER': JSON.stringify(driver) });
    }
  });

  it('builds every function for Node 20 on arm64, as readable ESM, without X-Ray', () => {
    for (const key of Object.keys(ORCHESTRY_FUNCTIONS) as FunctionKey[]) {
      const { props } = orchestryFunction(production, key);
      expect(props.Architectures, key).toEqual(['arm64']);
      expect(props.TracingConfig, key).toBeUndefined();
      // The runtime and bundling SST applies when it replaces the placeholder code at deploy.
      const { stack, id } = ORCHESTRY_FUNCTIONS[key];
      const build = useFunctions().fromID(production.stacks[stack].node.findChild(id).node.addr);
      expect(build?.runtime, key).toBe('nodejs20.x');
      expect(build?.nodejs, key).toMatchObject({ format: 'esm', minify: false, sourcemap: false });
    }
  });
});

describe('secrets', () => {
  const database = ['DATABASE_URL', 'DATABASE_REPLICA_URL'];
  const bound: Record<FunctionKey, string[]> = {
    migrate: ['DATABASE_URL'],
    api: SECRET_NAMES,
    scaler: database,
    prober: database,
    collector: database,
    rollup: database,
    cleanup: database,
  };

  it('are bound as SST secrets: a placeholder in the environment, the value fetched from SSM at runtime', () => {
    for (const [key, names] of Object.entries(bound) as Array<[FunctionKey, string[]]>) {
      const { props, statements } = orchestryFunction(demo, key);
      const env = props.Environment.Variables;
      for (const name of SECRET_NAMES) {
        expect(env[name], `${key} ${name}`).toBeUndefined();
        expect(env[`SST_Secret_value_${name}`], `${key} ${name}`).toBe(names.includes(name) ? '__FETCH_FROM_SSM__' : undefined);
      }
      const ssm = statements.filter((s) => actionsOf(s).includes('ssm:GetParameters'));
      const paths = ssm.flatMap(resourcesOf).map((r) => JSON.stringify(r).match(/parameter(\/sst\/orchestry\/[^"]+)/)?.[1]);
      expect(paths.sort(), key).toEqual(
        names.flatMap((name) => [`/sst/orchestry/.fallback/Secret/${name}/value`, `/sst/orchestry/demo/Secret/${name}/value`]).sort(),
      );
    }
  });

  it('never appear in any template, not even when set in the deployer’s environment', () => {
    expect(canaries.length).toBeGreaterThan(0);
    for (const synth of [demo, production]) {
      const everything = JSON.stringify(stackNames(synth).map((name) => synth.templates[name].toJSON()));
      for (const value of canaries) expect(everything.includes(value), 'a secret value is in a template').toBe(false);
    }
    for (const { stack, id, resource: fn } of resourcesOfType(demo, 'AWS::Lambda::Function')) {
      for (const name of SECRET_NAMES) expect(fn.Properties.Environment?.Variables?.[name], `${stack}/${id}`).toBeUndefined();
    }
  });
});

describe('IAM', () => {
  const clusterRoles = (synth: Synthesized) => [
    getAtt('Cluster', logicalId(synth.stacks.Cluster, 'TaskExecutionRole'), 'Arn'),
    getAtt('Cluster', logicalId(synth.stacks.Cluster, 'TaskRole'), 'Arn'),
  ];
  // Actions AWS authorises only on "*" (no resource types), each used by a runtime call.
  const RESOURCE_STAR_ONLY = new Set([
    'ecs:ListTasks',
    'elasticloadbalancing:DescribeTargetGroups',
    'elasticloadbalancing:DescribeRules',
    'cloudwatch:GetMetricData',
    'ecr:GetAuthorizationToken',
  ]);

  it('grants no wildcard action anywhere', () => {
    for (const synth of [demo, production]) {
      const statements = allStatements(synth);
      expect(statements.length).toBeGreaterThan(20);
      for (const { where, statement } of statements) {
        for (const action of actionsOf(statement)) expect(action, where).not.toContain('*');
        expect(statement.Effect, where).toBe('Allow');
      }
    }
  });

  it('uses "*" resources only for actions that have no resource types, with a condition where AWS has one', () => {
    for (const { where, statement } of allStatements(demo)) {
      if (!resourcesOf(statement).includes('*')) continue;
      for (const action of actionsOf(statement)) expect(RESOURCE_STAR_ONLY, `${where} ${action}`).toContain(action);
      if (actionsOf(statement).includes('ecs:ListTasks')) {
        expect(statement.Condition, where).toBeDefined();
      }
    }
  });

  it('lets PassRole pass only the two task roles, only to ECS tasks', () => {
    const passes = allStatements(demo).filter(({ statement }) => actionsOf(statement).includes('iam:PassRole'));
    expect(passes.map(({ where }) => where.split('/')[0]).sort()).toEqual(['Api', 'Jobs', 'Jobs']);
    for (const { where, statement } of passes) {
      expect(actionsOf(statement), where).toEqual(['iam:PassRole']);
      expect(resolveImports(demo, resourcesOf(statement)), where).toEqual(clusterRoles(demo));
      expect(statement.Condition, where).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
    }
  });

  it('attaches no managed policy beyond Lambda’s logging and VPC networking', () => {
    const allowed = ['service-role/AWSLambdaBasicExecutionRole', 'service-role/AWSLambdaVPCAccessExecutionRole'];
    for (const { stack, id, resource: role } of resourcesOfType(demo, 'AWS::IAM::Role')) {
      for (const arn of role.Properties.ManagedPolicyArns ?? []) {
        const name = JSON.stringify(arn).match(/:iam::aws:policy\/([\w/-]+)/)?.[1];
        expect(allowed, `${stack}/${id}`).toContain(name);
      }
    }
  });

  describe('gives each function only the actions it uses', () => {
    const taskLifecycle = [
      'ecs:RunTask',
      'ecs:StopTask',
      'ecs:DescribeTasks',
      'ecs:ListTasks',
      'ecs:DescribeClusters',
      'ecs:RegisterTaskDefinition',
      'ecs:DescribeTaskDefinition',
      'ecs:TagResource',
      'iam:PassRole',
    ];
    const replicaRouting = [
      'elasticloadbalancing:DescribeTargetGroups',
      'elasticloadbalancing:DescribeRules',
      'elasticloadbalancing:RegisterTargets',
      'elasticloadbalancing:DeregisterTargets',
      'elasticloadbalancing:ModifyTargetGroupAttributes',
      'elasticloadbalancing:CreateTargetGroup',
      'elasticloadbalancing:CreateRule',
      'elasticloadbalancing:AddTags',
    ];
    const expected: Record<FunctionKey, string[]> = {
      api: [
        ...taskLifecycle,
        ...replicaRouting,
        'elasticloadbalancing:DeleteRule',
        'elasticloadbalancing:DeleteTargetGroup',
        'logs:GetLogEvents',
        'cloudwatch:GetMetricData',
        'ssm:GetParameters',
      ],
      scaler: [...taskLifecycle, ...replicaRouting, 'cloudwatch:GetMetricData', 'ssm:GetParameters'],
      prober: [...taskLifecycle, ...replicaRouting, 'ssm:GetParameters'],
      collector: ['cloudwatch:GetMetricData', 'ssm:GetParameters'],
      rollup: ['ssm:GetParameters'],
      cleanup: ['ssm:GetParameters'],
      migrate: ['ssm:GetParameters'],
    };
    it.each(Object.keys(expected) as FunctionKey[])('%s', (key) => {
      const actions = new Set(orchestryFunction(demo, key).statements.flatMap(actionsOf));
      expect([...actions].sort()).toEqual([...expected[key]].sort());
    });
  });

  it('scopes the runtime’s actions to the cluster, its log group, its listener and Orchestry-tagged resources of its stage', () => {
    const { statements } = orchestryFunction(demo, 'api');
    const bySid = Object.fromEntries(statements.filter((s) => s.Sid).map((s) => [s.Sid, resolveImports(demo, s)])) as Record<string, Json>;
    const clusterArn = getAtt('Cluster', logicalId(demo.stacks.Cluster, 'Cluster'), 'Arn');
    const clusterName = ref('Cluster', logicalId(demo.stacks.Cluster, 'Cluster'));
    const listener = ref('LoadBalancer', logicalId(demo.stacks.LoadBalancer, 'LoadBalancer', 'Http'));

    for (const sid of ['RunTasksInCluster', 'ManageClusterTasks', 'ListClusterTasks']) {
      expect(bySid[sid].Condition, sid).toEqual({ ArnEquals: { 'ecs:cluster': clusterArn } });
    }
    for (const sid of ['RunTasksInCluster', 'RegisterTaggedTaskDefinitions', 'DescribeTaskDefinitions']) {
      expect(JSON.stringify(bySid[sid].Resource), sid).toContain(':task-definition/orchestry-demo_*:*');
    }
    expect(bySid.ManageClusterTasks.Resource['Fn::Join'][1]).toEqual(expect.arrayContaining([':task/', clusterName, '/*']));
    expect(bySid.DescribeCluster.Resource).toEqual(clusterArn);
    expect(bySid.RegisterTaggedTaskDefinitions.Condition).toEqual({ Null: { 'aws:RequestTag/orchestry:app': 'false' } });
    expect(bySid.TagTasksOnCreate.Condition).toEqual({ StringEquals: { 'ecs:CreateAction': ['RunTask', 'RegisterTaskDefinition'] } });

    for (const sid of ['RouteReplicas', 'DeleteOwnTargetGroups']) {
      expect(JSON.stringify(bySid[sid].Resource), sid).toContain(':targetgroup/orch-*/*');
      expect(bySid[sid].Condition, sid).toEqual({
        Null: { 'aws:ResourceTag/orchestry:app': 'false' },
        StringEquals: { 'aws:ResourceTag/orchestry:stage': 'demo' },
      });
    }
    expect(bySid.CreateTaggedTargetGroups.Condition).toEqual({
      Null: { 'aws:RequestTag/orchestry:app': 'false' },
      StringEquals: { 'aws:RequestTag/orchestry:stage': 'demo' },
    });
    expect(bySid.AddRulesToAppsListener.Resource).toEqual(listener);
    expect(JSON.stringify(bySid.DeleteAppsListenerRules.Resource)).toContain(':listener-rule/');
    expect(JSON.stringify(bySid.DeleteAppsListenerRules.Resource)).toContain(JSON.stringify(listener));
    expect(bySid.TagRoutingOnCreate.Condition).toEqual({
      StringEquals: { 'elasticloadbalancing:CreateAction': ['CreateTargetGroup', 'CreateRule'] },
    });
    expect(bySid.ReadTaskLogs.Resource).toEqual(getAtt('Cluster', logicalId(demo.stacks.Cluster, 'TaskLogs'), 'Arn'));
  });
});

describe('IAM across stages', () => {
  /** The resources of a stage's runtime statements, as text. */
  const scoping = (synth: Synthesized) =>
    (['api', 'scaler', 'prober'] as const).flatMap((key) => orchestryFunction(synth, key).statements).map((s) => JSON.stringify(s.Resource));
  // A pattern as IAM reads it: '*' matches any run of characters.
  const matches = (pattern: string, name: string) =>
    new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`).test(name);

  it('lets each stage register, describe, run and tag only its own task definition families, whatever hyphens the names hold', () => {
    for (const [synth, stage, other] of [
      [demo, 'demo', 'production'],
      [production, 'production', 'demo'],
    ] as const) {
      const families = scoping(synth)
        .flatMap((text) => [...text.matchAll(/:task-definition\/([^"]+)/g)].map((m) => m[1]!))
        .filter((pattern, i, all) => all.indexOf(pattern) === i);
      expect(families).toEqual([`orchestry-${stage}_*:*`]);
      const [pattern] = families;
      // The families the runtime derives (ecs-task-definition.ts), revision 1.
      expect(matches(pattern!, `${taskFamily(stage, 'user-api')}:1`)).toBe(true);
      expect(matches(pattern!, `${taskFamily(other, 'user-api')}:1`)).toBe(false);
      expect(matches(pattern!, `${taskFamily(`${stage}-eu`, 'api')}:1`)).toBe(false);
      expect(matches(pattern!, 'orchestry-user-api:1')).toBe(false);
    }
  });

  it('lets each stage create and change only target groups tagged with its stage', () => {
    for (const [synth, stage] of [
      [demo, 'demo'],
      [production, 'production'],
    ] as const) {
      const statements = (['api', 'scaler', 'prober'] as const).flatMap((key) => orchestryFunction(synth, key).statements);
      const onTargetGroups = statements.filter(
        // AddTags is allowed only as part of a create (elasticloadbalancing:CreateAction), itself stage-scoped.
        (s) => JSON.stringify(s.Resource).includes(':targetgroup/') && !actionsOf(s).includes('elasticloadbalancing:AddTags'),
      );
      expect(onTargetGroups.length).toBeGreaterThan(0);
      for (const statement of onTargetGroups) {
        const key = actionsOf(statement).includes('elasticloadbalancing:CreateTargetGroup') ? 'aws:RequestTag' : 'aws:ResourceTag';
        expect(statement.Condition?.StringEquals, statement.Sid).toEqual({ [`${key}/orchestry:stage`]: stage });
      }
    }
  });
});

describe('logs', () => {
  it('expire everywhere: a week on a demo stage, a month in production, and go away with the stack', () => {
    for (const [synth, days] of [
      [demo, 7],
      [production, 30],
    ] as const) {
      const groups = resourcesOfType(synth, 'AWS::Logs::LogGroup');
      expect(groups.length).toBeGreaterThan(8);
      for (const { stack, id, resource: group } of groups) {
        expect(group.Properties.RetentionInDays, `${stack}/${id}`).toBe(days);
        expect(group.DeletionPolicy, `${stack}/${id}`).toBe('Delete');
      }
    }
    demo.templates.Cluster.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/orchestry/demo/tasks', RetentionInDays: 7 });
  });

  it('are written by every function, SST’s and CDK’s own included, to a log group of the stack', () => {
    for (const { stack, id, resource: fn } of resourcesOfType(demo, 'AWS::Lambda::Function')) {
      const target = fn.Properties.LoggingConfig?.LogGroup;
      expect(target?.Ref, `${stack}/${id}`).toBeDefined();
      expect(resource(demo, stack, target.Ref).Type).toBe('AWS::Logs::LogGroup');
    }
  });
});

describe('migrations', () => {
  it('run on every deploy through a Script that invokes the migrate function with the migrations copied in', () => {
    const migrate = orchestryFunction(demo, 'migrate');
    const [script] = Object.values(demo.templates.Database.findResources('Custom::SSTScript')) as Json[];
    expect(script.Properties).toMatchObject({ UserCreateFunction: { Ref: migrate.id }, UserUpdateFunction: { Ref: migrate.id } });
    // A fresh version per synthesis is what makes CloudFormation run the update on every deploy.
    expect(script.Properties.Version).toMatch(/^\d{13}$/);
    expect(migrate.props.Environment.Variables.ORCHESTRY_MIGRATIONS_DIR).toBe('/var/task/migrations');
    expect(migrate.props.Timeout).toBe(300);
    const scriptHandler = resource(demo, 'Database', script.Properties.ServiceToken['Fn::GetAtt'][0]);
    expect(scriptHandler.Type).toBe('AWS::Lambda::Function');
  });
});
