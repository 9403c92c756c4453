/** Job runs: one row per run of a scheduled job, for GET /jobs and /health. */
import { asc, desc, eq } from 'drizzle-orm';
import type { Database } from '../client.js';
import { withDbErrors } from '../errors.js';
import { jobRuns, type JobName, type JobOutcome, type JobRun } from '../schema.js';

export async function startJobRun(db: Database, job: JobName, at: Date = new Date()): Promise<JobRun> {
  return withDbErrors(async () => {
    const [row] = await db.insert(jobRuns).values({ job, startedAt: at, outcome: 'running' }).returning();
    return row!;
  });
}

export interface JobRunResult {
  outcome: Exclude<JobOutcome, 'running'>;
  counts?: Record<string, number> | undefined;
  error?: string | undefined;
  at?: Date | undefined;
}

/** Records how a run ended; null when there is no such run. */
export async function finishJobRun(db: Database, id: number, result: JobRunResult): Promise<JobRun | null> {
  return withDbErrors(async () => {
    const [row] = await db
      .update(jobRuns)
      .set({
        outcome: result.outcome,
        counts: result.counts ?? null,
        error: result.error ?? null,
        finishedAt: result.at ?? new Date(),
      })
      .where(eq(jobRuns.id, id))
      .returning();
    return row ?? null;
  });
}

/** The latest run of each job that has run, by job name. */
export async function lastRuns(db: Database): Promise<JobRun[]> {
  return db
    .selectDistinctOn([jobRuns.job])
    .from(jobRuns)
    .orderBy(asc(jobRuns.job), desc(jobRuns.startedAt), desc(jobRuns.id));
}
