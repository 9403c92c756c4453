/**
 * What the operations on apps need: the database, the container runtime, a clock and a
 * logger. `functions/deps.ts` builds the real ones; tests pass a fake runtime and a clock
 * they move by hand, which is how drains and retry back-offs are tested without waiting.
 */
import type { Db } from '../../db/client.js';
import type { Logger } from '../log.js';
import type { ContainerRuntime } from '../runtime/types.js';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** The reconciler's timings, in seconds. */
export interface ReconcileTiming {
  /** A replica whose start failed is tried again no sooner than this after the failure. */
  startRetrySeconds: number;
  /**
   * A start recorded as intended but never answered (its process died between the intent
   * and the runtime's answer) is taken over by another reconciler after this long. Until
   * then it is assumed to be in flight elsewhere.
   */
  startClaimTimeoutSeconds: number;
  /** Likewise for a stop: it is re-issued after the stop grace period plus this margin. */
  stopMarginSeconds: number;
  /** How soon to look again when waiting on something with no deadline (a health probe, a task provisioning). */
  pollSeconds: number;
}

export const DEFAULT_RECONCILE_TIMING: ReconcileTiming = {
  startRetrySeconds: 10,
  startClaimTimeoutSeconds: 60,
  stopMarginSeconds: 30,
  pollSeconds: 2,
};

export interface OpsDeps {
  db: Db;
  runtime: ContainerRuntime;
  clock: Clock;
  log: Logger;
  /** Overrides of DEFAULT_RECONCILE_TIMING (dev and tests shorten them). */
  reconcileTiming?: Partial<ReconcileTiming> | undefined;
}

/**
 * The effective timings. Each is at least one second: a zero back-off would let one
 * reconcile call retry a failing start in a tight loop.
 */
export function reconcileTiming(deps: Pick<OpsDeps, 'reconcileTiming'>): ReconcileTiming {
  const merged = { ...DEFAULT_RECONCILE_TIMING, ...deps.reconcileTiming };
  return {
    startRetrySeconds: Math.max(1, merged.startRetrySeconds),
    startClaimTimeoutSeconds: Math.max(1, merged.startClaimTimeoutSeconds),
    stopMarginSeconds: Math.max(1, merged.stopMarginSeconds),
    pollSeconds: Math.max(1, merged.pollSeconds),
  };
}
