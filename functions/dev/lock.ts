/**
 * One dev server per PGlite directory: PGlite keeps the database in files that only one
 * process may write. A lock file beside the directory holds the owner's pid; a lock left by
 * a process that is gone (killed with -9, a crash) is taken over.
 */
import { open, readFile, rm } from 'node:fs/promises';

export interface StateLock {
  file: string;
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else; it is alive all the same.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function lockStateDir(dir: string): Promise<StateLock> {
  const file = `${dir}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      let released = false;
      return {
        file,
        async release() {
          if (released) return;
          released = true;
          await rm(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && alive(owner)) {
        throw new Error(
          `another dev server (pid ${owner}) uses the database in ${dir}; stop it first, ` +
            'or give this one its own directory (run it elsewhere, or set PGLITE_DIR or DATABASE_URL)',
        );
      }
      // The owner is gone: its lock is stale.
      await rm(file, { force: true });
    }
  }
  throw new Error(`could not lock ${dir} (${file} keeps coming back); is another dev server starting?`);
}
