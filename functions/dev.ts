/**
 * `npm run dev` (node --import tsx functions/dev.ts): the API, the router and the scheduled
 * jobs in one process. docs/dev.md describes it; functions/dev/server.ts does the work.
 *
 * Run under node with tsx's loader rather than the tsx command: the tsx command runs the
 * program in a child process and, when the child does not confirm a relayed SIGTERM within
 * 30 ms (a busy machine), SIGKILLs it, which would skip the clean shutdown below.
 */
import { isOrchestryError } from './core/errors.js';
import { startDevServer, type DevServer } from './dev/server.js';

/**
 * One Ctrl-C reaches this process more than once: from the terminal (the whole process
 * group) and forwarded by npm. Repeats this close together are the same request.
 */
const REPEAT_SIGNAL_MS = 1000;

function fail(error: unknown): never {
  const message = isOrchestryError(error) || error instanceof Error ? error.message : String(error);
  process.stderr.write(`orchestry dev: ${message}\n`);
  process.exit(1);
}

let server: DevServer | undefined;
let stopRequested: { signal: NodeJS.Signals; at: number } | undefined;

const stop = (signal: NodeJS.Signals, running: DevServer) =>
  running.close(signal).then(
    () => process.exit(0),
    (error: unknown) => fail(error),
  );

// Installed before startup: a signal during the migration must not kill the process half way
// through writing the database; the server stops as soon as it is up instead.
const onSignal = (signal: NodeJS.Signals) => {
  if (stopRequested) {
    if (Date.now() - stopRequested.at < REPEAT_SIGNAL_MS) return;
    // A second Ctrl-C means "now": what was in flight is resumed by the next start.
    process.stderr.write(`orchestry dev: ${signal} again, exiting without waiting\n`);
    process.exit(130);
  }
  stopRequested = { signal, at: Date.now() };
  if (server) void stop(signal, server);
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

server = await startDevServer().catch(fail);
if (stopRequested) void stop(stopRequested.signal, server);
