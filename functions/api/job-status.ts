/** The last run of each scheduled job, judged against its period (shared by GET /jobs and GET /health). */
import { lastRuns } from '../../db/queries/job-runs.js';
import { JOB_NAMES, type JobName } from '../../db/schema.js';
import type { Database } from '../../db/client.js';
import type { OrchestryConfig } from '../deps.js';

/** Scheduled Lambdas start at minute boundaries, so a sub-minute job may look a minute old. */
const MIN_STALE_SECONDS = 180;

export function jobPeriodSeconds(job: JobName, config: OrchestryConfig): number {
  switch (job) {
    case 'scaler':
      return config.jobs.scalerPeriodSeconds;
    case 'health-prober':
      return config.jobs.proberPeriodSeconds;
    case 'metric-rollup':
      return config.jobs.rollupPeriodSeconds;
    case 'cleanup':
      return config.jobs.cleanupPeriodSeconds;
    case 'metric-collector':
      return config.jobs.collectorPeriodSeconds;
  }
}

export interface JobStatus {
  job: JobName;
  period_seconds: number;
  /** ok: ran recently and did not fail; failed: the last run failed; stale: no run for three periods; never: no run yet. */
  state: 'ok' | 'failed' | 'stale' | 'never';
  last_run: {
    id: number;
    outcome: string;
    started_at: string;
    finished_at: string | null;
    counts: Record<string, number> | null;
    error: string | null;
    age_seconds: number;
  } | null;
}

export async function jobStatuses(db: Database, config: OrchestryConfig, now: Date): Promise<JobStatus[]> {
  const runs = new Map((await lastRuns(db)).map((r) => [r.job, r]));
  return JOB_NAMES.map((job) => {
    const period = jobPeriodSeconds(job, config);
    const run = runs.get(job);
    if (!run) return { job, period_seconds: period, state: 'never', last_run: null };
    const age = Math.max(0, (now.getTime() - run.startedAt.getTime()) / 1000);
    const state = age > Math.max(3 * period, MIN_STALE_SECONDS) ? 'stale' : run.outcome === 'failed' ? 'failed' : 'ok';
    return {
      job,
      period_seconds: period,
      state,
      last_run: {
        id: run.id,
        outcome: run.outcome,
        started_at: run.startedAt.toISOString(),
        finished_at: run.finishedAt ? run.finishedAt.toISOString() : null,
        counts: run.counts ?? null,
        error: run.error,
        age_seconds: Math.round(age),
      },
    };
  });
}
