/**
 * The API's Lambda handler (API Gateway HTTP API, payload 2.0). The dependencies are built on
 * the first invocation of a container and reused by the next ones; importing this does no I/O.
 */
import type { Hono } from 'hono';
import { handle } from 'hono/aws-lambda';
import { createDepsFromEnv, type Deps } from '../deps.js';
import { createApp } from './app.js';
import type { AppEnv } from './context.js';

type Handler = ReturnType<typeof handle<AppEnv>>;

/** A handler over deps built once by `makeDeps` (a failure is retried on the next invocation). */
export function createLambdaHandler(makeDeps: () => Promise<Deps>): Handler {
  let ready: Promise<Handler> | null = null;
  const handler = async (...args: Parameters<Handler>) => {
    if (!ready) {
      ready = makeDeps().then((deps) => handle(createApp(deps) as unknown as Hono<AppEnv>));
      ready.catch(() => {
        ready = null;
      });
    }
    return (await ready)(...args);
  };
  return handler as Handler;
}

export const handler = createLambdaHandler(async () => (await createDepsFromEnv()).deps);
