/**
 * Exit codes that scripts can rely on, and the one-line error every failure prints:
 * `error: <message> (<CODE>)` on stderr.
 */
export const EXIT = {
  /** The command did what it was asked. */
  OK: 0,
  /** The API answered with an error; its code is printed. */
  API_ERROR: 1,
  /** The command line was wrong (unknown command or option, bad argument). */
  USAGE: 2,
  /** The API could not be reached, or there is no usable API key. */
  UNREACHABLE: 3,
  /** `--wait` ran out of time before the replicas were ready. */
  WAIT_TIMEOUT: 4,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** An error answer of the API: `{error, details, code, timestamp, request_id}`. */
export class ApiError extends CliError {
  constructor(
    message: string,
    code: string,
    readonly status: number,
    readonly details: unknown,
    readonly requestId: string | undefined,
  ) {
    super(message, code, code === 'UNAUTHORIZED' ? EXIT.UNREACHABLE : EXIT.API_ERROR);
    this.name = 'ApiError';
  }
}

export const usageError = (message: string) => new CliError(message, 'USAGE', EXIT.USAGE);

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  the API answered with an error (its code is printed, e.g. APP_NOT_FOUND)
  2  usage error (unknown command or option, bad argument)
  3  the API could not be reached, or no valid API key is configured
  4  --wait timed out before the replicas were ready`;
