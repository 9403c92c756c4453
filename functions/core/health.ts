/**
 * The health state of one replica as a pure function of its last state and one probe result,
 * and when a replica is next due for a probe.
 */

export type Health = 'unknown' | 'starting' | 'healthy' | 'unhealthy';

export interface HealthState {
  health: Health;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
}

export interface HealthThresholds {
  failureThreshold: number;
  successThreshold: number;
}

/**
 * One probe moves the counters; the state flips only when a threshold is reached: to healthy
 * after `successThreshold` successes in a row, to unhealthy after `failureThreshold` failures in
 * a row. A healthy replica stays healthy through fewer failures, a starting one stays starting.
 */
export function nextHealth(
  current: HealthState,
  probe: { ok: boolean },
  thresholds: HealthThresholds,
): HealthState & { changed: boolean } {
  const consecutiveSuccesses = probe.ok ? current.consecutiveSuccesses + 1 : 0;
  const consecutiveFailures = probe.ok ? 0 : current.consecutiveFailures + 1;
  let health = current.health;
  if (probe.ok && consecutiveSuccesses >= thresholds.successThreshold) health = 'healthy';
  if (!probe.ok && consecutiveFailures >= thresholds.failureThreshold) health = 'unhealthy';
  return { health, consecutiveFailures, consecutiveSuccesses, changed: health !== current.health };
}

export interface ProbeSchedule {
  initialDelaySeconds: number;
  periodSeconds: number;
  enabled?: boolean | null | undefined;
}

export interface ProbedInstance {
  startedAt: Date | null;
  lastHealthCheck: Date | null;
}

/**
 * When the replica's next probe is due: not before `initialDelaySeconds` after it started, then
 * every `periodSeconds` after the last probe. Null when it is never due (checks disabled, or the
 * replica has not started).
 */
export function nextProbeAt(instance: ProbedInstance, check: ProbeSchedule): Date | null {
  if (check.enabled === false || instance.startedAt === null) return null;
  const firstAllowed = instance.startedAt.getTime() + check.initialDelaySeconds * 1000;
  const afterLast = instance.lastHealthCheck === null ? -Infinity : instance.lastHealthCheck.getTime() + check.periodSeconds * 1000;
  return new Date(Math.max(firstAllowed, afterLast));
}

/**
 * Is a probe due now? The prober ticks on its own period and stamps `last_health_check` a
 * little after the tick began, so a replica probed every tick would be a few milliseconds short
 * of due on the next one and skip a whole period. A tenth of the period (at most a second) of
 * slack keeps the probes on the period the spec asks for.
 */
export function isProbeDue(instance: ProbedInstance, check: ProbeSchedule, now: Date): boolean {
  const due = nextProbeAt(instance, check);
  if (due === null) return false;
  const startDelay = instance.startedAt!.getTime() + check.initialDelaySeconds * 1000;
  if (now.getTime() < startDelay) return false;
  const slack = Math.min(1000, check.periodSeconds * 100);
  return now.getTime() >= due.getTime() - slack;
}
