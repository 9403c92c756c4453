/**
 * Progress while `--wait` waits: the request that waits runs while the app is polled
 * (GET /apps/{name}) to show how many replicas are ready, on a spinner or as progress lines.
 */
import { seg, type ApiClient } from './api.js';
import type { AppDetail, NotReady } from './types.js';
import { progress } from './ui.js';

const PROGRESS_POLL_MS = 1000;

interface Readiness {
  desired: number;
  ready: number;
  /** Replicas that exist and are not stopped, of any revision (more than desired while scaling in or rolling out). */
  present: number;
}

/** Ready = runs the app's current revision and is healthy (or the app has no health checks). */
function readinessOf(app: AppDetail): Readiness {
  const desired = app.replicas.desired;
  const present = app.containers.filter((container) => container.status !== 'stopped');
  const ready = present.filter(
    (container) =>
      container.status === 'running' &&
      container.revision === app.revision &&
      (app.health_checks_enabled === false || container.health === 'healthy'),
  ).length;
  return { desired, ready, present: present.length };
}

function describeReadiness(name: string, state: Readiness): string {
  const extra = state.present > state.desired ? `, ${state.present - state.desired} still stopping` : '';
  return `${name}: ${state.ready}/${state.desired} replicas ready${extra}`;
}

export function describeNotReady(notReady: readonly NotReady[]): string {
  return notReady
    .map((replica) => `#${replica.replica_index} ${replica.status}${replica.health && replica.status !== 'missing' ? `/${replica.health}` : ''}`)
    .join(', ');
}

/** A pause that ends early when `cancel` is called. */
function pause(ms: number): { done: Promise<void>; cancel(): void } {
  let cancel = () => {};
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    cancel = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  return { done, cancel };
}

/** Runs `call` with a spinner whose text follows the app's readiness until `call` settles. */
export async function withReadinessProgress<T>(client: ApiClient, name: string, verb: string, call: () => Promise<T>): Promise<T> {
  const shown = await progress(`${verb} ${name}`);
  let finished = false;
  let current = pause(0);
  const watch = (async () => {
    while (!finished) {
      try {
        const app = await client.get<AppDetail>(`/apps/${seg(name)}`);
        const state = readinessOf(app);
        // Nothing desired and nothing there: the request has not been applied yet.
        if (!finished && (state.desired > 0 || state.present > 0)) shown.update(`${verb} ${describeReadiness(name, state)}`);
      } catch {
        // Progress is a courtesy: the waiting request reports what went wrong.
      }
      if (finished) break;
      current = pause(PROGRESS_POLL_MS);
      await current.done;
    }
  })();
  try {
    return await call();
  } finally {
    finished = true;
    current.cancel();
    await watch;
    shown.stop();
  }
}
