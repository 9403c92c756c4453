/** config get | set key=value... | unset key...: the API URL and key the CLI uses. */
import { Command } from 'commander';
import { CONFIG_KEYS, configFilePath, normalizeUrl, readConfigFile, redactToken, resolveConfig, writeConfigFile, type ConfigKey } from '../config.js';
import { outputOption, type OutputOptions } from '../context.js';
import { usageError } from '../errors.js';
import { c, fields, print, printJson } from '../ui.js';

const isConfigKey = (key: string): key is ConfigKey => (CONFIG_KEYS as readonly string[]).includes(key);

function configKey(key: string): ConfigKey {
  if (!isConfigKey(key)) throw usageError(`unknown setting "${key}"; the settings are ${CONFIG_KEYS.join(' and ')}`);
  return key;
}

async function get(options: OutputOptions): Promise<void> {
  const resolved = await resolveConfig();
  const token = resolved.token ? redactToken(resolved.token) : null;
  if (options.output === 'json') {
    return printJson({
      url: resolved.url,
      url_source: resolved.urlSource,
      token,
      token_source: resolved.tokenSource ?? null,
      config_file: resolved.file,
      dev_key_file: resolved.devKeyFile ?? null,
    });
  }
  const tokenSource = resolved.tokenSource === 'dev server key' ? `dev server key, ${resolved.devKeyFile}` : resolved.tokenSource;
  print(
    fields([
      ['url', `${resolved.url} ${c.dim(`(${resolved.urlSource})`)}`],
      ['token', token ? `${token} ${c.dim(`(${tokenSource})`)}` : c.yellow('not set: orchestry config set token=KEY, or ORCHESTRY_TOKEN')],
      ['config file', resolved.file],
    ]),
  );
}

async function set(pairs: string[]): Promise<void> {
  const file = configFilePath();
  const stored = await readConfigFile(file);
  const changed: string[] = [];
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw usageError(`"${pair}" is not key=value; e.g. orchestry config set url=http://127.0.0.1:8000 token=orch_...`);
    const key = configKey(pair.slice(0, at).trim());
    const value = pair.slice(at + 1).trim();
    if (!value) throw usageError(`${key} needs a value; to remove it use: orchestry config unset ${key}`);
    stored[key] = key === 'url' ? normalizeUrl(value, 'url') : value;
    changed.push(key);
  }
  await writeConfigFile(file, stored);
  print(`saved ${changed.join(' and ')} in ${file}`);
  const overridden = changed.filter((key) => (key === 'url' ? process.env.ORCHESTRY_URL : process.env.ORCHESTRY_TOKEN)?.trim());
  for (const key of overridden) {
    print(c.yellow(`note: ${key === 'url' ? 'ORCHESTRY_URL' : 'ORCHESTRY_TOKEN'} is set in the environment and wins over the file`));
  }
}

async function unset(keys: string[]): Promise<void> {
  const file = configFilePath();
  const stored = await readConfigFile(file);
  for (const key of keys) delete stored[configKey(key)];
  await writeConfigFile(file, stored);
  print(`removed ${keys.join(' and ')} from ${file}`);
}

export function registerConfigCommands(program: Command): void {
  const config = program
    .command('config')
    .description(
      'the API URL and key the CLI uses (ORCHESTRY_URL and ORCHESTRY_TOKEN in the environment win over the config file; ' +
        "against a local dev server the key in .orchestry/admin-key is found by itself)",
    );
  config.command('get').description('show the URL and the key (redacted), and where each comes from').addOption(outputOption()).action(get);
  config
    .command('set')
    .description('save settings in the config file: url=URL token=KEY')
    .argument('<key=value...>', 'url=... and/or token=...')
    .action(set);
  config.command('unset').description('remove settings from the config file').argument('<key...>', 'url and/or token').action(unset);
}
