/** API keys, kept as SHA-256 digests: the clear key never reaches the database. */
import { and, asc, eq, gt, isNull, sql } from 'drizzle-orm';
import { preparedQuery, type Database } from '../client.js';
import { withDbErrors } from '../errors.js';
import { apiKeys, type ApiKey, type ApiKeyScope } from '../schema.js';
import { checkLimit, pageOf, type Page, type PageRequest } from './page.js';

export interface NewApiKey {
  name: string;
  prefix: string;
  keyHash: string;
  scope: ApiKeyScope;
  /** Set for ingest keys only: the app they may post metrics for. */
  appName?: string | null;
}

export async function insertApiKey(tx: Database, key: NewApiKey): Promise<ApiKey> {
  return withDbErrors(async () => {
    const [row] = await tx.insert(apiKeys).values(key).returning();
    return row!;
  });
}

/**
 * The key with this digest, unless it has been revoked. Every authenticated request asks, so
 * the statement is prepared once per handle (preparedQuery).
 */
export async function findApiKeyByHash(db: Database, keyHash: string): Promise<ApiKey | null> {
  const query = preparedQuery(db, 'orchestry_api_key_by_hash', (db, name) =>
    db
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.keyHash, sql.placeholder('keyHash')), isNull(apiKeys.revokedAt)))
      .limit(1)
      .prepare(name),
  );
  const [row] = await query.execute({ keyHash });
  return row ?? null;
}

/** Keys, revoked ones included, oldest first, a page at a time. */
export async function listApiKeys(db: Database, page: PageRequest<number>): Promise<Page<ApiKey, number>> {
  checkLimit(page.limit);
  const rows = await db
    .select()
    .from(apiKeys)
    .where(page.after === undefined ? undefined : gt(apiKeys.id, page.after))
    .orderBy(asc(apiKeys.id))
    .limit(page.limit + 1);
  return pageOf(rows, page.limit, (key) => key.id);
}

/** Revokes a key; revoking it again keeps the first revocation time. Null when there is no such key. */
export async function revokeApiKey(tx: Database, id: number): Promise<ApiKey | null> {
  const [row] = await withDbErrors(() =>
    tx
      .update(apiKeys)
      .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
      .where(eq(apiKeys.id, id))
      .returning(),
  );
  return row ?? null;
}

/** Records a use of a key; an older time never overwrites a newer one. */
export async function touchApiKey(db: Database, id: number, at: Date): Promise<void> {
  await withDbErrors(() =>
    db
      .update(apiKeys)
      .set({ lastUsedAt: sql`greatest(${apiKeys.lastUsedAt}, ${at.toISOString()}::timestamptz)` })
      .where(eq(apiKeys.id, id)),
  );
}
