import { describe, expect, it } from 'vitest';
import { redactUrl } from '../../../functions/dev/settings.js';

describe('redactUrl (the banner’s database line)', () => {
  it.each([
    ['a plain password', 'postgres://u:hunter2@db.example:5432/app', 'postgres://u:***@db.example:5432/app', 'hunter2'],
    ['a password holding "@"', 'postgres://u:p@ss@db.example/app', 'postgres://u:***@db.example/app', 'ss@db'],
    ['a percent-encoded "/"', 'postgres://u:ab%2Fcd@h/db', 'postgres://u:***@h/db', 'ab'],
    ['a password in the query', 'postgres://u@h/db?sslmode=require&password=s3cret', 'postgres://u@h/db?sslmode=require&password=***', 's3cret'],
    ['an sslpassword in the query', 'postgres://h/db?sslpassword=s3cret', 'postgres://h/db?sslpassword=***', 's3cret'],
  ])('hides %s', (_case, url, shown, secret) => {
    expect(redactUrl(url)).toBe(shown);
    expect(redactUrl(url)).not.toContain(secret);
  });

  it('keeps a URL without a password as it is', () => {
    expect(redactUrl('postgres://postgres@127.0.0.1:5432/postgres')).toBe('postgres://postgres@127.0.0.1:5432/postgres');
  });

  it('shows nothing of a URL that does not parse, such as a password with a raw "/"', () => {
    const shown = redactUrl('postgres://u:ab/cd@h/db');
    expect(shown).not.toContain('ab');
    expect(shown).not.toContain('cd');
    expect(shown).toMatch(/not shown/);
  });
});
