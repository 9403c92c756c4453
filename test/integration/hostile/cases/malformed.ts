/**
 * The malformed requests that were test/integration/api/malformed.test.ts: wrong types, huge
 * and negative numbers, unicode and SQL in names, oversized bodies, missing fields, wrong
 * content types.
 */
import { specOf, type CallOptions } from '../../api/harness.js';
import type { HostileCase } from '../support.js';

type Case = Omit<HostileCase, 'proves'>;

const spec = (patch: (doc: any) => void) => {
  const doc: any = specOf('fresh-app');
  patch(doc);
  return doc;
};
const json = (body: unknown): CallOptions => ({ body });
const raw = (body: string, contentType = 'application/json'): CallOptions => ({ body, contentType });
const sample = (fields: Record<string, unknown>) => json({ samples: [{ metric_type: 'rps', value: 1, ...fields }] });
const future = () => new Date(Date.now() + 3600_000).toISOString();

const CASES: Case[] = [
  // Registration
  { name: 'register: a list instead of a spec', method: 'POST', path: '/api/v1/apps/register', options: json([]), status: 400, code: 'VALIDATION_ERROR' },
  { name: 'register: a number instead of a spec', method: 'POST', path: '/api/v1/apps/register', options: raw('42'), status: 400, code: 'VALIDATION_ERROR' },
  { name: 'register: truncated JSON', method: 'POST', path: '/api/v1/apps/register', options: raw('{"apiVersion": "v1", '), status: 400, code: 'VALIDATION_ERROR', field: 'body' },
  { name: 'register: empty JSON body', method: 'POST', path: '/api/v1/apps/register', options: raw(''), status: 400, code: 'VALIDATION_ERROR' },
  { name: 'register: missing metadata', method: 'POST', path: '/api/v1/apps/register', options: json(spec((d) => delete d.metadata)), status: 400, code: 'INVALID_SPEC', field: 'metadata' },
  { name: 'register: missing image', method: 'POST', path: '/api/v1/apps/register', options: json(spec((d) => delete d.spec.image)), status: 400, code: 'INVALID_SPEC', field: 'spec.image' },
  { name: 'register: unicode name', method: 'POST', path: '/api/v1/apps/register', options: json(spec((d) => (d.metadata.name = 'wéb-äpp'))), status: 400, code: 'INVALID_SPEC', field: 'metadata.name' },
  { name: 'register: SQL in the name', method: 'POST', path: '/api/v1/apps/register', options: json(spec((d) => (d.metadata.name = "x'; DROP TABLE applications; --"))), status: 400, code: 'INVALID_SPEC', field: 'metadata.name' },
  { name: 'register: name of 64 characters', method: 'POST', path: '/api/v1/apps/register', options: json(spec((d) => (d.metadata.name = 'a'.repeat(64)))), status: 400, code: 'INVALID_SPEC', field: 'metadata.name' },
  { name: 'register: name as a number', method: 'POST', path: '/api/v1/apps/register', options: json(spec((d) => (d.metadata.name = 12345))), status: 400, code: 'INVALID_SPEC', field: 'metadata.name' },
  { name: 'register: port out of range', method: 'POST', path: '/api/v1/apps/register', options: json(spec((d) => (d.spec.ports[0].containerPort = 99999))), status: 400, code: 'INVALID_SPEC', field: 'spec.ports[0].containerPort' },
  { name: 'register: negative minReplicas', method: 'POST', path: '/api/v1/apps/register', options: json(spec((d) => (d.scaling.minReplicas = -1))), status: 400, code: 'INVALID_SPEC', field: 'scaling.minReplicas' },
  { name: 'register: huge maxReplicas', method: 'POST', path: '/api/v1/apps/register', options: json(spec((d) => (d.scaling.maxReplicas = 1e300))), status: 400, code: 'INVALID_SPEC', field: 'scaling.maxReplicas' },
  { name: 'register: replicas as text', method: 'POST', path: '/api/v1/apps/register', options: json(spec((d) => (d.scaling.maxReplicas = '10'))), status: 400, code: 'INVALID_SPEC', field: 'scaling.maxReplicas' },
  { name: 'register: unknown field', method: 'POST', path: '/api/v1/apps/register', options: json(spec((d) => (d.spec.replicaz = 3))), status: 400, code: 'INVALID_SPEC', field: 'spec.replicaz' },
  { name: 'register: YAML syntax error', method: 'POST', path: '/api/v1/apps/register', options: raw('apiVersion: v1\nkind: [App\n', 'application/yaml'), status: 400, code: 'INVALID_SPEC' },
  { name: 'register: YAML alias bomb', method: 'POST', path: '/api/v1/apps/register', options: raw(`a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [${'*a,'.repeat(9)}*a]\nc: &c [${'*b,'.repeat(9)}*b]\nd: &d [${'*c,'.repeat(9)}*c]\ne: [${'*d,'.repeat(9)}*d]\n`, 'application/yaml'), status: 400, code: 'INVALID_SPEC' },
  { name: 'register: spec as text/plain', method: 'POST', path: '/api/v1/apps/register', options: raw('apiVersion: v1', 'text/plain'), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'register: 1 MB body', method: 'POST', path: '/api/v1/apps/register', options: json(spec((d) => (d.metadata.labels = { pad: 'x'.repeat(1024 * 1024) }))), status: 413, code: 'PAYLOAD_TOO_LARGE' },
  { name: 'register: a name that exists', method: 'POST', path: '/api/v1/apps/register', options: json(specOf('target')), status: 409, code: 'APP_ALREADY_EXISTS' },
  { name: 'put spec: another app\'s name', method: 'PUT', path: '/api/v1/apps/target/spec', options: json(specOf('other')), status: 400, code: 'VALIDATION_ERROR', field: 'metadata.name' },
  { name: 'put spec: invalid spec', method: 'PUT', path: '/api/v1/apps/target/spec', options: json({ ...specOf('target'), kind: 'Deployment' }), status: 400, code: 'INVALID_SPEC', field: 'kind' },
  // Names in the path
  { name: 'path: SQL in the app name', method: 'POST', path: `/api/v1/apps/${encodeURIComponent("x';DROP TABLE applications;--")}/scale`, options: json({ replicas: 1 }), status: 400, code: 'VALIDATION_ERROR', field: 'name' },
  { name: 'path: unicode app name', method: 'GET', path: `/api/v1/apps/${encodeURIComponent('äpp')}`, status: 400, code: 'VALIDATION_ERROR', field: 'name' },
  { name: 'path: uppercase app name', method: 'DELETE', path: '/api/v1/apps/Target', status: 400, code: 'VALIDATION_ERROR', field: 'name' },
  { name: 'path: 300-character app name', method: 'GET', path: `/api/v1/apps/${'a'.repeat(300)}/events`, status: 400, code: 'VALIDATION_ERROR', field: 'name' },
  // Start, stop, scale
  { name: 'scale: negative replicas', method: 'POST', path: '/api/v1/apps/target/scale', options: json({ replicas: -1 }), status: 400, code: 'VALIDATION_ERROR', field: 'replicas' },
  { name: 'scale: replicas as text', method: 'POST', path: '/api/v1/apps/target/scale', options: json({ replicas: '3' }), status: 400, code: 'VALIDATION_ERROR', field: 'replicas' },
  { name: 'scale: fractional replicas', method: 'POST', path: '/api/v1/apps/target/scale', options: json({ replicas: 1.5 }), status: 400, code: 'VALIDATION_ERROR', field: 'replicas' },
  { name: 'scale: a billion replicas', method: 'POST', path: '/api/v1/apps/target/scale', options: json({ replicas: 1e9 }), status: 400, code: 'VALIDATION_ERROR', field: 'replicas' },
  { name: 'scale: replicas missing', method: 'POST', path: '/api/v1/apps/target/scale', options: json({}), status: 400, code: 'VALIDATION_ERROR', field: 'replicas' },
  { name: 'scale: no body at all', method: 'POST', path: '/api/v1/apps/target/scale', status: 400, code: 'VALIDATION_ERROR' },
  { name: 'scale: unknown field', method: 'POST', path: '/api/v1/apps/target/scale', options: json({ replicas: 2, force: true }), status: 400, code: 'VALIDATION_ERROR', field: 'force' },
  { name: 'scale: XML body', method: 'POST', path: '/api/v1/apps/target/scale', options: raw('<replicas>2</replicas>', 'application/xml'), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'start: zero replicas', method: 'POST', path: '/api/v1/apps/target/start', options: json({ replicas: 0 }), status: 400, code: 'VALIDATION_ERROR', field: 'replicas' },
  { name: 'start: wait as text', method: 'POST', path: '/api/v1/apps/target/start', options: json({ wait: 'yes' }), status: 400, code: 'VALIDATION_ERROR', field: 'wait' },
  { name: 'start: negative timeout', method: 'POST', path: '/api/v1/apps/target/start', options: json({ wait: true, timeout: -5 }), status: 400, code: 'VALIDATION_ERROR', field: 'timeout' },
  { name: 'start: timeout of a day', method: 'POST', path: '/api/v1/apps/target/start', options: json({ wait: true, timeout: 86_400 }), status: 400, code: 'VALIDATION_ERROR', field: 'timeout' },
  { name: 'start: a list as body', method: 'POST', path: '/api/v1/apps/target/start', options: json([1, 2]), status: 400, code: 'VALIDATION_ERROR' },
  { name: 'stop: force as text', method: 'POST', path: '/api/v1/apps/target/stop', options: json({ force: 'true' }), status: 400, code: 'VALIDATION_ERROR', field: 'force' },
  { name: 'delete: force=maybe', method: 'DELETE', path: '/api/v1/apps/target?force=maybe', status: 400, code: 'VALIDATION_ERROR', field: 'force' },
  // Metrics
  { name: 'metrics: 5001 samples', method: 'POST', path: '/api/v1/apps/target/metrics', options: json({ samples: Array.from({ length: 5001 }, () => ({ metric_type: 'rps', value: 1 })) }), status: 400, code: 'VALIDATION_ERROR', field: 'samples' },
  { name: 'metrics: empty batch', method: 'POST', path: '/api/v1/apps/target/metrics', options: json({ samples: [] }), status: 400, code: 'VALIDATION_ERROR', field: 'samples' },
  { name: 'metrics: samples missing', method: 'POST', path: '/api/v1/apps/target/metrics', options: json({ metric_type: 'rps', value: 1 }), status: 400, code: 'VALIDATION_ERROR', field: 'samples' },
  { name: 'metrics: negative value', method: 'POST', path: '/api/v1/apps/target/metrics', options: sample({ value: -3 }), status: 400, code: 'VALIDATION_ERROR', field: 'samples[0].value' },
  { name: 'metrics: value as text', method: 'POST', path: '/api/v1/apps/target/metrics', options: sample({ value: 'NaN' }), status: 400, code: 'VALIDATION_ERROR', field: 'samples[0].value' },
  { name: 'metrics: infinite value (1e309)', method: 'POST', path: '/api/v1/apps/target/metrics', options: raw('{"samples":[{"metric_type":"rps","value":1e309}]}'), status: 400, code: 'VALIDATION_ERROR', field: 'samples[0].value' },
  { name: 'metrics: value beyond the column (1e39)', method: 'POST', path: '/api/v1/apps/target/metrics', options: sample({ value: 1e39 }), status: 400, code: 'VALIDATION_ERROR', field: 'samples[0].value' },
  { name: 'metrics: cpu over 100 percent', method: 'POST', path: '/api/v1/apps/target/metrics', options: sample({ metric_type: 'cpu_percent', value: 101 }), status: 400, code: 'VALIDATION_ERROR', field: 'samples[0].value' },
  { name: 'metrics: unknown metric type', method: 'POST', path: '/api/v1/apps/target/metrics', options: sample({ metric_type: 'rps; DELETE FROM metrics' }), status: 400, code: 'VALIDATION_ERROR', field: 'samples[0].metric_type' },
  { name: 'metrics: timestamp an hour ahead', method: 'POST', path: '/api/v1/apps/target/metrics', options: sample({ timestamp: future() }), status: 400, code: 'VALIDATION_ERROR', field: 'samples[0].timestamp' },
  { name: 'metrics: timestamp not a time', method: 'POST', path: '/api/v1/apps/target/metrics', options: sample({ timestamp: 'yesterday' }), status: 400, code: 'VALIDATION_ERROR', field: 'samples[0].timestamp' },
  { name: 'metrics: nested label', method: 'POST', path: '/api/v1/apps/target/metrics', options: sample({ labels: { a: { b: 1 } } }), status: 400, code: 'VALIDATION_ERROR', field: 'samples[0].labels.a' },
  { name: 'metrics: unknown aggregation level', method: 'POST', path: '/api/v1/apps/target/metrics', options: sample({ aggregation_level: 'cluster' }), status: 400, code: 'VALIDATION_ERROR', field: 'samples[0].aggregation_level' },
  { name: 'metrics: 3 MB body', method: 'POST', path: '/api/v1/apps/target/metrics', options: raw(`{"samples":[],"pad":"${'x'.repeat(3 * 1024 * 1024)}"}`), status: 413, code: 'PAYLOAD_TOO_LARGE' },
  { name: 'metrics: interval of 1 second', method: 'GET', path: '/api/v1/apps/target/metrics?interval=1s', status: 400, code: 'VALIDATION_ERROR', field: 'interval' },
  { name: 'metrics: interval not a duration', method: 'GET', path: '/api/v1/apps/target/metrics?interval=often', status: 400, code: 'VALIDATION_ERROR', field: 'interval' },
  { name: 'metrics: unknown type filter', method: 'GET', path: '/api/v1/apps/target/metrics?type=cpu,temperature', status: 400, code: 'VALIDATION_ERROR', field: 'type' },
  // Events, listings, logs
  { name: 'events: limit 0', method: 'GET', path: '/api/v1/events?limit=0', status: 400, code: 'VALIDATION_ERROR', field: 'limit' },
  { name: 'events: limit 10 million', method: 'GET', path: '/api/v1/apps/target/events?limit=10000000', status: 400, code: 'VALIDATION_ERROR', field: 'limit' },
  { name: 'events: since garbage', method: 'GET', path: '/api/v1/events?since=last-tuesday', status: 400, code: 'VALIDATION_ERROR', field: 'since' },
  { name: 'events: unknown type', method: 'GET', path: '/api/v1/events?type=explosion', status: 400, code: 'VALIDATION_ERROR', field: 'type' },
  { name: 'events: forged cursor', method: 'GET', path: `/api/v1/events?cursor=${Buffer.from("2024-01-01' OR 1=1|1").toString('base64url')}`, status: 400, code: 'VALIDATION_ERROR', field: 'cursor' },
  { name: 'events: limit given twice', method: 'GET', path: '/api/v1/events?limit=1&limit=2', status: 400, code: 'VALIDATION_ERROR', field: 'limit' },
  { name: 'apps: unknown status filter', method: 'GET', path: '/api/v1/apps?status=exploded', status: 400, code: 'VALIDATION_ERROR', field: 'status' },
  { name: 'logs: tail 0', method: 'GET', path: '/api/v1/apps/target/logs?tail=0', status: 400, code: 'VALIDATION_ERROR', field: 'tail' },
  // Scaling policy
  { name: 'policy: min above max', method: 'PUT', path: '/api/v1/apps/target/scaling', options: json({ min_replicas: 9, max_replicas: 3 }), status: 400, code: 'VALIDATION_ERROR', field: 'min_replicas' },
  { name: 'policy: unknown field', method: 'PUT', path: '/api/v1/apps/target/scaling', options: json({ max_replicaz: 3 }), status: 400, code: 'VALIDATION_ERROR', field: 'max_replicaz' },
  { name: 'policy: unknown mode', method: 'PUT', path: '/api/v1/apps/target/scaling', options: json({ mode: 'turbo' }), status: 400, code: 'VALIDATION_ERROR', field: 'mode' },
  { name: 'policy: renaming the app', method: 'PUT', path: '/api/v1/apps/target/scaling', options: json({ app_name: 'other' }), status: 400, code: 'VALIDATION_ERROR', field: 'app_name' },
  { name: 'policy: negative weight', method: 'PUT', path: '/api/v1/apps/target/scaling', options: json({ cpu_weight: -1 }), status: 400, code: 'VALIDATION_ERROR', field: 'cpu_weight' },
  // Keys
  { name: 'keys: unknown scope', method: 'POST', path: '/api/v1/keys', options: json({ name: 'x', scope: 'root' }), status: 400, code: 'VALIDATION_ERROR', field: 'scope' },
  { name: 'keys: name missing', method: 'POST', path: '/api/v1/keys', options: json({ scope: 'read' }), status: 400, code: 'VALIDATION_ERROR', field: 'name' },
  { name: 'keys: id not a number', method: 'DELETE', path: '/api/v1/keys/abc', status: 400, code: 'VALIDATION_ERROR', field: 'id' },
  { name: 'keys: id beyond any key', method: 'DELETE', path: '/api/v1/keys/99999999999', status: 400, code: 'VALIDATION_ERROR', field: 'id' },
];

export const MALFORMED_CASES: HostileCase[] = CASES.map((c) => ({ ...c, proves: 'malformed' }));
