/** Shared by the ops tests: a clock moved by hand, app spec documents, deps over a fake runtime, row readers. */
import { asc, eq } from 'drizzle-orm';
import type { Db } from '../../../db/client.js';
import { events, instances, type Event, type HealthStatus, type Instance } from '../../../db/schema.js';
import type { Clock, OpsDeps, ReconcileTiming } from '../../../functions/ops/deps.js';
import { silentLogger } from '../../../functions/log.js';
import type { ContainerRuntime } from '../../../functions/runtime/types.js';
import { FakeRuntime } from '../../support/fake-runtime.js';

/** A clock that only moves when the test says so: drains and back-offs end on command. */
export class ManualClock implements Clock {
  private at: number;

  constructor(start: Date = new Date()) {
    this.at = start.getTime();
  }

  now(): Date {
    return new Date(this.at);
  }

  advance(seconds: number): void {
    this.at += seconds * 1000;
  }
}

export interface DocOptions {
  image?: string | undefined;
  drainSeconds?: number | undefined;
  stopGraceSeconds?: number | undefined;
  healthChecks?: boolean | undefined;
  mode?: 'auto' | 'manual' | undefined;
  minReplicas?: number | undefined;
  maxReplicas?: number | undefined;
  env?: Record<string, string> | undefined;
}

/** An app spec document for the test image (busybox httpd on 8080 with /health). */
export function appDoc(name: string, o: DocOptions = {}): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'App',
    metadata: { name },
    spec: {
      image: o.image ?? 'orchestry-test:latest',
      ports: [{ containerPort: 8080 }],
      resources: { cpu: '100m', memory: '64Mi' },
      ...(o.env ? { env: Object.entries(o.env).map(([k, v]) => ({ name: k, value: v })) } : {}),
    },
    scaling: { mode: o.mode ?? 'manual', minReplicas: o.minReplicas ?? 1, maxReplicas: o.maxReplicas ?? 10 },
    healthCheck: { enabled: o.healthChecks ?? false, path: '/health', periodSeconds: 2, timeoutSeconds: 1, initialDelaySeconds: 0 },
    termination: { drainSeconds: o.drainSeconds ?? 10, stopGraceSeconds: o.stopGraceSeconds ?? 5 },
  };
}

export const FAST_TIMING: Partial<ReconcileTiming> = { startRetrySeconds: 10, startClaimTimeoutSeconds: 60, stopMarginSeconds: 30, pollSeconds: 1 };

export interface FakeSetup {
  deps: OpsDeps;
  runtime: FakeRuntime;
  clock: ManualClock;
}

export function fakeDeps(db: Db, shared?: { runtime?: FakeRuntime | undefined; clock?: ManualClock | undefined }): FakeSetup {
  const clock = shared?.clock ?? new ManualClock();
  const runtime = shared?.runtime ?? new FakeRuntime({ now: () => clock.now() });
  return { deps: { db, runtime, clock, log: silentLogger, reconcileTiming: FAST_TIMING }, runtime, clock };
}

export function depsWith(db: Db, runtime: ContainerRuntime, clock: Clock): OpsDeps {
  return { db, runtime, clock, log: silentLogger, reconcileTiming: FAST_TIMING };
}

/** Every row of the app (stopped ones too), by slot. */
export async function slotsOf(db: Db, app: string): Promise<Instance[]> {
  return db.$primary.select().from(instances).where(eq(instances.appName, app)).orderBy(asc(instances.replicaIndex));
}

export async function liveSlots(db: Db, app: string): Promise<Instance[]> {
  return (await slotsOf(db, app)).filter((r) => r.status !== 'stopped');
}

export async function eventsOf(db: Db, app: string): Promise<Event[]> {
  return db.$primary.select().from(events).where(eq(events.appName, app)).orderBy(asc(events.id));
}

/** Plays the health prober's verdict, without touching updated_at (which times drains). */
export async function setHealth(db: Db, app: string, health: HealthStatus, replicaIndex?: number): Promise<void> {
  const rows = await slotsOf(db, app);
  for (const row of rows) {
    if (row.status !== 'running' || (replicaIndex !== undefined && row.replicaIndex !== replicaIndex)) continue;
    await db.$primary.update(instances).set({ healthStatus: health }).where(eq(instances.id, row.id));
  }
}
