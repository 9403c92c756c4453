/**
 * GET /openapi.json is a valid OpenAPI 3.1 document that documents every route the app
 * serves (and nothing it does not), each authenticated route with bearer security and the
 * error format; GET /docs serves Swagger UI on it.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type DbHandle } from '../../../db/client.js';
import { makeHarness, type Harness } from './harness.js';

const UNDOCUMENTED = new Set(['GET /openapi.json', 'GET /docs']);
const PUBLIC = new Set(['GET /health']);

describe('OpenAPI document', () => {
  let handle: DbHandle;
  let h: Harness;
  let doc: any;
  beforeAll(async () => {
    // The document and Swagger UI touch no database: a pool that never connects will do.
    handle = await createDb({ driver: 'pg', url: 'postgres://postgres@127.0.0.1:1/unused', poolMax: 1 });
    h = makeHarness(handle.db);
    const answer = await h.call('GET', '/openapi.json', { key: null });
    expect(answer.status).toBe(200);
    doc = answer.body;
  });
  afterAll(async () => {
    await handle.close();
  });

  it('is valid OpenAPI 3.1', async () => {
    expect(doc.openapi).toBe('3.1.0');
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('lists every route the app serves, and only those', () => {
    const served = new Set(
      h.app.routes
        .filter((r) => r.method !== 'ALL')
        .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z_]+)/g, '{$1}')}`)
        .filter((r) => !UNDOCUMENTED.has(r)),
    );
    const documented = new Set(
      Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
        Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
      ),
    );
    expect([...documented].sort()).toEqual([...served].sort());
    expect(served.size).toBeGreaterThanOrEqual(26);
  });

  it('covers every route of the design', () => {
    const expected = [
      'POST /api/v1/apps/register',
      'GET /api/v1/apps',
      'GET /api/v1/apps/{name}',
      'DELETE /api/v1/apps/{name}',
      'GET /api/v1/apps/{name}/spec',
      'PUT /api/v1/apps/{name}/spec',
      'POST /api/v1/apps/{name}/start',
      'POST /api/v1/apps/{name}/stop',
      'POST /api/v1/apps/{name}/scale',
      'GET /api/v1/apps/{name}/metrics',
      'POST /api/v1/apps/{name}/metrics',
      'GET /api/v1/apps/{name}/events',
      'GET /api/v1/events',
      'GET /api/v1/apps/{name}/logs',
      'GET /api/v1/apps/{name}/scaling',
      'PUT /api/v1/apps/{name}/scaling',
      'GET /api/v1/apps/{name}/scaling/explain',
      'GET /api/v1/apps/{name}/health',
      'POST /api/v1/apps/{name}/health/check',
      'GET /api/v1/metrics',
      'GET /api/v1/config',
      'GET /api/v1/jobs',
      'GET /health',
      'POST /api/v1/keys',
      'GET /api/v1/keys',
      'DELETE /api/v1/keys/{id}',
      'GET /api/v1/instances',
      'GET /api/v1/health-checks',
      'GET /api/v1/jobs/runs',
    ];
    for (const route of expected) {
      const [method, path] = route.split(' ') as [string, string];
      expect(doc.paths[path]?.[method.toLowerCase()], route).toBeDefined();
    }
  });

  it('marks authenticated routes with bearer security and documents the error format', () => {
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.components.schemas.Error.required).toEqual(expect.arrayContaining(['error', 'details', 'code', 'timestamp']));
    for (const [path, ops] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(ops)) {
        const route = `${method.toUpperCase()} ${path}`;
        if (PUBLIC.has(route)) {
          expect(op.security, route).toBeUndefined();
          continue;
        }
        expect(op.security, route).toEqual([{ bearerAuth: [] }]);
        for (const status of ['401', '403', '429', '503']) {
          expect(op.responses[status]?.content['application/json'].schema, `${route} ${status}`).toEqual({ $ref: '#/components/schemas/Error' });
        }
      }
    }
  });

  it('documents limit, cursor and next_cursor on every list, and the filters of GET /apps', () => {
    const resolve = (schema: any) => (schema.$ref ? doc.components.schemas[schema.$ref.split('/').pop()] : schema);
    const lists = ['/api/v1/apps', '/api/v1/keys', '/api/v1/instances', '/api/v1/health-checks', '/api/v1/jobs/runs', '/api/v1/events', '/api/v1/apps/{name}/events'];
    for (const path of lists) {
      const op = doc.paths[path].get;
      const params = new Map(op.parameters.filter((p: any) => p.in === 'query').map((p: any) => [p.name, p]));
      expect(params.get('limit'), path).toMatchObject({ required: false, description: expect.stringContaining('at most 1000') });
      expect(params.get('cursor'), path).toMatchObject({ required: false, description: expect.stringContaining('next_cursor') });
      const answer = resolve(op.responses['200'].content['application/json'].schema);
      expect(answer.properties.next_cursor, path).toBeDefined();
      expect(answer.required, path).toContain('next_cursor');
    }
    const apps = doc.paths['/api/v1/apps'].get.parameters.map((p: any) => p.name);
    expect(apps).toEqual(expect.arrayContaining(['status', 'mode', 'image', 'label', 'limit', 'cursor']));
  });

  it('documents YAML bodies for register and spec replacement', () => {
    for (const [path, method] of [['/api/v1/apps/register', 'post'], ['/api/v1/apps/{name}/spec', 'put']] as const) {
      expect(Object.keys(doc.paths[path][method].requestBody.content).sort()).toEqual([
        'application/json',
        'application/x-yaml',
        'application/yaml',
        'text/yaml',
      ]);
    }
  });

  it('serves Swagger UI at /docs pointing at the document', async () => {
    const answer = await h.call('GET', '/docs', { key: null });
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/text\/html/);
    expect(answer.text).toContain('SwaggerUIBundle');
    expect(answer.text).toContain('/openapi.json');
  });
});
