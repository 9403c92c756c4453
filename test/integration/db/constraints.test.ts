/**
 * The schema's rules, each under its name: every CHECK rejects a violating row and maps to
 * a VALIDATION_ERROR naming the field, every UNIQUE to APP_ALREADY_EXISTS or CONFLICT, every
 * foreign key to APP_NOT_FOUND with its ON DELETE rule, and the repaired indexes exist.
 */
import { eq, sql } from 'drizzle-orm';
import { beforeAll, expect, it } from 'vitest';
import { queryRows, type Database } from '../../../db/client.js';
import { CHECK_RULES, withDbErrors } from '../../../db/errors.js';
import { deleteApp, insertApp } from '../../../db/queries/applications.js';
import { startJobRun } from '../../../db/queries/job-runs.js';
import {
  apiKeys,
  applications,
  events,
  eventsCompressed,
  healthChecks,
  instances,
  jobRuns,
  metricRollups,
  metrics,
  scalingDecisions,
  scalingPolicies,
  type NewInstance,
} from '../../../db/schema.js';
import { describeEachTarget } from '../../support/db.js';
import { rejection, spec } from './helpers.js';

const APP = 'rules-app';
const inst = (extra: Partial<NewInstance>): NewInstance => ({
  appName: APP,
  containerId: `c-${Math.random().toString(36).slice(2)}`,
  containerName: 'n',
  replicaIndex: 100 + Math.floor(Math.random() * 1_000_000),
  ip: '127.0.0.1',
  port: 8080,
  ...extra,
});
const rollup = { appName: APP, metricType: 'rps' as const, width: '1m' as const, bucketStart: new Date(), count: 1, sum: 1, min: 1, max: 1, p50: 1, p95: 1, p99: 1 };
const bad = <T>(v: unknown) => v as T;

/** One violating write per CHECK constraint, keyed `table.constraint`. */
const CHECK_VIOLATIONS: Record<string, (db: Database) => Promise<unknown>> = {
  'applications.valid_status': (db) => db.insert(applications).values({ name: 'c1', spec: {}, status: bad('paused') }),
  'applications.valid_mode': (db) => db.insert(applications).values({ name: 'c2', spec: {}, mode: bad('magic') }),
  'applications.valid_replicas': (db) => db.insert(applications).values({ name: 'c3', spec: {}, replicas: -1 }),
  'applications.valid_desired_replicas': (db) => db.insert(applications).values({ name: 'c4', spec: {}, desiredReplicas: -1 }),
  'applications.valid_revision': (db) => db.insert(applications).values({ name: 'c5', spec: {}, revision: 0 }),
  'instances.valid_status': (db) => db.insert(instances).values(inst({ status: bad('gone') })),
  'instances.valid_health_status': (db) => db.insert(instances).values(inst({ healthStatus: bad('meh') })),
  'instances.valid_replica_index': (db) => db.insert(instances).values(inst({ replicaIndex: -1 })),
  'instances.valid_port': (db) => db.insert(instances).values(inst({ port: 70000 })),
  'instances.valid_failure_count': (db) => db.insert(instances).values(inst({ failureCount: -1 })),
  'instances.valid_cpu_percent': (db) => db.insert(instances).values(inst({ cpuPercent: -0.5 })),
  'instances.valid_memory_percent': (db) => db.insert(instances).values(inst({ memoryPercent: 100.5 })),
  'events.valid_event_type': (db) => db.insert(events).values({ eventType: bad('audit'), message: 'm' }),
  'events.valid_event_category': (db) => db.insert(events).values({ eventType: 'config', eventCategory: bad('misc'), message: 'm' }),
  'events.valid_severity': (db) => db.insert(events).values({ eventType: 'config', severity: bad('fatal'), message: 'm' }),
  'metrics.valid_metric_type': (db) => db.insert(metrics).values({ appName: APP, metricType: bad('temperature'), value: 1 }),
  'metrics.valid_aggregation_level': (db) =>
    db.insert(metrics).values({ appName: APP, metricType: 'rps', value: 1, aggregationLevel: bad('cluster') }),
  'scaling_policies.valid_replica_bounds': (db) => db.insert(scalingPolicies).values({ appName: APP, minReplicas: 4, maxReplicas: 3 }),
  'scaling_policies.valid_min_replicas': (db) => db.insert(scalingPolicies).values({ appName: APP, minReplicas: -1 }),
  'scaling_policies.valid_max_replicas': (db) => db.insert(scalingPolicies).values({ appName: APP, minReplicas: 0, maxReplicas: 0 }),
  'scaling_policies.valid_thresholds': (db) =>
    db.insert(scalingPolicies).values({ appName: APP, scaleInThresholdPct: 50, scaleOutThresholdPct: 40 }),
  'scaling_policies.valid_percentages': (db) =>
    db.insert(scalingPolicies).values({ appName: APP, scaleInThresholdPct: 30, scaleOutThresholdPct: 150 }),
  'scaling_policies.valid_weights': (db) => db.insert(scalingPolicies).values({ appName: APP, cpuWeight: -1 }),
  'scaling_policies.valid_scale_to_zero_after': (db) => db.insert(scalingPolicies).values({ appName: APP, scaleToZeroAfterSeconds: -1 }),
  'health_checks.valid_protocol': (db) => db.insert(healthChecks).values({ appName: APP, port: 80, protocol: bad('UDP') }),
  'health_checks.valid_method': (db) => db.insert(healthChecks).values({ appName: APP, port: 80, method: bad('PATCH') }),
  'health_checks.valid_port': (db) => db.insert(healthChecks).values({ appName: APP, port: 0 }),
  'health_checks.valid_timings': (db) => db.insert(healthChecks).values({ appName: APP, port: 80, periodSeconds: 0 }),
  'api_keys.valid_scope': (db) => db.insert(apiKeys).values({ name: 'k', prefix: 'p', keyHash: 'h', scope: bad('root') }),
  'api_keys.ingest_key_has_app': (db) => db.insert(apiKeys).values({ name: 'k', prefix: 'p', keyHash: 'h-ingest', scope: 'ingest' }),
  'job_runs.valid_job': (db) => startJobRun(db, bad('miner')),
  'job_runs.valid_outcome': (db) => db.insert(jobRuns).values({ job: 'scaler', outcome: bad('unknown') }),
  'metric_rollups.valid_rollup_metric_type': (db) => db.insert(metricRollups).values({ ...rollup, metricType: bad('x') }),
  'metric_rollups.valid_rollup_width': (db) => db.insert(metricRollups).values({ ...rollup, width: bad('5m') }),
  'metric_rollups.valid_rollup_count': (db) => db.insert(metricRollups).values({ ...rollup, count: 0 }),
  'events_compressed.valid_compressed_event_type': (db) =>
    db.insert(eventsCompressed).values({ hourBucket: new Date(), eventType: bad('x'), eventCount: 1, severityCounts: {}, sampleMessages: [] }),
};

describeEachTarget('schema constraints', (t) => {
  beforeAll(async () => {
    await insertApp(t.db.$primary, { name: APP, spec: spec('a:1') });
  });

  it('every CHECK constraint of the schema has a rule and a violation case here', async () => {
    const rows = await queryRows<{ name: string }>(
      t.db,
      sql`SELECT c.conrelid::regclass::text || '.' || c.conname AS name
          FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
          WHERE c.contype = 'c' AND n.nspname = 'public' ORDER BY 1`,
    );
    const names = rows.map((r) => r.name);
    expect(names).toEqual(Object.keys(CHECK_RULES).sort());
    expect(Object.keys(CHECK_VIOLATIONS).sort()).toEqual(names);
  });

  it.each(Object.keys(CHECK_RULES))('CHECK %s rejects a violating row as a VALIDATION_ERROR naming the field', async (key) => {
    const constraint = key.split('.')[1];
    const error = await rejection(withDbErrors(() => CHECK_VIOLATIONS[key]!(t.db.$primary)));
    expect(error.code).toBe('VALIDATION_ERROR');
    expect(error.details).toEqual({
      issues: [{ path: CHECK_RULES[key]!.field, message: CHECK_RULES[key]!.rule }],
      constraint,
    });
    expect(error.message).toContain(CHECK_RULES[key]!.field);
  });

  it('UNIQUE constraints: an app name is APP_ALREADY_EXISTS, the others CONFLICT naming their columns', async () => {
    const db = t.db.$primary;
    const dup = async (write: () => Promise<unknown>) => {
      await write();
      return rejection(withDbErrors(write));
    };
    expect(await dup(() => db.insert(applications).values({ name: 'u-app', spec: {} }))).toMatchObject({
      code: 'APP_ALREADY_EXISTS',
      details: { app_name: 'u-app' },
    });
    const cases: Array<[string, string, () => Promise<unknown>]> = [
      ['instances_container_id_key', 'container_id', () => db.insert(instances).values(inst({ containerId: 'u-c' }))],
      ['instances_app_name_replica_index_key', 'app_name/replica_index', () => db.insert(instances).values(inst({ replicaIndex: 7 }))],
      ['api_keys_key_hash_key', 'key_hash', () => db.insert(apiKeys).values({ name: 'k', prefix: 'p', keyHash: 'u-hash', scope: 'read' })],
      ['health_checks_app_name_key', 'app_name', () => db.insert(healthChecks).values({ appName: APP, port: 80 })],
      ['scaling_policies_pkey', 'app_name', () => db.insert(scalingPolicies).values({ appName: APP })],
      ['metric_rollups_pkey', 'app_name/metric_type/width/bucket_start', () => db.insert(metricRollups).values({ ...rollup, bucketStart: new Date('2025-01-01T00:00:00Z') })],
      ['scaling_decisions_pkey', 'app_name', () => db.insert(scalingDecisions).values({ appName: APP, evaluatedAt: new Date(), reason: 'r', currentReplicas: 1, desiredReplicas: 1, decision: {}, recommendations: [] })],
      // NULLS NOT DISTINCT: two summaries of system events (no app) for one hour and type collide.
      ['events_compressed_bucket_key', 'hour_bucket/app_name/event_type', () => db.insert(eventsCompressed).values({ hourBucket: new Date('2025-01-01T00:00:00Z'), appName: null, eventType: 'config', eventCount: 1, severityCounts: {}, sampleMessages: [] })],
    ];
    for (const [constraint, field, write] of cases) {
      const error = await dup(write);
      expect(error.code, constraint).toBe('CONFLICT');
      expect(error.details, constraint).toMatchObject({ field, constraint });
    }
  });

  it('every foreign key to applications rejects an unknown app as APP_NOT_FOUND naming it', async () => {
    const db = t.db.$primary;
    const ghost = 'ghost-app';
    const writes: Array<() => Promise<unknown>> = [
      () => db.insert(instances).values(inst({ appName: ghost })),
      () => db.insert(events).values({ eventType: 'config', message: 'm', appName: ghost }),
      () => db.insert(metrics).values({ appName: ghost, metricType: 'rps', value: 1 }),
      () => db.insert(scalingPolicies).values({ appName: ghost }),
      () => db.insert(healthChecks).values({ appName: ghost, port: 80 }),
      () => db.insert(metricRollups).values({ ...rollup, appName: ghost }),
      () => db.insert(scalingDecisions).values({ appName: ghost, evaluatedAt: new Date(), reason: 'r', currentReplicas: 1, desiredReplicas: 1, decision: {}, recommendations: [] }),
    ];
    for (const write of writes) {
      expect(await rejection(withDbErrors(write))).toMatchObject({ code: 'APP_NOT_FOUND', details: { app_name: ghost } });
    }
  });

  it('deleting an app cascades to its instances, metrics, policy, health check, rollups and decision, and keeps its events', async () => {
    const db = t.db.$primary;
    const app = 'doomed-app';
    await insertApp(db, { name: app, spec: spec('a:1') });
    await db.insert(instances).values(inst({ appName: app }));
    await db.insert(metrics).values({ appName: app, metricType: 'rps', value: 1 });
    await db.insert(scalingPolicies).values({ appName: app });
    await db.insert(healthChecks).values({ appName: app, port: 80 });
    await db.insert(metricRollups).values({ ...rollup, appName: app });
    await db.insert(scalingDecisions).values({ appName: app, evaluatedAt: new Date(), reason: 'r', currentReplicas: 1, desiredReplicas: 1, decision: {}, recommendations: [] });
    const [event] = await db.insert(events).values({ eventType: 'config', message: 'kept', appName: app }).returning();
    const [summary] = await db
      .insert(eventsCompressed)
      .values({ hourBucket: new Date('2025-02-01T00:00:00Z'), appName: app, eventType: 'config', eventCount: 3, severityCounts: { info: 3 }, sampleMessages: ['a'] })
      .returning();

    expect(await deleteApp(db, app)).toBe(true);

    const [left] = await queryRows<Record<string, number>>(
      db,
      sql`SELECT
        (SELECT count(*)::int FROM instances WHERE app_name = ${app}) AS instances,
        (SELECT count(*)::int FROM metrics WHERE app_name = ${app}) AS metrics,
        (SELECT count(*)::int FROM scaling_policies WHERE app_name = ${app}) AS scaling_policies,
        (SELECT count(*)::int FROM health_checks WHERE app_name = ${app}) AS health_checks,
        (SELECT count(*)::int FROM metric_rollups WHERE app_name = ${app}) AS metric_rollups,
        (SELECT count(*)::int FROM scaling_decisions WHERE app_name = ${app}) AS scaling_decisions`,
    );
    expect(left).toEqual({ instances: 0, metrics: 0, scaling_policies: 0, health_checks: 0, metric_rollups: 0, scaling_decisions: 0 });
    const [keptEvent] = await db.select().from(events).where(eq(events.id, event!.id));
    expect(keptEvent).toMatchObject({ message: 'kept', appName: null });
    const [keptSummary] = await db.select().from(eventsCompressed).where(eq(eventsCompressed.id, summary!.id));
    expect(keptSummary).toMatchObject({ eventCount: 3, appName: app });
  });

  it('deleting two apps whose event summaries share an hour and type keeps both summaries', async () => {
    const db = t.db.$primary;
    const hourBucket = new Date('2025-03-01T00:00:00Z');
    for (const app of ['twin-a', 'twin-b']) {
      await insertApp(db, { name: app, spec: spec('a:1') });
      await db.insert(eventsCompressed).values({ hourBucket, appName: app, eventType: 'scaling', eventCount: 1, severityCounts: { info: 1 }, sampleMessages: ['m'] });
    }
    expect(await deleteApp(db, 'twin-a')).toBe(true);
    expect(await deleteApp(db, 'twin-b')).toBe(true);
    const kept = await db.select().from(eventsCompressed).where(eq(eventsCompressed.hourBucket, hourBucket));
    expect(kept.map((k) => k.appName).sort()).toEqual(['twin-a', 'twin-b']);
  });

  it('the foreign keys declare exactly those ON DELETE rules', async () => {
    const rows = await queryRows<{ child: string; rule: string }>(
      t.db,
      sql`SELECT conrelid::regclass::text AS child, confdeltype::text AS rule
          FROM pg_constraint WHERE contype = 'f' AND confrelid = 'applications'::regclass ORDER BY 1`,
    );
    expect(rows).toEqual([
      { child: 'api_keys', rule: 'c' },
      { child: 'events', rule: 'n' },
      { child: 'health_checks', rule: 'c' },
      { child: 'instances', rule: 'c' },
      { child: 'metric_batches', rule: 'c' },
      { child: 'metric_rollups', rule: 'c' },
      { child: 'metrics', rule: 'c' },
      { child: 'scaling_decisions', rule: 'c' },
      { child: 'scaling_policies', rule: 'c' },
    ]);
  });

  it('the document indexes exist, with the repairs: B-tree expression, partial, BRIN and covering', async () => {
    const rows = await queryRows<{ indexname: string; indexdef: string }>(
      t.db,
      sql`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'`,
    );
    const def = new Map(rows.map((r) => [r.indexname, r.indexdef]));
    const documented = [
      'idx_applications_status', 'idx_applications_mode', 'idx_applications_updated_at', 'idx_applications_spec_image',
      'idx_applications_active', 'idx_instances_app_name', 'idx_instances_status', 'idx_instances_health_status',
      'idx_instances_container_id', 'idx_instances_updated_at', 'idx_instances_app_status', 'idx_instances_health_check',
      'idx_instances_app_status_health', 'idx_instances_active', 'idx_events_app_name_timestamp', 'idx_events_type_timestamp',
      'idx_events_timestamp', 'idx_events_severity', 'idx_events_category', 'idx_events_container', 'idx_events_recent',
      'idx_events_app_type_severity', 'idx_metrics_app_timestamp', 'idx_metrics_type_timestamp', 'idx_metrics_timestamp',
      'idx_metrics_app_type_time', 'idx_metrics_app_type_recent', 'idx_scaling_policies_updated_at',
      'idx_health_checks_app_name', 'idx_health_checks_enabled',
    ];
    expect(documented.filter((name) => !def.has(name))).toEqual([]);
    const normalise = (s: string | undefined) => (s ?? '').replace(/\s+/g, ' ');
    // The document's status, mode and image indexes, each with the name after its key (keyset pages of GET /apps).
    expect(normalise(def.get('idx_applications_spec_image'))).toContain("USING btree ((((spec -> 'spec'::text) ->> 'image'::text)), name)");
    expect(normalise(def.get('idx_applications_status'))).toContain('USING btree (status, name)');
    expect(normalise(def.get('idx_applications_mode'))).toContain('USING btree (mode, name)');
    expect(normalise(def.get('idx_applications_active'))).toMatch(/WHERE \(\(status\)::text = ANY \(.*'running'.*'starting'.*'updating'.*\)\)/);
    expect(normalise(def.get('idx_instances_active'))).toMatch(/WHERE \(\(status\)::text = ANY \(.*'running'.*'starting'.*\)\)/);
    expect(normalise(def.get('idx_events_recent'))).toMatch(/USING brin \("timestamp"\)/);
    expect(normalise(def.get('idx_metrics_app_type_recent'))).toMatch(/\(app_name, metric_type, "timestamp" DESC\) INCLUDE \(value\)/);
  });
});
