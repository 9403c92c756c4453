/**
 * The whole app, in dependency order. sst.config.ts and the infra tests both build it from here.
 */
import { Aspects } from 'aws-cdk-lib/core';
import type { App } from 'sst/constructs';
import { Api } from './api.js';
import { Cluster } from './cluster.js';
import { Database } from './database.js';
import { FUNCTION_DEFAULTS, stageSettings } from './functions.js';
import { Jobs } from './jobs.js';
import { LoadBalancer } from './load-balancer.js';
import { BoundedFunctionLogs } from './log-retention.js';
import { Network } from './network.js';

export function orchestryStacks(app: App): void {
  app.setDefaultFunctionProps(FUNCTION_DEFAULTS);
  Aspects.of(app).add(new BoundedFunctionLogs(stageSettings(app).logRetentionDays));
  app.stack(Network).stack(LoadBalancer).stack(Cluster).stack(Database).stack(Api).stack(Jobs);
}
