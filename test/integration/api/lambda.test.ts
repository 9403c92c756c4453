/**
 * The Lambda handler with the events API Gateway (HTTP API, payload format 2.0) sends: a GET
 * with a query string, a POST whose JSON body arrives base64-encoded, a YAML body, and an
 * error, answered in the 2.0 result format.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { beforeAll, expect, it } from 'vitest';
import { createLambdaHandler } from '../../../functions/api/lambda.js';
import { describeEachTarget } from '../../support/db.js';
import { ADMIN_TOKEN, makeHarness, specOf, yamlSpecOf, type Harness } from './harness.js';

function apiGatewayEvent(
  method: string,
  path: string,
  options: { query?: string; body?: string; base64?: boolean; headers?: Record<string, string>; requestId?: string } = {},
): APIGatewayProxyEventV2 {
  const now = new Date();
  const query = options.query ?? '';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: query,
    headers: {
      accept: '*/*',
      host: 'abc123.execute-api.eu-west-1.amazonaws.com',
      'user-agent': 'curl/8.5.0',
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      authorization: `Bearer ${ADMIN_TOKEN}`,
      ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}),
      ...options.headers,
    },
    ...(query ? { queryStringParameters: Object.fromEntries(new URLSearchParams(query)) } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '203.0.113.7', userAgent: 'curl/8.5.0' },
      requestId: options.requestId ?? 'Jx9yNgT2oAMEbQw=',
      routeKey: '$default',
      stage: '$default',
      time: '25/Nov/2026:01:00:00 +0000',
      timeEpoch: now.getTime(),
    },
    ...(options.body !== undefined
      ? { body: options.base64 ? Buffer.from(options.body).toString('base64') : options.body, isBase64Encoded: options.base64 === true }
      : { isBase64Encoded: false }),
  };
}

const lambdaContext = {
  callbackWaitsForEmptyEventLoop: true,
  functionName: 'orchestry-api',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:orchestry-api',
  memoryLimitInMB: '512',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
  logGroupName: '/aws/lambda/orchestry-api',
  logStreamName: '2026/11/25/[$LATEST]abcdef',
  getRemainingTimeInMillis: () => 30_000,
  done: () => {},
  fail: () => {},
  succeed: () => {},
};

describeEachTarget(
  'Lambda handler',
  (t) => {
    let h: Harness;
    let invoke: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2 & { body: string }>;
    let builds = 0;
    beforeAll(() => {
      h = makeHarness(t.db);
      const handler = createLambdaHandler(async () => {
        builds++;
        return h.deps;
      });
      // hono declares its own copy of the event types; the events are the same.
      invoke = async (event) =>
        (await handler(event as unknown as Parameters<typeof handler>[0], lambdaContext)) as APIGatewayProxyStructuredResultV2 & {
          body: string;
        };
    });

    it('registers an app from a base64-encoded JSON body', async () => {
      const result = await invoke(
        apiGatewayEvent('POST', '/api/v1/apps/register', {
          body: JSON.stringify(specOf('lambda-json')),
          base64: true,
          headers: { 'content-type': 'application/json' },
        }),
      );
      expect(result.statusCode).toBe(201);
      expect(JSON.parse(result.body)).toMatchObject({ app_name: 'lambda-json', status: 'registered' });
      expect(result.headers?.['content-type']).toMatch(/application\/json/);
    });

    it('registers an app from a YAML body', async () => {
      const result = await invoke(
        apiGatewayEvent('POST', '/api/v1/apps/register', { body: yamlSpecOf('lambda-yaml'), headers: { 'content-type': 'application/yaml' } }),
      );
      expect(result.statusCode).toBe(201);
      expect(JSON.parse(result.body).app_name).toBe('lambda-yaml');
    });

    it('answers a GET with a query string', async () => {
      const result = await invoke(apiGatewayEvent('GET', '/api/v1/apps', { query: 'status=registered' }));
      expect(result.statusCode).toBe(200);
      const body = JSON.parse(result.body);
      expect(body.apps.map((a: { name: string }) => a.name)).toEqual(expect.arrayContaining(['lambda-json', 'lambda-yaml']));
      expect(body.apps.every((a: { status: string }) => a.status === 'registered')).toBe(true);
    });

    it('takes the request id from API Gateway when the client sends none', async () => {
      const result = await invoke(apiGatewayEvent('GET', '/health', { requestId: 'Kq1ZmhN3IAMEVtw=' }));
      expect(result.statusCode).toBe(200);
      expect(result.headers?.['x-request-id']).toBe('Kq1ZmhN3IAMEVtw=');
      expect(h.logs.some((l) => l.msg === 'request' && l.request_id === 'Kq1ZmhN3IAMEVtw=')).toBe(true);
    });

    it('answers errors in the error format', async () => {
      const result = await invoke(apiGatewayEvent('GET', '/api/v1/apps/lambda-none', { headers: { authorization: 'Bearer wrong' } }));
      expect(result.statusCode).toBe(401);
      expect(JSON.parse(result.body)).toMatchObject({ code: 'UNAUTHORIZED', request_id: 'Jx9yNgT2oAMEbQw=' });
    });

    it('builds its dependencies once per container', () => {
      expect(builds).toBe(1);
    });
  },
  { targets: ['pglite', 'pg'] },
);
