import type { OperationOutcomeIssue } from 'fhir/r4.js';
import type { IndexEntry } from './index-entries.js';

/**
 * The search plan: a parsed, validated FHIR query in a form any store can render without knowing
 * FHIR search semantics (ARCHITECTURE rule 3). search/ decides what a prefix, a modifier or a date
 * precision means and writes it down here as comparisons on index-entry columns; a store turns
 * those into SQL or a MongoDB filter and nothing else.
 *
 * The model: a resource matches a Condition tree. The leaves test the index entries of one
 * parameter ("there is an entry of kind K for param P whose columns satisfy these clauses"), or
 * the resource's own id, or the absence of entries. Chains and _has nest a Condition evaluated
 * against other resources that a reference entry links to.
 */

/** The index-entry kinds, which are also the store's index tables (idx_<kind>). */
export type EntryKind = IndexEntry['kind'];

/** The columns of each kind, as named in IndexEntry (stores map them to their own names). */
export type EntryColumn =
  | 'value' | 'exact' | 'system' | 'code' | 'text' | 'low' | 'high' | 'unit'
  | 'targetType' | 'targetId' | 'targetVersion' | 'url';

/** One comparison on one column of an index entry. Values are always data, never query text. */
export type Clause =
  | { column: EntryColumn; op: 'eq' | 'lt' | 'le' | 'gt' | 'ge'; value: string | number }
  /** column IS NULL (e.g. token `|code`: no system) or, with negate, IS NOT NULL. */
  | { column: EntryColumn; op: 'null'; negate?: boolean }
  /** column starts with value (case-sensitively: string entries are folded at write time). */
  | { column: EntryColumn; op: 'startsWith'; value: string }
  /** column contains value as a substring. */
  | { column: EntryColumn; op: 'contains'; value: string }
  /** column equals one of values. */
  | { column: EntryColumn; op: 'in'; values: (string | number)[] }
  /** value (the query's text) starts with the column: uri :above. */
  | { column: EntryColumn; op: 'prefixOf'; value: string };

export type Condition =
  /** Every condition holds (query AND: repeated parameters, and the parts of one value). */
  | { kind: 'and'; conditions: Condition[] }
  /** At least one holds (query OR: comma-separated values). An empty `or` matches nothing. */
  | { kind: 'or'; conditions: Condition[] }
  /** The condition does not hold (token :not, ne on some types). */
  | { kind: 'not'; condition: Condition }
  /** Some entry of `entry` kind for `param` satisfies every clause (all on the SAME entry). */
  | { kind: 'entry'; entry: EntryKind; param: string; clauses: Clause[] }
  /** The resource has (missing=false) or has no (missing=true) entry of that kind for param. */
  | { kind: 'missing'; entry: EntryKind; param: string; missing: boolean }
  /** The resource's logical id is one of ids. */
  | { kind: 'id'; ids: string[] }
  /**
   * Chaining (`subject:Patient.name=x`): some reference entry of `param` points at a resource of
   * one of `targetTypes` (by type and id) that satisfies `condition` (evaluated in that type).
   */
  | { kind: 'chain'; param: string; targetTypes: string[]; condition: Condition }
  /**
   * Reverse chaining (`_has:Observation:patient:code=x`): some current resource of `sourceType`
   * has a reference entry of `param` pointing at this resource and satisfies `condition`.
   */
  | { kind: 'has'; sourceType: string; param: string; condition: Condition }
  /**
   * Composite parameters: the components must match within one composite group (the same
   * Observation.component, say). Each component is an `entry` condition on param
   * `${composite}.${index}`; the store requires all of them to share the entry's group number.
   */
  | { kind: 'composite'; param: string; components: Extract<Condition, { kind: 'entry' }>[] };

/** A sort key: the parameter's entries of one kind, by one column; `_id`/`_lastUpdated` are special. */
export type SortKey =
  | { by: 'entry'; entry: EntryKind; param: string; column: EntryColumn; descending: boolean }
  | { by: 'id'; descending: boolean }
  | { by: 'lastUpdated'; descending: boolean };

/** `_include` (forward: matches -> what their param references) and `_revinclude` (reverse). */
export interface IncludeSpec {
  /** The type whose reference entries are followed (the matches' type for _include). */
  sourceType: string;
  /** The reference parameter; undefined for `*` (every reference parameter). */
  param?: string;
  /** Only targets of this type (`_include=Observation:subject:Patient`). */
  targetType?: string;
  /** `:iterate`: also apply to what earlier includes brought in, until nothing new arrives. */
  iterate: boolean;
}

export type TotalMode = 'none' | 'estimate' | 'accurate';

export interface SearchPlan {
  /** Types searched: one for type-level search, several (or all) for `/?_type=`. */
  resourceTypes: string[];
  /** What a match must satisfy; undefined matches every current (non-deleted) resource. */
  where?: Condition;
  /** Sort keys in order; ties are always broken by type and id so paging is total. */
  sort: SortKey[];
  /** Page size (already capped at the configured maximum). 0 means: count only, no entries. */
  count: number;
  /** Opaque cursor from a previous page (decoded and checked by the store). */
  cursor?: string;
  total: TotalMode;
  include: IncludeSpec[];
  revinclude: IncludeSpec[];
  /** Problems that did not stop the search (unknown parameters in lenient mode). */
  warnings: OperationOutcomeIssue[];
}
