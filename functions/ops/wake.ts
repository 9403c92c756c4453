/**
 * The wake from zero: the one operation the local router and the activator Lambda both run
 * when a request arrives for an app the scaler took to zero (docs/scale-to-zero.md).
 *
 * Under the app's row lock, an app at `scaled_to_zero` goes to one desired replica (status
 * `starting`, a `scaling` event with reason `activated`) and the reconciler runs now rather
 * than at the next tick. Any other app is left as it is, so two wakes at once, or a wake of an
 * app already woken, change nothing: the second waits for the lock and finds it starting.
 * last_scaled_at moves too, so the wake counts as traffic and the idle time starts again.
 */
import { and, eq, isNull } from 'drizzle-orm';
import { lockApp, updateApp } from '../../db/queries/applications.js';
import { appendEvent } from '../../db/queries/events.js';
import { applications, type AppStatus } from '../../db/schema.js';
import { withDbErrors } from '../../db/errors.js';
import { appNotFound } from '../core/errors.js';
import type { OpsDeps } from './deps.js';
import { reconcile } from './reconcile.js';

/** Statuses of an app whose replicas are on their way: a request for it is worth holding. */
const COMING_UP: readonly AppStatus[] = ['starting', 'updating', 'running'];

export interface WakeAnswer {
  app_name: string;
  /** This call took the app from zero (false: it was not at zero, e.g. another wake did it). */
  woken: boolean;
  /** The app is up or on its way up: a replica can be waited for. False: stopped, registered, error. */
  coming: boolean;
  status: AppStatus;
  /** When the app was last woken (this wake or an earlier one). */
  woken_at: Date | null;
}

export async function wakeApp(deps: OpsDeps, name: string, source: string): Promise<WakeAnswer> {
  const decided = await deps.db.transaction(async (tx) => {
    const app = await lockApp(tx, name);
    if (!app) throw appNotFound(name);
    if (app.status !== 'scaled_to_zero') return { woken: false, status: app.status, wokenAt: app.lastWokenAt ?? null };
    const at = deps.clock.now();
    await updateApp(tx, name, { desiredReplicas: 1, status: 'starting', lastScaledAt: at, lastWokenAt: at, lastWakeSeconds: null });
    await appendEvent(tx, {
      eventType: 'scaling',
      eventCategory: 'application',
      appName: name,
      message: `Scaling ${name} from 0 to 1 replica (activated): a request arrived while it was at zero`,
      details: { from: 0, to: 1, reason: 'activated', applied: true, woken_by: source },
      severity: 'info',
      source,
    });
    return { woken: true, status: 'starting' as AppStatus, wokenAt: at };
  });
  if (decided.woken) {
    const result = await reconcile(deps, name);
    for (const error of result.errors) deps.log.warn('wake: the reconciler met a runtime failure', { app: name, error });
  }
  return {
    app_name: name,
    woken: decided.woken,
    coming: decided.woken || COMING_UP.includes(decided.status),
    status: decided.status,
    woken_at: decided.wokenAt,
  };
}

/**
 * Records how long the wake that began at `wokenAt` took to a replica ready to serve: once
 * (the first caller to see it ready wins) and only for that wake (a later one has its own).
 */
export async function recordWakeReady(deps: OpsDeps, name: string, wokenAt: Date, readyAt: Date): Promise<void> {
  const seconds = Math.max(0, (readyAt.getTime() - wokenAt.getTime()) / 1000);
  await withDbErrors(() =>
    deps.db.$primary
      .update(applications)
      .set({ lastWakeSeconds: seconds })
      .where(and(eq(applications.name, name), eq(applications.lastWokenAt, wokenAt), isNull(applications.lastWakeSeconds)))
      .execute(),
  );
}
