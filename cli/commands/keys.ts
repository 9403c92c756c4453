/** keys create | list | revoke: API keys (needs an admin key). */
import { Command, Option } from 'commander';
import { seg } from '../api.js';
import { api, outputOption, wholeNumber, type OutputOptions } from '../context.js';
import { collect, DEFAULT_LIMIT, pages, pageSizeOption } from '../pages.js';
import { ago, c, print, printJson, status, streamTable } from '../ui.js';

const SCOPES = ['read', 'write', 'admin', 'ingest'] as const;

interface ApiKey {
  id: number;
  name: string;
  scope: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
  app: string | null;
}

interface KeyList {
  keys: ApiKey[];
  next_cursor: string | null;
}

async function create(options: OutputOptions & { name: string; scope: string; app?: string }): Promise<void> {
  const client = await api();
  const answer = await client.post<ApiKey & { key: string }>('/keys', { name: options.name, scope: options.scope, app: options.app });
  if (options.output === 'json') return printJson(answer);
  const bound = answer.app === null ? '' : ` for app ${answer.app} (it may only post that app's metrics)`;
  print(`created key ${answer.id} "${answer.name}" with ${answer.scope} scope${bound}; it is shown this once, keep it secret:`);
  print(answer.key);
  print(c.dim(`use it with: export ORCHESTRY_TOKEN=<key>   or: orchestry config set token=<key>`));
}

async function list(options: OutputOptions & { limit: number; all?: boolean; pageSize?: number }): Promise<void> {
  const client = await api();
  const wanted = { field: 'keys' as const, limit: options.limit, all: options.all, pageSize: options.pageSize };
  if (options.output === 'json') return printJson(await collect<KeyList>(client, '/keys', {}, wanted));
  const shown = streamTable(['ID', 'NAME', 'SCOPE', 'PREFIX', 'CREATED', 'LAST USED', 'STATE']);
  let count = 0;
  let more = false;
  for await (const page of pages<KeyList>(client, '/keys', {}, wanted)) {
    count += page.keys.length;
    more = page.next_cursor !== null;
    if (page.keys.length === 0) continue;
    shown.rows(
      page.keys.map((key) => [
        key.id,
        key.name,
        key.app === null ? key.scope : `${key.scope} (${key.app})`,
        `${key.prefix}…`,
        `${ago(key.created_at)} ago`,
        key.last_used_at ? `${ago(key.last_used_at)} ago` : 'never',
        key.revoked_at ? status('revoked') : status('active'),
      ]),
    );
  }
  if (count === 0) print('no keys');
  if (more) print(c.dim(`showing the first ${count}; --all shows every one`));
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
    .addOption(
      new Option('--scope <scope>', 'read: look; write: also change apps; admin: also manage keys; ingest: only post one app\'s metrics (with --app)')
        .choices(SCOPES)
        .default('read'),
    )
    .option('--app <name>', 'the app an ingest key is bound to (a metering sidecar\'s key)')
    .addOption(outputOption())
    .action(create);
  keys
    .command('list')
    .alias('ls')
    .description('keys, revoked ones included, oldest first')
    .option('--limit <n>', 'show at most this many keys', wholeNumber('--limit', 1), DEFAULT_LIMIT)
    .option('--all', 'every key, following the pages to the end')
    .addOption(pageSizeOption())
    .addOption(outputOption())
    .action(list);
  keys
    .command('revoke')
    .description('revoke a key: requests with it are refused from now on')
    .argument('<id>', 'the key id (from keys list)', wholeNumber('id', 1))
    .addOption(outputOption())
    .action(revoke);
}
