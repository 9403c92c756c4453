/** The API's small pure pieces: durations, snake_case, validation issues, scopes, keys, error mapping. */
import { HTTPException } from 'hono/http-exception';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { OrchestryError } from '../../../functions/core/errors.js';
import { classify, fieldIssues } from '../../../functions/api/errors.js';
import { generateKey, hashKey, sameSecret, scopeAllows } from '../../../functions/api/keys.js';
import { requiredScope } from '../../../functions/api/middleware/auth.js';
import { durationSeconds, sinceDate, sinceText } from '../../../functions/api/schemas.js';
import { snakeKeys } from '../../../functions/api/snake.js';

describe('durations', () => {
  it('reads s, m, h, d and w', () => {
    expect(['30s', '5m', '1h', '1d', '2w'].map(durationSeconds)).toEqual([30, 300, 3600, 86400, 1_209_600]);
  });

  it('takes since as a duration back from now or an ISO time', () => {
    const now = new Date('2026-01-10T12:00:00Z');
    expect(sinceDate('1h', now).toISOString()).toBe('2026-01-10T11:00:00.000Z');
    expect(sinceDate('2026-01-01T00:00:00+02:00', now).toISOString()).toBe('2025-12-31T22:00:00.000Z');
    for (const bad of ['yesterday', '1y', '-1h', '2026-13-45', '', "1h' OR '1'='1"]) expect(sinceText.safeParse(bad).success, bad).toBe(false);
  });
});

describe('snakeKeys', () => {
  it('renames keys at every depth and turns dates into ISO text', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    expect(snakeKeys({ desiredReplicas: 3, inputs: { cpu_percent: { weightedProposal: 2 } }, list: [{ maxP95LatencyMs: 1 }], at })).toEqual({
      desired_replicas: 3,
      inputs: { cpu_percent: { weighted_proposal: 2 } },
      list: [{ max_p95_latency_ms: 1 }],
      at: '2026-01-01T00:00:00.000Z',
    });
  });
});

describe('fieldIssues', () => {
  it('names each field with its location, and each unknown field', () => {
    const schema = z.strictObject({ samples: z.array(z.object({ value: z.number() })) });
    const result = schema.safeParse({ samples: [{ value: 1 }, { value: 'x' }], extra: 1, other: 2 });
    expect(fieldIssues(result.error!.issues, 'json')).toEqual([
      { path: 'samples[1].value', message: expect.any(String), in: 'body' },
      { path: 'extra', message: 'is not a field of this request; remove it', in: 'body' },
      { path: 'other', message: 'is not a field of this request; remove it', in: 'body' },
    ]);
  });

  it('names the whole body when the body itself is wrong', () => {
    const result = z.object({}).safeParse([]);
    expect(fieldIssues(result.error!.issues, 'json')[0]!.path).toBe('body');
  });
});

describe('scopes', () => {
  it('needs read to GET, write to change apps, admin for keys', () => {
    expect(requiredScope('GET', '/api/v1/apps')).toBe('read');
    expect(requiredScope('HEAD', '/api/v1/apps')).toBe('read');
    expect(requiredScope('POST', '/api/v1/apps/web/metrics')).toBe('write');
    expect(requiredScope('DELETE', '/api/v1/apps/web')).toBe('write');
    expect(requiredScope('GET', '/api/v1/keys')).toBe('admin');
    expect(requiredScope('DELETE', '/api/v1/keys/4')).toBe('admin');
    expect(requiredScope('GET', '/api/v1/keysmith')).toBe('read');
  });

  it('orders read < write < admin', () => {
    expect(scopeAllows('admin', 'write')).toBe(true);
    expect(scopeAllows('write', 'read')).toBe(true);
    expect(scopeAllows('write', 'admin')).toBe(false);
    expect(scopeAllows('read', 'write')).toBe(false);
  });
});

describe('keys', () => {
  it('makes distinct keys whose digest is what is stored', () => {
    const a = generateKey();
    const b = generateKey();
    expect(a.key).not.toBe(b.key);
    expect(a.keyHash).toBe(hashKey(a.key));
    expect(a.keyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.prefix).toBe(a.key.slice(0, 12));
  });

  it('compares secrets of any lengths', () => {
    expect(sameSecret('abc', 'abc')).toBe(true);
    expect(sameSecret('abc', 'abd')).toBe(false);
    expect(sameSecret('abc', 'abc'.repeat(100))).toBe(false);
  });
});

describe('classify', () => {
  it('keeps domain errors, maps Hono\'s and the driver\'s, and hides the rest', () => {
    const domain = new OrchestryError('APP_NOT_FOUND', 'x');
    expect(classify(domain)).toEqual({ error: domain, unexpected: false });
    expect(classify(new HTTPException(400, { message: 'Malformed JSON in request body' })).error.code).toBe('VALIDATION_ERROR');
    expect(classify(new HTTPException(415)).error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' });
    const db = classify(new Error('Failed query: select secret', { cause: refused }));
    expect(db.error.code).toBe('DATABASE_ERROR');
    expect(db.error.message).not.toContain('10.0.0.5');
    const bug = classify(new TypeError('cannot read properties of undefined'));
    expect(bug).toMatchObject({ unexpected: true, error: { code: 'INTERNAL' } });
    expect(bug.error.message).not.toContain('undefined');
  });
});
