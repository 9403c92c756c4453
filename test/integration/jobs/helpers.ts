/** Shared by the job tests: deps over a fake runtime and a hand-moved clock, apps registered and started. */
import { asc, eq } from 'drizzle-orm';
import type { Db } from '../../../db/client.js';
import { events, jobRuns, type Event, type JobName, type JobRun } from '../../../db/schema.js';
import { DEFAULT_CONFIG, type Deps, type OrchestryConfig } from '../../../functions/deps.js';
import { opsDepsOf } from '../../../functions/jobs/job.js';
import { silentLogger } from '../../../functions/log.js';
import { registerApp, startApp } from '../../../functions/ops/apps.js';
import type { ContainerRuntime } from '../../../functions/runtime/types.js';
import { FakeRuntime } from '../../support/fake-runtime.js';
import { appDoc, FAST_TIMING, ManualClock, type DocOptions } from '../ops/helpers.js';

export { appDoc, ManualClock };

export function testConfig(): OrchestryConfig {
  return { ...structuredClone(DEFAULT_CONFIG), reconcileTiming: FAST_TIMING };
}

export interface JobSetup {
  deps: Deps;
  runtime: FakeRuntime;
  clock: ManualClock;
}

export function jobDeps(db: Db, shared: { runtime?: FakeRuntime; clock?: ManualClock } = {}): JobSetup {
  const clock = shared.clock ?? new ManualClock();
  const runtime = shared.runtime ?? new FakeRuntime({ now: () => clock.now() });
  return { deps: depsWith(db, runtime, clock), runtime, clock };
}

export function depsWith(db: Db, runtime: ContainerRuntime, clock: { now(): Date }): Deps {
  return { db, runtime, log: silentLogger, now: () => clock.now(), config: testConfig() };
}

/** Registers an app and starts it with `replicas`. */
export async function startedApp(deps: Deps, name: string, replicas: number, doc: DocOptions = {}): Promise<void> {
  const ops = opsDepsOf(deps);
  await registerApp(ops, appDoc(name, { mode: 'auto', ...doc }));
  await startApp(ops, name, { replicas });
}

export async function eventsOf(db: Db, app: string): Promise<Event[]> {
  return db.$primary.select().from(events).where(eq(events.appName, app)).orderBy(asc(events.id));
}

export async function runsOf(db: Db, job: JobName): Promise<JobRun[]> {
  return db.$primary.select().from(jobRuns).where(eq(jobRuns.job, job)).orderBy(asc(jobRuns.id));
}
