import { createHash } from 'node:crypto';
import { errors } from '../fhir/errors.js';
import type { SearchPlan } from '../search/plan.js';
/** A sort-key value as stores hold it. */
export type KeyValue = string | number | null;

/**
 * Search paging cursors (keyset, not offsets): the sort-key values, type and id of a boundary row,
 * the direction to page in from it, and a hash of the query's shape so a cursor cannot be replayed
 * against another query. Encoded as base64url JSON; opaque to clients, but not secret (it only
 * holds values the client could see in the page).
 */
export interface Cursor {
  /** n: the rows after the boundary; p: the rows before it (the previous page). */
  direction: 'n' | 'p';
  /** The boundary row's sort-key values (one per plan.sort key; null when it had none). */
  keys: KeyValue[];
  type: string;
  id: string;
  /** The boundary row itself belongs to the page (used when a page came back empty). */
  inclusive: boolean;
}

interface Encoded {
  v: 1;
  h: string;
  d: 'n' | 'p';
  k: KeyValue[];
  t: string;
  i: string;
  inc?: 1;
}

/** A hash of what decides the order and the match set: resource types, condition, sort. */
export function queryShape(plan: SearchPlan): string {
  const shape = JSON.stringify([plan.resourceTypes, plan.where ?? null, plan.sort]);
  return createHash('sha256').update(shape).digest('base64url').slice(0, 22);
}

export function encodeCursor(shape: string, c: Cursor): string {
  const e: Encoded = { v: 1, h: shape, d: c.direction, k: c.keys, t: c.type, i: c.id };
  if (c.inclusive) e.inc = 1;
  return Buffer.from(JSON.stringify(e), 'utf8').toString('base64url');
}

const isKey = (x: unknown): x is KeyValue => x === null || typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x));

/** Decodes a cursor issued for this plan; a 400 for anything else. */
export function decodeCursor(plan: SearchPlan, shape: string, text: string): Cursor {
  const invalid = () => errors.badRequest('The paging cursor is not valid for this search (it is malformed or belongs to another query)');
  let e: Partial<Encoded>;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(text)) throw invalid();
    e = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Partial<Encoded>;
  } catch {
    throw invalid();
  }
  if (
    typeof e !== 'object' || e === null || e.v !== 1 || e.h !== shape || (e.d !== 'n' && e.d !== 'p') ||
    !Array.isArray(e.k) || e.k.length !== plan.sort.length || !e.k.every(isKey) ||
    typeof e.t !== 'string' || typeof e.i !== 'string' || !plan.resourceTypes.includes(e.t)
  ) {
    throw invalid();
  }
  return { direction: e.d, keys: e.k, type: e.t, id: e.i, inclusive: e.inc === 1 };
}
