/**
 * The scaler's reads and writes, each ONE statement whatever the number of apps:
 * - scalerInputs: every app to evaluate with its policy, replica counts, metric window and
 *   last decision;
 * - applyScaling: the new desired counts, guarded against a change made meanwhile;
 * - upsertDecisions: the latest decision of every app, overwritten in place.
 */
import { getTableColumns, sql, type SQL } from 'drizzle-orm';
import {
  DEFAULT_POLICY,
  resolvePolicy,
  SCALING_METRICS,
  STALE_AFTER_WINDOWS,
  type MetricWindow,
  type Recommendation,
  type ScalingDecision,
  type ScalingPolicy,
  type ScalingReason,
} from '../../functions/core/scaling.js';
import { TRAFFIC_METRICS, type TrafficHistory } from '../../functions/core/scale-to-zero.js';
import { queryRows, type Database } from '../client.js';
import { withDbErrors } from '../errors.js';
import { scalingPolicies, type AppMode, type AppStatus } from '../schema.js';

/** The statuses of apps the scaler acts on (with desired > 0 and mode auto). */
export const SCALABLE_STATUSES: readonly AppStatus[] = ['running', 'starting', 'updating'];

/**
 * The sample period: a replica's readings of a metric within one period (aligned to the Unix
 * epoch) count as one reading, their mean (docs/scaling.md, "Inputs").
 */
export const SAMPLE_PERIOD_SECONDS = 10;

/** Metrics that are app totals: per-replica samples of them add up, the others average. */
const SUMMED_METRICS = ['rps', 'active_connections'];

export interface LastDecision {
  evaluatedAt: Date;
  reason: ScalingReason;
  currentReplicas: number;
  desiredReplicas: number;
  /**
   * The whole stored decision: read for one app (what explain shows), not by the tick, which
   * needs only the reason and the recommendations and would otherwise read back ~1.5 kB per
   * app (15 MB at 10,000 apps) every tick.
   */
  decision?: ScalingDecision;
  recommendations: Recommendation[];
}

export interface ScalerInput {
  appName: string;
  mode: AppMode;
  status: AppStatus;
  desiredReplicas: number;
  lastScaledAt: Date | null;
  policy: ScalingPolicy;
  /** Running replicas that pass their health checks (all running ones when checks are off). */
  readyReplicas: number;
  /** Replicas started but not ready yet. */
  startingReplicas: number;
  window: MetricWindow;
  /** For apps whose minimum is 0: their recent traffic (see scale-to-zero.ts). */
  traffic?: TrafficHistory;
  lastDecision: LastDecision | null;
}

interface InputRow {
  app_name: string;
  mode: AppMode | null;
  status: AppStatus;
  desired_replicas: number | null;
  last_scaled_at: string | Date | null;
  policy: Record<string, number | null> | null;
  ready: number | string;
  starting: number | string;
  last_busy_at: string | Date | null;
  first_sample_at: string | Date | null;
  metric_window: Array<{ metric: string; avg: number; max: number; p95: number; count: number | string; latest_at: string }> | null;
  last_decision: {
    evaluated_at: string;
    reason: ScalingReason;
    current_replicas: number;
    desired_replicas: number;
    decision?: ScalingDecision;
    recommendations: Array<{ at: string; replicas: number }>;
  } | null;
}

const policyColumns = getTableColumns(scalingPolicies);

/** `json_build_object('minReplicas', p.min_replicas, ...)` over the columns decide() reads. */
const policyJson: SQL = sql`json_build_object(${sql.join(
  (Object.keys(DEFAULT_POLICY) as Array<keyof ScalingPolicy>).map(
    (key) => sql`${key}::text, p.${sql.identifier(policyColumns[key].name)}`,
  ),
  sql`, `,
)})`;

const toDate = (v: string | Date | null): Date | null => (v === null ? null : new Date(v));

/**
 * Everything the scaling decision needs, for every app the scaler evaluates (auto mode,
 * running/starting/updating, desired > 0), or for one app whatever its mode and status
 * (`app`: what GET /apps/{name}/scaling/explain shows). One statement.
 *
 * The window of each app uses its own evaluation_window_seconds, ending at `now`. Samples of
 * one metric are first combined per sample period: each replica's (container_id's) readings
 * averaged, then the replicas' CPU and memory averaged and their requests and connections
 * summed, so the window's max and p95 are of the app, not of its hottest replica.
 *
 * The read also looks STALE_AFTER_WINDOWS windows back, for the newest time alone (the bench's
 * 10,000-app tick reads 20 % longer, where aggregating both windows cost 50 %): a metric that
 * reported recently but has fallen silent comes back with count 0 and that time, which decide() reads as
 * stale (it holds a scale-in back) instead of absent (it would play no part, and the remaining
 * metrics alone could scale the app in while, say, the router's request counts are not arriving).
 */
export async function scalerInputs(db: Database, now: Date, opts: { app?: string | undefined } = {}): Promise<ScalerInput[]> {
  const at = sql`${now.toISOString()}::timestamptz`;
  const which =
    opts.app !== undefined
      ? sql`a.name = ${opts.app}`
      : sql`a.mode = 'auto' AND a.status IN (${sql.join(SCALABLE_STATUSES.map((s) => sql`${s}`), sql`, `)}) AND a.desired_replicas > 0`;
  const metricList = sql.join(SCALING_METRICS.map((m) => sql`${m}`), sql`, `);
  const summed = sql.join(SUMMED_METRICS.map((m) => sql`${m}`), sql`, `);
  const rows = await withDbErrors(() =>
    queryRows<InputRow>(
      db,
      sql`
        WITH apps AS (
          SELECT a.name, a.mode, a.status, a.desired_replicas, a.last_scaled_at,
                 coalesce(h.enabled, false) AS checks_enabled,
                 coalesce(p.evaluation_window_seconds, ${DEFAULT_POLICY.evaluationWindowSeconds}::int) AS window_seconds,
                 coalesce(p.min_replicas, ${DEFAULT_POLICY.minReplicas}::int) AS min_replicas,
                 coalesce(p.scale_to_zero_after_seconds, ${DEFAULT_POLICY.scaleToZeroAfterSeconds}::int) AS zero_after_seconds,
                 CASE WHEN p.app_name IS NULL THEN NULL ELSE ${policyJson} END AS policy
          FROM applications a
          LEFT JOIN scaling_policies p ON p.app_name = a.name
          LEFT JOIN health_checks h ON h.app_name = a.name
          WHERE ${which}
        ),
        replica_counts AS (
          SELECT i.app_name,
            count(*) FILTER (WHERE i.status = 'running' AND (NOT a.checks_enabled OR i.health_status = 'healthy')) AS ready,
            count(*) FILTER (WHERE i.status = 'starting'
              OR (i.status = 'running' AND a.checks_enabled AND i.health_status IN ('starting', 'unknown'))) AS starting
          FROM instances i JOIN apps a ON a.name = i.app_name
          GROUP BY i.app_name
        ),
        -- Each replica's readings within one sample period are averaged first, so a batch
        -- stamped with one now() counts each replica once, and replicas reporting a few ms
        -- apart still add up; then the replicas are combined.
        per_replica AS (
          SELECT m.app_name, m.metric_type, m.aggregation_level,
            floor(extract(epoch FROM m."timestamp") / ${SAMPLE_PERIOD_SECONDS}::int) AS period,
            avg(m.value::float8) AS value, max(m."timestamp") AS ts
          FROM metrics m JOIN apps a ON a.name = m.app_name
          WHERE m.metric_type IN (${metricList})
            AND m."timestamp" > ${at} - make_interval(secs => a.window_seconds::float8)
            AND m."timestamp" <= ${at}
          GROUP BY m.app_name, m.metric_type, m.aggregation_level, 4, coalesce(m.container_id, '')
        ),
        instants AS (
          SELECT app_name, metric_type, max(ts) AS ts,
            CASE WHEN metric_type IN (${summed}) AND aggregation_level = 'instance'
                 THEN sum(value) ELSE avg(value) END AS value
          FROM per_replica
          GROUP BY app_name, metric_type, aggregation_level, period
        ),
        in_window AS (
          SELECT app_name, metric_type, avg(value) AS avg_value, max(value) AS max_value,
            percentile_cont(0.95) WITHIN GROUP (ORDER BY value) AS p95_value,
            count(*) AS n, max(ts) AS latest_at
          FROM instants GROUP BY app_name, metric_type
        ),
        -- Only the newest time of a metric silent in the window is needed, not its instants.
        fallen_silent AS (
          SELECT m.app_name, m.metric_type, NULL::float8 AS avg_value, NULL::float8 AS max_value,
            NULL::float8 AS p95_value, 0::bigint AS n, max(m."timestamp") AS latest_at
          FROM metrics m JOIN apps a ON a.name = m.app_name
          WHERE m.metric_type IN (${metricList})
            AND m."timestamp" > ${at} - make_interval(secs => ${STALE_AFTER_WINDOWS}::int * a.window_seconds::float8)
            AND m."timestamp" <= ${at} - make_interval(secs => a.window_seconds::float8)
            AND NOT EXISTS (SELECT 1 FROM in_window w WHERE w.app_name = m.app_name AND w.metric_type = m.metric_type)
          GROUP BY m.app_name, m.metric_type
        ),
        -- Scale to zero only: the last traffic and the first sample since one idle period plus a
        -- window ago. Read for apps whose minimum is 0 alone, so the others' tick pays nothing.
        traffic AS (
          SELECT m.app_name, max(m."timestamp") FILTER (WHERE m.value > 0) AS last_busy_at,
            min(m."timestamp") AS first_sample_at
          FROM metrics m JOIN apps a ON a.name = m.app_name
          WHERE a.min_replicas = 0 AND m.metric_type IN (${sql.join(TRAFFIC_METRICS.map((m) => sql`${m}`), sql`, `)})
            AND m."timestamp" > ${at} - make_interval(secs => (a.zero_after_seconds + a.window_seconds)::float8)
            AND m."timestamp" <= ${at}
          GROUP BY m.app_name
        ),
        windows AS (
          SELECT app_name,
            json_agg(json_build_object(
              'metric', metric_type, 'avg', avg_value, 'max', max_value, 'p95', p95_value,
              'count', n, 'latest_at', latest_at)) AS metric_window
          FROM (SELECT * FROM in_window UNION ALL SELECT * FROM fallen_silent) per_metric
          GROUP BY app_name
        )
        SELECT a.name AS app_name, a.mode, a.status, a.desired_replicas, a.last_scaled_at, a.policy,
          coalesce(c.ready, 0) AS ready, coalesce(c.starting, 0) AS starting,
          w.metric_window, t.last_busy_at, t.first_sample_at,
          CASE WHEN d.app_name IS NULL THEN NULL ELSE json_build_object(
            'evaluated_at', d.evaluated_at, 'reason', d.reason, 'current_replicas', d.current_replicas,
            'desired_replicas', d.desired_replicas, ${opts.app !== undefined ? sql`'decision', d.decision, ` : sql``}'recommendations', d.recommendations)
          END AS last_decision
        FROM apps a
        LEFT JOIN replica_counts c ON c.app_name = a.name
        LEFT JOIN windows w ON w.app_name = a.name
        LEFT JOIN traffic t ON t.app_name = a.name
        LEFT JOIN scaling_decisions d ON d.app_name = a.name
        ORDER BY a.name`,
    ),
  );
  return rows.map(inputFromRow);
}

function inputFromRow(r: InputRow): ScalerInput {
  const window: MetricWindow = {};
  for (const w of r.metric_window ?? []) {
    window[w.metric as keyof MetricWindow] = {
      avg: Number(w.avg),
      max: Number(w.max),
      p95: Number(w.p95),
      count: Number(w.count),
      latestAt: new Date(w.latest_at),
    };
  }
  const d = r.last_decision;
  return {
    appName: r.app_name,
    mode: r.mode ?? 'auto',
    status: r.status,
    desiredReplicas: r.desired_replicas ?? 0,
    lastScaledAt: toDate(r.last_scaled_at),
    policy: resolvePolicy(r.policy ?? {}),
    readyReplicas: Number(r.ready),
    startingReplicas: Number(r.starting),
    window,
    ...(r.first_sample_at !== null || r.last_busy_at !== null
      ? { traffic: { lastBusyAt: toDate(r.last_busy_at), firstSampleAt: toDate(r.first_sample_at) } }
      : {}),
    lastDecision: d
      ? {
          evaluatedAt: new Date(d.evaluated_at),
          reason: d.reason,
          currentReplicas: d.current_replicas,
          desiredReplicas: d.desired_replicas,
          ...(d.decision ? { decision: d.decision } : {}),
          recommendations: (d.recommendations ?? []).map((x) => ({ at: new Date(x.at), replicas: x.replicas })),
        }
      : null,
  };
}

export interface ScalingChange {
  appName: string;
  from: number;
  to: number;
}

/** A desired count the scaler set, after the clamp to the policy as it is at the write. */
export interface AppliedChange {
  appName: string;
  to: number;
}

/**
 * Sets the new desired counts (and last_scaled_at). An app whose desired count, mode or
 * status changed since it was read (a manual scale, a stop) is left alone: the next tick
 * decides again from what is there then. Returns the apps changed, with the count set.
 *
 * The count is clamped to the policy's bounds as they are when it is written, not as they
 * were read: a PUT of the scaling policy or the spec that lowers max_replicas between the
 * tick's read and this write must not be overrun. Two statements for that: the apps' rows
 * are locked first (in name order, so two ticks cannot deadlock), which waits for such a PUT
 * to commit (it holds the app's row lock while it changes the policy), and only then does
 * the UPDATE take its snapshot; in one statement, a write that waited for the lock would
 * recheck the app's new row against the policy rows of its old snapshot.
 */
export async function applyScaling(tx: Database, changes: ScalingChange[], at: Date): Promise<AppliedChange[]> {
  if (changes.length === 0) return [];
  const names = sql.param(changes.map((c) => c.appName));
  await withDbErrors(() =>
    queryRows(tx, sql`SELECT name FROM applications WHERE name = ANY(${names}::varchar[]) ORDER BY name FOR UPDATE`),
  );
  const rows = await withDbErrors(() =>
    queryRows<{ name: string; desired_replicas: number }>(
      tx,
      sql`
        UPDATE applications a
        SET desired_replicas = c.clamped, last_scaled_at = ${at.toISOString()}::timestamptz, updated_at = now(),
          -- Only idle_to_zero brings an app in auto mode to 0 (decide()'s floor is 1 otherwise).
          status = CASE WHEN c.clamped = 0 THEN 'scaled_to_zero' ELSE a.status END
        FROM (
          SELECT u.name, u.from_replicas,
            CASE WHEN u.to_replicas = 0 THEN 0 ELSE
              least(greatest(u.to_replicas, coalesce(p.min_replicas, u.to_replicas)), coalesce(p.max_replicas, u.to_replicas)) END AS clamped
          FROM unnest(
            ${names}::varchar[],
            ${sql.param(changes.map((c) => c.from))}::int[],
            ${sql.param(changes.map((c) => c.to))}::int[]
          ) AS u(name, from_replicas, to_replicas)
          LEFT JOIN scaling_policies p ON p.app_name = u.name
        ) AS c
        WHERE a.name = c.name AND a.desired_replicas = c.from_replicas AND c.clamped <> c.from_replicas
          AND a.mode = 'auto' AND a.status IN (${sql.join(SCALABLE_STATUSES.map((s) => sql`${s}`), sql`, `)})
        RETURNING a.name, a.desired_replicas`,
    ),
  );
  return rows.map((r) => ({ appName: r.name, to: Number(r.desired_replicas) }));
}

export interface DecisionRow {
  appName: string;
  decision: ScalingDecision;
  /** The recommendation history to keep (already pruned to the stabilization window). */
  recommendations: Recommendation[];
}

/** Stores the latest decision of each app, overwriting the previous one, in one statement. */
export async function upsertDecisions(tx: Database, rows: DecisionRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const payload = rows.map((r) => ({
    app_name: r.appName,
    evaluated_at: r.decision.evaluatedAt,
    reason: r.decision.reason,
    current_replicas: r.decision.currentReplicas,
    desired_replicas: r.decision.desiredReplicas,
    decision: r.decision,
    recommendations: r.recommendations.map((x) => ({ at: x.at.toISOString(), replicas: x.replicas })),
  }));
  const written = await withDbErrors(() =>
    queryRows<{ app_name: string }>(
      tx,
      sql`
        INSERT INTO scaling_decisions AS s
          (app_name, evaluated_at, reason, current_replicas, desired_replicas, decision, recommendations)
        SELECT d.app_name, d.evaluated_at, d.reason, d.current_replicas, d.desired_replicas, d.decision, d.recommendations
        FROM jsonb_to_recordset(${JSON.stringify(payload)}::jsonb) AS d(
          app_name varchar, evaluated_at timestamptz, reason varchar, current_replicas int,
          desired_replicas int, decision jsonb, recommendations jsonb)
        -- An app deleted since the inputs were read has nothing to keep a decision for.
        WHERE EXISTS (SELECT 1 FROM applications a WHERE a.name = d.app_name)
        ON CONFLICT (app_name) DO UPDATE SET
          evaluated_at = excluded.evaluated_at, reason = excluded.reason,
          current_replicas = excluded.current_replicas, desired_replicas = excluded.desired_replicas,
          decision = excluded.decision, recommendations = excluded.recommendations
        RETURNING s.app_name`,
    ),
  );
  return written.length;
}
