/**
 * Domain errors. Every failure that reaches a user is one of these codes; the API maps
 * each to its HTTP status and the one error format `{error, details, code, timestamp}`.
 */
export const ERROR_STATUS = {
  APP_NOT_FOUND: 404,
  NOT_FOUND: 404,
  APP_ALREADY_EXISTS: 409,
  INVALID_SPEC: 400,
  VALIDATION_ERROR: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  METHOD_NOT_ALLOWED: 405,
  SCALING_IN_PROGRESS: 409,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  INSUFFICIENT_HISTORY: 422,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMIT_EXCEEDED: 429,
  INTERNAL: 500,
  RUNTIME_ERROR: 502,
  DATABASE_ERROR: 503,
  RUNTIME_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** One problem with one field of the input: where it is, and what is allowed there. */
export interface FieldIssue {
  path: string;
  message: string;
}

export class OrchestryError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OrchestryError';
    this.code = code;
    this.details = details ?? null;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export const appNotFound = (name: string) =>
  new OrchestryError('APP_NOT_FOUND', `Application '${name}' not found`, { app_name: name });

export const appAlreadyExists = (name: string) =>
  new OrchestryError('APP_ALREADY_EXISTS', `Application '${name}' already exists; update it with PUT /api/v1/apps/${name}/spec`, {
    app_name: name,
  });

export const invalidSpec = (issues: FieldIssue[]) =>
  new OrchestryError('INVALID_SPEC', `Invalid app spec: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, {
    issues,
  });

export const validationError = (issues: FieldIssue[]) =>
  new OrchestryError('VALIDATION_ERROR', `Invalid request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, {
    issues,
  });

export const isOrchestryError = (e: unknown): e is OrchestryError => e instanceof OrchestryError;
