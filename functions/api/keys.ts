/**
 * API keys: `orch_` + 32 random bytes (base64url). The database keeps only the SHA-256 digest
 * and the first characters (to recognise a key in a listing); the clear key is shown once.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { eq } from 'drizzle-orm';
import { findApiKeyByHash, insertApiKey, touchApiKey } from '../../db/queries/api-keys.js';
import { apiKeys, type ApiKey, type ApiKeyScope } from '../../db/schema.js';
import type { Deps } from '../deps.js';
import { privateFileIfPresent, writePrivateFile } from '../dev/private-files.js';
import type { Principal } from './context.js';

export const KEY_PREFIX = 'orch_';
/** Characters of a key kept in clear in the database and shown in listings. */
const SHOWN_CHARS = 12;
/** Longer bearer tokens are rejected before hashing. */
export const MAX_TOKEN_LENGTH = 256;

export const hashKey = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

export function generateKey(): { key: string; prefix: string; keyHash: string } {
  const key = KEY_PREFIX + randomBytes(32).toString('base64url');
  return { key, prefix: key.slice(0, SHOWN_CHARS), keyHash: hashKey(key) };
}

/** Constant-time equality of two secrets (their digests have equal length whatever the inputs). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** A last_used_at write at most this often per key and process: a use is not worth a write per request. */
const TOUCH_EVERY_MS = 60_000;

export class KeyAuthenticator {
  private readonly touched = new Map<number, number>();

  constructor(private readonly deps: Deps) {}

  /**
   * The principal a bearer token stands for, or null. The admin token is compared in
   * constant time; stored keys are found by the digest of the token (an index lookup that
   * reveals nothing about the key itself), on the primary so that a revocation applies at once.
   */
  async authenticate(token: string): Promise<Principal | null> {
    const { adminToken } = this.deps.config;
    if (adminToken !== undefined && sameSecret(token, adminToken)) {
      return { keyId: 'admin-token', name: 'ORCHESTRY_ADMIN_TOKEN', scope: 'admin' };
    }
    const row = await findApiKeyByHash(this.deps.db.$primary, hashKey(token));
    if (!row) return null;
    await this.touch(row);
    return { keyId: row.id, name: row.name, scope: row.scope, app: row.appName };
  }

  private async touch(row: ApiKey): Promise<void> {
    const now = this.deps.now();
    const last = this.touched.get(row.id) ?? row.lastUsedAt?.getTime() ?? 0;
    if (now.getTime() - last < TOUCH_EVERY_MS) return;
    this.touched.set(row.id, now.getTime());
    await touchApiKey(this.deps.db.$primary, row.id, now);
  }
}

// read < write < admin, each allowing what the one below does. An ingest key stands outside
// the ladder (rank 0): it allows one request shape only (see ingestAllows).
const SCOPE_RANK: Record<ApiKeyScope, number> = { ingest: 0, read: 1, write: 2, admin: 3 };
export const scopeAllows = (held: ApiKeyScope, needed: ApiKeyScope) => SCOPE_RANK[held] >= SCOPE_RANK[needed] && SCOPE_RANK[held] > 0;

/**
 * What an ingest key may do: POST the metrics of its own app, nothing else (no read either:
 * a leaked sidecar secret must not show anything).
 */
export const ingestAllows = (app: string, method: string, path: string) =>
  method === 'POST' && path === `/api/v1/apps/${app}/metrics`;

export interface BootstrapResult {
  /** 'env': ORCHESTRY_ADMIN_TOKEN is set and is the admin key; 'file': a key stored earlier; 'created': a new one. */
  source: 'env' | 'file' | 'created';
  /** The key to send as `Authorization: Bearer <key>` (absent for 'env': the operator has it). */
  key?: string | undefined;
  file?: string | undefined;
  /** Whether the stored key has been revoked since (a revoked key is not replaced behind the user's back). */
  revoked: boolean;
}

export const DEFAULT_BOOTSTRAP_FILE = '.orchestry/admin-key';

/**
 * Makes sure there is an admin key for a local install. With ORCHESTRY_ADMIN_TOKEN set,
 * that token is the admin key and nothing is stored. Otherwise the key in `file` (made by an
 * earlier start) is used, and recorded in the database again if the database is new; without
 * a file, a new key is made, stored hashed, and written to `file` for the user. The file is
 * left at mode 600 on every start, whoever made it and however.
 */
export async function ensureBootstrapKey(
  deps: Pick<Deps, 'db' | 'config' | 'log'>,
  options: { token?: string | undefined; file?: string | undefined } = {},
): Promise<BootstrapResult> {
  if (options.token ?? deps.config.adminToken) return { source: 'env', revoked: false };
  const file = options.file ?? DEFAULT_BOOTSTRAP_FILE;
  await privateFileIfPresent(file);
  const stored = await readFile(file, 'utf8').then(
    (text) => text.trim(),
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return null;
      throw error;
    },
  );
  if (stored) {
    const keyHash = hashKey(stored);
    const [row] = await deps.db.$primary.select().from(apiKeys).where(eq(apiKeys.keyHash, keyHash)).limit(1);
    if (row) return { source: 'file', key: stored, file, revoked: row.revokedAt !== null };
    await insertApiKey(deps.db.$primary, { name: 'local admin (bootstrap)', prefix: stored.slice(0, SHOWN_CHARS), keyHash, scope: 'admin' });
    deps.log.info('bootstrap admin key from file recorded in a new database', { file });
    return { source: 'file', key: stored, file, revoked: false };
  }
  const made = generateKey();
  await insertApiKey(deps.db.$primary, { name: 'local admin (bootstrap)', prefix: made.prefix, keyHash: made.keyHash, scope: 'admin' });
  await mkdir(dirname(file), { recursive: true });
  await writePrivateFile(file, made.key + '\n');
  deps.log.info('bootstrap admin key created', { file, prefix: made.prefix });
  return { source: 'created', key: made.key, file, revoked: false };
}

/** What the dev server prints after ensureBootstrapKey, so the user can make a first call. */
export function bootstrapInstructions(result: BootstrapResult, baseUrl: string): string {
  const curl = (auth: string) => `curl -H "Authorization: Bearer ${auth}" ${baseUrl}/api/v1/apps`;
  if (result.source === 'env') return `API key: ORCHESTRY_ADMIN_TOKEN (admin scope). Try: ${curl('$ORCHESTRY_ADMIN_TOKEN')}`;
  if (result.revoked) {
    return `The admin key in ${result.file} has been revoked; delete that file and restart to make a new one, or use another admin key.`;
  }
  return [
    `${result.source === 'created' ? 'Created an admin API key' : 'Admin API key'} in ${result.file} (keep it secret).`,
    `  export ORCHESTRY_TOKEN=$(cat ${result.file})`,
    `  ${curl('$ORCHESTRY_TOKEN')}`,
    `API docs: ${baseUrl}/docs`,
  ].join('\n');
}
