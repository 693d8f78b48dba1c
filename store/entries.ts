import type { Clause, EntryColumn, EntryKind } from '../search/plan.js';

/**
 * Shared by the stores' renderers (store/sqlite/search-sql.ts, store/mongo/render.ts): the index
 * model's kinds and columns, the checks every plan leaf passes before it is rendered, and the
 * bounds a date interval implies. Nothing here knows SQL or MongoDB.
 */

/** The columns of each entry kind, as named in IndexEntry. */
export const KIND_COLUMNS: Record<EntryKind, readonly EntryColumn[]> = {
  string: ['value', 'exact'],
  token: ['system', 'code', 'text'],
  date: ['low', 'high'],
  number: ['value'],
  quantity: ['value', 'system', 'code', 'unit'],
  reference: ['targetType', 'targetId', 'targetVersion', 'url'],
  uri: ['value'],
};

/** Throws on an entry kind the index model does not have. */
export function checkKind(kind: EntryKind): void {
  if (!Object.hasOwn(KIND_COLUMNS, kind)) throw new Error(`Search plan: unknown entry kind ${JSON.stringify(kind)}`);
}

/** Throws unless `kind` is a known kind with a column `column`. */
export function checkColumn(kind: EntryKind, column: EntryColumn): void {
  checkKind(kind);
  if (!KIND_COLUMNS[kind].includes(column)) throw new Error(`Search plan: ${kind} entries have no column ${JSON.stringify(column)}`);
}

/** A clause value: a string or a finite number. */
export function checkValue(v: unknown): string | number {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  throw new Error(`Search plan: clause value ${JSON.stringify(v)} is not a string or a finite number`);
}

export function checkString(v: unknown): string {
  if (typeof v !== 'string') throw new Error(`Search plan: clause value ${JSON.stringify(v)} is not a string`);
  return v;
}

/**
 * Date entries hold an interval with low <= high, so a bound on one end implies the same bound on
 * the other: high <= Y gives low <= Y, low >= X gives high >= X. Adding them turns the usual
 * "interval within [X, Y]" (low >= X AND high <= Y) into a two-sided range on one index instead of
 * a half-table scan. The clauses themselves when nothing is implied (no copy).
 */
export function withImpliedBounds(kind: EntryKind, clauses: Clause[]): Clause[] {
  if (kind !== 'date') return clauses;
  const implied: Clause[] = [];
  for (const c of clauses) {
    if (c.column === 'high' && (c.op === 'le' || c.op === 'lt')) implied.push({ column: 'low', op: c.op, value: c.value });
    if (c.column === 'low' && (c.op === 'ge' || c.op === 'gt')) implied.push({ column: 'high', op: c.op, value: c.value });
  }
  return implied.length ? [...clauses, ...implied] : clauses;
}
