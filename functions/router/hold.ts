/**
 * The router as activator: requests for an app with no replica ready (at zero, or one still
 * starting) wait here in a bounded per-app queue while the app is woken, and go on, in the
 * order they came, as soon as a replica is ready (docs/scale-to-zero.md). One activation per
 * app at a time, however many requests wait on it: a burst at zero is one wake, not fifty.
 *
 * Nothing here sends a request: the router forwards each released request once, as any other.
 * A request that cannot wait (queue full, hold time over, nothing coming up) is answered by
 * the router with 503 and Retry-After and was never forwarded.
 */
import type { Target } from './balancer.js';

/**
 * Wakes `app` and resolves with its ready targets once there is one; [] when no replica is
 * coming (a stopped app) or the signal aborted (the hold time is over).
 */
export type Activate = (app: string, signal: AbortSignal) => Promise<Target[]>;

export type HoldOutcome =
  | { kind: 'ready'; targets: Target[] }
  /** The app's queue already holds `queueSize` requests. */
  | { kind: 'full'; queueSize: number }
  /** No replica was ready within the hold time. */
  | { kind: 'timeout'; waitedMs: number }
  /** Nothing is coming up (the app is stopped, or the wake failed). */
  | { kind: 'none'; error?: unknown }
  /** The client went away while held. */
  | { kind: 'gone' };

interface Activation {
  result: Promise<Target[] | { error: unknown }>;
  waiting: number;
}

export class Holds {
  private readonly activations = new Map<string, Activation>();

  constructor(
    private readonly activate: Activate,
    readonly queueSize: number,
    readonly timeoutMs: number,
  ) {}

  /** Requests held for `app` now. */
  waiting(app: string): number {
    return this.activations.get(app)?.waiting ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.activations].filter(([, a]) => a.waiting > 0).map(([app, a]) => [app, a.waiting]));
  }

  /** Holds one request until the app has a ready replica, its hold time ends or `gone` settles. */
  async hold(app: string, gone: Promise<void>): Promise<HoldOutcome> {
    let activation = this.activations.get(app);
    if (activation && activation.waiting >= this.queueSize) return { kind: 'full', queueSize: this.queueSize };
    activation ??= this.start(app);
    activation.waiting++;
    const startedAt = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.timeoutMs);
    });
    try {
      // Every waiter subscribes to the one result in arrival order, so they are released in it.
      const outcome = await Promise.race([activation.result, timedOut, gone.then(() => 'gone' as const)]);
      if (outcome === 'gone') return { kind: 'gone' };
      if (outcome === 'timeout') return { kind: 'timeout', waitedMs: Math.round(performance.now() - startedAt) };
      if (!Array.isArray(outcome)) return { kind: 'none', error: outcome.error };
      if (outcome.length === 0) {
        const waitedMs = Math.round(performance.now() - startedAt);
        return waitedMs >= this.timeoutMs ? { kind: 'timeout', waitedMs } : { kind: 'none' };
      }
      return { kind: 'ready', targets: outcome };
    } finally {
      clearTimeout(timer);
      activation.waiting--;
    }
  }

  private start(app: string): Activation {
    const controller = new AbortController();
    const deadline = setTimeout(() => controller.abort(), this.timeoutMs);
    const activation: Activation = {
      waiting: 0,
      result: Promise.resolve()
        .then(() => this.activate(app, controller.signal))
        .catch((error: unknown) => ({ error }))
        .finally(() => {
          clearTimeout(deadline);
          // The next request after this one settles starts afresh (a new wake if need be).
          if (this.activations.get(app) === activation) this.activations.delete(app);
        }),
    };
    this.activations.set(app, activation);
    return activation;
  }
}
