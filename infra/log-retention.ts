/**
 * Lambda writes to /aws/lambda/NAME, created on first use with no expiry, unless the function
 * names a log group. Our functions name their own (functionLogGroup); this aspect gives the
 * functions SST and CDK add by themselves (each stack's custom-resource handler, the Script's
 * handler, the VPC's default-security-group cleaner) one too, so every log the app writes
 * expires and goes away with the stack.
 */
import { CfnResource, RemovalPolicy, Stack, type IAspect } from 'aws-cdk-lib/core';
import { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup } from 'aws-cdk-lib/aws-logs';
import type { IConstruct } from 'constructs';
import { retentionDays } from './functions.js';
import type { LogRetentionDays } from './settings.js';

export class BoundedFunctionLogs implements IAspect {
  constructor(private readonly days: LogRetentionDays) {}

  visit(node: IConstruct): void {
    if (!(node instanceof CfnResource) || node.cfnResourceType !== 'AWS::Lambda::Function') return;
    // CDK's singleton custom-resource providers are plain CfnResources that never set logging.
    if (node instanceof CfnFunction && node.loggingConfig !== undefined) return;
    const logs = new LogGroup(node.node.scope ?? Stack.of(node), `${node.node.id}Logs`, {
      retention: retentionDays(this.days),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    node.addPropertyOverride('LoggingConfig.LogGroup', logs.logGroupName);
  }
}
