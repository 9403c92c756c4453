/**
 * The database's side of a deploy: the three secrets, and the migration step.
 *
 * Secrets are SST secrets (`npx sst secrets set NAME VALUE --stage STAGE`): SecureString SSM
 * parameters under /sst/orchestry/STAGE/Secret/NAME/value. A function they are bound to gets
 * `SST_Secret_value_NAME=__FETCH_FROM_SSM__` in its environment and `ssm:GetParameters` on
 * exactly those parameters; `sst/node/config` fetches the values when the function starts. The
 * values never appear in a template or in a function's configuration.
 *
 * Migrations run on every deploy, through an SST Script whose custom resource invokes the
 * migrate function synchronously (a failure fails the deploy). The Api and Jobs stacks depend
 * on this one, so their new code is deployed only after the schema it expects exists.
 */
import { Config, Function, Script, type StackContext } from 'sst/constructs';
import { LAMBDA_TASK_ROOT, bundledWith, functionLogGroup, stageSettings } from './functions.js';

export function Database({ stack, app }: StackContext) {
  const settings = stageSettings(app);
  const secrets = Config.Secret.create(stack, 'DATABASE_URL', 'DATABASE_REPLICA_URL', 'ORCHESTRY_ADMIN_TOKEN');

  const bundling = bundledWith('pg');
  const migrate = new Function(stack, 'Migrate', {
    nodejs: bundling.nodejs,
    handler: 'functions/jobs/migrate.handler',
    description: 'Applies migrations/ to DATABASE_URL (run by the Migrations script on every deploy)',
    timeout: 300,
    memorySize: 512,
    // A Script's functions must run the deployed code, never a developer's machine.
    enableLiveDev: false,
    copyFiles: [{ from: 'migrations', to: 'migrations' }],
    environment: { ...bundling.environment, ORCHESTRY_MIGRATIONS_DIR: `${LAMBDA_TASK_ROOT}/migrations` },
    bind: [secrets.DATABASE_URL],
    logGroup: functionLogGroup(stack, 'MigrateLogs', settings),
  });

  const migrations = new Script(stack, 'Migrations', { onCreate: migrate, onUpdate: migrate });

  return { secrets, migrate, migrations };
}
