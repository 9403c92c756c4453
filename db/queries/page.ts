/**
 * Keyset pagination, shared by every list: a page is read in the order of a unique key,
 * starting strictly after the key of the previous page's last item, one row more than asked
 * so that the last page knows it is the last. No OFFSET: a page costs the same at item
 * 10 and at item 1,000,000, and rows created or deleted meanwhile never shift a page.
 */
import { validationError } from '../../functions/core/errors.js';

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

export interface PageRequest<K> {
  limit: number;
  /** The key of the previous page's last item; absent for the first page. */
  after?: K | undefined;
}

export interface Page<T, K> {
  items: T[];
  /** The key to pass as `after` for the next page; null on the last page. */
  next: K | null;
}

export function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw validationError([{ path: 'limit', message: `limit must be a whole number from 1 to ${MAX_PAGE_LIMIT}` }]);
  }
}

/** The page in `rows` (read with LIMIT limit + 1). */
export function pageOf<T, K>(rows: T[], limit: number, keyOf: (row: T) => K): Page<T, K> {
  const items = rows.length > limit ? rows.slice(0, limit) : rows;
  return { items, next: rows.length > limit ? keyOf(items[items.length - 1]!) : null };
}
