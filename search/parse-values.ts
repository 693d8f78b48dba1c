import { SEARCH_LIMITS, tooComplex } from './limits.js';
import { errors, type FhirError } from '../fhir/errors.js';
import { FHIR_ID } from '../fhir/id.js';
import type { Clause, Condition, EntryKind } from './plan.js';
import { dateBounds } from './dates.js';
import { fold } from './fold.js';
import { parseReference } from './reference.js';

/**
 * One search value -> the index-entry conditions it stands for (R4 search.html, "Search Parameter
 * Types" and "Prefixes"). Every function here returns alternatives: a list of `entry` conditions
 * of which at least one must hold. Keeping values in that form (rather than arbitrary Condition
 * trees) lets composite parameters distribute their components' alternatives into whole
 * composite groups, and lets plain parameters simply OR them.
 */

export type EntryCondition = Extract<Condition, { kind: 'entry' }>;

export interface ValueContext {
  /** The parameter as the query wrote it (with modifiers), for error messages. */
  name: string;
  /** The entry param tested: a registry-validated code, never raw query text. */
  param: string;
  /** Reference parameters: the resource types the parameter may point to (empty: any). */
  targets: readonly string[];
  /** The clock for `ap` on dates, epoch ms. */
  now: number;
  /** This server's FHIR base: an absolute reference under it is a local Type/id. */
  localBase?: string;
}

export function invalid(ctx: { name: string }, value: string, why: string): FhirError {
  return errors.badRequest(`Invalid value '${value}' for search parameter '${ctx.name}': ${why}`);
}

// ---------------------------------------------------------------------------------------------
// Escaping (search.html#escaping): `\,` `\|` `\$` and `\\` stand for the character itself.

/** Splits on unescaped `separator`, leaving escapes in the parts for later splits to respect. */
export function splitEscaped(text: string, separator: ',' | '|' | '$'): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\\' && i + 1 < text.length) {
      current += c + text[++i];
    } else if (c === separator) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

export function unescape(text: string): string {
  return text.replace(/\\([\\,|$])/g, '$1');
}

/** The OR-values of a parameter (comma-separated); an empty one is malformed. */
export function orValues(ctx: { name: string }, raw: string): string[] {
  const parts = splitEscaped(raw, ',');
  if (parts.length > SEARCH_LIMITS.orValues) tooComplex(`'${ctx.name}' has ${parts.length} values, at most ${SEARCH_LIMITS.orValues}`);
  for (const p of parts) if (p === '') throw invalid(ctx, raw, 'empty value');
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Prefixes (search.html#prefix), for number, date and quantity.

export type Prefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';
const PREFIXES = new Set<string>(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap']);

export function splitPrefix(ctx: { name: string }, text: string): { prefix: Prefix; rest: string } {
  const m = /^([a-z]{2})(.*)$/s.exec(text);
  if (!m) return { prefix: 'eq', rest: text };
  if (!PREFIXES.has(m[1])) throw invalid(ctx, text, `unknown prefix '${m[1]}'`);
  return { prefix: m[1] as Prefix, rest: m[2] };
}

const entry = (kind: EntryKind, param: string, clauses: Clause[]): EntryCondition => ({ kind: 'entry', entry: kind, param, clauses });

// ---------------------------------------------------------------------------------------------
// Dates. Both the search value and the entry are inclusive ranges [low, high] (dates.ts), and each
// prefix is the R4 table's relation between the two ranges:
//   eq  the search range fully contains the entry range
//   ne  it does not
//   gt  the range above the search value overlaps the entry     -> entry.high > search.high
//   lt  the range below the search value overlaps the entry     -> entry.low  < search.low
//   ge  gt, or eq                                               -> two alternatives
//   le  lt, or eq                                               -> two alternatives
//   sa  the entry lies wholly above the search range            -> entry.low  > search.high
//   eb  the entry lies wholly below the search range            -> entry.high < search.low
//   ap  the entry overlaps the search range widened by a tolerance (see dateTolerance)

const DAY_MS = 86_400_000;

/**
 * `ap` tolerance for dates: the spec recommends 10% of the gap between now and the date; a
 * minimum of one day keeps values near today from degenerating into `eq`.
 */
export function dateTolerance(low: number, high: number, now: number): number {
  const gap = Math.abs(now - (low + high) / 2);
  return Math.max(gap * 0.1, DAY_MS);
}

export function dateAlternatives(ctx: ValueContext, raw: string): EntryCondition[] {
  const text = unescape(raw);
  const { prefix, rest } = splitPrefix(ctx, text);
  // A '+' in a zone offset arrives as a space when the client did not percent-encode it.
  const b = dateBounds(rest.replace(/ (\d{2}:\d{2})$/, '+$1'));
  if (!b) throw invalid(ctx, text, 'not a FHIR date, dateTime or instant');
  const e = (...clauses: Clause[]) => entry('date', ctx.param, clauses);
  const inside = e({ column: 'low', op: 'ge', value: b.low }, { column: 'high', op: 'le', value: b.high });
  switch (prefix) {
    case 'eq': return [inside];
    case 'ne': return [e({ column: 'low', op: 'lt', value: b.low }), e({ column: 'high', op: 'gt', value: b.high })];
    case 'gt': return [e({ column: 'high', op: 'gt', value: b.high })];
    case 'lt': return [e({ column: 'low', op: 'lt', value: b.low })];
    case 'ge': return [e({ column: 'high', op: 'gt', value: b.high }), inside];
    case 'le': return [e({ column: 'low', op: 'lt', value: b.low }), inside];
    case 'sa': return [e({ column: 'low', op: 'gt', value: b.high })];
    case 'eb': return [e({ column: 'high', op: 'lt', value: b.low })];
    case 'ap': {
      const tol = dateTolerance(b.low, b.high, ctx.now);
      return [e({ column: 'low', op: 'le', value: b.high + tol }, { column: 'high', op: 'ge', value: b.low - tol })];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Numbers (search.html#number). A value stands for the interval its written precision implies:
// half a unit of its last significant digit either side, [lo, hi). `100` is [99.5, 100.5),
// `100.00` is [99.995, 100.005), `1e2` (one significant figure) is [50, 150). eq, ne and ap use
// that interval; gt/lt/ge/le compare with the exact value, as the spec's examples say ("greater
// than exactly 100").

export interface ParsedNumber {
  value: number;
  lo: number;
  hi: number;
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

export function parseNumber(text: string): ParsedNumber | undefined {
  const m = DECIMAL.exec(text);
  if (!m) return undefined;
  const [, sign, int = '', frac = '', exp = '0'] = m;
  if (int === '' && frac === '') return undefined;
  const value = Number(text);
  if (!Number.isFinite(value)) return undefined;
  // value = digits x 10^scale; the interval is (10*digits -/+ 5) x 10^(scale-1), computed in
  // decimal text so that 99.995 is exactly what Number('99.995') is, not 100 - 0.005.
  const digits = BigInt(int + frac || '0') * (sign === '-' ? -1n : 1n);
  const scale = Number(exp) - frac.length - 1;
  const lo = Number(`${digits * 10n - 5n}e${scale}`);
  const hi = Number(`${digits * 10n + 5n}e${scale}`);
  return { value, lo, hi };
}

/** The alternatives (each a list of clauses on one entry) for a prefixed number on `value`. */
export function numberClauses(ctx: { name: string }, text: string): Clause[][] {
  const { prefix, rest } = splitPrefix(ctx, text);
  const n = parseNumber(rest);
  if (!n) throw invalid(ctx, text, 'not a number');
  const c = (op: 'eq' | 'lt' | 'le' | 'gt' | 'ge', value: number): Clause => ({ column: 'value', op, value });
  switch (prefix) {
    case 'eq': return [[c('ge', n.lo), c('lt', n.hi)]];
    case 'ne': return [[c('lt', n.lo)], [c('ge', n.hi)]];
    case 'gt': return [[c('gt', n.value)]];
    case 'lt': return [[c('lt', n.value)]];
    case 'ge': return [[c('ge', n.value)]];
    case 'le': return [[c('le', n.value)]];
    // R4 search.html#number: with gt, lt, ge, le, sa and eb the implicit precision is ignored and
    // the value is taken as exact; for a stored point, "starts after" is simply "greater than".
    case 'sa': return [[c('gt', n.value)]];
    case 'eb': return [[c('lt', n.value)]];
    case 'ap': {
      // The recommended 10% of the value, never narrower than the value's own precision.
      const tol = Math.abs(n.value) * 0.1;
      return [[c('ge', Math.min(n.lo, n.value - tol)), c('le', Math.max(n.hi, n.value + tol))]];
    }
  }
}

export function numberAlternatives(ctx: ValueContext, raw: string): EntryCondition[] {
  return numberClauses(ctx, unescape(raw)).map((clauses) => entry('number', ctx.param, clauses));
}

/**
 * Quantities: `[prefix]number`, `[prefix]number|system|code`, or `[prefix]number||code`, which
 * matches the code or, for quantities written without a coded unit, the unit text.
 */
export function quantityAlternatives(ctx: ValueContext, raw: string): EntryCondition[] {
  const parts = splitEscaped(raw, '|').map(unescape);
  if (parts.length !== 1 && parts.length !== 3) throw invalid(ctx, unescape(raw), 'expected number or number|system|code');
  const values = numberClauses(ctx, parts[0]);
  const [, system = '', code = ''] = parts;
  let units: Clause[][];
  if (system === '' && code === '') units = [[]];
  else if (system === '') units = [[{ column: 'code', op: 'eq', value: code }], [{ column: 'unit', op: 'eq', value: code }]];
  else if (code === '') units = [[{ column: 'system', op: 'eq', value: system }]];
  else units = [[{ column: 'system', op: 'eq', value: system }, { column: 'code', op: 'eq', value: code }]];
  return values.flatMap((v) => units.map((u) => entry('quantity', ctx.param, [...v, ...u])));
}

// ---------------------------------------------------------------------------------------------
// Strings: folded like the index (fold.ts), so the default starts-with and :contains are case-
// and accent-insensitive; :exact compares the original text.

export type StringMode = 'startsWith' | 'exact' | 'contains';

export function stringAlternatives(ctx: ValueContext, raw: string, mode: StringMode = 'startsWith'): EntryCondition[] {
  const text = unescape(raw);
  if (mode === 'exact') return [entry('string', ctx.param, [{ column: 'exact', op: 'eq', value: text }])];
  return [entry('string', ctx.param, [{ column: 'value', op: mode, value: folded(ctx, text) }])];
}

/** The folded text; a value that folds to nothing (a lone accent) would match everything. */
function folded(ctx: { name: string }, text: string): string {
  const f = fold(text);
  if (f === '') throw invalid(ctx, text, 'nothing is left to match once case and accents are set aside');
  return f;
}

// ---------------------------------------------------------------------------------------------
// Tokens: `code`, `system|code`, `|code` (no system), `system|` (any code of the system).

export function tokenClauses(ctx: { name: string }, raw: string): Clause[] {
  const parts = splitEscaped(raw, '|').map(unescape);
  if (parts.length === 1) return [{ column: 'code', op: 'eq', value: parts[0] }];
  if (parts.length !== 2) throw invalid(ctx, unescape(raw), "a token is 'code', 'system|code', '|code' or 'system|'");
  const [system, code] = parts;
  if (system === '' && code === '') throw invalid(ctx, raw, 'neither system nor code given');
  const clauses: Clause[] = [system === '' ? { column: 'system', op: 'null' } : { column: 'system', op: 'eq', value: system }];
  if (code !== '') clauses.push({ column: 'code', op: 'eq', value: code });
  return clauses;
}

export function tokenAlternatives(ctx: ValueContext, raw: string): EntryCondition[] {
  return [entry('token', ctx.param, tokenClauses(ctx, raw))];
}

/**
 * :text on tokens: a word-prefix match on the folded text (display, CodeableConcept.text,
 * Identifier.type.text): the text starts with the value, or one of its words does. Plain
 * starts-with (the string default) would miss "systolic" in "Blood pressure systolic"; full
 * substring would let "press" match "depression", which users do not mean.
 */
export function tokenTextAlternatives(ctx: ValueContext, raw: string): EntryCondition[] {
  const text = folded(ctx, unescape(raw));
  return [
    entry('token', ctx.param, [{ column: 'text', op: 'startsWith', value: text }]),
    entry('token', ctx.param, [{ column: 'text', op: 'contains', value: ` ${text}` }]),
  ];
}

// ---------------------------------------------------------------------------------------------
// References: `Type/id[/_history/vid]`, a bare `id` (any target type the parameter allows), an
// absolute URL (the url column; and also its Type/id tail, which the index parses the same way),
// and canonicals with `|version`.

const ABSOLUTE = /^[a-z][a-z0-9+.-]*:/i;

export function referenceAlternatives(ctx: ValueContext, raw: string, typeModifier?: string): EntryCondition[] {
  const text = unescape(raw);
  const e = (clauses: Clause[]) => entry('reference', ctx.param, clauses);
  const typed = (type: string, id: string, version: string | null): Clause[] => {
    if (typeModifier !== undefined && type !== typeModifier) {
      throw invalid(ctx, text, `the reference is to a ${type}, not a ${typeModifier}`);
    }
    const clauses: Clause[] = [{ column: 'targetType', op: 'eq', value: type }, { column: 'targetId', op: 'eq', value: id }];
    if (version !== null) clauses.push({ column: 'targetVersion', op: 'eq', value: version });
    return clauses;
  };

  const local = ctx.localBase !== undefined && text.startsWith(`${ctx.localBase}/`) ? text.slice(ctx.localBase.length + 1) : undefined;
  if (local !== undefined && /^[A-Za-z]+\/[^/]+(\/_history\/[^/]+)?$/.test(local)) return referenceAlternatives({ ...ctx, localBase: undefined }, local, typeModifier);
  if (ABSOLUTE.test(text)) {
    const parts = splitEscaped(raw, '|');
    if (parts.length > 2) throw invalid(ctx, text, 'a canonical takes at most one |version');
    if (parts.length === 2) {
      // Canonical with version: the index keeps the url without it and the version apart.
      const [url, version] = parts.map(unescape);
      if (url === '' || version === '') throw invalid(ctx, text, "expected 'url|version'");
      return [e([{ column: 'url', op: 'eq', value: url }, { column: 'targetVersion', op: 'eq', value: version }])];
    }
    // An absolute URL matches references written with that URL, never local Type/id ones
    // (see parseReference: another server's Patient/1 is not ours).
    return [e([{ column: 'url', op: 'eq', value: text }])];
  }
  if (text.includes('/')) {
    const r = parseReference(text);
    if (!r?.targetType || !r.targetId) throw invalid(ctx, text, "expected 'Type/id', an id or an absolute URL");
    return [e(typed(r.targetType, r.targetId, r.targetVersion))];
  }
  if (!FHIR_ID.test(text)) throw invalid(ctx, text, 'not a valid resource id');
  if (typeModifier !== undefined) return [e(typed(typeModifier, text, null))];
  const clauses: Clause[] = [{ column: 'targetId', op: 'eq', value: text }];
  // A bare id means any type the parameter may point to; params without declared targets take any.
  if (ctx.targets.length) clauses.unshift({ column: 'targetType', op: 'in', values: [...ctx.targets] });
  return [e(clauses)];
}

// ---------------------------------------------------------------------------------------------
// URIs: equality; :below (the entry starts with the value), :above (the value starts with the
// entry). Both are plain character prefixes, which covers the path hierarchy the spec describes.

export type UriMode = 'eq' | 'below' | 'above';

export function uriAlternatives(ctx: ValueContext, raw: string, mode: UriMode = 'eq'): EntryCondition[] {
  const value = unescape(raw);
  const op = mode === 'eq' ? 'eq' : mode === 'below' ? 'startsWith' : 'prefixOf';
  return [entry('uri', ctx.param, [{ column: 'value', op, value }])];
}

// ---------------------------------------------------------------------------------------------

/** The entry kind a parameter type is indexed as (undefined: composite and special). */
export function entryKindOf(type: string): EntryKind | undefined {
  switch (type) {
    case 'string': case 'token': case 'date': case 'number': case 'quantity': case 'reference': case 'uri':
      return type;
    default:
      return undefined;
  }
}

/** A value with no modifier, by parameter type (plain parameters and composite components). */
export function valueAlternatives(type: string, ctx: ValueContext, raw: string): EntryCondition[] {
  switch (type) {
    case 'string': return stringAlternatives(ctx, raw);
    case 'token': return tokenAlternatives(ctx, raw);
    case 'date': return dateAlternatives(ctx, raw);
    case 'number': return numberAlternatives(ctx, raw);
    case 'quantity': return quantityAlternatives(ctx, raw);
    case 'reference': return referenceAlternatives(ctx, raw);
    case 'uri': return uriAlternatives(ctx, raw);
    default: throw errors.badRequest(`Search parameter '${ctx.name}' has a component of type '${type}', which cannot be searched`);
  }
}
