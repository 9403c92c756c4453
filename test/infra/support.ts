/**
 * Reading synthesized templates by name: resources by construct id, values through
 * cross-stack imports, IAM statements of a function's role.
 */
import type { CfnElement } from 'aws-cdk-lib/core';
import type { Stack } from 'sst/constructs';
import type { StackName, Synthesized } from '../../infra/synth.js';

/** Template JSON is untyped by nature. */
export type Json = any;

export interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: Json;
  Condition?: Json;
}

/** The functions Orchestry itself defines, by stack and construct id. */
export const ORCHESTRY_FUNCTIONS = {
  migrate: { stack: 'Database', id: 'Migrate', handler: 'functions/jobs/migrate.handler' },
  api: { stack: 'Api', id: 'ApiHandler', handler: 'functions/api/lambda.handler' },
  scaler: { stack: 'Jobs', id: 'Scaler', handler: 'functions/jobs/scaler.handler' },
  prober: { stack: 'Jobs', id: 'HealthProber', handler: 'functions/jobs/health-prober.handler' },
  collector: { stack: 'Jobs', id: 'MetricCollector', handler: 'functions/jobs/metric-collector.handler' },
  rollup: { stack: 'Jobs', id: 'MetricRollup', handler: 'functions/jobs/metric-rollup.handler' },
  cleanup: { stack: 'Jobs', id: 'Cleanup', handler: 'functions/jobs/cleanup.handler' },
} as const satisfies Record<string, { stack: StackName; id: string; handler: string }>;
export type FunctionKey = keyof typeof ORCHESTRY_FUNCTIONS;

export const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
export const resourcesOf = (s: Statement): Json[] => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

/** The logical id of a construct's CloudFormation resource, found by the path of construct ids under its stack. */
export function logicalId(stack: Stack, ...path: string[]): string {
  const construct = path.reduce((scope, id) => scope.node.findChild(id), stack as { node: Stack['node'] });
  const element = (construct.node.defaultChild ?? construct) as CfnElement;
  return stack.resolve(element.logicalId) as string;
}

export function resource(synth: Synthesized, stack: StackName, id: string): Json {
  const found = synth.templates[stack].toJSON().Resources[id];
  if (!found) throw new Error(`No resource ${id} in stack ${stack}`);
  return found;
}

export function resourcesOfType(synth: Synthesized, type: string): Array<{ stack: StackName; id: string; resource: Json }> {
  return (Object.keys(synth.templates) as StackName[]).flatMap((stack) =>
    Object.entries(synth.templates[stack].findResources(type)).map(([id, resource]) => ({ stack, id, resource })),
  );
}

export function orchestryFunction(synth: Synthesized, key: FunctionKey): { id: string; props: Json; statements: Statement[] } {
  const { stack, id: constructId } = ORCHESTRY_FUNCTIONS[key];
  const id = logicalId(synth.stacks[stack], constructId);
  const props = resource(synth, stack, id).Properties;
  return { id, props, statements: roleStatements(synth, stack, props.Role['Fn::GetAtt'][0]) };
}

/** Every statement granted to a role: its inline policies and the policies attached to it. */
export function roleStatements(synth: Synthesized, stack: StackName, roleId: string): Statement[] {
  const inline = (resource(synth, stack, roleId).Properties.Policies ?? []).flatMap((p: Json) => p.PolicyDocument.Statement);
  const attached = Object.values(synth.templates[stack].findResources('AWS::IAM::Policy'))
    .filter((p: Json) => p.Properties.Roles.some((r: Json) => r.Ref === roleId))
    .flatMap((p: Json) => p.Properties.PolicyDocument.Statement);
  return [...inline, ...attached];
}

/** Every IAM statement in every stack, wherever it is declared. */
export function allStatements(synth: Synthesized): Array<{ where: string; statement: Statement }> {
  const policies = resourcesOfType(synth, 'AWS::IAM::Policy').flatMap(({ stack, id, resource }) =>
    resource.Properties.PolicyDocument.Statement.map((statement: Statement) => ({ where: `${stack}/${id}`, statement })),
  );
  const inline = resourcesOfType(synth, 'AWS::IAM::Role').flatMap(({ stack, id, resource }) =>
    (resource.Properties.Policies ?? []).flatMap((p: Json) =>
      p.PolicyDocument.Statement.map((statement: Statement) => ({ where: `${stack}/${id}`, statement })),
    ),
  );
  return [...policies, ...inline];
}

/**
 * Replace every `Fn::ImportValue` with the value the exporting stack's output holds, and tag
 * it with that stack, so a reference can be compared with the resource it names.
 */
export function resolveImports(synth: Synthesized, value: Json): Json {
  if (Array.isArray(value)) return value.map((v) => resolveImports(synth, v));
  if (value === null || typeof value !== 'object') return value;
  if ('Fn::ImportValue' in value) {
    const exportName: string = value['Fn::ImportValue'];
    for (const stack of Object.keys(synth.templates) as StackName[]) {
      const outputs = synth.templates[stack].toJSON().Outputs ?? {};
      const output = Object.values(outputs).find((o: Json) => o.Export?.Name === exportName) as Json;
      if (output) return { stack, value: output.Value };
    }
    throw new Error(`No stack exports ${exportName}`);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveImports(synth, v)]));
}

export const getAtt = (stack: StackName, id: string, attribute: string) => ({ stack, value: { 'Fn::GetAtt': [id, attribute] } });
export const ref = (stack: StackName, id: string) => ({ stack, value: { Ref: id } });
