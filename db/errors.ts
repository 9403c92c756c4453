/**
 * Turning driver errors into domain errors.
 *
 * node-postgres, the Neon Pool (a fork of it) and PGlite all raise errors carrying the
 * server's SQLSTATE `code`, `constraint`, `table` and `detail`; Drizzle wraps them in a
 * DrizzleQueryError whose `cause` is the driver's error. Users see OrchestryErrors that
 * name the field and the rule; they never see SQL, parameters or driver text.
 */
import { appAlreadyExists, appNotFound, OrchestryError, validationError } from '../functions/core/errors.js';

interface DriverError {
  code?: unknown;
  constraint?: unknown;
  table?: unknown;
  column?: unknown;
  detail?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** What a CHECK constraint protects, keyed `table.constraint` (names repeat across tables). */
export const CHECK_RULES: Readonly<Record<string, { field: string; rule: string }>> = {
  'applications.valid_status': {
    field: 'status',
    rule: 'status must be one of registered, starting, running, stopping, stopped, error, updating',
  },
  'applications.valid_mode': { field: 'mode', rule: 'mode must be auto or manual' },
  'applications.valid_replicas': { field: 'replicas', rule: 'replicas must be >= 0' },
  'applications.valid_desired_replicas': { field: 'desired_replicas', rule: 'desired_replicas must be >= 0' },
  'applications.valid_revision': { field: 'revision', rule: 'revision must be >= 1' },
  'instances.valid_status': {
    field: 'status',
    rule: 'status must be one of starting, running, stopping, stopped, error, draining',
  },
  'instances.valid_health_status': {
    field: 'health_status',
    rule: 'health_status must be one of unknown, healthy, unhealthy, starting',
  },
  'instances.valid_replica_index': { field: 'replica_index', rule: 'replica_index must be >= 0' },
  'instances.valid_port': { field: 'port', rule: 'port must be between 1 and 65535' },
  'instances.valid_failure_count': { field: 'failure_count', rule: 'failure_count must be >= 0' },
  'instances.valid_cpu_percent': { field: 'cpu_percent', rule: 'cpu_percent must be >= 0' },
  'instances.valid_memory_percent': { field: 'memory_percent', rule: 'memory_percent must be between 0 and 100' },
  'events.valid_event_type': {
    field: 'type',
    rule: 'type must be one of registration, scaling, health, config, deployment, error, warning, network, resource, security',
  },
  'events.valid_event_category': {
    field: 'category',
    rule: 'category must be one of application, system, cluster, security, performance',
  },
  'events.valid_severity': { field: 'severity', rule: 'severity must be one of debug, info, warning, error, critical' },
  'metrics.valid_metric_type': {
    field: 'metric_type',
    rule: 'metric_type must be one of cpu_percent, memory_percent, memory_bytes, rps, latency_p50, latency_p95, latency_p99, active_connections, error_rate, response_time, queue_length, disk_usage',
  },
  'metrics.valid_aggregation_level': {
    field: 'aggregation_level',
    rule: 'aggregation_level must be one of instance, app, system',
  },
  'scaling_policies.valid_replica_bounds': {
    field: 'min_replicas/max_replicas',
    rule: 'min_replicas must be <= max_replicas',
  },
  'scaling_policies.valid_min_replicas': { field: 'min_replicas', rule: 'min_replicas must be >= 0' },
  'scaling_policies.valid_max_replicas': { field: 'max_replicas', rule: 'max_replicas must be >= 1' },
  'scaling_policies.valid_thresholds': {
    field: 'scale_in_threshold_pct/scale_out_threshold_pct',
    rule: 'scale_in_threshold_pct must be < scale_out_threshold_pct',
  },
  'scaling_policies.valid_percentages': {
    field: 'scale_in_threshold_pct/scale_out_threshold_pct',
    rule: 'scale_in_threshold_pct and scale_out_threshold_pct must be between 1 and 100',
  },
  'scaling_policies.valid_weights': {
    field: 'cpu_weight/memory_weight/rps_weight/latency_weight/connection_weight',
    rule: 'every weight must be >= 0',
  },
  'scaling_policies.valid_scale_to_zero_after': {
    field: 'scale_to_zero_after_seconds',
    rule: 'scale_to_zero_after_seconds must be >= 0',
  },
  'health_checks.valid_protocol': { field: 'protocol', rule: 'protocol must be HTTP or TCP' },
  'health_checks.valid_method': { field: 'method', rule: 'method must be one of GET, POST, PUT, HEAD' },
  'health_checks.valid_port': { field: 'port', rule: 'port must be between 1 and 65535' },
  'health_checks.valid_timings': {
    field: 'initial_delay_seconds/period_seconds/timeout_seconds/failure_threshold/success_threshold',
    rule: 'initial_delay_seconds must be >= 0; period_seconds, timeout_seconds, failure_threshold and success_threshold must be > 0',
  },
  'api_keys.valid_scope': { field: 'scope', rule: 'scope must be one of read, write, admin, ingest' },
  'api_keys.ingest_key_has_app': { field: 'app', rule: 'an ingest key is bound to one app, and only an ingest key has an app' },
  'job_runs.valid_job': {
    field: 'job',
    rule: 'job must be one of scaler, health-prober, metric-collector, metric-rollup, cleanup',
  },
  'job_runs.valid_outcome': { field: 'outcome', rule: 'outcome must be one of running, succeeded, failed, skipped' },
  'metric_rollups.valid_rollup_metric_type': { field: 'metric_type', rule: 'metric_type must be a known metric type' },
  'metric_rollups.valid_rollup_width': { field: 'width', rule: 'width must be 1m or 1h' },
  'metric_rollups.valid_rollup_count': { field: 'count', rule: 'count must be > 0' },
  'events_compressed.valid_compressed_event_type': { field: 'event_type', rule: 'event_type must be a known event type' },
};

/** What each UNIQUE constraint (other than an application's name) makes unique. */
const UNIQUE_FIELDS: Readonly<Record<string, string>> = {
  instances_container_id_key: 'container_id',
  instances_app_name_replica_index_key: 'app_name/replica_index',
  api_keys_key_hash_key: 'key_hash',
  health_checks_app_name_key: 'app_name',
  scaling_policies_pkey: 'app_name',
  scaling_decisions_pkey: 'app_name',
  metric_rollups_pkey: 'app_name/metric_type/width/bucket_start',
  events_compressed_bucket_key: 'hour_bucket/app_name/event_type',
};

/** Errors that mean "the database cannot be reached or went away", not "your input is wrong". */
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'EPIPE', 'EAI_AGAIN', 'ENETUNREACH']);
const CONNECTION_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '53400']);
/**
 * Class 08 is "connection exception", but 08P01 is what the server answers to a message it
 * cannot accept, above all a statement with more than 65,535 parameters: the database is
 * up and a retry fails the same way, so it is a bug to surface, not "unavailable".
 */
const PROTOCOL_VIOLATION = '08P01';
// Raised by pg/Neon without a code when a socket dies or a WebSocket fails mid-query.
const CONNECTION_MESSAGES =
  /connection terminated|connection timeout|timeout exceeded when trying to connect|websocket|socket hang up|client has encountered a connection error|cannot use a pool after calling end|\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|ENETUNREACH)\b/i;

export interface DbErrorContext {
  /** The application the statement concerns, named in APP_NOT_FOUND / APP_ALREADY_EXISTS. */
  app?: string | undefined;
}

/**
 * The driver's own error inside its wrappers: Drizzle's `cause`, the `error` of a ws
 * ErrorEvent (how the Neon driver reports a failed WebSocket), an AggregateError's first.
 */
function driverError(err: unknown): DriverError | null {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current !== null && typeof current === 'object'; depth++) {
    const e = current as DriverError & { error?: unknown };
    if (typeof e.code === 'string') return e;
    const inner = e.cause ?? e.error ?? (Array.isArray(e.errors) ? e.errors[0] : undefined);
    if (inner === null || typeof inner !== 'object') return e;
    current = inner;
  }
  return null;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** `Key (name)=(web) already exists.` → 'web'. */
function keyValue(detail: string | undefined): string | undefined {
  const m = detail ? /Key \([^)]*\)=\((.*)\)/.exec(detail) : null;
  return m?.[1];
}

export function isConnectionError(err: unknown): boolean {
  const e = driverError(err);
  if (!e) return false;
  const code = str(e.code);
  if (code === PROTOCOL_VIOLATION) return false;
  if (code && (CONNECTION_ERRNOS.has(code) || CONNECTION_SQLSTATES.has(code) || code.startsWith('08'))) return true;
  return !code && CONNECTION_MESSAGES.test(String(e.message ?? ''));
}

/**
 * The OrchestryError a driver error stands for, or null when it stands for none (the
 * caller then rethrows the original: an unknown failure is a bug to see, not to hide).
 */
export function toDomainError(err: unknown, context: DbErrorContext = {}): OrchestryError | null {
  if (err instanceof OrchestryError) return err;
  const e = driverError(err);
  if (!e) return null;
  if (isConnectionError(err)) {
    return new OrchestryError('DATABASE_ERROR', 'The database is unavailable; retry shortly', null, { cause: err });
  }
  const code = str(e.code);
  const constraint = str(e.constraint);
  const table = str(e.table);
  switch (code) {
    case '23505': {
      if (constraint === 'applications_pkey') return appAlreadyExists(context.app ?? keyValue(str(e.detail)) ?? '');
      const field = (constraint && UNIQUE_FIELDS[constraint]) ?? constraint ?? 'unknown';
      return new OrchestryError('CONFLICT', `A row with the same ${field} already exists`, {
        field,
        constraint: constraint ?? null,
        table: table ?? null,
      });
    }
    case '23514': {
      const known = constraint && table ? CHECK_RULES[`${table}.${constraint}`] : undefined;
      const field = known?.field ?? constraint ?? 'unknown';
      const rule = known?.rule ?? `violates ${constraint ?? 'a check constraint'}`;
      const error = validationError([{ path: field, message: rule }]);
      return new OrchestryError(error.code, error.message, { ...(error.details as object), constraint: constraint ?? null });
    }
    case '23503':
      // Every foreign key of the schema points at applications(name).
      return appNotFound(context.app ?? keyValue(str(e.detail)) ?? '');
    case '23502': {
      const column = str(e.column) ?? 'unknown';
      return validationError([{ path: column, message: `${column} is required` }]);
    }
    default:
      return null;
  }
}

/** The domain error for `err`; rethrows `err` itself when it maps to none. */
export function mapDbError(err: unknown, context: DbErrorContext = {}): OrchestryError {
  const mapped = toDomainError(err, context);
  if (mapped) return mapped;
  throw err;
}

/** Runs a database call, turning driver errors into domain errors. */
export async function withDbErrors<T>(fn: () => Promise<T>, context: DbErrorContext = {}): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw mapDbError(err, context);
  }
}
