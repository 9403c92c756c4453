/** Page cursors: opaque, versioned, bound to their list and filters; anything else is a 400 naming `cursor`. */
import { describe, expect, it } from 'vitest';
import { OrchestryError } from '../../../functions/core/errors.js';
import { CURSORS, listCursor, MAX_CURSOR_LENGTH } from '../../../functions/api/cursor.js';

function refusal(decode: () => unknown): { path: string; message: string } {
  try {
    decode();
  } catch (error) {
    expect(error).toBeInstanceOf(OrchestryError);
    expect((error as OrchestryError).code).toBe('VALIDATION_ERROR');
    const issues = ((error as OrchestryError).details as { issues: Array<{ path: string; message: string }> }).issues;
    expect(issues).toHaveLength(1);
    return issues[0]!;
  }
  throw new Error('the cursor was accepted');
}

const raw = (body: unknown) => Buffer.from(JSON.stringify(body), 'utf8').toString('base64url');

describe('page cursors', () => {
  it('round-trip the key of the last item, as opaque base64url', () => {
    const cursor = CURSORS.events.encode(['2025-01-02T03:04:05.123456Z', 42], { app: 'web', type: 'health' });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(cursor.length).toBeLessThan(200);
    expect(CURSORS.events.decode(cursor, { type: 'health', app: 'web' })).toEqual(['2025-01-02T03:04:05.123456Z', 42]);
    expect(CURSORS.apps.decode(CURSORS.apps.encode(['a'.repeat(253)], {}), {})).toEqual(['a'.repeat(253)]);
  });

  it('bind filters in a canonical form: absent ones and the order of keys and labels do not matter', () => {
    const cursor = CURSORS.apps.encode(['web'], { status: 'running', label: ['team=a', 'tier=b'], mode: undefined });
    expect(CURSORS.apps.decode(cursor, { label: ['tier=b', 'team=a'], status: 'running' })).toEqual(['web']);
  });

  it.each([
    ['empty', CURSORS.apps, ''],
    ['not base64url', CURSORS.apps, 'not a cursor!'],
    ['not JSON', CURSORS.apps, Buffer.from('garbage').toString('base64url')],
    ['the old event format', CURSORS.events, Buffer.from('2025-01-02T03:04:05.123456Z|7').toString('base64url')],
    ['JSON but not an object', CURSORS.apps, raw(42)],
    ['no version', CURSORS.apps, raw({ l: 'apps', k: ['x'] })],
    ['a key of the wrong shape', CURSORS.apps, raw({ v: 1, l: 'apps', f: 'x', k: [7] })],
    ['a key with too many parts', CURSORS.keys, raw({ v: 1, l: 'keys', f: 'x', k: [1, 2] })],
    ['a negative id', CURSORS.keys, raw({ v: 1, l: 'keys', f: 'x', k: [-1] })],
    ['a time without microseconds', CURSORS.events, raw({ v: 1, l: 'events', f: 'x', k: ['2025-01-02T03:04:05Z', 1] })],
    ['too long', CURSORS.apps, 'A'.repeat(MAX_CURSOR_LENGTH + 1)],
  ] as const)('refuse %s, naming cursor and the fix', (_what, codec, cursor) => {
    const issue = refusal(() => codec.decode(cursor, {}));
    expect(issue.path).toBe('cursor');
    expect(issue.message).toMatch(/next_cursor/);
  });

  it("refuse another list's cursor, saying whose it is", () => {
    const issue = refusal(() => CURSORS.apps.decode(CURSORS.keys.encode([3], {}), {}));
    expect(issue).toEqual({ path: 'cursor', in: 'query', message: expect.stringContaining('another list (keys)') });
  });

  it('refuse a cursor made for other filters', () => {
    const cursor = CURSORS.instances.encode(['web', 9], { status: 'running' });
    expect(refusal(() => CURSORS.instances.decode(cursor, { status: 'stopped' })).message).toMatch(/other filters/);
    expect(refusal(() => CURSORS.instances.decode(cursor, {})).message).toMatch(/other filters/);
  });

  it('refuse a cursor of another format version with a way out', () => {
    const cursor = raw({ v: 2, l: 'apps', f: 'x', k: ['web'] });
    expect(refusal(() => CURSORS.apps.decode(cursor, {})).message).toMatch(/another version of the API; start again without cursor/);
  });

  it('refuse a forged fingerprint', () => {
    const codec = listCursor<[string]>('apps', ['text']);
    const forged = raw({ v: 1, l: 'apps', f: 'AAAAAAAAAAAAAAAA', k: ['web'] });
    expect(refusal(() => codec.decode(forged, {})).path).toBe('cursor');
  });
});
