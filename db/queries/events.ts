/** Events: the audit trail, appended in the transaction of the change it records. */
import { and, desc, eq, gte, sql, type SQL } from 'drizzle-orm';
import { validationError } from '../../functions/core/errors.js';
import type { Database } from '../client.js';
import { withDbErrors } from '../errors.js';
import { events, type Event, type EventType, type NewEvent, type Severity } from '../schema.js';

export async function appendEvent(tx: Database, event: NewEvent): Promise<Event> {
  const [row] = await appendEvents(tx, [event]);
  return row!;
}

/**
 * Rows per INSERT. A statement carries at most 65,535 parameters and an event row up to 11,
 * so one statement for every event of a large batch (the scaler's first tick over 10,000 apps
 * writes one per app) would be refused by the server.
 */
export const EVENTS_PER_STATEMENT = 5000;

/**
 * Appends many events, returned in the order given: one statement per 5,000. Call it inside
 * the transaction of the change the events record, so that a batch is all or nothing.
 */
export async function appendEvents(tx: Database, rows: NewEvent[]): Promise<Event[]> {
  if (rows.length === 0) return [];
  return withDbErrors(async () => {
    const inserted: Event[] = [];
    for (let i = 0; i < rows.length; i += EVENTS_PER_STATEMENT) {
      inserted.push(...(await tx.insert(events).values(rows.slice(i, i + EVENTS_PER_STATEMENT)).returning()));
    }
    // The ids come from one sequence in VALUES order.
    return inserted.sort((a, b) => a.id - b.id);
  });
}

/** A position in the newest-first listing: the last event seen, to the microsecond. */
interface CursorPosition {
  timestamp: string;
  id: number;
}

export function encodeCursor(position: CursorPosition): string {
  return Buffer.from(`${position.timestamp}|${position.id}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): CursorPosition {
  const fail = () =>
    validationError([{ path: 'cursor', message: 'cursor is not one this API issued; pass next_cursor from the previous page unchanged' }]);
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw fail();
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)\|(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m || Number.isNaN(Date.parse(m[1]!))) throw fail();
  return { timestamp: m[1]!, id: Number(m[2]) };
}

export interface ListEventsOptions {
  app?: string | undefined;
  type?: EventType | undefined;
  severity?: Severity | undefined;
  since?: Date | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface EventPage {
  events: Event[];
  hasMore: boolean;
  nextCursor: string | null;
}

export const MAX_EVENTS_PAGE = 1000;

/**
 * Events newest first, one page at a time. The cursor is the (timestamp, id) of the last
 * event of the previous page and the next page starts strictly below it, so events
 * inserted meanwhile (which sort above) never shift or repeat a page. The timestamp
 * travels as text with microseconds: a JS Date would round it to milliseconds.
 */
export async function listEvents(db: Database, opts: ListEventsOptions): Promise<EventPage> {
  if (!Number.isInteger(opts.limit) || opts.limit < 1 || opts.limit > MAX_EVENTS_PAGE) {
    throw validationError([{ path: 'limit', message: `limit must be an integer between 1 and ${MAX_EVENTS_PAGE}` }]);
  }
  const conditions: SQL[] = [];
  if (opts.app !== undefined) conditions.push(eq(events.appName, opts.app));
  if (opts.type !== undefined) conditions.push(eq(events.eventType, opts.type));
  if (opts.severity !== undefined) conditions.push(eq(events.severity, opts.severity));
  if (opts.since !== undefined) conditions.push(gte(events.timestamp, opts.since));
  if (opts.cursor !== undefined) {
    const after = decodeCursor(opts.cursor);
    conditions.push(sql`(${events.timestamp}, ${events.id}) < (${after.timestamp}::timestamptz, ${after.id}::int)`);
  }
  const rows = await db
    .select({
      event: events,
      position: sql<string>`to_char(${events.timestamp} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    })
    .from(events)
    .where(and(...conditions))
    .orderBy(desc(events.timestamp), desc(events.id))
    .limit(opts.limit + 1);
  const hasMore = rows.length > opts.limit;
  const page = rows.slice(0, opts.limit);
  const last = page.at(-1);
  return {
    events: page.map((r) => r.event),
    hasMore,
    nextCursor: hasMore && last ? encodeCursor({ timestamp: last.position, id: last.event.id }) : null,
  };
}
