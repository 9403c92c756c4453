/**
 * What every Orchestry Lambda shares: the stage's settings, runtime and bundling defaults, and
 * a log group with retention.
 */
import { RemovalPolicy } from 'aws-cdk-lib/core';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { App, FunctionProps } from 'sst/constructs';
import { readDeploySettings, type DeploySettings, type LogRetentionDays } from './settings.js';

export function stageSettings(app: App): DeploySettings {
  return readDeploySettings(app.stage, process.env);
}

/**
 * Applied to every function of the app (set before any stack is added).
 * Node 20 is what the test suite runs on; arm64 is the cheaper Lambda architecture and the
 * bundles are plain JavaScript. X-Ray tracing is off: nothing reads traces, and it would add
 * IAM actions no function uses.
 */
export const FUNCTION_DEFAULTS: FunctionProps = {
  runtime: 'nodejs20.x',
  architecture: 'arm_64',
  tracing: 'disabled',
  nodejs: {
    format: 'esm',
    // Stack traces in CloudWatch name real files and lines only if the code is not minified
    // (a deploy uploads source maps apart from the code, where Lambda never reads them).
    // Unminified, a bundle is about twice the size and builds several times faster.
    minify: false,
    sourcemap: false,
    // Each dynamic import() becomes its own file, loaded only when reached: a cold start then
    // parses only what its path needs (with one file, sst/node/config's static import of
    // @aws-sdk/client-ssm loaded the SSM client into every cold start, secrets bound or not,
    // and both database drivers and the ECS runtime were parsed on every start).
    splitting: true,
    esbuild: {
      // Every one of these is required inside a try/catch by a dependency and only used when
      // present: pg's optional native driver, ssh2's native crypto and cpu-features (dockerode
      // → docker-modem → ssh2; the Docker runtime never runs in Lambda). Bundling the x86 .node
      // files would fail, and listing pg-native here also stops SST from `npm install`ing it.
      external: ['pg-native', 'cpu-features', '*.node'],
    },
  },
};

export type LambdaDriver = 'pg' | 'neon';

/**
 * Which database driver each Lambda ships (db/client.ts); the other is left out of its bundle
 * by defining ORCHESTRY_BUNDLED_DRIVER at build time, and DATABASE_DRIVER names it so that
 * the URL's host cannot choose the missing one. The API keeps Neon's serverless driver (what
 * DATABASE_URL's Neon host chose until now): each short-lived container opens its connections
 * over WebSocket. The jobs and the migration hold theirs for a whole invocation: node-postgres
 * over TCP, which Neon serves as any Postgres does, is ~110 kB smaller minified than Neon's
 * driver with ws, and keeps each scheduled function within its 400 kB (infra/bundle-budgets.ts).
 */
export function bundledWith(driver: LambdaDriver): { nodejs: NonNullable<FunctionProps['nodejs']>; environment: { DATABASE_DRIVER: LambdaDriver } } {
  const nodejs = FUNCTION_DEFAULTS.nodejs ?? {};
  return {
    nodejs: { ...nodejs, esbuild: { ...nodejs.esbuild, define: { 'process.env.ORCHESTRY_BUNDLED_DRIVER': JSON.stringify(driver) } } },
    environment: { DATABASE_DRIVER: driver },
  };
}

/** A function's own log group, so retention and removal are ours rather than Lambda's defaults. */
export function functionLogGroup(scope: Construct, id: string, settings: DeploySettings): LogGroup {
  return new LogGroup(scope, id, {
    retention: retentionDays(settings.logRetentionDays),
    removalPolicy: RemovalPolicy.DESTROY,
  });
}

export function retentionDays(days: LogRetentionDays): RetentionDays {
  return days as RetentionDays;
}

/** SST's Api takes retention by enum key name ("one_week"), not by day count. */
export function retentionKey(days: LogRetentionDays): Lowercase<keyof typeof RetentionDays> {
  const entry = (Object.entries(RetentionDays) as Array<[keyof typeof RetentionDays, RetentionDays]>).find(
    ([, value]) => value === (days as number),
  );
  if (!entry) throw new Error(`CloudWatch Logs has no retention of ${days} days`);
  return entry[0].toLowerCase() as Lowercase<keyof typeof RetentionDays>;
}

/** The Lambda root: copyFiles lands beside the handler bundle under it. */
export const LAMBDA_TASK_ROOT = '/var/task';
