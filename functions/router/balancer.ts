/** A replica the router may send requests to: the app's published port on loopback locally. */
export interface Target {
  /** Unique across apps (the instance id); in-flight counts are kept per id. */
  id: string;
  host: string;
  port: number;
}

/**
 * Least connections with round-robin among ties. In-flight requests are counted per target
 * id, so the count survives a refresh of an app's target list and is shared by retries.
 * Ties rotate from a per-app cursor: an app whose replicas are all idle (every request
 * finished before the next began) still spreads its load instead of always hitting the first.
 */
export class Balancer {
  private readonly inFlight = new Map<string, number>();
  private readonly cursors = new Map<string, number>();

  activeOn(targetId: string): number {
    return this.inFlight.get(targetId) ?? 0;
  }

  acquire(targetId: string): void {
    this.inFlight.set(targetId, this.activeOn(targetId) + 1);
  }

  release(targetId: string): void {
    const left = this.activeOn(targetId) - 1;
    if (left > 0) this.inFlight.set(targetId, left);
    else this.inFlight.delete(targetId);
  }

  /**
   * The target with the fewest requests in flight, skipping `avoid` unless nothing else is
   * left (a retry goes to another replica when there is one, else to the same one again).
   * Only first attempts move the round-robin cursor, so retries do not skew the rotation.
   */
  pick(app: string, targets: readonly Target[], avoid: ReadonlySet<string> = new Set()): Target | undefined {
    if (targets.length === 0) return undefined;
    const skipAvoided = targets.some((t) => !avoid.has(t.id));
    const start = (this.cursors.get(app) ?? 0) % targets.length;
    if (avoid.size === 0) this.cursors.set(app, (start + 1) % targets.length);
    let best: Target | undefined;
    let bestActive = Infinity;
    for (let i = 0; i < targets.length; i++) {
      const candidate = targets[(start + i) % targets.length]!;
      if (skipAvoided && avoid.has(candidate.id)) continue;
      const active = this.activeOn(candidate.id);
      if (active < bestActive) {
        best = candidate;
        bestActive = active;
      }
    }
    return best;
  }

  /** Drops an app's rotation (the app is gone, or quiet long enough to start over). */
  forget(app: string): void {
    this.cursors.delete(app);
  }

  /** How many apps have a rotation: bounded by the apps that exist and had traffic. */
  get appsTracked(): number {
    return this.cursors.size;
  }

  /** In-flight requests per target id; targets with none are absent. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.inFlight);
  }
}
