/**
 * The hostile-input suite: every defect of issue #13 this suite guards, and the malformed
 * requests before them, as one table against the real HTTP server. Each case is answered with
 * its status and code in the one error format, names the bad field where there is one, leaves
 * every table and the runtime's calls exactly as they were, and the server answers the next
 * request (a parser that blew the stack or the heap would have taken the process down).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachTarget } from '../../support/db.js';
import { specOf } from '../api/harness.js';
import { DOCUMENT_LIMIT_CASES } from './cases/document-limits.js';
import { MALFORMED_CASES } from './cases/malformed.js';
import { VALUE_CASES } from './cases/values.js';
import { expectRefused, serveHarness, type HostileCase, type HttpHarness } from './support.js';

const CASES: HostileCase[] = [...MALFORMED_CASES, ...DOCUMENT_LIMIT_CASES, ...VALUE_CASES];

describeEachTarget(
  'hostile input',
  (t) => {
    const servers: Partial<Record<NonNullable<HostileCase['server']>, HttpHarness>> = {};
    beforeAll(async () => {
      servers.default = await serveHarness(t.db);
      servers['raised-body-limit'] = await serveHarness(t.db, { maxBodyBytes: 10 * 1024 * 1024 });
      const h = servers.default;
      await h.call('POST', '/api/v1/apps/register', { body: specOf('target') });
      await h.call('POST', '/api/v1/apps/target/start', { body: { replicas: 1 } });
      await h.call('POST', '/api/v1/apps/target/metrics', { body: { samples: [{ metric_type: 'rps', value: 5 }] } });
    });
    afterAll(async () => {
      for (const server of Object.values(servers)) await server.close();
    });

    it('has a case for every item it guards, and names are unique', () => {
      expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
      expect(MALFORMED_CASES.length).toBeGreaterThanOrEqual(40);
    });

    it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      const h = servers[c.server ?? 'default']!;
      await expectRefused(h, t.db, c);
      const next = await h.call('GET', '/api/v1/apps/target');
      expect(next.status).toBe(200);
    });
  },
  { targets: ['pglite', 'pg'] },
);
