/**
 * GET /apps is served by indexes: the statement listAppPage sends, with each filter, is
 * EXPLAINed on 5,000 apps with 2 replicas and a health check each, and the plan must read the
 * filter's index and no table whole (docs/database.md, "Indexes of the lists", shows these plans).
 */
import pg from 'pg';
import { sql } from 'drizzle-orm';
import { beforeAll, expect, it } from 'vitest';
import { recordStatements } from '../../../bench/lib/db.js';
import { listAppPage, type AppListFilters } from '../../../db/queries/applications.js';
import { describeEachTarget } from '../../support/db.js';

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];

describeEachTarget(
  'the plans of GET /apps',
  (t) => {
    beforeAll(async () => {
      // Filters are selective, as a user's are (the apps in error, one team, one image):
      // for a value most apps share, walking the name index and skipping the others is the
      // cheaper plan, and the planner rightly takes it.
      await t.db.$primary.execute(sql`
        INSERT INTO applications (name, spec, status, mode)
        SELECT 'plan-' || lpad(g::text, 5, '0'),
          jsonb_build_object(
            'metadata', jsonb_build_object('labels', jsonb_build_object('team', 'team-' || (g % 200), 'tier', 'web')),
            'spec', jsonb_build_object('image', 'registry.example.com/svc-' || (g % 200) || ':1')),
          CASE WHEN g % 100 = 0 THEN 'error' WHEN g % 20 = 1 THEN 'stopped' ELSE 'running' END,
          CASE WHEN g % 50 = 0 THEN 'manual' ELSE 'auto' END
        FROM generate_series(1, 5000) g`);
      await t.db.$primary.execute(sql`
        INSERT INTO instances (app_name, container_id, container_name, replica_index, ip, port, status, health_status)
        SELECT 'plan-' || lpad(g::text, 5, '0'), 'plan-c-' || g || '-' || r, 'plan-c-' || g || '-' || r, r, '10.0.0.1', 8080,
          'running', 'healthy'
        FROM generate_series(1, 5000) g, generate_series(0, 1) r`);
      await t.db.$primary.execute(sql`
        INSERT INTO health_checks (app_name, port) SELECT 'plan-' || lpad(g::text, 5, '0'), 8080 FROM generate_series(1, 5000) g`);
      await t.db.$primary.execute(sql`ANALYZE`);
    });

    /** The plan of the one statement listAppPage sends for these filters. */
    async function planOf(filters: AppListFilters, after?: string): Promise<PlanNode[]> {
      const { statements } = await recordStatements(() => listAppPage(t.db.$primary, filters, { limit: 100, after }));
      expect(statements).toHaveLength(1);
      const client = new pg.Client({ connectionString: t.url });
      await client.connect();
      try {
        const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${statements[0]!.text}`, statements[0]!.values);
        return nodes((rows[0] as { 'QUERY PLAN': Array<{ Plan: PlanNode }> })['QUERY PLAN'][0]!.Plan);
      } finally {
        await client.end();
      }
    }

    it.each([
      ['no filter', {}, undefined, 'applications_pkey'],
      ['a cursor', {}, 'plan-02500', 'applications_pkey'],
      ['status', { status: 'error' }, undefined, 'idx_applications_status'],
      ['status and a cursor', { status: 'error' }, 'plan-02500', 'idx_applications_status'],
      ['mode', { mode: 'manual' }, undefined, 'idx_applications_mode'],
      ['image', { image: 'registry.example.com/svc-7:1' }, undefined, 'idx_applications_spec_image'],
      ['a label', { labels: { team: 'team-3' } }, undefined, 'idx_applications_labels'],
      ['a status most apps have', { status: 'running' }, undefined, 'applications_pkey'],
    ] as const)('with %s reads %s and no table whole', async (_what, filters, after, index) => {
      const plan = await planOf(filters as AppListFilters, after);
      const onApplications = plan.filter((n) => n['Relation Name'] === 'applications' || n['Index Name']?.startsWith('idx_applications') || n['Index Name'] === 'applications_pkey');
      expect(onApplications.map((n) => n['Index Name']).filter(Boolean)).toContain(index);
      expect(plan.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name'])).toEqual([]);
      // Each app's replicas and health check come from an index too.
      expect(plan.some((n) => n['Relation Name'] === 'instances' || n['Index Name']?.startsWith('idx_instances'))).toBe(true);
    });
  },
  { targets: ['pg'] },
);
