/** keys create | list | revoke: API keys (needs an admin key). */
import { Command, Option } from 'commander';
import { seg } from '../api.js';
import { api, outputOption, wholeNumber, type OutputOptions } from '../context.js';
import { ago, c, print, printJson, status, table } from '../ui.js';

const SCOPES = ['read', 'write', 'admin'] as const;

interface ApiKey {
  id: number;
  name: string;
  scope: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

interface KeyList {
  keys: ApiKey[];
}

async function create(options: OutputOptions & { name: string; scope: string }): Promise<void> {
  const client = await api();
  const answer = await client.post<ApiKey & { key: string }>('/keys', { name: options.name, scope: options.scope });
  if (options.output === 'json') return printJson(answer);
  print(`created key ${answer.id} "${answer.name}" with ${answer.scope} scope; it is shown this once, keep it secret:`);
  print(answer.key);
  print(c.dim(`use it with: export ORCHESTRY_TOKEN=<key>   or: orchestry config set token=<key>`));
}

async function list(options: OutputOptions): Promise<void> {
  const client = await api();
  const answer = await client.get<KeyList>('/keys');
  if (options.output === 'json') return printJson(answer);
  if (answer.keys.length === 0) return print('no keys');
  print(
    table(
      ['ID', 'NAME', 'SCOPE', 'PREFIX', 'CREATED', 'LAST USED', 'STATE'],
      answer.keys.map((key) => [
        key.id,
        key.name,
        key.scope,
        `${key.prefix}…`,
        `${ago(key.created_at)} ago`,
        key.last_used_at ? `${ago(key.last_used_at)} ago` : 'never',
        key.revoked_at ? status('revoked') : status('active'),
      ]),
    ),
  );
}

async function revoke(id: number, options: OutputOptions): Promise<void> {
  const client = await api();
  const answer = await client.delete<ApiKey>(`/keys/${seg(id)}`);
  if (options.output === 'json') return printJson(answer);
  print(`revoked key ${answer.id} "${answer.name}"`);
}

export function registerKeyCommands(program: Command): void {
  const keys = program.command('keys').description('API keys: create, list and revoke them (needs an admin key)');
  keys
    .command('create')
    .description('create a key; it is shown once')
    .requiredOption('--name <name>', 'what the key is for (e.g. "ci deploys")')
    .addOption(new Option('--scope <scope>', 'read: look; write: also change apps; admin: also manage keys').choices(SCOPES).default('read'))
    .addOption(outputOption())
    .action(create);
  keys.command('list').alias('ls').description('every key, revoked ones included').addOption(outputOption()).action(list);
  keys
    .command('revoke')
    .description('revoke a key: requests with it are refused from now on')
    .argument('<id>', 'the key id (from keys list)', wholeNumber('id', 1))
    .addOption(outputOption())
    .action(revoke);
}
