/**
 * The loop behind --follow and --watch: poll, print what is new, pause, until Ctrl-C (or
 * SIGTERM), which ends the command cleanly with exit code 0. A poll in flight when the
 * signal comes is let finish, so nothing is printed half.
 */
const FOLLOW_INTERVAL_MS = 2000;

export interface FollowOptions {
  intervalMs?: number | undefined;
  /** Stop after this many polls (scripts and tests); unbounded when absent. */
  maxPolls?: number | undefined;
}

export async function follow(poll: () => Promise<void>, options: FollowOptions = {}): Promise<void> {
  const intervalMs = options.intervalMs ?? FOLLOW_INTERVAL_MS;
  let stopped = false;
  let wake: (() => void) | undefined;
  const stop = () => {
    stopped = true;
    wake?.();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    for (let polls = 1; !stopped; polls++) {
      await poll();
      if (options.maxPolls !== undefined && polls >= options.maxPolls) break;
      if (stopped) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
