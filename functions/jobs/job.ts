/**
 * What every scheduled job shares: the run lease (so two overlapping invocations never act
 * twice), its `job_runs` row (start, end, outcome, counts, error), the adapter to the
 * operations' dependencies, and the Lambda handler that loops a sub-minute job until its
 * invocation's time is up.
 *
 * The lease: a transaction-scoped advisory lock held for a whole run would need one
 * connection (and on PGlite, the only connection) for the run's whole length. Instead a
 * SHORT transaction takes `pg_advisory_xact_lock` for the job, looks for a 'running' row of
 * the same job younger than the lease, and inserts either its own 'running' row (it holds
 * the lease) or a 'skipped' row naming the holder. The run ends by finishing its row. A run
 * that dies without finishing blocks the job only until its lease expires. docs/jobs.md.
 */
import { and, desc, eq, gt, sql } from 'drizzle-orm';
import { createDb, dbConfigFromEnv } from '../../db/client.js';
import { finishJobRun } from '../../db/queries/job-runs.js';
import { jobRuns, JOB_NAMES, type JobName, type JobOutcome } from '../../db/schema.js';
import { OrchestryError } from '../core/errors.js';
import { createDepsFromEnv, secretsFromSst, type Deps } from '../deps.js';
import type { Logger } from '../log.js';
import type { OpsDeps } from '../ops/deps.js';

/**
 * How long a run holds its job after it started. A run that takes longer lets a second one
 * start beside it, so each is far above the job's expected duration; a run that crashed
 * blocks its job for this long at most.
 */
export const JOB_LEASE_SECONDS: Record<JobName, number> = {
  scaler: 120,
  'health-prober': 120,
  'metric-collector': 120,
  'metric-rollup': 600,
  cleanup: 1800,
};

// pg_advisory_xact_lock(int, int): the first key says "an Orchestry job lock" ('ORCH'), the
// second which job. db/migrate.ts uses the one-bigint form, which never collides with these.
const JOB_LOCK_NAMESPACE = 0x4f524348;

export type JobCounts = Record<string, number>;

export interface JobRunSummary {
  id: number;
  job: JobName;
  outcome: Exclude<JobOutcome, 'running'>;
  counts: JobCounts;
  error: string | null;
  startedAt: Date;
  finishedAt: Date;
  /** For a skipped run: the run that held the lease. */
  heldBy: number | null;
}

/** The operations' dependencies (reconcile, start, stop) from the jobs' ones. */
export function opsDepsOf(deps: Deps): OpsDeps {
  return {
    db: deps.db,
    runtime: deps.runtime,
    log: deps.log,
    clock: { now: deps.now },
    reconcileTiming: deps.config.reconcileTiming,
  };
}

function errorText(error: unknown): string {
  if (error instanceof OrchestryError) return `${error.code}: ${error.message}`;
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** Takes the job's lease at `now`, or records a skipped run when another run holds it. */
async function claimRun(deps: Deps, job: JobName, now: Date): Promise<{ id: number; heldBy: number | null }> {
  const leaseStart = new Date(now.getTime() - JOB_LEASE_SECONDS[job] * 1000);
  return deps.db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${JOB_LOCK_NAMESPACE}::int, ${JOB_NAMES.indexOf(job)}::int)`);
    const [holder] = await tx
      .select({ id: jobRuns.id })
      .from(jobRuns)
      .where(and(eq(jobRuns.job, job), eq(jobRuns.outcome, 'running'), gt(jobRuns.startedAt, leaseStart)))
      .orderBy(desc(jobRuns.startedAt))
      .limit(1);
    if (holder) {
      const [skipped] = await tx
        .insert(jobRuns)
        .values({ job, startedAt: now, finishedAt: now, outcome: 'skipped', counts: { held_by_run: holder.id } })
        .returning({ id: jobRuns.id });
      return { id: skipped!.id, heldBy: holder.id };
    }
    const [mine] = await tx.insert(jobRuns).values({ job, startedAt: now, outcome: 'running' }).returning({ id: jobRuns.id });
    return { id: mine!.id, heldBy: null };
  });
}

/**
 * Runs `work` under the job's lease and records the run. A failure of `work` is recorded as
 * outcome 'failed' with its error and returned, not thrown: the next tick tries again.
 * Only a failure to record the run itself (the database is gone) throws.
 */
export async function runJob(
  deps: Deps,
  job: JobName,
  now: Date,
  work: (log: Logger) => Promise<JobCounts>,
): Promise<JobRunSummary> {
  const log = deps.log.child({ job });
  const claim = await claimRun(deps, job, now);
  if (claim.heldBy !== null) {
    log.info('job skipped: another run holds the lease', { run_id: claim.id, held_by_run: claim.heldBy });
    return {
      id: claim.id,
      job,
      outcome: 'skipped',
      counts: { held_by_run: claim.heldBy },
      error: null,
      startedAt: now,
      finishedAt: now,
      heldBy: claim.heldBy,
    };
  }
  const began = performance.now();
  let outcome: 'succeeded' | 'failed' = 'succeeded';
  let counts: JobCounts = {};
  let error: string | null = null;
  try {
    counts = await work(log.child({ run_id: claim.id }));
  } catch (e) {
    outcome = 'failed';
    error = errorText(e);
    log.error('job failed', { run_id: claim.id, error });
  }
  // On the run's own timeline: `now` may be a test's clock, and the duration is real.
  const finishedAt = new Date(now.getTime() + Math.round(performance.now() - began));
  await finishJobRun(deps.db, claim.id, { outcome, counts, error: error ?? undefined, at: finishedAt });
  if (outcome === 'succeeded') log.debug('job finished', { run_id: claim.id, counts, ms: finishedAt.getTime() - now.getTime() });
  return { id: claim.id, job, outcome, counts, error, startedAt: now, finishedAt, heldBy: null };
}

// ---------------------------------------------------------------------------
// Lambda
// ---------------------------------------------------------------------------

/** The part of the Lambda context the handlers use. */
export interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

export type JobRunner = (deps: Deps, now: Date) => Promise<JobRunSummary>;

let cachedDeps: Promise<Deps> | null = null;

/** The dependencies, built once per Lambda container and reused by its invocations. */
export function lambdaDeps(): Promise<Deps> {
  if (!cachedDeps) {
    cachedDeps = createDepsFromEnv().then((handle) => handle.deps);
    // A failed start (a secret not readable yet) must not poison every later invocation.
    cachedDeps.catch(() => {
      cachedDeps = null;
    });
  }
  return cachedDeps;
}

export interface LoopOptions {
  /** Time kept free at the end of the invocation, besides one period for the last run. */
  marginMs?: number | undefined;
  sleep?: ((ms: number) => Promise<void>) | undefined;
  clock?: (() => number) | undefined;
}

const DEFAULT_MARGIN_MS = 3000;
const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `tick` now, then at every period boundary (multiples of the period since the epoch,
 * so overlapping invocations tick together and the lease picks one), until the time left
 * would not hold the wait, one more period and the margin.
 */
export async function loopUntilTimeUp(
  tick: (now: Date) => Promise<JobRunSummary>,
  periodMs: number,
  context: LambdaContext,
  options: LoopOptions = {},
): Promise<JobRunSummary[]> {
  const margin = options.marginMs ?? DEFAULT_MARGIN_MS;
  const sleep = options.sleep ?? realSleep;
  const clock = options.clock ?? Date.now;
  const runs: JobRunSummary[] = [];
  for (;;) {
    runs.push(await tick(new Date(clock())));
    const wait = periodMs - (clock() % periodMs);
    if (context.getRemainingTimeInMillis() < wait + periodMs + margin) return runs;
    await sleep(wait);
  }
}

export interface HandlerResult {
  job: JobName;
  runs: number;
  outcomes: Partial<Record<Exclude<JobOutcome, 'running'>, number>>;
  errors: string[];
}

function summarize(job: JobName, runs: JobRunSummary[]): HandlerResult {
  const outcomes: HandlerResult['outcomes'] = {};
  for (const run of runs) outcomes[run.outcome] = (outcomes[run.outcome] ?? 0) + 1;
  return { job, runs: runs.length, outcomes, errors: runs.flatMap((r) => (r.error ? [r.error] : [])) };
}

/**
 * The Lambda handler of a job. With `periodSeconds`, one invocation (every minute) loops
 * at that period until its time is up; without, it runs once.
 */
export function scheduledHandler(
  job: JobName,
  run: JobRunner,
  periodSeconds?: (config: Deps['config']) => number,
): (event: unknown, context: LambdaContext) => Promise<HandlerResult> {
  return async (_event, context) => {
    const deps = await lambdaDeps();
    if (!periodSeconds) return summarize(job, [await run(deps, deps.now())]);
    const runs = await loopUntilTimeUp((now) => run(deps, now), periodSeconds(deps.config) * 1000, context);
    return summarize(job, runs);
  };
}

/** For the migrate Lambda: only the database (no runtime), from the environment and SST secrets. */
export async function databaseFromEnv(env: Record<string, string | undefined> = process.env) {
  const merged = { ...env, ...(await secretsFromSst(env)) };
  return createDb(dbConfigFromEnv(merged as NodeJS.ProcessEnv));
}
