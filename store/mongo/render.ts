import type { Document, Filter } from 'mongodb';
import { errors } from '../../fhir/errors.js';
import type { IndexEntry } from '../../search/index-entries.js';
import type { Clause, Condition, EntryKind } from '../../search/plan.js';
import { checkColumn, checkKind, checkString, checkValue, KIND_COLUMNS, withImpliedBounds } from '../entries.js';
import { prefixUpperBound } from '../prefix.js';

/**
 * Renders a search plan's Condition tree as a MongoDB filter over `resources` documents (see
 * mongo-store.ts for the document model). Like store/sqlite/search-sql.ts it decides no FHIR
 * semantics: every leaf is a mechanical translation of the plan's column comparisons.
 *
 * Operators used, on purpose only those whose semantics MongoDB and mingo (the in-process evaluator
 * of the differential test) both document: $and $or $nor $elemMatch $all $in $eq $ne $gt $gte $lt
 * $lte, and $regex only for `contains`, with every regex metacharacter of the value escaped (a
 * literal substring test). Never $where, $expr or $function.
 *
 * - entry leaf: `{ 'ix.<kind>': { $elemMatch: { p: param, <column>: { <op>: value, ... } } } }`:
 *   all clauses on the SAME entry, as the plan requires. Clauses on one column merge into one
 *   operator object; should two clauses use the same operator on one column, they go into an
 *   `$and` inside the $elemMatch.
 * - startsWith: a range `$gte: v, $lt: prefixUpperBound(v)` (no regex, index-friendly).
 * - prefixOf (uri :above, "the query value starts with the column"): `$in` of every prefix of the
 *   value (by code points, including the empty prefix), exactly SQLite's substr/length test.
 * - not: `$nor: [f]`; and/or: `$and`/`$or` (empty `and` is `{}`, empty `or` matches nothing,
 *   because MongoDB rejects empty $and/$or arrays).
 * - missing: `$elemMatch: { p }` (or its $nor).
 * - composite: the groups are also stored as `ix.cg: [{ g, c: [entry with k: kind, ...] }]`; a
 *   composite condition is `{ 'ix.cg': { $elemMatch: { c: { $all: [ {$elemMatch: component0},
 *   {$elemMatch: component1}, ... ] } } } }`: one group holding an entry per component.
 * - chain and _has need other resources: they are resolved in two steps (see Resolver): the inner
 *   condition is run as its own query, its matches become an `$in` list. At most `maxResolved`
 *   resources may come back (default 10,000); beyond that the search is a 400 (narrow it), where
 *   SQLite would run it as a sub-select. That cap is the one deliberate difference.
 */

/** The embedded index field of a resources document. */
export const IX = 'ix';

/** One stored entry: param, columns, and the composite group when there is one. */
export type StoredEntry = { p: string; g?: number } & Record<string, string | number | null>;
/** A composite group: g and its component entries (with k, the kind). */
export interface StoredGroup { g: number; c: (StoredEntry & { k: EntryKind })[] }
export type StoredIndex = Partial<Record<EntryKind, StoredEntry[]>> & { cg?: StoredGroup[] };

/** The `ix` field for a resource's entries. */
export function toStoredIndex(entries: IndexEntry[]): StoredIndex {
  const ix: StoredIndex = {};
  const groups = new Map<number, StoredGroup>();
  for (const e of entries) {
    const stored: StoredEntry = { p: e.param };
    for (const column of KIND_COLUMNS[e.kind]) stored[column] = (e as unknown as Record<string, string | number | null>)[column] ?? null;
    if (e.group !== undefined) stored.g = e.group;
    (ix[e.kind] ??= []).push(stored);
    if (e.group !== undefined) {
      let group = groups.get(e.group);
      if (!group) groups.set(e.group, (group = { g: e.group, c: [] }));
      group.c.push({ ...stored, k: e.kind });
    }
  }
  if (groups.size) ix.cg = [...groups.values()];
  return ix;
}

export const MATCH_NOTHING: Filter<Document> = { _id: { $in: [] } };

/** The value as a regex source matching it literally (every metacharacter escaped). */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$.*+?()[\]{}|\/-]/g, '\\$&');
}

/** Every prefix of value by code points, the empty one included. */
export function prefixesOf(value: string): string[] {
  const points = Array.from(value);
  return Array.from({ length: points.length + 1 }, (_, n) => points.slice(0, n).join(''));
}

/** Clause as [column, operator, operand] triples. */
function clauseOps(kind: EntryKind, clause: Clause): [string, string, unknown][] {
  checkColumn(kind, clause.column);
  const col = clause.column;
  switch (clause.op) {
    case 'eq': return [[col, '$eq', checkValue(clause.value)]];
    case 'lt': return [[col, '$lt', checkValue(clause.value)]];
    case 'le': return [[col, '$lte', checkValue(clause.value)]];
    case 'gt': return [[col, '$gt', checkValue(clause.value)]];
    case 'ge': return [[col, '$gte', checkValue(clause.value)]];
    case 'null': return [[col, clause.negate ? '$ne' : '$eq', null]];
    case 'startsWith': {
      const value = checkString(clause.value);
      const upper = prefixUpperBound(value);
      return upper === undefined ? [[col, '$gte', value]] : [[col, '$gte', value], [col, '$lt', upper]];
    }
    case 'contains': return [[col, '$regex', escapeRegex(checkString(clause.value))]];
    case 'in': return [[col, '$in', clause.values.map(checkValue)]];
    case 'prefixOf': return [[col, '$in', prefixesOf(checkString(clause.value))]];
    default: throw new Error(`Search plan: unknown clause op ${JSON.stringify((clause as { op: unknown }).op)}`);
  }
}

/** The $elemMatch body for one entry: param plus clauses, all on the same entry. */
export function entryMatch(kind: EntryKind, param: string, clauses: Clause[], extra: Document = {}): Document {
  const base: Document = { ...extra, p: param };
  const overflow: Document[] = [];
  for (const clause of withImpliedBounds(kind, clauses)) {
    for (const [col, op, operand] of clauseOps(kind, clause)) {
      const ops = (base[col] ??= {}) as Document;
      if (Object.hasOwn(ops, op)) overflow.push({ [col]: { [op]: operand } });
      else ops[op] = operand;
    }
  }
  return overflow.length ? { $and: [base, ...overflow] } : base;
}

/** Resolves chains and _has to the resources they name (runs queries; see mongo-store.ts). */
export interface Resolver {
  /** [type, id] of current resources of `types` matching `filter` (at most limit). */
  matching(types: string[], filter: Filter<Document>, limit: number): Promise<{ type: string; id: string }[]>;
  /**
   * The reference entries of param (with a target id) in current resources of `type` matching
   * `filter`, from at most `limit` resources; `sources` says how many resources that was.
   */
  referencesOf(type: string, param: string, filter: Filter<Document>, limit: number): Promise<{ entries: StoredEntry[]; sources: number }>;
}

/** The conjunction of the filters given (undefined and empty ones left out; none: `{}`). */
export const and = (filters: (Filter<any> | undefined)[]): Filter<any> => {
  const parts = filters.filter((f): f is Filter<any> => f !== undefined && Object.keys(f).length > 0);
  if (parts.length === 0) return {};
  return parts.length === 1 ? parts[0] : { $and: parts };
};
const or = (filters: Filter<Document>[]): Filter<Document> => (filters.length === 0 ? MATCH_NOTHING : filters.length === 1 ? filters[0] : { $or: filters });

/** `{ $or: [{ <typeField>: T, <idField>: { $in: ids of T } }, ...] }` for (type, id) pairs. */
export function pairsFilter(pairs: { type: string; id: string }[], typeField: string, idField: string): Filter<Document>[] {
  const byType = new Map<string, Set<string>>();
  for (const p of pairs) {
    let ids = byType.get(p.type);
    if (!ids) byType.set(p.type, (ids = new Set()));
    ids.add(p.id);
  }
  return [...byType].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([type, ids]) => ({ [typeField]: type, [idField]: { $in: [...ids].sort() } }));
}

export class ConditionRenderer {
  constructor(private readonly resolver: Resolver, private readonly maxResolved = 10_000) {}

  /** `condition` as a filter over resources documents whose type is one of `types`. */
  async render(c: Condition, types: readonly string[]): Promise<Filter<Document>> {
    switch (c.kind) {
      case 'and': return and(await Promise.all(c.conditions.map((x) => this.render(x, types))));
      case 'or': return or(await Promise.all(c.conditions.map((x) => this.render(x, types))));
      case 'not': return { $nor: [await this.render(c.condition, types)] };
      case 'entry': return { [`${IX}.${c.entry}`]: { $elemMatch: entryMatch(c.entry, c.param, c.clauses) } };
      case 'missing': {
        checkKind(c.entry);
        const has = { [`${IX}.${c.entry}`]: { $elemMatch: { p: c.param } } };
        return c.missing ? { $nor: [has] } : has;
      }
      case 'id': return { id: { $in: c.ids.map(checkString) } };
      case 'composite': {
        if (c.components.length === 0) return MATCH_NOTHING;
        const all = c.components.map((component) => {
          if (component.kind !== 'entry') throw new Error('Search plan: composite components must be entry conditions');
          checkKind(component.entry);
          return { $elemMatch: entryMatch(component.entry, component.param, component.clauses, { k: component.entry }) };
        });
        return { [`${IX}.cg`]: { $elemMatch: { c: { $all: all } } } };
      }
      case 'chain': {
        if (c.targetTypes.length === 0 || types.length === 0) return MATCH_NOTHING;
        const nested = await this.render(c.condition, c.targetTypes);
        const targets = await this.resolver.matching(c.targetTypes, nested, this.maxResolved + 1);
        this.checkSize(targets.length, 'chained');
        return or(pairsFilter(targets, 'targetType', 'targetId').map((f) => ({ [`${IX}.reference`]: { $elemMatch: { p: c.param, ...f } } })));
      }
      case 'has': {
        if (types.length === 0) return MATCH_NOTHING;
        const nested = await this.render(c.condition, [c.sourceType]);
        const { entries, sources } = await this.resolver.referencesOf(c.sourceType, c.param, nested, this.maxResolved + 1);
        this.checkSize(sources, 'reverse-chained (_has)');
        const pairs = entries
          .filter((e) => e.p === c.param && typeof e.targetId === 'string' && typeof e.targetType === 'string' && types.includes(e.targetType))
          .map((e) => ({ type: e.targetType as string, id: e.targetId as string }));
        this.checkSize(new Set(pairs.map((p) => `${p.type}/${p.id}`)).size, 'reverse-chained (_has)');
        return or(pairsFilter(pairs, 'type', 'id'));
      }
      default:
        throw new Error(`Search plan: unknown condition kind ${JSON.stringify((c as { kind: unknown }).kind)}`);
    }
  }

  private checkSize(n: number, what: string): void {
    if (n > this.maxResolved) {
      throw errors.badRequest(`The ${what} part of the search matches more than ${this.maxResolved} resources; narrow it`);
    }
  }
}
