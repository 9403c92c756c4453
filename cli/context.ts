/** What every command shares: the API client (made once, on first use) and argument parsers. */
import { InvalidArgumentError, Option } from 'commander';
import { ApiClient } from './api.js';
import { resolveConfig } from './config.js';
import { OUTPUT_FORMATS, type OutputFormat } from './ui.js';

let client: ApiClient | undefined;

export async function api(): Promise<ApiClient> {
  client ??= new ApiClient(await resolveConfig());
  return client;
}

export interface OutputOptions {
  output: OutputFormat;
}

export const outputOption = () =>
  new Option('-o, --output <format>', 'table for people, json for scripts').choices(OUTPUT_FORMATS).default('table');

/** Commander parser for a whole number within bounds; anything else is a usage error (exit 2). */
export const wholeNumber =
  (what: string, min: number, max = Number.MAX_SAFE_INTEGER) =>
  (raw: string): number => {
    const value = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
      throw new InvalidArgumentError(`${what} must be a whole number ${range}; got "${raw}"`);
    }
    return value;
  };

/** How often --follow/--watch poll, and a bound on their polls; hidden: for scripts and tests. */
export const followOptions = () => [
  new Option('--max-polls <n>', 'stop after this many polls').argParser(wholeNumber('--max-polls', 1)).hideHelp(),
  new Option('--poll-interval <ms>', 'milliseconds between polls').argParser(wholeNumber('--poll-interval', 100, 600_000)).hideHelp(),
];

export interface FollowFlags {
  maxPolls?: number | undefined;
  pollInterval?: number | undefined;
}
