/** logs NAME [--follow] [--tail N]: the replicas' output. */
import { Command } from 'commander';
import { seg, type ApiClient } from '../api.js';
import { api, followOptions, outputOption, wholeNumber, type FollowFlags, type OutputOptions } from '../context.js';
import { follow } from '../follow.js';
import type { AppDetail } from '../types.js';
import { c, clock, print, printJson, printJsonLine } from '../ui.js';

interface LogLine {
  timestamp: string | null;
  stream: string;
  message: string;
  container_id: string;
}

interface LogsAnswer {
  app_name: string;
  lines: LogLine[];
}

interface LogsOptions extends OutputOptions, FollowFlags {
  container?: string;
  tail: number;
  since?: string;
  follow?: boolean;
}

const identity = (line: LogLine) => `${line.container_id}|${line.timestamp}|${line.stream}|${line.message}`;

/** Container ids → replica names (orchestry-web-r0-v2), which say the replica and its revision. */
class ReplicaNames {
  private names = new Map<string, string>();
  constructor(
    private readonly client: ApiClient,
    private readonly app: string,
  ) {}

  /** Looks the app's replicas up again when a line comes from one not seen yet. */
  async learn(lines: readonly LogLine[]): Promise<void> {
    if (lines.every((line) => this.names.has(line.container_id))) return;
    const detail = await this.client.get<AppDetail>(`/apps/${seg(this.app)}`);
    for (const container of detail.containers) this.names.set(container.id, container.name);
  }

  format(line: LogLine): string {
    const who = this.names.get(line.container_id) ?? line.container_id.slice(0, 12);
    return `${c.dim(clock(line.timestamp))} ${c.cyan(who)} ${line.message}`;
  }
}

async function logs(name: string, options: LogsOptions): Promise<void> {
  const client = await api();
  const path = `/apps/${seg(name)}/logs`;
  const query = { container: options.container, tail: options.tail, since: options.since };
  const names = new ReplicaNames(client, name);
  if (!options.follow) {
    const answer = await client.get<LogsAnswer>(path, query);
    if (options.output === 'json') return printJson(answer);
    await names.learn(answer.lines);
    for (const line of answer.lines) print(names.format(line));
    return;
  }
  // Each poll asks from the newest line seen; lines of that same instant come again, and are skipped.
  const seen = new Set<string>();
  let newest: string | undefined;
  await follow(
    async () => {
      const answer = await client.get<LogsAnswer>(path, newest ? { ...query, since: newest } : query);
      if (options.output !== 'json') await names.learn(answer.lines);
      let latest = newest;
      const fresh = new Set<string>();
      for (const line of answer.lines) {
        const key = identity(line);
        fresh.add(key);
        if (seen.has(key)) continue;
        if (options.output === 'json') printJsonLine(line);
        else print(names.format(line));
        if (line.timestamp && (!latest || line.timestamp > latest)) latest = line.timestamp;
      }
      for (const key of fresh) seen.add(key);
      newest = latest;
    },
    { intervalMs: options.pollInterval, maxPolls: options.maxPolls },
  );
}

export function registerLogCommands(program: Command): void {
  const command = program
    .command('logs')
    .description("the output of an app's replicas")
    .argument('<name>', 'the app')
    .option('--container <id>', 'only this replica: its container id or name, or its index')
    .option('--tail <n>', 'the last n lines of each replica', wholeNumber('--tail', 1), 100)
    .option('--since <time>', 'only lines since an ISO time or a duration back from now (10m, 1h)')
    .option('-f, --follow', 'keep printing new lines until Ctrl-C')
    .addOption(outputOption());
  for (const option of followOptions()) command.addOption(option);
  command.action(logs);
}
