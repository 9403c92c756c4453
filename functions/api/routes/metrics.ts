/** An app's metrics: ingesting batches of samples, and reading current values and history. */
import { createHash } from 'node:crypto';
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { storeBatchOnce } from '../../../db/queries/metric-batches.js';
import { insertMetrics, latestMetrics, metricHistory, type HistoryPoint } from '../../../db/queries/metrics.js';
import { AGGREGATION_LEVELS, METRIC_TYPES, type MetricType, type RollupWidth } from '../../../db/schema.js';
import { validationError } from '../../core/errors.js';
import type { Deps } from '../../deps.js';
import type { AppEnv } from '../context.js';
import { rollupHistory, type RollupHistory } from '../queries.js';
import { AppNameParams, durationSeconds, durationText, errorResponses, json, secured } from '../schemas.js';
import { findApp } from './apps.js';

/** The most samples one POST takes. */
export const MAX_SAMPLES_PER_BATCH = 5000;
/** Samples may be stamped this far ahead of the server's clock (clock skew), no further. */
const MAX_FUTURE_MS = 5 * 60_000;
/** The largest value a sample may carry (the column is a 4-byte float; this keeps far inside it). */
const MAX_VALUE = 1e15;
const PERCENT_TYPES: readonly MetricType[] = ['cpu_percent', 'memory_percent'];
const MAX_LABELS = 32;
/** The most history points per metric type in one answer. */
export const MAX_HISTORY_POINTS = 1440;
const MIN_INTERVAL_SECONDS = 10;
/** What an Idempotency-Key may be: printable ASCII (a UUID, a counter), like Stripe's and the IETF draft's. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const MAX_HISTORY_SECONDS = 90 * 86_400;

function sampleSchema(now: () => Date, retention: Deps['config']['retention']) {
  return z
    .strictObject({
      metric_type: z.enum(METRIC_TYPES, { error: `metric_type must be one of ${METRIC_TYPES.join(', ')}` }),
      value: z
        .number({ error: 'value must be a number' })
        .min(0, { error: 'value must be 0 or more' })
        .max(MAX_VALUE, { error: `value must be at most ${MAX_VALUE}` }),
      timestamp: z.iso
        .datetime({ offset: true, error: 'timestamp must be an ISO 8601 time such as 2024-05-01T12:00:00Z' })
        .optional()
        .openapi({ description: 'When the sample was taken; defaults to the time of ingestion' }),
      labels: z
        .record(
          z.string().min(1).max(64, { error: 'label names are at most 64 characters' }),
          z.union([z.string().max(256, { error: 'label values are at most 256 characters' }), z.number(), z.boolean()], {
            error: 'label values must be strings, numbers or booleans',
          }),
        )
        .refine((labels) => Object.keys(labels).length <= MAX_LABELS, { error: `at most ${MAX_LABELS} labels` })
        .optional(),
      unit: z.string().max(20, { error: 'unit is at most 20 characters' }).optional(),
      aggregation_level: z.enum(AGGREGATION_LEVELS, { error: `aggregation_level must be one of ${AGGREGATION_LEVELS.join(', ')}` }).optional(),
      container_id: z.string().min(1).max(128, { error: 'container_id is at most 128 characters' }).optional(),
    })
    .superRefine((sample, ctx) => {
      if (PERCENT_TYPES.includes(sample.metric_type) && sample.value > 100) {
        ctx.addIssue({ code: 'custom', path: ['value'], message: `${sample.metric_type} is a percentage: value must be at most 100` });
      }
      if (sample.timestamp !== undefined && Date.parse(sample.timestamp) > now().getTime() + MAX_FUTURE_MS) {
        ctx.addIssue({ code: 'custom', path: ['timestamp'], message: 'timestamp is more than 5 minutes in the future; check the clock of the sender' });
      }
      // Older than its retention, the cleanup would delete it at once; year 0000 was a 500 from the database.
      const keptSeconds = sample.aggregation_level === 'instance' ? retention.instanceMetricsRetentionSeconds : retention.appMetricsRetentionSeconds;
      if (sample.timestamp !== undefined && Date.parse(sample.timestamp) < now().getTime() - keptSeconds * 1000) {
        ctx.addIssue({ code: 'custom', path: ['timestamp'], message: `timestamp is older than the ${Math.round(keptSeconds / 86_400)} days such samples are kept; send recent samples only` });
      }
    })
    .openapi('MetricSample');
}

const HistoryPointSchema = z.object({ timestamp: z.string(), avg: z.number(), min: z.number(), max: z.number(), count: z.number().int() });

const MetricsAnswerSchema = z
  .object({
    app_name: z.string(),
    interval: z.string(),
    interval_seconds: z.number().int(),
    from: z.string(),
    to: z.string(),
    source: z.enum(['rollup', 'raw', 'rollup+raw']).openapi({ description: 'Where the history came from' }),
    current: z.record(z.string(), z.object({ value: z.number(), timestamp: z.string(), container_id: z.string().nullable() })),
    history: z.record(z.string(), z.array(HistoryPointSchema)),
  })
  .openapi('AppMetrics');

/** Points with the same metric and bucket (where rollups end and raw samples begin) combined. */
function mergePoints(points: HistoryPoint[]): HistoryPoint[] {
  const merged = new Map<string, HistoryPoint>();
  for (const p of points) {
    const key = `${p.metricType}|${p.bucketStart.getTime()}`;
    const seen = merged.get(key);
    if (!seen) {
      merged.set(key, { ...p });
      continue;
    }
    const n = seen.count + p.count;
    merged.set(key, {
      ...seen,
      avg: (seen.avg * seen.count + p.avg * p.count) / n,
      min: Math.min(seen.min, p.min),
      max: Math.max(seen.max, p.max),
      count: n,
    });
  }
  return [...merged.values()].sort((a, b) => a.metricType.localeCompare(b.metricType) || a.bucketStart.getTime() - b.bucketStart.getTime());
}

export function metricRoutes(app: OpenAPIHono<AppEnv>, deps: Deps): void {
  const BatchSchema = z
    .strictObject({
      samples: z
        .array(sampleSchema(deps.now, deps.config.retention), { error: 'samples must be a list of samples' })
        .min(1, { error: 'samples must hold at least one sample' })
        .max(MAX_SAMPLES_PER_BATCH, { error: `samples holds at most ${MAX_SAMPLES_PER_BATCH} samples per request; split the batch` }),
    })
    .openapi('MetricBatch');

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/apps/{name}/metrics',
      tags: ['metrics'],
      summary: `Ingest a batch of metric samples (at most ${MAX_SAMPLES_PER_BATCH}, stored in one statement)`,
      security: secured,
      description:
        'With an Idempotency-Key header (1 to 255 printable ASCII characters, one per batch), a retried batch is stored once: ' +
        'the retry is answered like the first post, with replayed: true. The same key with other samples is refused (409).',
      request: {
        params: AppNameParams,
        headers: z.object({
          'idempotency-key': z
            .string()
            .regex(IDEMPOTENCY_KEY, { error: 'Idempotency-Key must be 1 to 255 printable ASCII characters without spaces (e.g. a UUID)' })
            .optional()
            .openapi({ description: 'One per batch; a retry sends the same key', example: 'meter-web-1-000042' }),
        }),
        body: { required: true, content: { 'application/json': { schema: BatchSchema } } },
      },
      responses: {
        201: json(
          z
            .object({ message: z.string(), app_name: z.string(), accepted: z.number().int(), replayed: z.boolean() })
            .openapi('MetricsAccepted'),
          'Stored (or stored before, for a replayed Idempotency-Key)',
        ),
        ...errorResponses(404, 409, 413, 415),
      },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const { samples } = c.req.valid('json');
      const idempotencyKey = c.req.valid('header')['idempotency-key'];
      const rows = samples.map((s) => ({
        appName: name,
        metricType: s.metric_type,
        value: s.value,
        timestamp: s.timestamp === undefined ? undefined : new Date(s.timestamp),
        labels: s.labels ?? null,
        unit: s.unit ?? null,
        aggregationLevel: s.aggregation_level,
        containerId: s.container_id ?? null,
      }));
      const { accepted, replayed } =
        idempotencyKey === undefined
          ? { accepted: await insertMetrics(deps.db, rows), replayed: false }
          : await storeBatchOnce(
              deps.db,
              { appName: name, idempotencyKey, bodyHash: createHash('sha256').update(JSON.stringify(samples)).digest('hex') },
              (tx) => insertMetrics(tx, rows),
            );
      const message = replayed
        ? `Batch '${idempotencyKey}' was stored before (${accepted} sample${accepted === 1 ? '' : 's'}); nothing stored again`
        : `Stored ${accepted} sample${accepted === 1 ? '' : 's'} for '${name}'`;
      return c.json({ message, app_name: name, accepted, replayed }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/apps/{name}/metrics',
      tags: ['metrics'],
      summary: 'Latest value of each metric, and history averaged over ?interval= for the last ?history=',
      security: secured,
      request: {
        params: AppNameParams,
        query: z.object({
          interval: durationText('interval').optional().openapi({ description: 'Bucket width (default 1m)', example: '5m' }),
          history: durationText('history').optional().openapi({ description: 'How far back (default 1h)', example: '6h' }),
          type: z
            .string()
            .max(400)
            .optional()
            .openapi({ description: 'Only these metric types, comma-separated', example: 'cpu_percent,rps' }),
        }),
      },
      responses: { 200: json(MetricsAnswerSchema, 'Current values and history'), ...errorResponses(404) },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      const query = c.req.valid('query');
      const interval = query.interval ?? '1m';
      const history = query.history ?? '1h';
      const intervalSeconds = durationSeconds(interval);
      const historySeconds = durationSeconds(history);
      const types = query.type?.split(',').map((t) => t.trim()).filter(Boolean);
      const unknown = types?.filter((t) => !(METRIC_TYPES as readonly string[]).includes(t)) ?? [];
      const issues = [];
      if (unknown.length > 0) issues.push({ path: 'type', message: `unknown metric type ${unknown.join(', ')}; known: ${METRIC_TYPES.join(', ')}` });
      if (intervalSeconds < MIN_INTERVAL_SECONDS) issues.push({ path: 'interval', message: `must be at least ${MIN_INTERVAL_SECONDS}s` });
      if (historySeconds > MAX_HISTORY_SECONDS) issues.push({ path: 'history', message: 'must be at most 90d' });
      if (historySeconds < intervalSeconds) issues.push({ path: 'history', message: 'must be at least one interval' });
      else if (historySeconds / intervalSeconds > MAX_HISTORY_POINTS) {
        issues.push({ path: 'interval', message: `gives more than ${MAX_HISTORY_POINTS} points over ${history}; widen the interval` });
      }
      if (issues.length > 0) throw validationError(issues);
      await findApp(deps, name);

      const to = deps.now();
      const from = new Date(to.getTime() - historySeconds * 1000);
      const metricTypes = types as MetricType[] | undefined;
      // The widest rollups that divide the interval and exist: hourly ones, else per-minute ones.
      const widths: RollupWidth[] = [...(intervalSeconds % 3600 === 0 ? ['1h' as const] : []), ...(intervalSeconds % 60 === 0 ? ['1m' as const] : [])];
      let rolled: RollupHistory | null = null;
      for (const width of widths) {
        rolled = await rollupHistory(deps.db, name, { from, to, width, intervalSeconds, metricTypes });
        if (rolled.points.length > 0) break;
      }
      const rawFrom = rolled?.coveredUntil && rolled.coveredUntil > from ? rolled.coveredUntil : from;
      const raw = rawFrom < to ? await metricHistory(deps.db, name, { from: rawFrom, to, intervalSeconds, metricTypes }) : [];
      const points = mergePoints([...(rolled?.points ?? []), ...raw]);
      const source = rolled && rolled.points.length > 0 ? (raw.length > 0 ? ('rollup+raw' as const) : ('rollup' as const)) : ('raw' as const);

      const latest = await latestMetrics(deps.db, name);
      const current: Record<string, { value: number; timestamp: string; container_id: string | null }> = {};
      for (const [type, m] of Object.entries(latest)) {
        if (m && (!metricTypes || metricTypes.includes(type as MetricType))) {
          current[type] = { value: m.value, timestamp: m.at.toISOString(), container_id: m.containerId };
        }
      }
      const series: Record<string, Array<z.infer<typeof HistoryPointSchema>>> = {};
      for (const p of points) {
        (series[p.metricType] ??= []).push({ timestamp: p.bucketStart.toISOString(), avg: p.avg, min: p.min, max: p.max, count: p.count });
      }
      return c.json(
        {
          app_name: name,
          interval,
          interval_seconds: intervalSeconds,
          from: from.toISOString(),
          to: to.toISOString(),
          source,
          current,
          history: series,
        },
        200,
      );
    },
  );
}
