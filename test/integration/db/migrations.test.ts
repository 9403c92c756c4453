/**
 * migrate(): idempotent, all-or-nothing, and safe to run twice at once, on every driver.
 * The steps share one database per target and run in order.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDb, queryRows, type Database } from '../../../db/client.js';
import { defaultMigrationsFolder, migrate } from '../../../db/migrate.js';
import { describeEachTarget } from '../../support/db.js';

/** A copy of migrations/ plus one more migration made of `statements`. */
async function foldersWithExtra(statements: string[]): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'orchestry-migrations-'));
  await cp(defaultMigrationsFolder(), dir, { recursive: true });
  const journalPath = path.join(dir, 'meta', '_journal.json');
  const journal = JSON.parse(await readFile(journalPath, 'utf8')) as { entries: Array<{ idx: number; when: number; tag: string }> };
  const last = journal.entries.at(-1)!;
  const tag = '0099_extra';
  journal.entries.push({ ...last, idx: last.idx + 1, when: last.when + 1000, tag });
  await writeFile(journalPath, JSON.stringify(journal, null, 2));
  await writeFile(path.join(dir, `${tag}.sql`), statements.join('\n--> statement-breakpoint\n'));
  return dir;
}

/** Everything migrations define: tables, columns, constraints, indexes, functions. */
async function schemaFingerprint(db: Database): Promise<string[]> {
  const rows = await queryRows<{ item: string }>(
    db,
    sql`SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type AS item
          FROM information_schema.columns WHERE table_schema = 'public'
        UNION ALL SELECT 'constraint ' || conrelid::regclass::text || '.' || conname
          FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public'
        UNION ALL SELECT 'index ' || indexname FROM pg_indexes WHERE schemaname = 'public'
        UNION ALL SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
        ORDER BY 1`,
  );
  return rows.map((r) => r.item);
}

/** The migrations the repository ships, in order, by tag. */
async function shippedTags(): Promise<string[]> {
  const journal = JSON.parse(await readFile(path.join(defaultMigrationsFolder(), 'meta', '_journal.json'), 'utf8')) as {
    entries: Array<{ tag: string }>;
  };
  return journal.entries.map((e) => e.tag);
}

async function appliedCount(db: Database): Promise<number> {
  const [table] = await queryRows<{ t: string | null }>(db, sql`SELECT to_regclass('drizzle.__drizzle_migrations')::text AS t`);
  if (!table?.t) return 0;
  const [row] = await queryRows<{ n: number }>(db, sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`);
  return row!.n;
}

describeEachTarget(
  'migrate',
  (t) => {
    const folders: string[] = [];
    let badFolder: string;
    beforeAll(async () => {
      badFolder = await foldersWithExtra(['CREATE TABLE half_done (id int)', 'SELECT * FROM no_such_table']);
      folders.push(badFolder);
    });
    afterAll(async () => {
      await Promise.all(folders.map((dir) => rm(dir, { recursive: true, force: true })));
    });

    it('a failing migration on an empty database leaves it empty (nothing applied, nothing recorded)', async () => {
      await expect(migrate(t.db.$primary, badFolder)).rejects.toThrow();
      expect(await schemaFingerprint(t.db.$primary)).toEqual([]);
      expect(await appliedCount(t.db.$primary)).toBe(0);
    });

    it('two migrate() calls at once both succeed, and the migrations are applied once', async () => {
      // A second, independent pool on the same database; embedded PGlite has one connection.
      const other = t.config ? await createDb(t.config) : undefined;
      try {
        const results = await Promise.all([migrate(t.db.$primary), migrate((other?.db ?? t.db).$primary)]);
        const applied = results.map((r) => r.applied).sort((a, b) => b.length - a.length);
        expect(applied).toEqual([await shippedTags(), []]);
      } finally {
        await other?.close();
      }
      expect(await appliedCount(t.db.$primary)).toBe((await shippedTags()).length);
      expect(await schemaFingerprint(t.db.$primary)).toContain('index idx_metrics_app_type_recent');
    });

    it('migrating again is a no-op', async () => {
      const before = await schemaFingerprint(t.db.$primary);
      expect(await migrate(t.db.$primary)).toEqual({ applied: [] });
      expect(await schemaFingerprint(t.db.$primary)).toEqual(before);
      expect(await appliedCount(t.db.$primary)).toBe((await shippedTags()).length);
    });

    it('a failing migration on a migrated database changes nothing; a good one after it applies', async () => {
      await t.db.$primary.execute(sql`INSERT INTO applications (name, spec) VALUES ('survivor', '{}')`);
      const before = await schemaFingerprint(t.db.$primary);
      await expect(migrate(t.db.$primary, badFolder)).rejects.toThrow();
      expect(await schemaFingerprint(t.db.$primary)).toEqual(before);
      expect(await appliedCount(t.db.$primary)).toBe((await shippedTags()).length);
      const [row] = await queryRows<{ n: number }>(t.db.$primary, sql`SELECT count(*)::int AS n FROM applications`);
      expect(row!.n).toBe(1);

      const goodFolder = await foldersWithExtra(['CREATE TABLE fully_done (id int)']);
      folders.push(goodFolder);
      expect(await migrate(t.db.$primary, goodFolder)).toEqual({ applied: ['0099_extra'] });
      expect(await schemaFingerprint(t.db.$primary)).toContain('column fully_done.id integer');
    });
  },
  { migrate: false },
);
