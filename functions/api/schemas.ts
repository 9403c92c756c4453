/**
 * The API's shapes as zod schemas: they validate what comes in, type what goes out, and are
 * the OpenAPI document (GET /openapi.json).
 */
import { z } from '@hono/zod-openapi';
import {
  AGGREGATION_LEVELS,
  API_KEY_SCOPES,
  APP_MODES,
  APP_STATUSES,
  EVENT_CATEGORIES,
  EVENT_TYPES,
  HEALTH_STATUSES,
  INSTANCE_STATUSES,
  METRIC_TYPES,
  SEVERITIES,
} from '../../db/schema.js';
import { DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT } from '../../db/queries/page.js';
import { ERROR_STATUS, type ErrorCode } from '../core/errors.js';
import { MAX_CURSOR_LENGTH } from './cursor.js';

const ERROR_CODES = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

export const ErrorSchema = z
  .object({
    error: z.string().openapi({ description: 'What went wrong and how to fix it' }),
    details: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({ description: 'Structured detail: for validation errors, `issues` lists each field with its problem' }),
    code: z.enum(ERROR_CODES),
    timestamp: z.string().openapi({ format: 'date-time' }),
    request_id: z.string().openapi({ description: 'Also in the x-request-id header and the server log line' }),
  })
  .openapi('Error');

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input (VALIDATION_ERROR, INVALID_SPEC); `details.issues` names each field',
  401: 'Missing, unknown or revoked API key (UNAUTHORIZED)',
  403: 'The key lacks the scope this route needs (FORBIDDEN)',
  404: 'No such application or resource (APP_NOT_FOUND, NOT_FOUND)',
  409: 'Conflict (APP_ALREADY_EXISTS, CONFLICT, SCALING_IN_PROGRESS)',
  413: 'The body is larger than the limit (PAYLOAD_TOO_LARGE)',
  415: 'The Content-Type is not one this route takes (UNSUPPORTED_MEDIA_TYPE)',
  422: 'Too little recorded history for what was asked (INSUFFICIENT_HISTORY); `details` says how much exists',
  429: 'Too many requests with this key (RATE_LIMIT_EXCEEDED); see Retry-After',
  500: 'Unexpected failure (INTERNAL); quote the request id',
  502: 'The container runtime failed (RUNTIME_ERROR)',
  503: 'The database or the runtime is unavailable (DATABASE_ERROR, RUNTIME_UNAVAILABLE)',
};

/** Error responses of a route: the ones every authenticated route may give, plus `extra`. */
export function errorResponses(...extra: number[]) {
  const codes = [...new Set([400, 401, 403, 429, 500, 503, ...extra])].sort();
  return Object.fromEntries(
    codes.map((code) => [code, { description: ERROR_DESCRIPTIONS[code]!, content: { 'application/json': { schema: ErrorSchema } } }]),
  );
}

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

export const secured = [{ bearerAuth: [] as string[] }];

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

const DNS_LABEL = /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const appNameSchema = z
  .string()
  .regex(DNS_LABEL, {
    error: 'must be a DNS label: lowercase letters, digits and hyphens, starting with a letter, at most 63 characters',
  })
  .openapi({ example: 'user-api' });

export const AppNameParams = z.object({
  name: appNameSchema.openapi({ param: { name: 'name', in: 'path' } }),
});

/** A whole number sent as text (query strings), within bounds. */
export const wholeNumber = (what: string, min: number, max: number) =>
  z.coerce
    .number({ error: `${what} must be a whole number from ${min} to ${max}` })
    .int({ error: `${what} must be a whole number from ${min} to ${max}` })
    .min(min, { error: `${what} must be a whole number from ${min} to ${max}` })
    .max(max, { error: `${what} must be a whole number from ${min} to ${max}` });

export const booleanText = (what: string) =>
  z.enum(['true', 'false'], { error: `${what} must be true or false` }).transform((v) => v === 'true');

const DURATION = /^\d{1,6}(s|m|h|d|w)$/;
/** A duration such as 30s, 5m, 1h, 1d, 2w. */
export const durationText = (what: string) =>
  z.string().regex(DURATION, { error: `${what} must be a duration such as 30s, 5m, 1h, 1d or 2w` }).openapi({ example: '1h' });

/** An ISO 8601 time, or a duration meaning "that long ago". */
export const sinceText = z
  .string()
  .max(64)
  .refine((v) => DURATION.test(v) || (/^\d{4}-\d{2}-\d{2}/.test(v) && !Number.isNaN(Date.parse(v))), {
    error: 'since must be an ISO 8601 time (2024-05-01T12:00:00Z) or a duration back from now (30m, 1h, 1d)',
  })
  // 999999w (19,000 years back) or year 0000 reached the database as a date it refuses (a 500).
  .refine((v) => (DURATION.test(v) ? durationSeconds(v) <= MAX_SINCE_SECONDS : Date.parse(v) >= 0), {
    error: 'since must be at most 3650d back and not before 1970-01-01',
  })
  .openapi({ example: '1h' });

/** The furthest back `since` may reach: ten years, past any retention. */
const MAX_SINCE_SECONDS = 3650 * 86_400;

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 } as const;

export function durationSeconds(text: string): number {
  const unit = text.at(-1) as keyof typeof UNIT_SECONDS;
  return Number(text.slice(0, -1)) * UNIT_SECONDS[unit];
}

export function sinceDate(text: string, now: Date): Date {
  return DURATION.test(text) ? new Date(now.getTime() - durationSeconds(text) * 1000) : new Date(text);
}

/** `limit` and `cursor`, which every list takes (docs/api.md, "Pagination"). */
export const pageQuery = {
  limit: wholeNumber('limit', 1, MAX_PAGE_LIMIT)
    .optional()
    .openapi({ description: `Items per page (default ${DEFAULT_PAGE_LIMIT}, at most ${MAX_PAGE_LIMIT})` }),
  cursor: z
    .string()
    .max(MAX_CURSOR_LENGTH, { error: 'is not a cursor this API made; pass next_cursor from the previous page unchanged' })
    .optional()
    .openapi({ description: 'next_cursor of the previous page, unchanged, with the same filters; absent for the first page' }),
};

export const nextCursor = z
  .string()
  .nullable()
  .openapi({ description: 'Pass as ?cursor= (with the same filters) for the next page; null on the last page' });

const SELECTOR_PART = /^([^=,\s]{1,317})=([^,]{0,256})$/;

/**
 * A label selector as Kubernetes writes equality ones: `key=value`, several joined by commas
 * or given as repeated `label` parameters, all of which must match.
 */
export const labelSelector = z
  .union([z.string(), z.array(z.string())])
  .transform((given, ctx) => {
    const labels: Record<string, string> = {};
    for (const part of (Array.isArray(given) ? given : [given]).flatMap((v) => v.split(','))) {
      const match = SELECTOR_PART.exec(part.trim());
      if (!match) {
        ctx.addIssue({ code: 'custom', message: `label must be key=value (several: team=web,tier=front); got ${JSON.stringify(part)}` });
        return z.NEVER;
      }
      labels[match[1]!] = match[2]!;
    }
    return labels;
  })
  .openapi({
    description: 'Label selector: key=value, several joined by commas (or repeated), all of which must match',
    example: 'team=backend',
    type: 'string',
  });

// ---------------------------------------------------------------------------
// Outputs
// ---------------------------------------------------------------------------

const time = z.string().openapi({ format: 'date-time' });
const nullableTime = time.nullable();

export const AppSummarySchema = z
  .object({
    name: z.string(),
    status: z.enum(APP_STATUSES),
    mode: z.enum(APP_MODES).nullable(),
    image: z.string().nullable(),
    revision: z.number().int(),
    replicas: z
      .object({ current: z.number().int(), desired: z.number().int(), healthy: z.number().int() })
      .openapi({ description: 'current: running; desired: what Orchestry keeps; healthy: running and passing the health check (ready)' }),
    created_at: nullableTime,
    updated_at: nullableTime,
    last_scaled_at: nullableTime,
  })
  .openapi('AppSummary');

export const AppListSchema = z
  .object({
    apps: z.array(AppSummarySchema).openapi({ description: 'One page, by name' }),
    total: z.number().int().openapi({ description: 'Every application, whatever the filters (counted at most once a second)' }),
    running: z.number().int(),
    stopped: z.number().int(),
    scaled_to_zero: z.number().int().openapi({ description: 'Apps at zero for want of traffic: up, woken by their next request (not stopped)' }),
    error: z.number().int(),
    by_status: z.record(z.string(), z.number().int()),
    next_cursor: nextCursor,
  })
  .openapi('AppList');

export const ContainerSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    replica_index: z.number().int(),
    ip: z.string(),
    port: z.number().int(),
    status: z.enum(INSTANCE_STATUSES),
    health: z.enum(HEALTH_STATUSES),
    revision: z.number().int(),
    started_at: nullableTime,
    last_health_check: nullableTime,
    failure_count: z.number().int(),
    consecutive_failures: z.number().int(),
    cpu_percent: z.number(),
    memory_percent: z.number(),
    memory_usage_bytes: z.number(),
  })
  .openapi('Container');

export const LatestMetricsSchema = z
  .object({
    cpu_percent: z.number().nullable(),
    memory_percent: z.number().nullable(),
    rps: z.number().nullable(),
    latency_p95_ms: z.number().nullable(),
    active_connections: z.number().nullable(),
    as_of: nullableTime.openapi({ description: 'Time of the newest of these samples' }),
  })
  .openapi('LatestMetrics');

export const AppDetailSchema = AppSummarySchema.extend({
  metrics: LatestMetricsSchema,
  containers: z.array(ContainerSchema),
  health_checks_enabled: z.boolean(),
  last_wake: z
    .object({
      at: time,
      ready_seconds: z.number().nullable().openapi({ description: 'From the wake to a replica ready to serve; null while none is yet' }),
    })
    .nullable()
    .openapi({ description: 'The last wake from zero (status scaled_to_zero) by a request' }),
}).openapi('AppDetail');

export const RegisterAnswerSchema = z
  .object({ message: z.string(), app_name: z.string(), status: z.literal('registered'), revision: z.number().int() })
  .openapi('RegisterAnswer');

export const UpdateSpecAnswerSchema = z
  .object({
    message: z.string(),
    app_name: z.string(),
    revision: z.number().int(),
    changes: z.array(z.string()),
    rollout: z.boolean(),
    status: z.enum(APP_STATUSES),
    desired_replicas: z.number().int(),
  })
  .openapi('UpdateSpecAnswer');

const NotReadySchema = z.object({
  replica_index: z.number().int(),
  status: z.union([z.enum(INSTANCE_STATUSES), z.literal('missing')]),
  health: z.enum(HEALTH_STATUSES).nullable(),
  revision: z.number().int().nullable(),
});

export const ReplicaChangeAnswerSchema = z
  .object({
    message: z.string(),
    app_name: z.string(),
    previous_replicas: z.number().int(),
    current_replicas: z.number().int(),
    status: z.enum(APP_STATUSES),
    requested_replicas: z.number().int().optional(),
    clamped: z.object({ min_replicas: z.number().int(), max_replicas: z.number().int() }).optional(),
    ready: z.boolean().optional().openapi({ description: 'With wait: every replica runs and is healthy' }),
    not_ready: z.array(NotReadySchema).optional().openapi({ description: 'With wait: the replicas that were not ready in time' }),
    timed_out: z.boolean().optional(),
  })
  .openapi('ReplicaChangeAnswer');

export const StopAnswerSchema = z
  .object({
    message: z.string(),
    app_name: z.string(),
    previous_replicas: z.number().int(),
    current_replicas: z.literal(0),
    status: z.enum(APP_STATUSES),
    stopped: z.boolean(),
  })
  .openapi('StopAnswer');

export const DeleteAnswerSchema = z
  .object({ message: z.string(), app_name: z.string(), deleted: z.literal(true) })
  .openapi('DeleteAnswer');

export const EventSchema = z
  .object({
    id: z.number().int(),
    type: z.enum(EVENT_TYPES),
    category: z.enum(EVENT_CATEGORIES),
    severity: z.enum(SEVERITIES),
    message: z.string(),
    details: z.unknown(),
    container_id: z.string().nullable(),
    timestamp: nullableTime,
    app_name: z.string().nullable(),
    source: z.string().nullable(),
    node_id: z.string().nullable(),
  })
  .openapi('Event');

export const EventPageSchema = z
  .object({
    app_name: z.string().nullable(),
    events: z.array(EventSchema),
    has_more: z.boolean().openapi({ description: 'Whether older events exist (next_cursor is not null)' }),
    next_cursor: nextCursor,
  })
  .openapi('EventPage');

export const PolicySchema = z
  .object({
    min_replicas: z.number().int(),
    max_replicas: z.number().int(),
    target_rps_per_replica: z.number().nullable(),
    max_p95_latency_ms: z.number().nullable(),
    max_cpu_percent: z.number().nullable(),
    max_memory_percent: z.number().nullable(),
    max_connections_per_replica: z.number().nullable(),
    scale_out_threshold_pct: z.number().nullable(),
    scale_in_threshold_pct: z.number().nullable(),
    cooldown_seconds: z.number().nullable(),
    evaluation_window_seconds: z.number().nullable(),
    max_scale_out_step: z.number().nullable(),
    max_scale_in_step: z.number().nullable(),
    stabilization_window_seconds: z.number().nullable(),
    cpu_weight: z.number().nullable(),
    memory_weight: z.number().nullable(),
    rps_weight: z.number().nullable(),
    latency_weight: z.number().nullable(),
    connection_weight: z.number().nullable(),
    scale_to_zero_after_seconds: z.number().nullable().openapi({ description: 'With min_replicas 0: seconds without requests before the app goes to zero' }),
  })
  .openapi('ScalingPolicy');

export const LastDecisionSchema = z
  .object({
    evaluated_at: time,
    reason: z.string(),
    current_replicas: z.number().int(),
    desired_replicas: z.number().int(),
    decision: z.unknown(),
  })
  .nullable()
  .openapi('LastDecision');

export const KeySchema = z
  .object({
    id: z.number().int(),
    name: z.string(),
    scope: z.enum(API_KEY_SCOPES),
    prefix: z.string().openapi({ description: 'The first characters of the key, to recognise it' }),
    created_at: time,
    last_used_at: nullableTime,
    revoked_at: nullableTime,
    app: z.string().nullable().openapi({ description: 'For an ingest key, the one app it may post metrics for' }),
  })
  .openapi('ApiKey');

export const MetricTypeSchema = z.enum(METRIC_TYPES);
export const AggregationLevelSchema = z.enum(AGGREGATION_LEVELS);
