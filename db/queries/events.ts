/** Events: the audit trail, appended in the transaction of the change it records. */
import { and, desc, eq, gte, sql, type SQL } from 'drizzle-orm';
import type { Database } from '../client.js';
import { withDbErrors } from '../errors.js';
import { events, type Event, type EventType, type NewEvent, type Severity } from '../schema.js';
import { checkLimit, pageOf, type Page, type PageRequest } from './page.js';

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

export interface EventFilters {
  app?: string | undefined;
  type?: EventType | undefined;
  severity?: Severity | undefined;
  since?: Date | undefined;
}

/**
 * The key of the newest-first order: the timestamp as text with microseconds (a JS Date
 * would round it to milliseconds, and events a microsecond apart would be skipped or
 * repeated), and the id for events of the same instant.
 */
export type EventKey = [timestamp: string, id: number];

/**
 * Events newest first, one page at a time. A page starts strictly below the (timestamp, id)
 * of the previous page's last event, so events inserted meanwhile (which sort above) never
 * shift or repeat a page.
 */
export async function listEvents(db: Database, filters: EventFilters, page: PageRequest<EventKey>): Promise<Page<Event, EventKey>> {
  checkLimit(page.limit);
  const conditions: SQL[] = [];
  if (filters.app !== undefined) conditions.push(eq(events.appName, filters.app));
  if (filters.type !== undefined) conditions.push(eq(events.eventType, filters.type));
  if (filters.severity !== undefined) conditions.push(eq(events.severity, filters.severity));
  if (filters.since !== undefined) conditions.push(gte(events.timestamp, filters.since));
  if (page.after !== undefined) {
    const [timestamp, id] = page.after;
    conditions.push(sql`(${events.timestamp}, ${events.id}) < (${timestamp}::timestamptz, ${id}::int)`);
  }
  const rows = await db
    .select({
      event: events,
      position: sql<string>`to_char(${events.timestamp} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
    })
    .from(events)
    .where(and(...conditions))
    .orderBy(desc(events.timestamp), desc(events.id))
    .limit(page.limit + 1);
  const { items, next } = pageOf(rows, page.limit, (r): EventKey => [r.position, r.event.id]);
  return { items: items.map((r) => r.event), next };
}
