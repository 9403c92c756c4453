/**
 * Every list of the API pages the same way: `limit` (default 100, at most 1000), an opaque
 * `cursor`, `next_cursor` null on the last page. Walking a list while items are created and
 * deleted, between pages and during them, lists every item that exists throughout exactly once,
 * in order; a malformed cursor, another list's cursor or a cursor of other filters is a 400
 * naming `cursor`.
 */
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryRows } from '../../../db/client.js';
import { insertApiKey } from '../../../db/queries/api-keys.js';
import { appendEvent } from '../../../db/queries/events.js';
import { upsertHealthCheck } from '../../../db/queries/health-checks.js';
import { createInstance } from '../../../db/queries/instances.js';
import { startJobRun } from '../../../db/queries/job-runs.js';
import { describeEachTarget, pollUntil } from '../../support/db.js';
import { expectErrorShape, makeHarness, type Answer, type Harness } from './harness.js';

type Item = Record<string, any>;
type Key = string | number;

interface List {
  name: string;
  /** The list, filtered down to this test's items. */
  path: string;
  field: string;
  key(item: Item): Key;
  /** Whether `a` must come before `b`. */
  before(a: Item, b: Item): boolean;
  /** Makes item number `i`; returns its key. */
  create(i: number): Promise<Key>;
  remove(key: Key): Promise<void>;
}

const DAY = '2025-03-01';

describeEachTarget(
  'API pagination',
  (t) => {
    let h: Harness;
    const exec = (query: ReturnType<typeof sql>) => t.db.$primary.execute(query);
    const newApp = (name: string, labels: Record<string, string> = {}) =>
      exec(sql`INSERT INTO applications (name, spec, status) VALUES (${name}, ${JSON.stringify({
        apiVersion: 'v1',
        kind: 'App',
        metadata: { name, labels },
        spec: { image: 'registry.example.com/page:1' },
      })}::jsonb, 'registered')`);

    beforeAll(async () => {
      h = makeHarness(t.db);
      await newApp('pw-host');
    });

    const lists = (): List[] => [
      {
        name: 'apps',
        path: '/api/v1/apps?label=suite=walk',
        field: 'apps',
        key: (a) => a.name,
        before: (a, b) => a.name < b.name,
        create: async (i) => {
          const name = `pw-app-${String(i).padStart(4, '0')}`;
          await newApp(name, { suite: 'walk' });
          return name;
        },
        remove: async (name) => void (await exec(sql`DELETE FROM applications WHERE name = ${name}`)),
      },
      {
        name: 'instances',
        path: '/api/v1/instances?app=pw-host',
        field: 'instances',
        key: (i) => i.id,
        before: (a, b) => a.app_name < b.app_name || (a.app_name === b.app_name && a.replica_index < b.replica_index),
        create: async (i) => {
          const row = await createInstance(t.db.$primary, {
            appName: 'pw-host', containerId: `pw-c${i}`, containerName: `pw-c${i}`, replicaIndex: i, ip: '127.0.0.1', port: 20000 + i,
          });
          return row.containerId;
        },
        remove: async (id) => void (await exec(sql`DELETE FROM instances WHERE container_id = ${id}`)),
      },
      {
        name: 'keys',
        path: '/api/v1/keys',
        field: 'keys',
        key: (k) => k.id,
        before: (a, b) => a.id < b.id,
        create: async (i) => (await insertApiKey(t.db.$primary, { name: `pw-${i}`, prefix: 'orch_pw', keyHash: String(i).padStart(64, 'f'), scope: 'read' })).id,
        remove: async (id) => void (await exec(sql`DELETE FROM api_keys WHERE id = ${id}`)),
      },
      {
        name: 'health checks',
        path: '/api/v1/health-checks?enabled=false',
        field: 'health_checks',
        key: (c) => c.app_name,
        before: (a, b) => a.app_name < b.app_name,
        create: async (i) => {
          const name = `pw-hc-${String(i).padStart(4, '0')}`;
          await newApp(name);
          await upsertHealthCheck(t.db.$primary, name, { port: 8080, enabled: false });
          return name;
        },
        remove: async (name) => void (await exec(sql`DELETE FROM applications WHERE name = ${name}`)),
      },
      {
        name: 'job runs',
        path: '/api/v1/jobs/runs?job=metric-collector',
        field: 'runs',
        key: (r) => r.id,
        // Newest first; the walk's own runs start later than every run made before it.
        before: (a, b) => a.started_at > b.started_at || (a.started_at === b.started_at && a.id > b.id),
        create: async (i) => (await startJobRun(t.db.$primary, 'metric-collector', new Date(Date.parse(`${DAY}T00:00:00Z`) + (i % 17) * 1000))).id,
        remove: async (id) => void (await exec(sql`DELETE FROM job_runs WHERE id = ${id}`)),
      },
      {
        name: 'events',
        path: '/api/v1/events?app=pw-host&type=network',
        field: 'events',
        key: (e) => e.id,
        before: (a, b) => a.timestamp > b.timestamp || (a.timestamp === b.timestamp && a.id > b.id),
        create: async (i) =>
          (await appendEvent(t.db.$primary, {
            eventType: 'network', appName: 'pw-host', message: `e${i}`, timestamp: new Date(Date.parse(`${DAY}T00:00:00Z`) + (i % 13) * 1000),
          })).id,
        remove: async (id) => void (await exec(sql`DELETE FROM events WHERE id = ${id}`)),
      },
    ];

    async function page(path: string, cursor?: string | null, limit = 6) {
      const sep = path.includes('?') ? '&' : '?';
      const answer = await h.call('GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(answer.status, answer.text).toBe(200);
      return answer;
    }

    describe.each(lists().map((l) => [l.name, l] as const))('%s', (_name, list) => {
      it('lists every item that exists throughout exactly once, in order, while others come and go', async () => {
        const stable: Key[] = [];
        const churn: Key[] = [];
        for (let i = 0; i < 40; i++) (i % 4 === 0 ? churn : stable).push(await list.create(i));
        let made = 100;
        const seen: Item[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          // One change while the page is read, one between pages: creations on both sides of
          // the position, and deletions of items not yet listed as well as of listed ones.
          const during = churn.length > 0 ? list.remove(churn.shift()!) : list.create(made++);
          const [answer]: [Answer, unknown] = await Promise.all([page(list.path, cursor), during]);
          seen.push(...answer.body[list.field]);
          cursor = answer.body.next_cursor;
          await list.create(made++);
          if (churn.length > 0) await list.remove(churn.pop()!);
          pages++;
        } while (cursor && pages < 60);
        expect(cursor).toBeNull();
        const keys = seen.map((item) => list.key(item));
        expect(new Set(keys).size).toBe(keys.length);
        for (let i = 1; i < seen.length; i++) expect(list.before(seen[i - 1]!, seen[i]!), `${keys[i - 1]} before ${keys[i]}`).toBe(true);
        const listed = new Set(keys);
        expect(stable.filter((key) => !listed.has(key))).toEqual([]);
      });
    });

    it('answers limit items by default (100) and at most 1000, next_cursor null on the last page', async () => {
      await exec(sql`INSERT INTO applications (name, spec, status)
        SELECT 'pw-bulk-' || lpad(g::text, 4, '0'),
          jsonb_build_object('metadata', jsonb_build_object('labels', jsonb_build_object('suite', 'bulk')), 'spec', jsonb_build_object('image', 'x:1')),
          'registered'
        FROM generate_series(1, 101) g`);
      const first = await h.call('GET', '/api/v1/apps?label=suite=bulk');
      expect(first.body.apps).toHaveLength(100);
      expect(first.body.next_cursor).toEqual(expect.any(String));
      const rest = await h.call('GET', `/api/v1/apps?label=suite=bulk&cursor=${first.body.next_cursor}`);
      expect(rest.body.apps.map((a: Item) => a.name)).toEqual(['pw-bulk-0101']);
      expect(rest.body.next_cursor).toBeNull();
      expect((await h.call('GET', '/api/v1/apps?label=suite=bulk&limit=1000')).body.apps).toHaveLength(101);
      for (const limit of ['0', '1001', 'many', '2.5']) {
        const answer = await h.call('GET', `/api/v1/apps?limit=${limit}`);
        expect(answer.status).toBe(400);
        expect(answer.body.details.issues.map((i: Item) => i.path)).toEqual(['limit']);
      }
    });

    it('every list refuses a malformed cursor, a cursor of another list and one of other filters, naming cursor', async () => {
      const apps = await page('/api/v1/apps?label=suite=bulk', null, 2);
      const appsCursor = apps.body.next_cursor as string;
      for (const list of lists()) {
        const [base] = list.path.split('?') as [string];
        for (const cursor of ['garbage!', Buffer.from('{"v":1}').toString('base64url'), ...(list.name === 'apps' ? [] : [appsCursor])]) {
          const answer = await h.call('GET', `${base}?cursor=${encodeURIComponent(cursor)}`);
          expect(answer.status, `${list.name} ${cursor}`).toBe(400);
          expectErrorShape(answer, 'VALIDATION_ERROR');
          expect(answer.body.details.issues).toEqual([{ path: 'cursor', in: 'query', message: expect.any(String) }]);
          expect(answer.body.error).toContain('cursor');
        }
      }
      const keys = await page('/api/v1/keys', null, 1);
      if (keys.body.next_cursor) {
        const other = await h.call('GET', `/api/v1/apps?cursor=${keys.body.next_cursor}`);
        expect(other.body.details.issues[0].message).toContain('another list (keys)');
      }
      const otherFilters = await h.call('GET', `/api/v1/apps?label=suite=walk&cursor=${appsCursor}`);
      expect(otherFilters.status).toBe(400);
      expect(otherFilters.body.details.issues[0]).toMatchObject({ path: 'cursor', message: expect.stringContaining('other filters') });
    });

    it('GET /apps filters by status, mode, image and labels, each page carrying the totals of every app', async () => {
      await newApp('pw-filter-a', { team: 'x', tier: 'web' });
      await newApp('pw-filter-b', { team: 'x' });
      await exec(sql`UPDATE applications SET mode = 'manual', spec = jsonb_set(spec, '{spec,image}', '"registry.example.com/other:2"') WHERE name = 'pw-filter-b'`);
      const names = async (query: string) =>
        (await h.call('GET', `/api/v1/apps?${query}&limit=1000`)).body.apps.map((a: Item) => a.name).filter((n: string) => n.startsWith('pw-filter'));
      expect(await names('label=team=x')).toEqual(['pw-filter-a', 'pw-filter-b']);
      expect(await names('label=team=x,tier=web')).toEqual(['pw-filter-a']);
      expect(await names('label=team=x&label=tier=web')).toEqual(['pw-filter-a']);
      expect(await names('mode=manual')).toEqual(['pw-filter-b']);
      expect(await names('image=registry.example.com/other:2')).toEqual(['pw-filter-b']);
      expect(await names('status=registered&label=team=x')).toEqual(['pw-filter-a', 'pw-filter-b']);
      expect(await names('status=running&label=team=x')).toEqual([]);
      const bad = await h.call('GET', '/api/v1/apps?label=team');
      expect(bad.status).toBe(400);
      expect(bad.body.details.issues[0]).toMatchObject({ path: 'label', message: expect.stringContaining('key=value') });

      // These apps were inserted behind the API's back: its totals show them within a second.
      const [{ n }] = (await queryRows<{ n: number }>(t.db.$primary, sql`SELECT count(*)::int AS n FROM applications`)) as [{ n: number }];
      let one: Answer;
      await pollUntil(async () => {
        one = await h.call('GET', '/api/v1/apps?label=team=x&limit=1');
        return one.body.total === n;
      }, 'the totals to count every app', 5000);
      expect(one!.body).toMatchObject({ total: n, by_status: { registered: n } });
      expect(one!.body.apps[0]).toEqual({
        name: 'pw-filter-a',
        status: 'registered',
        mode: 'auto',
        image: 'registry.example.com/page:1',
        revision: 1,
        replicas: { current: 0, desired: 0, healthy: 0 },
        created_at: expect.any(String),
        updated_at: expect.any(String),
        last_scaled_at: null,
      });
    });
  },
  { targets: ['pglite', 'pg'] },
);
