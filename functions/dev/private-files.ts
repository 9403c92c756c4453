/**
 * The dev server's state (the admin key, PGlite's files) is for its user alone. A mode given
 * to mkdir or writeFile applies only when they create the path, so a directory or file that
 * existed before (made by hand, by an older version, restored from a backup) keeps whatever
 * mode it had: these set the mode on every start instead.
 */
import { chmod, mkdir, open } from 'node:fs/promises';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Makes `dir` (and its parents) if missing, and leaves `dir` itself at 0700 whatever it was. */
export async function privateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  await chmod(dir, PRIVATE_DIR_MODE);
}

/** Sets an existing file to 0600; a missing one is not an error (there is nothing to expose). */
export async function privateFileIfPresent(file: string): Promise<boolean> {
  try {
    await chmod(file, PRIVATE_FILE_MODE);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Writes `text` to `file` at 0600, the mode set before the text is in it. */
export async function writePrivateFile(file: string, text: string): Promise<void> {
  const handle = await open(file, 'w', PRIVATE_FILE_MODE);
  try {
    await handle.chmod(PRIVATE_FILE_MODE);
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
}
