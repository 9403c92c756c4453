/** events [NAME] [--follow]: the audit trail of one app, or of every app. */
import { Command } from 'commander';
import { seg } from '../api.js';
import { api, followOptions, outputOption, wholeNumber, type FollowFlags, type OutputOptions } from '../context.js';
import { follow } from '../follow.js';
import { collect, MAX_PAGE, pageSizeOption } from '../pages.js';
import type { Event, EventPage } from '../types.js';
import { c, clock, print, printJson, printJsonLine, status, table } from '../ui.js';

/** How far back each --follow poll looks again, for events committed after newer ones. */
const FOLLOW_OVERLAP_MS = 60_000;
const FOLLOW_PAGE = 200;

interface EventsOptions extends OutputOptions, FollowFlags {
  type?: string;
  severity?: string;
  since?: string;
  limit: number;
  all?: boolean;
  pageSize?: number;
  follow?: boolean;
}

const severity = (word: string) => (word === 'info' ? c.dim(word) : status(word));

function rows(events: Event[], withApp: boolean): string[][] {
  return events.map((event) => [
    clock(event.timestamp),
    ...(withApp ? [event.app_name ?? '-'] : []),
    severity(event.severity),
    event.type,
    event.message,
  ]);
}

function line(event: Event, withApp: boolean): string {
  const app = withApp ? `${(event.app_name ?? '-').padEnd(20)}  ` : '';
  return `${clock(event.timestamp)}  ${app}${severity(event.severity.padEnd(8))}  ${event.type.padEnd(12)}  ${event.message}`;
}

/** Oldest first, as a log reads. */
const chronological = (events: Event[]) => [...events].sort((a, b) => a.id - b.id);

async function events(name: string | undefined, options: EventsOptions): Promise<void> {
  const client = await api();
  const path = name ? `/apps/${seg(name)}/events` : '/events';
  const withApp = name === undefined;
  const query = { type: options.type, severity: options.severity, since: options.since, limit: options.limit };

  if (!options.follow) {
    // Pages come newest first; a log reads oldest first, so the pages are gathered, then shown.
    const { limit: _limit, ...filters } = query;
    const page = await collect<EventPage>(client, path, filters, { field: 'events', limit: options.limit, all: options.all, pageSize: options.pageSize });
    const answer = { ...page, has_more: page.next_cursor !== null };
    if (options.output === 'json') return printJson(answer);
    if (answer.events.length === 0) return print('no events');
    print(table(['TIME', ...(withApp ? ['APP'] : []), 'SEVERITY', 'TYPE', 'MESSAGE'], rows(chronological(answer.events), withApp)));
    if (answer.has_more) print(c.dim(`older events exist: --limit, --since or --all shows more`));
    return;
  }

  const seen = new Set<number>();
  let newest: string | undefined;
  let first = true;
  await follow(
    async () => {
      const since = first ? options.since : newest && new Date(Date.parse(newest) - FOLLOW_OVERLAP_MS).toISOString();
      const page = await client.get<EventPage>(path, { ...query, since, limit: first ? Math.min(options.limit, MAX_PAGE) : FOLLOW_PAGE });
      first = false;
      for (const event of chronological(page.events)) {
        if (seen.has(event.id)) continue;
        seen.add(event.id);
        if (event.timestamp && (!newest || event.timestamp > newest)) newest = event.timestamp;
        if (options.output === 'json') printJsonLine(event);
        else print(line(event, withApp));
      }
    },
    { intervalMs: options.pollInterval, maxPolls: options.maxPolls },
  );
}

export function registerEventCommands(program: Command): void {
  const command = program
    .command('events')
    .description("the audit trail of an app (or of every app): what happened, when and why")
    .argument('[name]', 'the app (every app when left out)')
    .option('--type <type>', 'only events of this type (registration, deployment, scaling, health, config, ...)')
    .option('--severity <severity>', 'only events of this severity (info, warning, error, critical)')
    .option('--since <time>', 'only events since an ISO time or a duration back from now (30m, 1h, 2d)')
    .option('--limit <n>', 'at most this many events (the newest)', wholeNumber('--limit', 1), 50)
    .option('--all', 'every event (of the filters), following the pages to the end')
    .addOption(pageSizeOption())
    .option('-f, --follow', 'keep printing new events until Ctrl-C')
    .addOption(outputOption());
  for (const option of followOptions()) command.addOption(option);
  command.action(events);
}
