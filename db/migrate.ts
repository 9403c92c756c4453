/**
 * The one migrate command, used by the dev server, the tests and deploys.
 *
 * Applies the SQL files of migrations/ (drizzle-kit's and the hand-written ones) in order,
 * all in one transaction, recording each in drizzle's own `drizzle.__drizzle_migrations`
 * table so drizzle-kit agrees on what has run. A transaction-scoped advisory lock makes two
 * migrators at once (two Lambdas cold-starting, a deploy and a dev server) take turns:
 * the second finds everything applied. A failing statement rolls the whole run back.
 */
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { sql } from 'drizzle-orm';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { queryRows, type Database } from './client.js';

export const defaultMigrationsFolder = (): string =>
  process.env.ORCHESTRY_MIGRATIONS_DIR ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../migrations');

// Any fixed 64-bit number; it names the migration lock among the database's advisory locks.
const MIGRATION_LOCK_KEY = 7_240_331_950_113n;

export interface MigrateResult {
  applied: string[];
}

export async function migrate(db: Database, migrationsFolder = defaultMigrationsFolder()): Promise<MigrateResult> {
  const files = readMigrationFiles({ migrationsFolder });
  const tags = readTags(migrationsFolder);
  const applied: string[] = [];
  await db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await tx.execute(sql`CREATE SCHEMA IF NOT EXISTS drizzle`);
    await tx.execute(sql`
      CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (
        id SERIAL PRIMARY KEY,
        hash text NOT NULL,
        created_at bigint
      )`);
    const [latest] = await queryRows<{ created_at: string | number }>(
      tx,
      sql`SELECT created_at FROM drizzle.__drizzle_migrations ORDER BY created_at DESC LIMIT 1`,
    );
    const last = latest ? Number(latest.created_at) : -1;
    for (const [i, m] of files.entries()) {
      if (m.folderMillis <= last) continue;
      for (const statement of m.sql) {
        if (statement.trim()) await tx.execute(sql.raw(statement));
      }
      await tx.execute(
        sql`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (${m.hash}, ${m.folderMillis})`,
      );
      applied.push(tags[i] ?? String(m.folderMillis));
    }
  });
  return { applied };
}

function readTags(migrationsFolder: string): string[] {
  // The journal lists the migrations in the order readMigrationFiles returns them.
  const journal = JSON.parse(readFileSync(path.join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as {
    entries: Array<{ tag: string }>;
  };
  return journal.entries.map((e) => e.tag);
}
