/**
 * Scale to zero: whether an app with `minReplicas: 0` has been idle long enough to go to no
 * replicas at all, and, for explain, how long until it does or what keeps it up. Pure, like
 * decide() that calls it. docs/scale-to-zero.md explains the rule.
 *
 * Idle means no request answered and none in flight: the app totals `rps` and
 * `active_connections` (what the router or the ALB measures) both zero. Those two must be in
 * the window and fresh: an app whose traffic is not being measured may be busy, so missing or
 * stale data never takes it to zero (the router keeps reporting zeros for hours after the
 * last request, so a quiet app's window stays full).
 */

/** The two metrics that say whether anyone is using the app. */
export const TRAFFIC_METRICS = ['rps', 'active_connections'] as const;

/** What the scaler's read knows of an app's recent traffic (app totals, every replica summed). */
export interface TrafficHistory {
  /** The newest sample with a request or a connection in it, within the look-back; null: none. */
  lastBusyAt: Date | null;
  /**
   * The oldest traffic sample within the look-back (scaleToZeroAfterSeconds plus one window):
   * idleness is known only since measurements began, so a router that started a minute ago
   * cannot vouch for the five minutes before.
   */
  firstSampleAt: Date | null;
}

export interface ScaleToZeroStatus {
  afterSeconds: number;
  /** How long rps and in-flight have been zero, as far as the samples show; null: not idle. */
  idleSeconds: number | null;
  /** Seconds until the app goes to zero if it stays idle; 0: now; null: it will not (see blockedBy). */
  secondsLeft: number | null;
  /** Why it does not go to zero now; null when it does. */
  blockedBy: string | null;
}

export interface ZeroInputs {
  afterSeconds: number;
  /** Fresh samples of each traffic metric: its highest value in the window, or null (missing or stale). */
  traffic: Record<(typeof TRAFFIC_METRICS)[number], number | null>;
  /** Metrics whose samples are stale (any one of them blocks, as it blocks a scale-in). */
  staleMetrics: readonly string[];
  current: number;
  ready: number;
  starting: number;
  /** The last change of the desired count: a wake counts as traffic, so the idle time starts there. */
  lastScaledAt: Date | null;
  history: TrafficHistory | undefined;
  now: Date;
}

/** The verdict on going to zero, for an app whose minimum is 0 and that has replicas. */
export function scaleToZeroStatus(input: ZeroInputs): ScaleToZeroStatus {
  const { afterSeconds, now } = input;
  const status = (idleSeconds: number | null, secondsLeft: number | null, blockedBy: string | null): ScaleToZeroStatus => ({
    afterSeconds,
    idleSeconds,
    secondsLeft,
    blockedBy,
  });
  const missing = TRAFFIC_METRICS.filter((m) => input.traffic[m] === null);
  if (missing.length) return status(null, null, `${missing.join(' and ')} missing or stale: traffic unknown, never to zero`);
  const busy = TRAFFIC_METRICS.filter((m) => (input.traffic[m] as number) > 0);
  if (busy.length) return status(null, null, `${busy.map((m) => `${m} ${input.traffic[m]}`).join(', ')} in the window: not idle`);
  if (input.staleMetrics.length) return status(null, null, `${input.staleMetrics.join(', ')} stale: no scale to zero on partial data`);
  if (input.starting > 0 || input.ready < input.current) return status(null, null, 'replicas are still starting');
  const since = [input.history?.lastBusyAt, input.history?.firstSampleAt, input.lastScaledAt]
    .filter((d): d is Date => d instanceof Date && Number.isFinite(d.getTime()))
    .map((d) => d.getTime());
  if (!input.history?.firstSampleAt) return status(null, null, 'no traffic history yet');
  const idleSeconds = Math.max(0, Math.floor((now.getTime() - Math.max(...since)) / 1000));
  const secondsLeft = Math.max(0, afterSeconds - idleSeconds);
  return status(idleSeconds, secondsLeft, secondsLeft > 0 ? `idle for ${idleSeconds}s of ${afterSeconds}s` : null);
}
