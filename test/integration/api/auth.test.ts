/**
 * Authentication, scopes, key management, rate limiting and request ids, on PGlite and
 * Postgres; and the bootstrap admin key of a local install.
 */
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBootstrapKey, hashKey } from '../../../functions/api/keys.js';
import { apiKeys } from '../../../db/schema.js';
import { describeEachTarget } from '../../support/db.js';
import { ADMIN_TOKEN, expectErrorShape, makeHarness, makeKey, specOf, type Harness } from './harness.js';

describeEachTarget(
  'API authentication',
  (t) => {
    let h: Harness;
    let read: { id: number; key: string };
    let write: { id: number; key: string };
    let admin: { id: number; key: string };
    beforeAll(async () => {
      h = makeHarness(t.db);
      read = await makeKey(h, 'read');
      write = await makeKey(h, 'write');
      admin = await makeKey(h, 'admin');
      await h.call('POST', '/api/v1/apps/register', { body: specOf('auth-app') });
    });

    describe('who may call', () => {
      it('answers 401 without a key, with a malformed header, and with an unknown key', async () => {
        for (const headers of [{} as Record<string, string>, { authorization: 'Basic dXNlcjpwYXNz' }, { authorization: 'Bearer' }, { authorization: 'Bearer orch_unknown' }]) {
          const answer = await h.call('GET', '/api/v1/apps', { key: null, headers });
          expect(answer.status, JSON.stringify(headers)).toBe(401);
          expectErrorShape(answer, 'UNAUTHORIZED');
          expect(answer.headers.get('www-authenticate')).toBe('Bearer');
        }
        const long = await h.call('GET', '/api/v1/apps', { key: 'x'.repeat(5000) });
        expectErrorShape(long, 'UNAUTHORIZED');
      });

      it('needs a key on every route but /health, /openapi.json and /docs', async () => {
        for (const path of ['/health', '/openapi.json', '/docs']) {
          expect((await h.call('GET', path, { key: null })).status, path).toBe(200);
        }
        for (const [method, path] of [
          ['GET', '/api/v1/apps'],
          ['POST', '/api/v1/apps/register'],
          ['GET', '/api/v1/events'],
          ['GET', '/api/v1/metrics'],
          ['GET', '/api/v1/config'],
          ['GET', '/api/v1/jobs'],
          ['GET', '/api/v1/keys'],
          ['DELETE', '/api/v1/apps/auth-app'],
        ] as const) {
          expect((await h.call(method, path, { key: null })).status, `${method} ${path}`).toBe(401);
        }
      });

      it('lets read scope GET and nothing else', async () => {
        expect((await h.call('GET', '/api/v1/apps/auth-app', { key: read.key })).status).toBe(200);
        const start = await h.call('POST', '/api/v1/apps/auth-app/start', { key: read.key });
        expect(start.status).toBe(403);
        expectErrorShape(start, 'FORBIDDEN');
        expect(start.body.details).toEqual({ scope: 'read', required_scope: 'write' });
        expect((await h.call('GET', '/api/v1/keys', { key: read.key })).status).toBe(403);
        expect(h.runtime.containersOf('auth-app')).toHaveLength(0);
      });

      it('lets write scope change apps but not manage keys', async () => {
        const scale = await h.call('POST', '/api/v1/apps/auth-app/scale', { key: write.key, body: { replicas: 1 } });
        expect(scale.status).toBe(200);
        const keys = await h.call('POST', '/api/v1/keys', { key: write.key, body: { name: 'x', scope: 'admin' } });
        expect(keys.status).toBe(403);
        expect(keys.body.details.required_scope).toBe('admin');
      });

      it('lets admin scope (a stored key or the admin token) manage keys', async () => {
        expect((await h.call('GET', '/api/v1/keys', { key: admin.key })).status).toBe(200);
        expect((await h.call('GET', '/api/v1/keys', { key: ADMIN_TOKEN })).status).toBe(200);
      });

      it('refuses a revoked key at once', async () => {
        const doomed = await makeKey(h, 'write', 'doomed');
        expect((await h.call('GET', '/api/v1/apps', { key: doomed.key })).status).toBe(200);
        const revoke = await h.call('DELETE', `/api/v1/keys/${doomed.id}`);
        expect(revoke.status).toBe(200);
        expect(Date.parse(revoke.body.revoked_at)).not.toBeNaN();
        const after = await h.call('GET', '/api/v1/apps', { key: doomed.key });
        expect(after.status).toBe(401);
        expectErrorShape(after, 'UNAUTHORIZED');
      });
    });

    describe('keys', () => {
      it('stores only a digest and a prefix; the key is shown once', async () => {
        const made = await h.call('POST', '/api/v1/keys', { body: { name: 'ci', scope: 'read' } });
        expect(made.status).toBe(201);
        expect(made.body.key).toMatch(/^orch_[A-Za-z0-9_-]{43}$/);
        expect(made.body.key.startsWith(made.body.prefix)).toBe(true);
        const rows = await t.db.$primary.select().from(apiKeys);
        const row = rows.find((r) => r.id === made.body.id)!;
        expect(row.keyHash).toBe(hashKey(made.body.key));
        expect(JSON.stringify(rows)).not.toContain(made.body.key);
        const list = await h.call('GET', '/api/v1/keys');
        expect(list.text).not.toContain(made.body.key);
        expect(list.body.keys.find((k: { id: number }) => k.id === made.body.id)).toMatchObject({ name: 'ci', scope: 'read', revoked_at: null });
      });

      it('records when a key was last used', async () => {
        const used = await makeKey(h, 'read', 'used');
        await h.call('GET', '/api/v1/apps', { key: used.key });
        const list = await h.call('GET', '/api/v1/keys');
        expect(Date.parse(list.body.keys.find((k: { id: number }) => k.id === used.id).last_used_at)).not.toBeNaN();
      });

      it('validates new keys and answers 404 for an unknown id', async () => {
        const bad = await h.call('POST', '/api/v1/keys', { body: { name: '', scope: 'root' } });
        expect(bad.status).toBe(400);
        expect(bad.body.details.issues.map((i: { path: string }) => i.path).sort()).toEqual(['name', 'scope']);
        const missing = await h.call('DELETE', '/api/v1/keys/999999');
        expect(missing.status).toBe(404);
        expectErrorShape(missing, 'NOT_FOUND');
      });

      it('keeps the last admin key when no admin token is configured', async () => {
        const noToken = makeHarness(t.db, { config: { adminToken: undefined } });
        const admins = (await noToken.call('GET', '/api/v1/keys', { key: admin.key })).body.keys.filter(
          (k: { scope: string; revoked_at: string | null }) => k.scope === 'admin' && k.revoked_at === null,
        );
        for (const other of admins.filter((k: { id: number }) => k.id !== admin.id)) {
          expect((await noToken.call('DELETE', `/api/v1/keys/${other.id}`, { key: admin.key })).status).toBe(200);
        }
        const last = await noToken.call('DELETE', `/api/v1/keys/${admin.id}`, { key: admin.key });
        expect(last.status).toBe(409);
        expectErrorShape(last, 'CONFLICT');
        expect((await noToken.call('GET', '/api/v1/keys', { key: admin.key })).status).toBe(200);
      });
    });

    describe('rate limiting', () => {
      it('answers 429 with Retry-After past the per-key limit, and X-RateLimit-* on every answer', async () => {
        const limited = makeHarness(t.db, { config: { rateLimitPerMinute: 3 } });
        // Start at the beginning of a window so the test never straddles two.
        const now = limited.clock.now().getTime();
        limited.clock.advance(60_000 - (now % 60_000) + 1000);
        const answers = [];
        for (let i = 0; i < 4; i++) answers.push(await limited.call('GET', '/api/v1/apps', { key: read.key }));
        expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
        expect(answers.map((a) => a.headers.get('x-ratelimit-remaining'))).toEqual(['2', '1', '0', '0']);
        expect(answers[0]!.headers.get('x-ratelimit-limit')).toBe('3');
        const blocked = answers[3]!;
        expectErrorShape(blocked, 'RATE_LIMIT_EXCEEDED');
        const retryAfter = Number(blocked.headers.get('retry-after'));
        expect(retryAfter).toBeGreaterThan(0);
        expect(retryAfter).toBeLessThanOrEqual(60);
        // Another key has its own budget.
        expect((await limited.call('GET', '/api/v1/apps', { key: write.key })).status).toBe(200);
        limited.clock.advance(retryAfter * 1000);
        expect((await limited.call('GET', '/api/v1/apps', { key: read.key })).status).toBe(200);
      });

      it('is off with a limit of 0', async () => {
        const unlimited = makeHarness(t.db, { config: { rateLimitPerMinute: 0 } });
        for (let i = 0; i < 5; i++) {
          const answer = await unlimited.call('GET', '/api/v1/jobs', { key: read.key });
          expect(answer.status).toBe(200);
          expect(answer.headers.get('x-ratelimit-limit')).toBeNull();
        }
      });
    });

    describe('request ids', () => {
      it('echoes a sane x-request-id, makes one otherwise, and logs one line per request with it', async () => {
        const given = await h.call('GET', '/api/v1/apps/auth-app', { key: read.key, headers: { 'x-request-id': 'trace-123.abc' } });
        expect(given.headers.get('x-request-id')).toBe('trace-123.abc');
        const line = h.logs.find((l) => l.msg === 'request' && l.request_id === 'trace-123.abc');
        expect(line).toMatchObject({ method: 'GET', path: '/api/v1/apps/auth-app', status: 200, key_id: read.id, level: 'info' });
        expect(typeof line!.ms).toBe('number');
        expect(h.logs.filter((l) => l.request_id === 'trace-123.abc' && l.msg === 'request')).toHaveLength(1);

        const insane = await h.call('GET', '/api/v1/apps', { headers: { 'x-request-id': 'has spaces <and> \\ quotes"' } });
        expect(insane.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
        const failed = await h.call('GET', '/api/v1/apps/nope-app');
        expect(failed.body.request_id).toBe(failed.headers.get('x-request-id'));
        expect(h.logs.find((l) => l.request_id === failed.body.request_id)).toMatchObject({ status: 404, key_id: 'admin-token' });
      });
    });
  },
  { targets: ['pglite', 'pg'] },
);

describeEachTarget(
  'bootstrap admin key',
  (t) => {
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'orchestry-bootstrap-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('uses ORCHESTRY_ADMIN_TOKEN when set and stores nothing', async () => {
      const h = makeHarness(t.db);
      const file = join(dir, 'unused');
      const result = await ensureBootstrapKey(h.deps, { file });
      expect(result).toEqual({ source: 'env', revoked: false });
      await expect(stat(file)).rejects.toThrow();
    });

    it('creates a key once, writes it (mode 600) and finds it again on the next start', async () => {
      const h = makeHarness(t.db, { config: { adminToken: undefined } });
      const file = join(dir, 'nested', 'admin-key');
      const first = await ensureBootstrapKey(h.deps, { file });
      expect(first.source).toBe('created');
      expect((await readFile(file, 'utf8')).trim()).toBe(first.key);
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const second = await ensureBootstrapKey(h.deps, { file });
      expect(second).toMatchObject({ source: 'file', key: first.key, revoked: false });
      const answer = await h.call('GET', '/api/v1/keys', { key: first.key! });
      expect(answer.status).toBe(200);
      expect(answer.body.keys.filter((k: { prefix: string }) => first.key!.startsWith(k.prefix))).toHaveLength(1);
    });

    it('leaves the key file at 0600 whatever mode it had: empty before, or holding a key', async () => {
      const h = makeHarness(t.db, { config: { adminToken: undefined } });
      const file = join(dir, 'preexisting-key');
      await writeFile(file, '');
      await chmod(file, 0o644);
      const made = await ensureBootstrapKey(h.deps, { file });
      expect(made.source).toBe('created');
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      await chmod(file, 0o644);
      expect(await ensureBootstrapKey(h.deps, { file })).toMatchObject({ source: 'file', key: made.key });
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    });

    it('says when the stored key was revoked instead of replacing it', async () => {
      const h = makeHarness(t.db, { config: { adminToken: undefined } });
      const file = join(dir, 'revoked-key');
      const made = await ensureBootstrapKey(h.deps, { file });
      const other = await makeKey({ ...h, call: (m, p, o) => h.call(m, p, { key: made.key!, ...o }) }, 'admin', 'second admin');
      const keys = (await h.call('GET', '/api/v1/keys', { key: other.key })).body.keys;
      const id = keys.find((k: { prefix: string }) => made.key!.startsWith(k.prefix)).id;
      expect((await h.call('DELETE', `/api/v1/keys/${id}`, { key: other.key })).status).toBe(200);
      expect(await ensureBootstrapKey(h.deps, { file })).toMatchObject({ source: 'file', revoked: true });
    });
  },
  { targets: ['pglite', 'pg'] },
);
