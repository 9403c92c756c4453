/**
 * #13 items 1 and 2: documents that cost the parsers time or stack out of proportion to their
 * size. The payloads are the issue's, at the default body limit and with it raised to its 10 MiB maximum;
 * each is refused by the scan before any parser, with the limit it breaks.
 */
import type { CallOptions } from '../../api/harness.js';
import type { HostileCase } from '../support.js';

const yaml = (body: string): CallOptions => ({ body, contentType: 'application/yaml' });
const json = (body: string): CallOptions => ({ body, contentType: 'application/json' });
const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const flowKeys = (n: number) => `{${Array.from({ length: n }, (_, i) => `k${i}: v`).join(', ')}}`;
const jsonKeys = (n: number) => JSON.stringify(Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v'])));
const REGISTER = '/api/v1/apps/register';
const SPEC = '/api/v1/apps/target/spec';

const item1 = '#13.1 nesting is refused before parsing (the process survives)';
const item2 = '#13.2 too many keys and too much YAML are refused before parsing';

export const DOCUMENT_LIMIT_CASES: HostileCase[] = [
  { name: 'yaml: 130,000 nested flow brackets (260 KB, the issue\'s payload)', proves: item1, method: 'POST', path: REGISTER, options: yaml(`a: ${nested(130_000)}`), status: 400, code: 'INVALID_SPEC', details: { limit: 'max_yaml_bytes' } },
  { name: 'yaml: 30,000 nested flow brackets under the size cap', proves: item1, method: 'POST', path: REGISTER, options: yaml(`a: ${nested(30_000)}`), status: 400, code: 'INVALID_SPEC', details: { limit: 'max_depth', max: 64 } },
  { name: 'yaml: 20,000 block-sequence dashes', proves: item1, method: 'POST', path: REGISTER, options: yaml('- '.repeat(20_000) + 'x'), status: 400, code: 'INVALID_SPEC', details: { limit: 'max_depth' } },
  { name: 'yaml: 65 levels of indented mappings', proves: item1, method: 'PUT', path: SPEC, options: yaml(Array.from({ length: 65 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' v\n'), status: 400, code: 'INVALID_SPEC', details: { limit: 'max_depth' } },
  { name: 'yaml: 1,000,000 nested brackets at a 10 MiB body limit', proves: item1, server: 'raised-body-limit', method: 'POST', path: REGISTER, options: yaml(`a: ${nested(1_000_000)}`), status: 400, code: 'INVALID_SPEC', details: { limit: 'max_yaml_bytes' } },
  { name: 'yaml: 9 MB declared in Content-Length, refused unread', proves: item2, server: 'raised-body-limit', method: 'POST', path: REGISTER, options: yaml(`a: ${'x'.repeat(9_000_000)}`), status: 400, code: 'INVALID_SPEC', details: { limit: 'max_yaml_bytes' } },
  { name: 'json: 130,000 nested lists in a spec', proves: item1, method: 'POST', path: REGISTER, options: json(`{"a": ${nested(130_000)}}`), status: 400, code: 'VALIDATION_ERROR', field: 'body', details: { limit: 'max_depth' } },
  { name: 'json: 65 nested objects in a spec', proves: item1, method: 'PUT', path: SPEC, options: json('{"a":'.repeat(65) + '1' + '}'.repeat(65)), status: 400, code: 'VALIDATION_ERROR', field: 'body', details: { limit: 'max_depth' } },
  { name: 'json: 1,000,000 nested lists at a 10 MiB body limit', proves: item1, server: 'raised-body-limit', method: 'POST', path: REGISTER, options: json(`{"a": ${nested(1_000_000)}}`), status: 400, code: 'VALIDATION_ERROR', field: 'body', details: { limit: 'max_depth' } },
  { name: 'json: 900,000 nested lists in a metric batch (under its 2 MiB limit)', proves: item1, method: 'POST', path: '/api/v1/apps/target/metrics', options: json(`{"samples": ${nested(900_000)}}`), status: 400, code: 'VALIDATION_ERROR', field: 'body', details: { limit: 'max_depth' } },
  { name: 'json: 100,000 nested lists in a scale request', proves: item1, method: 'POST', path: '/api/v1/apps/target/scale', options: json(`{"replicas": ${nested(100_000)}}`), status: 400, code: 'VALIDATION_ERROR', field: 'body', details: { limit: 'max_depth' } },
  { name: 'yaml: 20,000 label keys in one flow mapping (209 KB, the issue\'s payload)', proves: item2, method: 'POST', path: REGISTER, options: yaml(`labels: ${flowKeys(20_000)}`), status: 400, code: 'INVALID_SPEC', details: { limit: 'max_yaml_bytes', max: 65536 } },
  { name: 'yaml: 5,000 label keys in one flow mapping under the size cap', proves: item2, method: 'POST', path: REGISTER, options: yaml(`metadata:\n  labels: ${flowKeys(5_000)}\n`), status: 400, code: 'INVALID_SPEC', details: { limit: 'max_keys', max: 256 } },
  { name: 'yaml: 3,000 keys in one block mapping', proves: item2, method: 'PUT', path: SPEC, options: yaml(`metadata:\n  labels:\n${Array.from({ length: 3000 }, (_, i) => `    k${i}: v`).join('\n')}\n`), status: 400, code: 'INVALID_SPEC', details: { limit: 'max_keys' } },
  { name: 'json: 20,000 label keys', proves: item2, method: 'POST', path: REGISTER, options: json(`{"metadata": {"labels": ${jsonKeys(20_000)}}}`), status: 400, code: 'VALIDATION_ERROR', field: 'body', details: { limit: 'max_keys' } },
  { name: 'json: 50,000 keys in a metric sample\'s labels', proves: item2, method: 'POST', path: '/api/v1/apps/target/metrics', options: json(`{"samples": [{"metric_type": "rps", "value": 1, "labels": ${jsonKeys(50_000)}}]}`), status: 400, code: 'VALIDATION_ERROR', field: 'body', details: { limit: 'max_keys' } },
  { name: 'json: a list of 20,000 entries', proves: item2, method: 'POST', path: '/api/v1/apps/target/metrics', options: json(`{"samples": [${Array(20_000).fill('1').join(',')}]}`), status: 400, code: 'VALIDATION_ERROR', field: 'body', details: { limit: 'max_entries', max: 10000 } },
];
