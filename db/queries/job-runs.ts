/** Job runs: one row per run of a scheduled job, for GET /jobs and /health. */
import { and, asc, desc, eq, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../client.js';
import { withDbErrors } from '../errors.js';
import { jobRuns, type JobName, type JobOutcome, type JobRun } from '../schema.js';
import { checkLimit, pageOf, type Page, type PageRequest } from './page.js';

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

export interface JobRunFilters {
  job?: JobName | undefined;
  outcome?: JobOutcome | undefined;
}

/** When a run started, as text with microseconds (see EventKey), and its id. */
export type JobRunKey = [startedAt: string, id: number];

/** Runs newest first, a page at a time (by job: idx_job_runs_job_started). */
export async function listJobRuns(db: Database, filters: JobRunFilters, page: PageRequest<JobRunKey>): Promise<Page<JobRun, JobRunKey>> {
  checkLimit(page.limit);
  const conditions: SQL[] = [];
  if (filters.job !== undefined) conditions.push(eq(jobRuns.job, filters.job));
  if (filters.outcome !== undefined) conditions.push(eq(jobRuns.outcome, filters.outcome));
  if (page.after !== undefined) {
    const [startedAt, id] = page.after;
    conditions.push(sql`(${jobRuns.startedAt}, ${jobRuns.id}) < (${startedAt}::timestamptz, ${id}::bigint)`);
  }
  const rows = await db
    .select({
      run: jobRuns,
      position: sql<string>`to_char(${jobRuns.startedAt} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    })
    .from(jobRuns)
    .where(and(...conditions))
    .orderBy(desc(jobRuns.startedAt), desc(jobRuns.id))
    .limit(page.limit + 1);
  const { items, next } = pageOf(rows, page.limit, (r): JobRunKey => [r.position, r.run.id]);
  return { items: items.map((r) => r.run), next };
}
