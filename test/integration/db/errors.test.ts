/**
 * Driver failures become domain errors: a database that cannot be reached or drops the
 * connection is DATABASE_ERROR with no driver text; an error with no domain meaning is
 * rethrown as it came.
 */
import { sql } from 'drizzle-orm';
import { DrizzleQueryError } from 'drizzle-orm/errors';
import { describe, expect, it } from 'vitest';
import { createDb, type DbConfig } from '../../../db/client.js';
import { isConnectionError, mapDbError, withDbErrors } from '../../../db/errors.js';
import { getApp } from '../../../db/queries/applications.js';
import { OrchestryError } from '../../../functions/core/errors.js';
import { describeEachTarget } from '../../support/db.js';
import { startWsProxy } from '../../support/ws-proxy.js';
import { rejection } from './helpers.js';

// Port 1 on loopback: nothing listens there, so connecting is refused at once.
const NOWHERE = 'postgres://postgres@127.0.0.1:1/postgres';

async function unavailable(config: DbConfig): Promise<OrchestryError> {
  const handle = await createDb(config);
  try {
    return await rejection(withDbErrors(() => getApp(handle.db, 'any')));
  } finally {
    await handle.close();
  }
}

function expectDatabaseError(error: OrchestryError): void {
  expect(error.code).toBe('DATABASE_ERROR');
  expect(error.status).toBe(503);
  expect(error.message).toBe('The database is unavailable; retry shortly');
  expect(error.message).not.toMatch(/ECONN|127\.0\.0\.1|select|applications|terminat/i);
  expect(error.details).toBeNull();
}

describe('connection failures', () => {
  it('pg: a refused connection is DATABASE_ERROR', async () => {
    expectDatabaseError(await unavailable({ driver: 'pg', url: NOWHERE }));
  });

  it('neon: a WebSocket that cannot connect is DATABASE_ERROR', async () => {
    expectDatabaseError(await unavailable({ driver: 'neon', url: NOWHERE, neonWsProxy: '127.0.0.1:1/v1' }));
  });

  it('neon: a proxy whose Postgres refuses is DATABASE_ERROR', async () => {
    const proxy = await startWsProxy();
    try {
      expectDatabaseError(await unavailable({ driver: 'neon', url: NOWHERE, neonWsProxy: proxy.address }));
    } finally {
      await proxy.close();
    }
  });
});

describe('mapDbError', () => {
  it('rethrows an error it has no domain meaning for, unchanged', () => {
    const strange = Object.assign(new Error('disk full'), { code: '53100' });
    expect(() => mapDbError(strange)).toThrow(strange);
    const plain = new TypeError('not a database error');
    expect(() => mapDbError(plain)).toThrow(plain);
  });

  it('passes an OrchestryError through', () => {
    const own = new OrchestryError('APP_NOT_FOUND', 'x');
    expect(mapDbError(own)).toBe(own);
  });

  it('recognises server shutdown SQLSTATEs and connection exceptions as connection errors', () => {
    for (const code of ['57P01', '57P03', '08006', '08001', 'ECONNRESET']) {
      expect(isConnectionError(new DrizzleQueryError('q', [], Object.assign(new Error('x'), { code }))), code).toBe(true);
    }
    expect(isConnectionError(Object.assign(new Error('x'), { code: '23505' }))).toBe(false);
    expect(isConnectionError(Object.assign(new Error('x'), { code: '08P01' }))).toBe(false);
  });
});

describeEachTarget(
  'protocol violations',
  (t) => {
    it('a statement with more parameters than the protocol carries is rethrown, not called "unavailable"', async () => {
      const values = Array.from({ length: 70_000 }, (_, i) => sql`${i}`);
      const error = await withDbErrors(() => t.db.execute(sql`SELECT 1 WHERE 0 IN (${sql.join(values, sql`, `)})`)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).not.toBeNull();
      expect(error).not.toBeInstanceOf(OrchestryError);
      expect((error as { cause?: { code?: string } }).cause?.code).toBe('08P01');
      expect(isConnectionError(error)).toBe(false);
    });
  },
  { targets: ['pg'] },
);

describeEachTarget('driver errors', (t) => {
  it('an SQL error with no domain meaning is rethrown as the driver raised it', async () => {
    const error = await withDbErrors(() => t.db.execute(sql`SELEC 1`)).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).not.toBeInstanceOf(OrchestryError);
    expect((error as { cause?: { code?: string } }).cause?.code).toBe('42601');
  });

  it('a NOT NULL violation is a VALIDATION_ERROR naming the column', async () => {
    const error = await rejection(withDbErrors(() => t.db.execute(sql`INSERT INTO applications (name, spec) VALUES ('nn', NULL)`)));
    expect(error.details).toEqual({ issues: [{ path: 'spec', message: 'spec is required' }] });
  });
});

describeEachTarget(
  'a connection the server ends',
  (t) => {
    it('is DATABASE_ERROR, and the next query gets a fresh connection', async () => {
      const error = await rejection(withDbErrors(() => t.db.execute(sql`SELECT pg_terminate_backend(pg_backend_pid())`)));
      expectDatabaseError(error);
      expect(await getApp(t.db.$primary, 'none')).toBeNull();
    });
  },
  { targets: ['pg', 'neon'] },
);
