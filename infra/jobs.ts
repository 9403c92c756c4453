/**
 * The scheduled jobs. EventBridge cannot schedule below one minute, so the scaler and the
 * prober are invoked every minute and loop at their own period (SCALER_PERIOD_SECONDS,
 * PROBER_PERIOD_SECONDS) inside the invocation. Reserved concurrency 1 keeps one loop of each
 * running at a time, and an invocation that cannot start within a minute is dropped rather
 * than queued behind the next.
 */
import { Duration } from 'aws-cdk-lib/core';
import { Cron, Function, dependsOn, use, type FunctionProps, type StackContext } from 'sst/constructs';
import { Cluster } from './cluster.js';
import { Database } from './database.js';
import { bundledWith, functionLogGroup, stageSettings } from './functions.js';
import { LoadBalancer } from './load-balancer.js';
import { Network } from './network.js';
import { metricReads, replicaRouting, taskLifecycle, type RuntimeResources } from './runtime-access.js';
import { runtimeEnvironment } from './runtime-environment.js';

/**
 * The loop (functions/jobs/job.ts) stops once less than the wait, one more period and a 3 s
 * margin remain. At 70 s with a 10 s period its last tick is the one at :50, so each
 * invocation ends before the next minute's starts, and a slow last tick still has time.
 */
export const LOOPING_JOB_TIMEOUT_SECONDS = 70;

export function Jobs({ stack, app }: StackContext) {
  const settings = stageSettings(app);
  const network = use(Network);
  const loadBalancer = use(LoadBalancer);
  const cluster = use(Cluster);
  const { secrets } = use(Database);
  // Jobs run the new code only against a migrated schema.
  dependsOn(Database);

  const runtime: RuntimeResources = { ...cluster, listener: loadBalancer.listener, stage: app.stage };
  const bundling = bundledWith('pg');
  const environment = { ...runtimeEnvironment({ stage: app.stage, network, loadBalancer, cluster, settings }), ...bundling.environment };
  const common: FunctionProps = {
    nodejs: bundling.nodejs,
    // Jobs read the database; the admin token is the API's alone.
    bind: [secrets.DATABASE_URL, secrets.DATABASE_REPLICA_URL],
    // A failed tick is not retried: the next one recomputes everything from the database.
    retryAttempts: 0,
  };
  const inVpc: FunctionProps = {
    vpc: network.vpc,
    vpcSubnets: { subnets: network.privateSubnets.subnets },
    securityGroups: [network.probeSecurityGroup],
  };
  const looping: FunctionProps = {
    timeout: LOOPING_JOB_TIMEOUT_SECONDS,
    reservedConcurrentExecutions: 1,
    // The shortest age Lambda allows; a stale tick would only duplicate the next one.
    maxEventAge: Duration.seconds(60),
  };

  const scaler = new Function(stack, 'Scaler', {
    ...common,
    ...inVpc,
    ...looping,
    handler: 'functions/jobs/scaler.handler',
    description: 'Orchestry scaler: decides and applies replica counts every SCALER_PERIOD_SECONDS',
    memorySize: 256,
    environment: { ...environment, SCALER_PERIOD_SECONDS: String(settings.scalerPeriodSeconds) },
    permissions: [...taskLifecycle(runtime), ...replicaRouting(runtime), ...metricReads()],
    logGroup: functionLogGroup(stack, 'ScalerLogs', settings),
  });

  const prober = new Function(stack, 'HealthProber', {
    ...common,
    ...inVpc,
    ...looping,
    handler: 'functions/jobs/health-prober.handler',
    description: 'Orchestry health prober: probes replicas and replaces failed ones every PROBER_PERIOD_SECONDS',
    memorySize: 256,
    environment: { ...environment, PROBER_PERIOD_SECONDS: String(settings.proberPeriodSeconds) },
    permissions: [...taskLifecycle(runtime), ...replicaRouting(runtime)],
    logGroup: functionLogGroup(stack, 'HealthProberLogs', settings),
  });

  // Container Insights publishes task metrics once a minute, so collecting them more often
  // would only read the same datapoints again. CloudWatch is reached outside the VPC.
  const collector = new Function(stack, 'MetricCollector', {
    ...common,
    handler: 'functions/jobs/metric-collector.handler',
    description: 'Orchestry metric collector: replica CPU and memory from Container Insights into metrics',
    timeout: 60,
    memorySize: 256,
    environment,
    permissions: [...metricReads()],
    logGroup: functionLogGroup(stack, 'MetricCollectorLogs', settings),
  });

  // Rollup and cleanup only touch the database: outside the VPC, no AWS permissions, no runtime.
  const databaseOnly = { ...bundling.environment, ORCHESTRY_RUNTIME: 'none' };
  const rollup = new Function(stack, 'MetricRollup', {
    ...common,
    handler: 'functions/jobs/metric-rollup.handler',
    description: 'Orchestry metric rollup: raw metrics into 1-minute and 1-hour rollups',
    timeout: 120,
    memorySize: 256,
    environment: databaseOnly,
    logGroup: functionLogGroup(stack, 'MetricRollupLogs', settings),
  });

  const cleanup = new Function(stack, 'Cleanup', {
    ...common,
    handler: 'functions/jobs/cleanup.handler',
    description: 'Orchestry cleanup: retention of events, metrics, rollups, stopped instances and job runs',
    timeout: 300,
    memorySize: 256,
    environment: databaseOnly,
    logGroup: functionLogGroup(stack, 'CleanupLogs', settings),
  });

  new Cron(stack, 'ScalerSchedule', { schedule: 'rate(1 minute)', job: scaler });
  new Cron(stack, 'HealthProberSchedule', { schedule: 'rate(1 minute)', job: prober });
  new Cron(stack, 'MetricCollectorSchedule', { schedule: 'rate(1 minute)', job: collector });
  new Cron(stack, 'MetricRollupSchedule', { schedule: 'rate(5 minutes)', job: rollup });
  new Cron(stack, 'CleanupSchedule', { schedule: 'rate(1 day)', job: cleanup });

  return { scaler, prober, collector, rollup, cleanup };
}
