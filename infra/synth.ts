/**
 * Offline synthesis of the whole app, for the infra tests and scripts/bundle-sizes.ts: no AWS
 * credentials, no network, no `sst` CLI. It builds the same stacks `sst deploy` builds, for a
 * made-up account, with settings given as environment values.
 *
 * Functions keep SST's inline placeholder code, as in SST's own tests: SST bundles them in
 * App.finish(), which needs the handler files. bundleFunction() runs that same build (SST's
 * esbuild step, copyFiles included) for one function, into `outDir`.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Template } from 'aws-cdk-lib/assertions';
import { App, getStack, type Function, type Stack } from 'sst/constructs';
import { useRuntimeHandlers } from 'sst/runtime/handlers.js';
import { initProject, setProject, useProject } from 'sst/project.js';
import { Api } from './api.js';
import { Cluster } from './cluster.js';
import { Database } from './database.js';
import { orchestryStacks } from './index.js';
import { Jobs } from './jobs.js';
import { LoadBalancer } from './load-balancer.js';
import { Network } from './network.js';
import { SETTING_VARIABLES, type SettingVariable } from './settings.js';

export const STACKS = { Network, LoadBalancer, Cluster, Database, Api, Jobs } as const;
export type StackName = keyof typeof STACKS;

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export interface SynthOptions {
  stage: string;
  /**
   * Deploy settings, applied only while the stacks are built. Setting variables not named
   * here are unset meanwhile, so a developer's `.env` cannot change what is synthesized.
   */
  env?: Partial<Record<SettingVariable, string>>;
  /** Where SST writes its generated types and build artifacts; keeps runs apart from each other and from `.sst`. */
  outDir: string;
  account?: string;
  region?: string;
}

export interface Synthesized {
  app: App;
  stacks: Record<StackName, Stack>;
  templates: Record<StackName, Template>;
  artifactsDir: string;
}

export async function synthesize(options: SynthOptions): Promise<Synthesized> {
  const region = options.region ?? 'eu-west-1';
  await initProject({ stage: options.stage, root: REPO_ROOT, region });
  const project = useProject();
  const artifactsDir = path.join(options.outDir, 'artifacts');
  mkdirSync(artifactsDir, { recursive: true });
  setProject({ ...project, paths: { ...project.paths, out: options.outDir, artifacts: artifactsDir } });

  const app = withEnv(options.env ?? {}, () => {
    const built = new App({
      mode: 'deploy',
      stage: options.stage,
      name: project.config.name,
      region,
      account: options.account ?? '123456789012',
    });
    orchestryStacks(built);
    return built;
  });

  const stacks = mapStacks((fn) => getStack(fn));
  const templates = mapStacks((_, name) => Template.fromStack(stacks[name]));
  return { app, stacks, templates, artifactsDir };
}

function mapStacks<T>(f: (fn: (typeof STACKS)[StackName], name: StackName) => T): Record<StackName, T> {
  return Object.fromEntries(Object.entries(STACKS).map(([name, fn]) => [name, f(fn, name as StackName)])) as Record<StackName, T>;
}

function withEnv<T>(env: Partial<Record<SettingVariable, string>>, build: () => T): T {
  const saved = Object.fromEntries(SETTING_VARIABLES.map((k) => [k, process.env[k]]));
  for (const key of SETTING_VARIABLES) {
    const value = env[key];
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  try {
    return build();
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

export interface Bundle {
  /** The Lambda handler setting, relative to the bundle's root. */
  handler: string;
  /** The bundle's root: what is zipped and uploaded. */
  dir: string;
  /** The handler's module inside `dir`. */
  entry: string;
}

/** SST's deploy build of one function (what App.finish() runs for each), after synthesize(). */
export async function bundleFunction(fn: Function): Promise<Bundle> {
  const result = await useRuntimeHandlers().build(fn.node.addr, 'deploy');
  if (result.type === 'error') throw new Error(`SST could not bundle ${fn.node.path}:\n${result.errors.join('\n')}`);
  // "functions/api/lambda.handler" is exported by functions/api/lambda.mjs (SST bundles ESM).
  const file = result.handler.slice(0, result.handler.lastIndexOf('.'));
  return { handler: result.handler, dir: result.out, entry: path.join(result.out, `${file}.mjs`) };
}
