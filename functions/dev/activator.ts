/**
 * The local router's activator (router/hold.ts): wakes an app at zero with the shared wake
 * operation, then brings its first replica to ready now instead of at the next reconcile and
 * prober ticks, and hands the router its targets.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { opsDeps, type Deps } from '../deps.js';
import { probeWaking } from '../jobs/health-prober.js';
import { reconcile } from '../ops/reconcile.js';
import { recordWakeReady, wakeApp } from '../ops/wake.js';
import type { Activate } from '../router/hold.js';
import { routerTargets } from './router-wiring.js';

/** Between two looks at a waking replica: a container starts in a few hundred milliseconds. */
export const ACTIVATION_POLL_MS = 100;

export function localActivator(deps: Deps, pollMs = ACTIVATION_POLL_MS): Activate {
  const ops = opsDeps(deps);
  return async (app, signal) => {
    const wake = await wakeApp(ops, app, 'router');
    if (wake.woken) deps.log.info('app woken from zero by a request', { component: 'router', app });
    if (!wake.coming) return [];
    while (!signal.aborted) {
      const targets = await routerTargets(deps.db, app);
      if (targets.length > 0) {
        if (wake.woken_at) await recordWakeReady(ops, app, wake.woken_at, deps.now());
        return targets;
      }
      // A start the runtime answered "starting" becomes "running" on a reconcile.
      await reconcile(ops, app);
      if ((await probeWaking(deps, app)) > 0) continue;
      await sleep(pollMs, undefined, { signal }).catch(() => {});
    }
    return [];
  };
}
