/**
 * Following a list's next_cursor: the API answers a page at a time (at most 1,000 items), and
 * a command shows the first `limit` items, or with `all` every one, printing each page as it
 * comes so that a long list starts showing at once.
 */
import { Option } from 'commander';
import type { ApiClient, Query } from './api.js';
import { wholeNumber } from './context.js';

/** The API's largest page. */
export const MAX_PAGE = 1000;
/** The API's default page, and what a list shows without --limit or --all. */
export const DEFAULT_LIMIT = 100;

export interface PageAnswer {
  next_cursor: string | null;
}

export interface PagesOptions<P> {
  /** The field of the answer that holds the items. */
  field: keyof P & string;
  /** At most this many items in all (ignored with `all`). */
  limit: number;
  all?: boolean | undefined;
  /** Items per request (default and at most MAX_PAGE). */
  pageSize?: number | undefined;
}

/** Each page of `path`, its items cut to what is still wanted; the last one's next_cursor says whether more exist. */
export async function* pages<P extends PageAnswer>(client: ApiClient, path: string, query: Query, options: PagesOptions<P>): AsyncGenerator<P> {
  let remaining = options.all ? Number.POSITIVE_INFINITY : options.limit;
  let cursor: string | undefined;
  while (remaining > 0) {
    const answer = await client.get<P>(path, { ...query, limit: Math.min(options.pageSize ?? MAX_PAGE, remaining), cursor });
    const items = answer[options.field] as unknown[];
    remaining -= items.length;
    yield answer;
    if (answer.next_cursor === null || items.length === 0) return;
    cursor = answer.next_cursor;
  }
}

/**
 * Every page of `path` merged into one answer (the first page's other fields, every item, the
 * last next_cursor): what --output json prints, so that a script gets one document.
 */
export async function collect<P extends PageAnswer>(client: ApiClient, path: string, query: Query, options: PagesOptions<P>): Promise<P> {
  let merged: P | undefined;
  for await (const page of pages(client, path, query, options)) {
    if (!merged) merged = page;
    else merged = { ...merged, [options.field]: [...(merged[options.field] as unknown[]), ...(page[options.field] as unknown[])], next_cursor: page.next_cursor };
  }
  return merged!;
}

/** --page-size: hidden, like --max-polls; for scripts that want smaller requests, and for tests. */
export const pageSizeOption = () =>
  new Option('--page-size <n>', 'items per request').argParser(wholeNumber('--page-size', 1, MAX_PAGE)).hideHelp();
