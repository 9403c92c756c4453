/**
 * The scheduled jobs on timers, for the dev process (where there is no EventBridge): each
 * job's tick every period, never two ticks of one job at once in this process (the lease
 * covers other processes), the first tick right away.
 */
import type { JobName } from '../../db/schema.js';
import type { Deps } from '../deps.js';
import { tick as cleanupTick } from './cleanup.js';
import { tick as proberTick } from './health-prober.js';
import type { JobRunner } from './job.js';
import { tick as collectorTick } from './metric-collector.js';
import { tick as rollupTick } from './metric-rollup.js';
import { tick as scalerTick } from './scaler.js';

export const JOB_TICKS: Record<JobName, JobRunner> = {
  scaler: scalerTick,
  'health-prober': proberTick,
  'metric-collector': collectorTick,
  'metric-rollup': rollupTick,
  cleanup: cleanupTick,
};

/** Seconds between ticks on a laptop: quicker than the cloud's scaler and prober so that a demo reacts. */
export const LOCAL_JOB_PERIODS: Record<JobName, number> = {
  scaler: 5,
  'health-prober': 5,
  'metric-collector': 10,
  'metric-rollup': 60,
  cleanup: 3600,
};

export interface JobTimers {
  /** Stops scheduling and waits for the ticks in flight. */
  stop(): Promise<void>;
}

export function startJobTimers(deps: Deps, periods: Partial<Record<JobName, number>> = {}): JobTimers {
  const effective = { ...LOCAL_JOB_PERIODS, ...periods };
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();

  const schedule = (job: JobName, delayMs: number) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      const began = Date.now();
      const running = JOB_TICKS[job](deps, deps.now())
        .then((run) => {
          if (run.outcome === 'failed') deps.log.warn('job run failed', { job, error: run.error });
        })
        .catch((error: unknown) => deps.log.error('job run could not be recorded', { job, error }))
        .finally(() => {
          inFlight.delete(running);
          if (!stopped) schedule(job, Math.max(0, effective[job] * 1000 - (Date.now() - began)));
        });
      inFlight.add(running);
    }, delayMs);
    // Timers alone never keep the process alive: the server does.
    timer.unref();
    timers.add(timer);
  };

  for (const job of Object.keys(JOB_TICKS) as JobName[]) schedule(job, 0);
  return {
    async stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.allSettled([...inFlight]);
    },
  };
}
