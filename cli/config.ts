/**
 * Where the CLI finds the API and its key. The environment (ORCHESTRY_URL, ORCHESTRY_TOKEN)
 * wins over the config file, which wins over the defaults: the local dev server's URL and
 * the admin key it writes to `.orchestry/admin-key` (found from the working directory up).
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CliError, EXIT, usageError } from './errors.js';

export const DEFAULT_URL = 'http://127.0.0.1:8000';
/** Where the dev server keeps the admin key it creates, relative to its working directory. */
const DEV_KEY_PATH = join('.orchestry', 'admin-key');

export interface ConfigFile {
  url?: string | undefined;
  token?: string | undefined;
}

export const CONFIG_KEYS = ['url', 'token'] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

export type UrlSource = 'ORCHESTRY_URL' | 'config file' | 'default';
export type TokenSource = 'ORCHESTRY_TOKEN' | 'config file' | 'dev server key';

export interface ResolvedConfig {
  url: string;
  urlSource: UrlSource;
  token: string | undefined;
  tokenSource: TokenSource | undefined;
  /** The config file (whether it exists or not). */
  file: string;
  /** The dev server's key file, when the key came from there. */
  devKeyFile: string | undefined;
}

type Env = Record<string, string | undefined>;

export function configFilePath(env: Env = process.env): string {
  const base = env.XDG_CONFIG_HOME?.trim() || join(homedir(), '.config');
  return join(base, 'orchestry', 'config.json');
}

export async function readConfigFile(file: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read the config file ${file}: ${(error as Error).message}`, 'CONFIG', EXIT.UNREACHABLE);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CliError(`the config file ${file} is not valid JSON; fix it or remove it and run 'orchestry config set'`, 'CONFIG', EXIT.UNREACHABLE);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new CliError(`the config file ${file} must hold a JSON object like {"url": "...", "token": "..."}`, 'CONFIG', EXIT.UNREACHABLE);
  }
  const record = parsed as Record<string, unknown>;
  const text_ = (key: ConfigKey) => (typeof record[key] === 'string' && record[key] ? (record[key] as string) : undefined);
  return { url: text_('url'), token: text_('token') };
}

/** Writes the file readable by its owner only: it holds an API key. */
export async function writeConfigFile(file: string, config: ConfigFile): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const clean: ConfigFile = {};
  if (config.url) clean.url = config.url;
  if (config.token) clean.token = config.token;
  // Write then rename, so that an interrupted write never leaves half a file.
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(clean, null, 2)}\n`, { mode: 0o600 });
  await chmod(temporary, 0o600);
  await rename(temporary, file);
}

/** An http(s) URL without a trailing slash, or a usage error saying what is wrong. */
export function normalizeUrl(raw: string, where: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw usageError(`${where} must be an http(s) URL like ${DEFAULT_URL}; got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw usageError(`${where} must be an http(s) URL like ${DEFAULT_URL}; got "${raw}"`);
  }
  return url.toString().replace(/\/+$/, '');
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether the URL points at this machine: only then may the dev server's key be sent to it. */
function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return LOOPBACK_HOSTS.has(host) || /^127(\.\d{1,3}){3}$/.test(host);
}

/** The dev server's key file in `from` or the nearest directory above it that has one. */
function findDevKeyFile(from: string): string | undefined {
  let dir = resolve(from);
  for (;;) {
    const candidate = join(dir, DEV_KEY_PATH);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export async function resolveConfig(env: Env = process.env, cwd: string = process.cwd()): Promise<ResolvedConfig> {
  const file = configFilePath(env);
  const stored = await readConfigFile(file);
  const envUrl = env.ORCHESTRY_URL?.trim();
  const envToken = env.ORCHESTRY_TOKEN?.trim();

  let url: string;
  let urlSource: UrlSource;
  if (envUrl) {
    url = normalizeUrl(envUrl, 'ORCHESTRY_URL');
    urlSource = 'ORCHESTRY_URL';
  } else if (stored.url) {
    url = normalizeUrl(stored.url, `"url" in ${file}`);
    urlSource = 'config file';
  } else {
    url = DEFAULT_URL;
    urlSource = 'default';
  }

  if (envToken) return { url, urlSource, token: envToken, tokenSource: 'ORCHESTRY_TOKEN', file, devKeyFile: undefined };
  if (stored.token) return { url, urlSource, token: stored.token, tokenSource: 'config file', file, devKeyFile: undefined };
  // The dev server's admin key is only ever sent to a server on this machine.
  const devKeyFile = isLoopback(url) ? findDevKeyFile(cwd) : undefined;
  if (devKeyFile) {
    const token = (await readFile(devKeyFile, 'utf8').catch(() => '')).trim();
    if (token) return { url, urlSource, token, tokenSource: 'dev server key', file, devKeyFile };
  }
  return { url, urlSource, token: undefined, tokenSource: undefined, file, devKeyFile: undefined };
}

/** `abcd…wxyz`: enough to tell keys apart, not enough to use one. */
export function redactToken(token: string): string {
  if (token.length <= 12) return '*'.repeat(token.length);
  return `${token.slice(0, 6)}…${token.slice(-4)}`;
}
