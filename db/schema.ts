/**
 * Orchestry's data model: the six tables of the data-model document
 * (shared/spec/database-schema.txt) with every column, default, CHECK, foreign key,
 * UNIQUE and index it lists, plus the tables the serverless design needs.
 *
 * Where the document's DDL cannot be built, the repair is made here and explained
 * beside the index it concerns. Everything Drizzle cannot express (the retention
 * function) lives in hand-written SQL under migrations/.
 */
import { sql } from 'drizzle-orm';
import {
  bigint,
  bigserial,
  boolean,
  check,
  doublePrecision,
  index,
  inet,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  real,
  serial,
  text,
  timestamp,
  unique,
  varchar,
} from 'drizzle-orm/pg-core';

const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

// Added: `scaled_to_zero`, an app the scaler took to no replicas for want of traffic: unlike
// `stopped` it is up (its first request wakes it, docs/scale-to-zero.md).
export const APP_STATUSES = ['registered', 'starting', 'running', 'stopping', 'stopped', 'error', 'updating', 'scaled_to_zero'] as const;
export const APP_MODES = ['auto', 'manual'] as const;
export const INSTANCE_STATUSES = ['starting', 'running', 'stopping', 'stopped', 'error', 'draining'] as const;
export const HEALTH_STATUSES = ['unknown', 'healthy', 'unhealthy', 'starting'] as const;
export const EVENT_TYPES = [
  'registration', 'scaling', 'health', 'config', 'deployment',
  'error', 'warning', 'network', 'resource', 'security',
] as const;
export const EVENT_CATEGORIES = ['application', 'system', 'cluster', 'security', 'performance'] as const;
export const SEVERITIES = ['debug', 'info', 'warning', 'error', 'critical'] as const;
export const METRIC_TYPES = [
  'cpu_percent', 'memory_percent', 'memory_bytes', 'rps',
  'latency_p50', 'latency_p95', 'latency_p99', 'active_connections',
  'error_rate', 'response_time', 'queue_length', 'disk_usage',
] as const;
export const AGGREGATION_LEVELS = ['instance', 'app', 'system'] as const;
export const HEALTH_PROTOCOLS = ['HTTP', 'TCP'] as const;
export const HEALTH_METHODS = ['GET', 'POST', 'PUT', 'HEAD'] as const;
export const API_KEY_SCOPES = ['read', 'write', 'admin', 'ingest'] as const;
export const JOB_NAMES = ['scaler', 'health-prober', 'metric-collector', 'metric-rollup', 'cleanup'] as const;
export const JOB_OUTCOMES = ['running', 'succeeded', 'failed', 'skipped'] as const;
export const ROLLUP_WIDTHS = ['1m', '1h'] as const;

export type AppStatus = (typeof APP_STATUSES)[number];
export type AppMode = (typeof APP_MODES)[number];
export type InstanceStatus = (typeof INSTANCE_STATUSES)[number];
export type HealthStatus = (typeof HEALTH_STATUSES)[number];
export type EventType = (typeof EVENT_TYPES)[number];
export type EventCategory = (typeof EVENT_CATEGORIES)[number];
export type Severity = (typeof SEVERITIES)[number];
export type MetricType = (typeof METRIC_TYPES)[number];
export type AggregationLevel = (typeof AGGREGATION_LEVELS)[number];
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];
export type JobName = (typeof JOB_NAMES)[number];
export type JobOutcome = (typeof JOB_OUTCOMES)[number];
export type RollupWidth = (typeof ROLLUP_WIDTHS)[number];

/** `col IN ('a', 'b')` for a CHECK constraint; values are compile-time constants, never user input. */
const oneOf = (column: string, values: readonly string[]) =>
  sql.raw(`${column} IN (${values.map((v) => `'${v}'`).join(', ')})`);

export const applications = pgTable(
  'applications',
  {
    name: varchar('name', { length: 253 }).primaryKey(),
    spec: jsonb('spec').notNull(),
    status: varchar('status', { length: 50 }).notNull().default('registered').$type<AppStatus>(),
    createdAt: tz('created_at').defaultNow(),
    updatedAt: tz('updated_at').defaultNow(),
    replicas: integer('replicas').default(0),
    desiredReplicas: integer('desired_replicas').default(0),
    lastScaledAt: tz('last_scaled_at'),
    mode: varchar('mode', { length: 20 }).default('auto').$type<AppMode>(),
    // Added: a spec change that alters what runs (image, command, env, resources, port,
    // labels, stop grace) bumps the revision; replicas of an older revision are replaced
    // one at a time by the reconciler (rolling update). Scaling and health-check changes
    // apply without restarting anything.
    revision: integer('revision').notNull().default(1),
    // Added: the last wake from zero (ops/wake.ts) and how long until a replica was ready to
    // serve (null while it is not yet), for `orchestry status`.
    lastWokenAt: tz('last_woken_at'),
    lastWakeSeconds: real('last_wake_seconds'),
  },
  (t) => [
    check('valid_status', oneOf('status', APP_STATUSES)),
    check('valid_mode', oneOf('mode', APP_MODES)),
    check('valid_replicas', sql`${t.replicas} >= 0`),
    check('valid_desired_replicas', sql`${t.desiredReplicas} >= 0`),
    check('valid_revision', sql`${t.revision} >= 1`),
    // The document's status, mode and image indexes end with the name here: GET /apps
    // filters on one of them and pages in name order (keyset on the primary key), so with
    // the name as the last key column a filtered page is one index range scan, read in
    // page order, whatever the number of apps (docs/api.md, "Pagination").
    index('idx_applications_status').on(t.status, t.name),
    index('idx_applications_mode').on(t.mode, t.name),
    index('idx_applications_updated_at').on(t.updatedAt.desc()),
    // The document asks for `USING GIN ((spec->'spec'->>'image'))`, which PostgreSQL
    // rejects: ->> yields text and text has no default GIN operator class. Lookups by
    // image are equality matches, which a B-tree expression index serves.
    index('idx_applications_spec_image').using('btree', sql`(${t.spec}->'spec'->>'image')`, t.name),
    // Added: the label selector of GET /apps (`label=team=backend`) is containment on the
    // spec's labels (`@>`), which a GIN index with jsonb_path_ops serves.
    index('idx_applications_labels').using('gin', sql`(${t.spec}->'metadata'->'labels') jsonb_path_ops`),
    index('idx_applications_active')
      .on(t.name, t.status, t.updatedAt)
      .where(sql`${t.status} IN ('running', 'starting', 'updating')`),
  ],
);

export const instances = pgTable(
  'instances',
  {
    id: serial('id').primaryKey(),
    appName: varchar('app_name', { length: 253 })
      .notNull()
      .references(() => applications.name, { onDelete: 'cascade' }),
    containerId: varchar('container_id', { length: 128 }).notNull().unique('instances_container_id_key'),
    containerName: varchar('container_name', { length: 253 }).notNull(),
    replicaIndex: integer('replica_index').notNull(),
    // Where the replica is reached: the task's private IP on ECS; 127.0.0.1 and the
    // published host port for local Docker.
    ip: inet('ip').notNull(),
    port: integer('port').notNull(),
    status: varchar('status', { length: 50 }).notNull().default('starting').$type<InstanceStatus>(),
    healthStatus: varchar('health_status', { length: 20 }).default('unknown').$type<HealthStatus>(),
    createdAt: tz('created_at').defaultNow(),
    updatedAt: tz('updated_at').defaultNow(),
    startedAt: tz('started_at'),
    lastHealthCheck: tz('last_health_check'),
    failureCount: integer('failure_count').default(0),
    consecutiveFailures: integer('consecutive_failures').default(0),
    lastFailureAt: tz('last_failure_at'),
    cpuPercent: real('cpu_percent').default(0),
    memoryPercent: real('memory_percent').default(0),
    memoryUsageBytes: bigint('memory_usage_bytes', { mode: 'number' }).default(0),
    // Added: the app revision this replica runs, for rolling updates.
    revision: integer('revision').notNull().default(1),
    // Added: consecutive successful probes, for the health check's success threshold.
    consecutiveSuccesses: integer('consecutive_successes').notNull().default(0),
  },
  (t) => [
    check('valid_status', oneOf('status', INSTANCE_STATUSES)),
    check('valid_health_status', oneOf('health_status', HEALTH_STATUSES)),
    check('valid_replica_index', sql`${t.replicaIndex} >= 0`),
    check('valid_port', sql`${t.port} > 0 AND ${t.port} <= 65535`),
    check('valid_failure_count', sql`${t.failureCount} >= 0`),
    check('valid_cpu_percent', sql`${t.cpuPercent} >= 0`),
    check('valid_memory_percent', sql`${t.memoryPercent} >= 0 AND ${t.memoryPercent} <= 100`),
    unique('instances_app_name_replica_index_key').on(t.appName, t.replicaIndex),
    index('idx_instances_app_name').on(t.appName),
    index('idx_instances_status').on(t.status),
    index('idx_instances_health_status').on(t.healthStatus),
    index('idx_instances_container_id').on(t.containerId),
    index('idx_instances_updated_at').on(t.updatedAt.desc()),
    index('idx_instances_app_status').on(t.appName, t.status),
    index('idx_instances_health_check').on(t.lastHealthCheck.desc()),
    index('idx_instances_app_status_health').on(t.appName, t.status, t.healthStatus),
    index('idx_instances_active')
      .on(t.appName, t.status, t.healthStatus, t.updatedAt)
      .where(sql`${t.status} IN ('running', 'starting')`),
  ],
);

export const events = pgTable(
  'events',
  {
    id: serial('id').primaryKey(),
    eventType: varchar('event_type', { length: 50 }).notNull().$type<EventType>(),
    eventCategory: varchar('event_category', { length: 30 }).notNull().default('application').$type<EventCategory>(),
    appName: varchar('app_name', { length: 253 }).references(() => applications.name, { onDelete: 'set null' }),
    containerId: varchar('container_id', { length: 128 }),
    message: text('message').notNull(),
    details: jsonb('details'),
    severity: varchar('severity', { length: 20 }).default('info').$type<Severity>(),
    timestamp: tz('timestamp').defaultNow(),
    source: varchar('source', { length: 50 }).default('controller'),
    nodeId: varchar('node_id', { length: 100 }),
  },
  (t) => [
    check('valid_event_type', oneOf('event_type', EVENT_TYPES)),
    check('valid_event_category', oneOf('event_category', EVENT_CATEGORIES)),
    check('valid_severity', oneOf('severity', SEVERITIES)),
    index('idx_events_app_name_timestamp').on(t.appName, t.timestamp.desc()),
    index('idx_events_type_timestamp').on(t.eventType, t.timestamp.desc()),
    index('idx_events_timestamp').on(t.timestamp.desc()),
    index('idx_events_severity').on(t.severity, t.timestamp.desc()),
    index('idx_events_category').on(t.eventCategory, t.timestamp.desc()),
    index('idx_events_container').on(t.containerId, t.timestamp.desc()),
    index('idx_events_app_type_severity').on(t.appName, t.eventType, t.severity, t.timestamp.desc()),
    // The document gives this index the predicate `timestamp > NOW() - INTERVAL '7 days'`,
    // which PostgreSQL rejects (index predicates may only call IMMUTABLE functions), and a
    // fixed cut-off date would go stale. Events arrive in time order, so a BRIN index on
    // the timestamp gives recent-range scans for a few pages of index instead.
    index('idx_events_recent').using('brin', t.timestamp),
  ],
);

export const metrics = pgTable(
  'metrics',
  {
    // BIGSERIAL where the document says SERIAL: at the ingestion rates Orchestry is built
    // for, a 32-bit sequence runs out within weeks even with retention.
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    appName: varchar('app_name', { length: 253 })
      .notNull()
      .references(() => applications.name, { onDelete: 'cascade' }),
    metricType: varchar('metric_type', { length: 50 }).notNull().$type<MetricType>(),
    timestamp: tz('timestamp').defaultNow(),
    value: real('value').notNull(),
    labels: jsonb('labels'),
    unit: varchar('unit', { length: 20 }),
    aggregationLevel: varchar('aggregation_level', { length: 20 }).default('instance').$type<AggregationLevel>(),
    // Added: which replica a sample came from, when it came from one.
    containerId: varchar('container_id', { length: 128 }),
  },
  (t) => [
    check('valid_metric_type', oneOf('metric_type', METRIC_TYPES)),
    check('valid_aggregation_level', oneOf('aggregation_level', AGGREGATION_LEVELS)),
    index('idx_metrics_app_timestamp').on(t.appName, t.timestamp.desc()),
    index('idx_metrics_type_timestamp').on(t.metricType, t.timestamp.desc()),
    index('idx_metrics_timestamp').on(t.timestamp.desc()),
    index('idx_metrics_app_type_time').on(t.appName, t.metricType, t.timestamp.desc()),
    // idx_metrics_app_type_recent: the document gives it the predicate
    // `timestamp > NOW() - INTERVAL '24 hours'`, which PostgreSQL rejects (NOW() is not
    // IMMUTABLE). It is built in migrations/ (hand-written: Drizzle cannot say INCLUDE) as
    // a covering index instead, which gives the scaler's window reads what the predicate
    // was after: index-only scans over recent samples.
  ],
);

export const scalingPolicies = pgTable(
  'scaling_policies',
  {
    appName: varchar('app_name', { length: 253 })
      .primaryKey()
      .references(() => applications.name, { onDelete: 'cascade' }),
    minReplicas: integer('min_replicas').notNull().default(1),
    maxReplicas: integer('max_replicas').notNull().default(5),
    targetRpsPerReplica: integer('target_rps_per_replica').default(50),
    maxP95LatencyMs: integer('max_p95_latency_ms').default(250),
    maxCpuPercent: real('max_cpu_percent').default(70.0),
    maxMemoryPercent: real('max_memory_percent').default(75.0),
    maxConnectionsPerReplica: integer('max_connections_per_replica').default(100),
    scaleOutThresholdPct: integer('scale_out_threshold_pct').default(80),
    scaleInThresholdPct: integer('scale_in_threshold_pct').default(30),
    cooldownSeconds: integer('cooldown_seconds').default(180),
    evaluationWindowSeconds: integer('evaluation_window_seconds').default(60),
    maxScaleOutStep: integer('max_scale_out_step').default(0),
    maxScaleInStep: integer('max_scale_in_step').default(1),
    stabilizationWindowSeconds: integer('stabilization_window_seconds').default(300),
    cpuWeight: real('cpu_weight').default(1.0),
    memoryWeight: real('memory_weight').default(1.0),
    rpsWeight: real('rps_weight').default(1.0),
    latencyWeight: real('latency_weight').default(1.5),
    connectionWeight: real('connection_weight').default(0.8),
    // Added: with min_replicas 0, how long an app must have had no traffic before it goes to zero.
    scaleToZeroAfterSeconds: integer('scale_to_zero_after_seconds').default(300),
    createdAt: tz('created_at').defaultNow(),
    updatedAt: tz('updated_at').defaultNow(),
  },
  (t) => [
    check('valid_replica_bounds', sql`${t.minReplicas} <= ${t.maxReplicas}`),
    check('valid_min_replicas', sql`${t.minReplicas} >= 0`),
    check('valid_max_replicas', sql`${t.maxReplicas} >= 1`),
    check('valid_thresholds', sql`${t.scaleInThresholdPct} < ${t.scaleOutThresholdPct}`),
    check(
      'valid_percentages',
      sql`${t.scaleOutThresholdPct} BETWEEN 1 AND 100 AND ${t.scaleInThresholdPct} BETWEEN 1 AND 100`,
    ),
    check(
      'valid_weights',
      sql`${t.cpuWeight} >= 0 AND ${t.memoryWeight} >= 0 AND ${t.rpsWeight} >= 0 AND ${t.latencyWeight} >= 0 AND ${t.connectionWeight} >= 0`,
    ),
    check('valid_scale_to_zero_after', sql`${t.scaleToZeroAfterSeconds} >= 0`),
    index('idx_scaling_policies_updated_at').on(t.updatedAt.desc()),
  ],
);

export const healthChecks = pgTable(
  'health_checks',
  {
    id: serial('id').primaryKey(),
    appName: varchar('app_name', { length: 253 })
      .notNull()
      .references(() => applications.name, { onDelete: 'cascade' }),
    protocol: varchar('protocol', { length: 10 }).notNull().default('HTTP').$type<(typeof HEALTH_PROTOCOLS)[number]>(),
    path: varchar('path', { length: 500 }),
    port: integer('port').notNull(),
    method: varchar('method', { length: 10 }).default('GET').$type<(typeof HEALTH_METHODS)[number]>(),
    headers: jsonb('headers').$type<Record<string, string>>(),
    body: text('body'),
    expectedStatusCodes: integer('expected_status_codes').array().default(sql`ARRAY[200]`),
    initialDelaySeconds: integer('initial_delay_seconds').default(30),
    periodSeconds: integer('period_seconds').default(30),
    timeoutSeconds: integer('timeout_seconds').default(5),
    failureThreshold: integer('failure_threshold').default(3),
    successThreshold: integer('success_threshold').default(1),
    enabled: boolean('enabled').default(true),
    createdAt: tz('created_at').defaultNow(),
    updatedAt: tz('updated_at').defaultNow(),
  },
  (t) => [
    check('valid_protocol', oneOf('protocol', HEALTH_PROTOCOLS)),
    check('valid_method', oneOf('method', HEALTH_METHODS)),
    check('valid_port', sql`${t.port} > 0 AND ${t.port} <= 65535`),
    check(
      'valid_timings',
      sql`${t.initialDelaySeconds} >= 0 AND ${t.periodSeconds} > 0 AND ${t.timeoutSeconds} > 0 AND ${t.failureThreshold} > 0 AND ${t.successThreshold} > 0`,
    ),
    unique('health_checks_app_name_key').on(t.appName),
    index('idx_health_checks_app_name').on(t.appName),
    index('idx_health_checks_enabled').on(t.enabled),
  ],
);

// ---------------------------------------------------------------------------
// Tables the design adds.
// ---------------------------------------------------------------------------

/** API keys, stored as SHA-256 digests of the secret; the clear key is shown once. */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: serial('id').primaryKey(),
    name: varchar('name', { length: 100 }).notNull(),
    // The first characters of the key, shown in listings so that a key can be recognised.
    prefix: varchar('prefix', { length: 16 }).notNull(),
    keyHash: varchar('key_hash', { length: 64 }).notNull().unique('api_keys_key_hash_key'),
    scope: varchar('scope', { length: 10 }).notNull().$type<ApiKeyScope>(),
    createdAt: tz('created_at').notNull().defaultNow(),
    lastUsedAt: tz('last_used_at'),
    revokedAt: tz('revoked_at'),
    // The one app an ingest key may post metrics for; only ingest keys have one. The key
    // goes with its app: a later app of the same name gets a key of its own.
    appName: varchar('app_name', { length: 253 }).references(() => applications.name, { onDelete: 'cascade' }),
  },
  (t) => [
    check('valid_scope', oneOf('scope', API_KEY_SCOPES)),
    check('ingest_key_has_app', sql`(${t.scope} = 'ingest') = (${t.appName} IS NOT NULL)`),
    index('idx_api_keys_app_name').on(t.appName).where(sql`${t.appName} IS NOT NULL`),
  ],
);

/**
 * Metric batches posted with an Idempotency-Key: a retried batch (the meter retries when an
 * answer is lost) finds its key here and is not stored twice. Kept a day (cleanup).
 */
export const metricBatches = pgTable(
  'metric_batches',
  {
    appName: varchar('app_name', { length: 253 })
      .notNull()
      .references(() => applications.name, { onDelete: 'cascade' }),
    idempotencyKey: varchar('idempotency_key', { length: 255 }).notNull(),
    // SHA-256 of the batch: the same key with other samples is a client bug, refused.
    bodyHash: varchar('body_hash', { length: 64 }).notNull(),
    accepted: integer('accepted').notNull(),
    createdAt: tz('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.appName, t.idempotencyKey] }), index('idx_metric_batches_created_at').on(t.createdAt)],
);

/** One row per run of a scheduled job. */
export const jobRuns = pgTable(
  'job_runs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    job: varchar('job', { length: 50 }).notNull().$type<JobName>(),
    startedAt: tz('started_at').notNull().defaultNow(),
    finishedAt: tz('finished_at'),
    outcome: varchar('outcome', { length: 20 }).notNull().default('running').$type<JobOutcome>(),
    counts: jsonb('counts').$type<Record<string, number>>(),
    error: text('error'),
  },
  (t) => [
    check('valid_job', oneOf('job', JOB_NAMES)),
    check('valid_outcome', oneOf('outcome', JOB_OUTCOMES)),
    index('idx_job_runs_job_started').on(t.job, t.startedAt.desc()),
  ],
);

/** Per-app, per-metric aggregates over 1-minute and 1-hour buckets. */
export const metricRollups = pgTable(
  'metric_rollups',
  {
    appName: varchar('app_name', { length: 253 })
      .notNull()
      .references(() => applications.name, { onDelete: 'cascade' }),
    metricType: varchar('metric_type', { length: 50 }).notNull().$type<MetricType>(),
    width: varchar('width', { length: 4 }).notNull().$type<RollupWidth>(),
    bucketStart: tz('bucket_start').notNull(),
    count: integer('count').notNull(),
    sum: doublePrecision('sum').notNull(),
    min: doublePrecision('min').notNull(),
    max: doublePrecision('max').notNull(),
    p50: doublePrecision('p50').notNull(),
    p95: doublePrecision('p95').notNull(),
    p99: doublePrecision('p99').notNull(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: 'metric_rollups_pkey', columns: [t.appName, t.metricType, t.width, t.bucketStart] }),
    check('valid_rollup_metric_type', oneOf('metric_type', METRIC_TYPES)),
    check('valid_rollup_width', oneOf('width', ROLLUP_WIDTHS)),
    check('valid_rollup_count', sql`${t.count} > 0`),
    index('idx_metric_rollups_width_bucket').on(t.width, t.bucketStart),
  ],
);

/**
 * Hourly summaries of events past their retention. The document's archival strategy
 * inserts into `events_compressed` but never defines it; this is that table.
 */
export const eventsCompressed = pgTable(
  'events_compressed',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    hourBucket: tz('hour_bucket').notNull(),
    // No foreign key: a summary outlives its app and keeps the app's name. With ON DELETE
    // SET NULL, deleting a second app with a summary in the same hour and type would
    // collide with the first one's (hour, NULL, type) under the NULLS NOT DISTINCT key.
    appName: varchar('app_name', { length: 253 }),
    eventType: varchar('event_type', { length: 50 }).notNull().$type<EventType>(),
    eventCount: integer('event_count').notNull(),
    severityCounts: jsonb('severity_counts').notNull().$type<Partial<Record<Severity, number>>>(),
    sampleMessages: text('sample_messages').array().notNull(),
  },
  (t) => [
    // NULLS NOT DISTINCT: system events (no app) of one hour and type are one summary too.
    unique('events_compressed_bucket_key').on(t.hourBucket, t.appName, t.eventType).nullsNotDistinct(),
    check('valid_compressed_event_type', oneOf('event_type', EVENT_TYPES)),
    index('idx_events_compressed_app_hour').on(t.appName, t.hourBucket.desc()),
  ],
);

/**
 * The latest scaling decision of each app, overwritten in place every tick, with the
 * recent recommendations that the scale-in stabilization window needs.
 */
export const scalingDecisions = pgTable('scaling_decisions', {
  appName: varchar('app_name', { length: 253 })
    .primaryKey()
    .references(() => applications.name, { onDelete: 'cascade' }),
  evaluatedAt: tz('evaluated_at').notNull(),
  reason: varchar('reason', { length: 40 }).notNull(),
  currentReplicas: integer('current_replicas').notNull(),
  desiredReplicas: integer('desired_replicas').notNull(),
  decision: jsonb('decision').notNull(),
  recommendations: jsonb('recommendations').notNull().$type<Array<{ at: string; replicas: number }>>(),
});

export type Application = typeof applications.$inferSelect;
export type NewApplication = typeof applications.$inferInsert;
export type Instance = typeof instances.$inferSelect;
export type NewInstance = typeof instances.$inferInsert;
export type Event = typeof events.$inferSelect;
export type NewEvent = typeof events.$inferInsert;
export type Metric = typeof metrics.$inferSelect;
export type NewMetric = typeof metrics.$inferInsert;
export type ScalingPolicy = typeof scalingPolicies.$inferSelect;
export type NewScalingPolicy = typeof scalingPolicies.$inferInsert;
export type HealthCheck = typeof healthChecks.$inferSelect;
export type NewHealthCheck = typeof healthChecks.$inferInsert;
export type ApiKey = typeof apiKeys.$inferSelect;
export type MetricBatch = typeof metricBatches.$inferSelect;
export type JobRun = typeof jobRuns.$inferSelect;
export type MetricRollup = typeof metricRollups.$inferSelect;
export type EventCompressed = typeof eventsCompressed.$inferSelect;
export type ScalingDecisionRow = typeof scalingDecisions.$inferSelect;
