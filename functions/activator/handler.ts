/**
 * The activator Lambda: the target of the ALB listener rule of every app at zero (the ECS
 * runtime points the rule here when the scaler takes the app to zero). It runs the same wake
 * as the local router (ops/wake.ts), waits within its own time budget for a replica the ALB
 * finds healthy in the app's target group, points the rule back at that group, and sends the
 * request to the replica once (the function runs in the VPC and reaches task IPs). No replica
 * in time: 503 with Retry-After, and the request was not sent. docs/scale-to-zero.md.
 */
import type { ALBEvent, ALBResult, Context } from 'aws-lambda';
import { setTimeout as sleep } from 'node:timers/promises';
import { createDepsFromEnv, opsDeps, type Deps } from '../deps.js';
import { isOrchestryError } from '../core/errors.js';
import { recordWakeReady, wakeApp } from '../ops/wake.js';
import { appOf, errorResult, forwardedHeaders, requestOf, resultOf } from './alb.js';

/** Kept free of the budget: the proxied request and the answer need time too. */
export const ANSWER_RESERVE_MS = 5_000;
export const POLL_MS = 1_000;
const RETRY_AFTER_SECONDS = '10';

export interface ActivatorOptions {
  pollMs?: number | undefined;
  reserveMs?: number | undefined;
}

export function createActivator(deps: Deps, options: ActivatorOptions = {}) {
  const ops = opsDeps(deps);
  const pollMs = options.pollMs ?? POLL_MS;
  const reserveMs = options.reserveMs ?? ANSWER_RESERVE_MS;
  const log = deps.log.child({ component: 'activator' });
  return async (event: ALBEvent, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<ALBResult> => {
    const request = requestOf(event);
    const app = appOf(request);
    if (!app) return errorResult(404, 'APP_NOT_FOUND', 'The request names no app in its Host', { host: null });
    let wake;
    try {
      wake = await wakeApp(ops, app, 'activator');
    } catch (error) {
      if (isOrchestryError(error) && error.code === 'APP_NOT_FOUND') return errorResult(404, 'APP_NOT_FOUND', error.message, { app_name: app });
      throw error;
    }
    if (wake.woken) log.info('app woken from zero by a request', { app });
    if (!wake.coming) {
      return errorResult(503, 'RUNTIME_UNAVAILABLE', `App '${app}' is ${wake.status}: start it to serve requests`, { app_name: app, status: wake.status }, { 'retry-after': RETRY_AFTER_SECONDS });
    }
    const started = Date.now();
    for (;;) {
      const address = await deps.runtime.readyAddress?.(app);
      if (address) {
        if (wake.woken_at) await recordWakeReady(ops, app, wake.woken_at, deps.now());
        // The next requests go straight to the replicas, not through here.
        await deps.runtime.routeTrafficTo?.(app, 'replicas');
        const timeoutMs = Math.max(1_000, context.getRemainingTimeInMillis() - 500);
        const response = await fetch(`http://${address.ip}:${address.port}${request.path}`, {
          method: request.method,
          headers: forwardedHeaders(request),
          ...(request.body ? { body: request.body } : {}),
          redirect: 'manual',
          signal: AbortSignal.timeout(timeoutMs),
        });
        return resultOf(response);
      }
      if (context.getRemainingTimeInMillis() - pollMs < reserveMs) break;
      await sleep(pollMs);
    }
    log.warn('no replica ready within the budget; answered 503', { app, waited_ms: Date.now() - started });
    return errorResult(
      503,
      'RUNTIME_UNAVAILABLE',
      `App '${app}' is waking up from zero and had no replica ready in time; try again shortly`,
      { app_name: app, reason: 'hold_timeout', waited_ms: Date.now() - started },
      { 'retry-after': RETRY_AFTER_SECONDS },
    );
  };
}

let ready: Promise<ReturnType<typeof createActivator>> | null = null;

export async function handler(event: ALBEvent, context: Context): Promise<ALBResult> {
  if (!ready) {
    ready = createDepsFromEnv().then(({ deps }) => createActivator(deps));
    ready.catch(() => {
      ready = null;
    });
  }
  return (await ready)(event, context);
}
