import type { SearchPlan } from '../search/plan.js';
import type { HistoryPage, ResourceVersion, SearchResult } from './port.js';
import { type Cursor, decodeCursor, encodeCursor, type KeyValue, queryShape } from './cursor.js';

/**
 * Shared by the stores' search executors: what a search page is, apart from how its rows are
 * fetched. Both stores order a page the same way: the plan's sort keys in order (resources with no
 * value for a key last, in both directions), then the type when several types are searched, then
 * the id; they page by keyset over that order (cursor.ts) and issue the same cursors for the same
 * page. Each store renders the order and the seek in its own query language.
 */

/** What a search needs to know before it runs a query. */
export interface SearchStart {
  /** The query-shape hash its cursors carry. */
  shape: string;
  /** The decoded cursor (a 400 FhirError was thrown for a foreign one). */
  cursor?: Cursor;
  /** The page runs backward from the cursor (a previous link). */
  backward: boolean;
  /** plan.resourceTypes without repeats. */
  types: string[];
  /** The total must be counted. */
  countTotal: boolean;
  /** There is no page to fetch (count 0, or no types): the result is the total alone. */
  noPage: boolean;
}

export function startSearch(plan: SearchPlan): SearchStart {
  if (!Number.isInteger(plan.count) || plan.count < 0) throw new Error(`Search plan: count ${plan.count} is not a non-negative integer`);
  const shape = queryShape(plan);
  const cursor = plan.cursor === undefined ? undefined : decodeCursor(plan, shape, plan.cursor);
  const types = [...new Set(plan.resourceTypes)];
  return {
    shape, cursor, backward: cursor?.direction === 'p', types,
    countTotal: plan.total !== 'none' || plan.count === 0,
    noPage: plan.count === 0 || types.length === 0,
  };
}

/**
 * `rows` as fetched (count + 1 at most, in the direction of the fetch) cut to `count` and put in
 * page order; `more` says whether more rows followed in that direction. Changes `rows` in place.
 */
export function trimPage<R>(rows: R[], count: number, backward: boolean): { rows: R[]; more: boolean } {
  const more = rows.length > count;
  rows.length = Math.min(rows.length, count);
  if (backward) rows.reverse();
  return { rows, more };
}

/**
 * Sets result.nextCursor and result.previousCursor for a page: cursors at the page's first and
 * last rows when a page lies beyond them; for an empty page reached through a cursor, that cursor
 * reopened (inclusive) the other way, so the client can always go back.
 */
export function setPageCursors<R extends { type: string; id: string }>(
  result: SearchResult, start: SearchStart, rows: readonly R[], more: boolean, keysOf: (row: R) => KeyValue[],
): void {
  const { shape, cursor } = start;
  const boundary = (row: R, direction: 'n' | 'p'): string =>
    encodeCursor(shape, { direction, keys: keysOf(row), type: row.type, id: row.id, inclusive: false });
  const reopened = (c: Cursor, direction: 'n' | 'p'): string => encodeCursor(shape, { ...c, direction, inclusive: true });
  if (cursor?.direction === 'p') {
    if (more) result.previousCursor = boundary(rows[0], 'p');
    result.nextCursor = rows.length ? boundary(rows[rows.length - 1], 'n') : reopened(cursor, 'n');
  } else {
    if (more) result.nextCursor = boundary(rows[rows.length - 1], 'n');
    if (cursor) result.previousCursor = rows.length ? boundary(rows[0], 'p') : reopened(cursor, 'p');
  }
}

/** The cursor's boundary values in the order of the page's keys: sort keys, type (several types), id. */
export function boundaryValues(cursor: Cursor, severalTypes: boolean): KeyValue[] {
  return severalTypes ? [...cursor.keys, cursor.type, cursor.id] : [...cursor.keys, cursor.id];
}

/** How a store writes the two comparisons a keyset seek is made of, for one key. */
export interface SeekTerms<K, F> {
  /**
   * Key `k` sorts beyond `v`. After the boundary (v is never null there: nothing sorts after a
   * null): past v in k's direction, or null when k can be. Before it: ahead of v in k's
   * direction, or, for v null, any value.
   */
  beyond(k: K, v: KeyValue, after: boolean): F;
  /** Key `k` equals `v` (is null, for v null). */
  equal(k: K, v: KeyValue): F;
}

/**
 * The rows strictly after (`after`) or before the boundary `values` in the order of `keys`, nulls
 * last, the boundary row too when inclusive, as a disjunction of conjunctions (lexicographic:
 * some key is beyond its boundary value while every earlier key equals its own). No disjunct:
 * nothing qualifies.
 */
export function seekDisjuncts<K, F>(keys: readonly K[], values: readonly KeyValue[], after: boolean, inclusive: boolean, terms: SeekTerms<K, F>): F[][] {
  const disjuncts: F[][] = [];
  const equal: F[] = [];
  keys.forEach((k, j) => {
    const v = values[j];
    if (!after || v !== null) disjuncts.push([...equal, terms.beyond(k, v, after)]);
    equal.push(terms.equal(k, v));
  });
  if (inclusive) disjuncts.push(equal);
  return disjuncts;
}

/**
 * A history page from `rows` as fetched (newest first, count + 1 at most): the first `count`, and
 * when more follow, a cursor that is the sequence number of the last one (nothing for count 0).
 */
export function historyPage<R>(rows: R[], count: number, total: number, toVersion: (row: R) => ResourceVersion, seqOf: (row: R) => number): HistoryPage {
  const page: HistoryPage = { versions: rows.slice(0, count).map(toVersion), total };
  if (rows.length > count && count > 0) page.nextCursor = String(seqOf(rows[count - 1]));
  return page;
}
