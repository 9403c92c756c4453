import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { privateDir, privateFileIfPresent, writePrivateFile } from '../../../functions/dev/private-files.js';

const mode = async (path: string) => (await stat(path)).mode & 0o777;

describe('private state files (enforced on every start, not only on creation)', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'orchestry-private-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('makes a missing state directory 0700', async () => {
    const dir = join(root, 'fresh', '.orchestry');
    await privateDir(dir);
    expect(await mode(dir)).toBe(0o700);
  });

  it('narrows an existing world-readable state directory to 0700', async () => {
    const dir = join(root, 'open');
    await mkdir(dir);
    await chmod(dir, 0o755);
    await privateDir(dir);
    expect(await mode(dir)).toBe(0o700);
  });

  it('narrows an existing key file to 0600, and leaves a missing one missing', async () => {
    const file = join(root, 'key');
    await writeFile(file, 'orch_x\n');
    await chmod(file, 0o644);
    expect(await privateFileIfPresent(file)).toBe(true);
    expect(await mode(file)).toBe(0o600);
    expect(await privateFileIfPresent(join(root, 'absent'))).toBe(false);
    await expect(stat(join(root, 'absent'))).rejects.toThrow();
  });

  it('writes into a file that existed empty and world-readable at 0600', async () => {
    const file = join(root, 'empty-key');
    await writeFile(file, '');
    await chmod(file, 0o666);
    await writePrivateFile(file, 'orch_secret\n');
    expect(await mode(file)).toBe(0o600);
    expect(await readFile(file, 'utf8')).toBe('orch_secret\n');
  });
});
