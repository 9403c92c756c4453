/**
 * Per-app traffic measurement over one flush interval: what the scaler reads as the app's
 * rps, latency percentiles, open connections and error rate.
 */

/** What the router reports for one app every flush interval. */
export interface RouterMetricsSample {
  /** End of the interval. */
  at: Date;
  /** Length of the interval the numbers cover (the last flush until `at`). */
  interval_ms: number;
  /** Requests that ended in the interval: answered, failed, or abandoned by the client. */
  requests: number;
  /** Requests answered with a 5xx by the replica or by the router (502, 503, 504), or cut off mid-response. */
  errors: number;
  /** requests / interval in seconds. */
  rps: number;
  /**
   * Milliseconds from the request's arrival to the end of the replica's response, over the
   * requests a replica answered in the interval; null when none was answered (no data is
   * not "fast").
   */
  latency_p50: number | null;
  latency_p95: number | null;
  latency_p99: number | null;
  /** Requests in flight to the app's replicas at `at`. */
  active_connections: number;
  /** The most requests in flight at once during the interval. */
  max_active_connections: number;
  /** errors / requests, a fraction from 0 to 1 (0 when there were no requests). */
  error_rate: number;
}

export interface Outcome {
  /** Set when a replica answered in full; the time counted into the percentiles. */
  latencyMs?: number | undefined;
  error: boolean;
}

/** Nearest-rank percentile of ascending `sorted` (p in 0..100): a value that was recorded. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

export class AppMeter {
  requests = 0;
  errors = 0;
  requestsTotal = 0;
  errorsTotal = 0;
  active = 0;
  maxActive = 0;
  /** Whether the last flush reported this app: it owes one zero sample when traffic stops. */
  reportedLastFlush = false;
  /** When a flush last found traffic (ms since the epoch); zero samples follow it for a while. */
  lastBusyAt: number | null = null;
  // A uniform reservoir (Algorithm R) keeps memory bounded under any load; below its size
  // the percentiles are exact.
  private latencies: number[] = [];
  private latenciesSeen = 0;

  constructor(
    private readonly reservoirSize: number,
    private readonly random: () => number = Math.random,
  ) {}

  opened(): void {
    this.active += 1;
    if (this.active > this.maxActive) this.maxActive = this.active;
  }

  closed(): void {
    this.active -= 1;
  }

  record(outcome: Outcome): void {
    this.requests += 1;
    this.requestsTotal += 1;
    if (outcome.error) {
      this.errors += 1;
      this.errorsTotal += 1;
    }
    if (outcome.latencyMs !== undefined) this.addLatency(Math.max(0, outcome.latencyMs));
  }

  /** Whether this interval has anything to say: traffic ended in it, or some is still open. */
  get busy(): boolean {
    return this.requests > 0 || this.active > 0;
  }

  /** The interval's sample; starts the next interval. */
  take(at: Date, intervalMs: number): RouterMetricsSample {
    const sorted = this.latencies.sort((a, b) => a - b);
    const pct = (p: number) => {
      const value = percentile(sorted, p);
      return value === null ? null : round2(value);
    };
    const sample: RouterMetricsSample = {
      at,
      interval_ms: intervalMs,
      requests: this.requests,
      errors: this.errors,
      rps: round2(this.requests / (Math.max(intervalMs, 1) / 1000)),
      latency_p50: pct(50),
      latency_p95: pct(95),
      latency_p99: pct(99),
      active_connections: this.active,
      max_active_connections: this.maxActive,
      error_rate: this.requests === 0 ? 0 : this.errors / this.requests,
    };
    this.requests = 0;
    this.errors = 0;
    this.maxActive = this.active;
    this.latencies = [];
    this.latenciesSeen = 0;
    return sample;
  }

  private addLatency(ms: number): void {
    this.latenciesSeen += 1;
    if (this.latencies.length < this.reservoirSize) {
      this.latencies.push(ms);
      return;
    }
    const slot = Math.floor(this.random() * this.latenciesSeen);
    if (slot < this.reservoirSize) this.latencies[slot] = ms;
  }
}
