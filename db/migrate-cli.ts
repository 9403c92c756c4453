/** `npm run db:migrate`: apply pending migrations to the database the environment names. */
import { createDb, dbConfigFromEnv } from './client.js';
import { migrate } from './migrate.js';

const config = dbConfigFromEnv();
if (!config.url && !config.pgliteDir) config.pgliteDir = '.orchestry/pglite';
const handle = await createDb(config);
try {
  const { applied } = await migrate(handle.db.$primary);
  console.log(
    JSON.stringify({ level: 'info', msg: 'migrate', driver: handle.driver, applied, upToDate: applied.length === 0 }),
  );
} catch (err) {
  console.error(JSON.stringify({ level: 'error', msg: 'migrate failed', error: (err as Error).message }));
  process.exitCode = 1;
} finally {
  await handle.close();
}
