/**
 * A fleet of running apps written straight into a bench database with a few set-based
 * statements (generate_series), so that seeding 10,000 apps takes seconds, not the run.
 *
 * Every app: mode auto, running with `replicas` running and healthy replicas, a scaling policy,
 * an enabled HTTP health check, and app-level samples of the five scaling metrics every 10 s.
 * The samples end at `start`, as a collector's would: `appendSamples` adds the next ones
 * before each later evaluation, so the table never holds samples from the future.
 *
 * One app in ten is hot (far above its thresholds but already at its maximum), one in ten idle
 * (far below, but in its cooldown), the rest steady (inside the thresholds): decisions differ
 * from app to app, yet no desired count changes, so a scaler tick measures the decisions and
 * not the container starts that a change would trigger.
 */
import pg from 'pg';
import { SCALING_METRICS } from '../../functions/core/scaling.js';

export const SAMPLE_PERIOD_SECONDS = 10;

export interface FleetOptions {
  apps: number;
  replicas: number;
  /** The first instant the fleet is evaluated at. */
  start: Date;
  /** Cooldown of every policy; last_scaled_at is 60 s before start. */
  cooldownSeconds?: number;
}

export const appName = (i: number) => `app-${String(i).padStart(5, '0')}`;

/** The loads of the three kinds of app, per metric, as app-level values. */
const LOADS: Record<'hot' | 'idle' | 'steady', Record<(typeof SCALING_METRICS)[number], number>> = {
  hot: { cpu_percent: 95, memory_percent: 60, rps: 400, latency_p95: 600, active_connections: 500 },
  idle: { cpu_percent: 4, memory_percent: 18, rps: 4, latency_p95: 20, active_connections: 2 },
  steady: { cpu_percent: 42, memory_percent: 50, rps: 95, latency_p95: 140, active_connections: 140 },
};

/** SQL for the kind of app number `g`: one in ten hot, one in ten idle. */
const KIND = `CASE WHEN g % 10 = 0 THEN 'hot' WHEN g % 10 = 1 THEN 'idle' ELSE 'steady' END`;

/**
 * `count` samples of each scaling metric for every app, 10 s apart, the last one 5 s before
 * `end`: each app's load with a little wobble. Returns the number of rows.
 */
async function insertSamples(client: pg.Client, apps: number, end: Date, count: number): Promise<number> {
  const inserted = await client.query(
    `INSERT INTO metrics (app_name, metric_type, "timestamp", value, aggregation_level)
     SELECT 'app-' || lpad(g::text, 5, '0'), m.metric,
       $2::timestamptz - make_interval(secs => 5 + ${SAMPLE_PERIOD_SECONDS} * k),
       ($4::jsonb -> ${KIND} ->> m.metric)::real * (1 + 0.05 * ((g + k + extract(epoch from $2::timestamptz)::int / 10) % 3 - 1)),
       'app'
     FROM generate_series(1, $1::int) g, generate_series(0, $3::int - 1) k, unnest($5::text[]) AS m(metric)`,
    [apps, end.toISOString(), count, JSON.stringify(LOADS), [...SCALING_METRICS]],
  );
  return inserted.rowCount ?? 0;
}

/** The samples of the 10 s before `at` for every app of a fleet of `apps`. */
export async function appendSamples(url: string, apps: number, at: Date): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  try {
    return await insertSamples(client, apps, at, 1);
  } finally {
    await client.end();
  }
}

/**
 * The metrics table's secondary indexes are dropped for the bulk insert and built again after
 * it, which is several times faster than maintaining them row by row.
 */
async function withoutMetricIndexes<T>(client: pg.Client, body: () => Promise<T>): Promise<T> {
  const { rows } = await client.query<{ name: string; definition: string }>(
    `SELECT indexname AS name, indexdef AS definition FROM pg_indexes
     WHERE schemaname = 'public' AND tablename = 'metrics' AND indexname <> 'metrics_pkey'`,
  );
  for (const index of rows) await client.query(`DROP INDEX "${index.name}"`);
  const result = await body();
  for (const index of rows) await client.query(index.definition);
  return result;
}

export async function seedFleet(url: string, options: FleetOptions): Promise<{ samples: number }> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  const start = options.start.toISOString();
  const lastScaled = new Date(options.start.getTime() - 60_000).toISOString();
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO applications (name, spec, status, replicas, desired_replicas, mode, last_scaled_at, created_at, updated_at)
       SELECT 'app-' || lpad(g::text, 5, '0'),
         jsonb_build_object(
           'apiVersion', 'v1', 'kind', 'App',
           'metadata', jsonb_build_object('name', 'app-' || lpad(g::text, 5, '0'), 'labels', jsonb_build_object('team', 'bench')),
           'spec', jsonb_build_object('type', 'http', 'image', 'registry.example.com/web:1.' || (g % 7),
             'ports', jsonb_build_array(jsonb_build_object('containerPort', 8080, 'protocol', 'HTTP')),
             'resources', jsonb_build_object('cpu', '500m', 'memory', '512Mi')),
           'scaling', jsonb_build_object('mode', 'auto'),
           'healthCheck', jsonb_build_object('protocol', 'HTTP', 'path', '/health', 'port', 8080)),
         'running', $2::int, $2::int, 'auto', $3::timestamptz, $4::timestamptz - interval '1 day', $3::timestamptz
       FROM generate_series(1, $1::int) g`,
      [options.apps, options.replicas, lastScaled, start],
    );
    await client.query(
      `INSERT INTO scaling_policies (app_name, min_replicas, max_replicas, cooldown_seconds)
       SELECT 'app-' || lpad(g::text, 5, '0'), 1, CASE WHEN ${KIND} = 'hot' THEN $2::int ELSE 10 END, $3::int
       FROM generate_series(1, $1::int) g`,
      [options.apps, options.replicas, options.cooldownSeconds ?? 600],
    );
    await client.query(
      `INSERT INTO health_checks (app_name, protocol, path, port, initial_delay_seconds, period_seconds, timeout_seconds)
       SELECT 'app-' || lpad(g::text, 5, '0'), 'HTTP', '/health', 8080, 10, 10, 2
       FROM generate_series(1, $1::int) g`,
      [options.apps],
    );
    await client.query(
      `INSERT INTO instances (app_name, container_id, container_name, replica_index, ip, port, status, health_status,
                              started_at, last_health_check, consecutive_successes)
       SELECT 'app-' || lpad(g::text, 5, '0'), 'bench-' || g || '-' || r, 'orchestry-app-' || lpad(g::text, 5, '0') || '-' || r,
         r, ('10.' || (g / 65536) % 256 || '.' || (g / 256) % 256 || '.' || g % 256)::inet, 8080 + r, 'running', 'healthy',
         $3::timestamptz - interval '1 hour', $3::timestamptz - interval '5 seconds', 10
       FROM generate_series(1, $1::int) g, generate_series(0, $2::int - 1) r`,
      [options.apps, options.replicas, start],
    );
    const samples = await withoutMetricIndexes(client, () => insertSamples(client, options.apps, options.start, 6));
    await client.query('COMMIT');
    // Statistics as autovacuum would have them by now: the planner sees the real sizes.
    await client.query('VACUUM ANALYZE');
    return { samples };
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    await client.end();
  }
}
