/**
 * One way to call AWS for the ECS runtime: transient failures (throttling, 5xx, dropped
 * connections) are retried with exponential backoff and jitter; everything else fails at
 * once as a RUNTIME_ERROR that names the operation and the AWS error.
 */
import pRetry from 'p-retry';
import { OrchestryError } from '../core/errors.js';
import type { Logger } from '../log.js';

export interface RetryPolicy {
  /** Retries after the first attempt (so `retries + 1` calls at most). */
  retries: number;
  /** Delay before the first retry; doubles each time, times a random factor in [1, 2). */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { retries: 5, baseDelayMs: 200, maxDelayMs: 5_000 };

const THROTTLING = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'Throttling',
  'RequestLimitExceeded',
  'PriorRequestNotCompleteException',
]);
const SERVER = new Set(['ServerException', 'InternalFailure', 'InternalError', 'ServiceUnavailable', 'ServiceUnavailableException']);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH']);
const NETWORK_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException', 'NetworkingError']);

interface AwsLikeError {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number | undefined } | undefined;
}

export function isTransientAwsError(error: unknown, alsoRetry: readonly string[] = []): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as AwsLikeError;
  const name = typeof e.name === 'string' ? e.name : '';
  if (THROTTLING.has(name) || SERVER.has(name) || NETWORK_NAMES.has(name) || alsoRetry.includes(name)) return true;
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  const status = e.$metadata?.httpStatusCode;
  return typeof status === 'number' && status >= 500;
}

/** The AWS error name behind a RUNTIME_ERROR raised by `callAws`, to tolerate expected ones. */
export function awsErrorName(error: unknown): string | undefined {
  if (!(error instanceof OrchestryError)) return undefined;
  const details = error.details as { aws_error?: unknown } | null;
  return typeof details?.aws_error === 'string' ? details.aws_error : undefined;
}

export function awsErrorMessage(error: unknown): string {
  if (!(error instanceof OrchestryError)) return String(error);
  const details = error.details as { aws_message?: unknown } | null;
  return typeof details?.aws_message === 'string' ? details.aws_message : error.message;
}

export interface CallOptions {
  /** Error names that are transient for this operation only (ELB's ResourceInUse after a rule delete). */
  alsoRetry?: readonly string[];
  retries?: number;
}

export type AwsCaller = <T>(operation: string, send: () => Promise<T>, options?: CallOptions) => Promise<T>;

export function createAwsCaller(policy: RetryPolicy, log: Logger): AwsCaller {
  return async (operation, send, options = {}) => {
    let attempts = 0;
    try {
      return await pRetry(
        () => {
          attempts += 1;
          return send();
        },
        {
          retries: options.retries ?? policy.retries,
          minTimeout: policy.baseDelayMs,
          maxTimeout: policy.maxDelayMs,
          factor: 2,
          randomize: true,
          shouldRetry: ({ error }) => isTransientAwsError(error, options.alsoRetry),
          onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
            if (retriesLeft > 0 && isTransientAwsError(error, options.alsoRetry)) {
              log.warn('aws call failed; retrying', { operation, attempt: attemptNumber, error: describe(error).name });
            }
          },
        },
      );
    } catch (error) {
      throw runtimeFailure(operation, error, attempts);
    }
  };
}

function describe(error: unknown): { name: string; message: string } {
  if (typeof error === 'object' && error !== null) {
    const e = error as AwsLikeError;
    return {
      name: typeof e.name === 'string' ? e.name : 'Error',
      message: typeof e.message === 'string' ? e.message : String(error),
    };
  }
  return { name: 'Error', message: String(error) };
}

function runtimeFailure(operation: string, error: unknown, attempts: number): OrchestryError {
  const { name, message } = describe(error);
  const tries = attempts > 1 ? ` (after ${attempts} attempts)` : '';
  return new OrchestryError(
    'RUNTIME_ERROR',
    `AWS ${operation} failed${tries}: ${name}: ${message}`,
    { operation, aws_error: name, aws_message: message, attempts },
    { cause: error },
  );
}

/** The call's result, or undefined when it failed with one of the expected AWS errors. */
export async function tolerating<T>(names: readonly string[], call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (error) {
    const name = awsErrorName(error);
    if (name !== undefined && names.includes(name)) return undefined;
    throw error;
  }
}
