import type { IndexEntry } from './index-entries.js';
import type { SearchParamType } from './registry.js';
import type { TypedValue } from './expression.js';
import { dateBounds } from './dates.js';
import { fold } from './fold.js';
import { parseCanonical, parseReference, type ParsedReference } from './reference.js';

/**
 * Turns the values a parameter's expression selected into index entries, by the parameter's type
 * and each value's FHIR type. Values a parameter type cannot use (a Range for a quantity param, a
 * resource for a reference param) yield nothing: they are legal data, not errors.
 */

const PRIMITIVE_STRINGS = new Set(['string', 'code', 'id', 'uri', 'url', 'canonical', 'oid', 'uuid', 'markdown']);
const DATES = new Set(['date', 'dateTime', 'instant']);
const NUMBERS = new Set(['decimal', 'integer', 'positiveInt', 'unsignedInt', 'integer64']);
const QUANTITIES = new Set(['Quantity', 'Age', 'Duration', 'Count', 'Distance', 'SimpleQuantity', 'MoneyQuantity']);
const CONTACT_SYSTEMS = new Set(['phone', 'fax', 'email', 'pager', 'url', 'sms', 'other']);

/** Open ends of a Period: the extremes of the ECMAScript time value range. */
export const MIN_DATE = -8.64e15;
export const MAX_DATE = 8.64e15;

type Obj = Record<string, any>;

/**
 * The type of a value fhirpath could not type (computed results, some extension values): judged
 * by JSON shape, which is enough for the data types search cares about.
 */
function guessType(v: unknown): string | undefined {
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'decimal';
  if (typeof v === 'boolean') return 'boolean';
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Obj;
  if ('coding' in o) return 'CodeableConcept';
  if ('reference' in o) return 'Reference';
  if ('family' in o || 'given' in o) return 'HumanName';
  if ('line' in o || 'city' in o || 'postalCode' in o) return 'Address';
  if ('start' in o || 'end' in o) return 'Period';
  if ('event' in o || 'repeat' in o) return 'Timing';
  if (typeof o.value === 'number') return 'currency' in o ? 'Money' : 'Quantity';
  if ('code' in o || 'display' in o) return 'Coding';
  if (typeof o.value === 'string') return CONTACT_SYSTEMS.has(o.system) ? 'ContactPoint' : 'Identifier';
  if ('text' in o) return 'CodeableConcept';
  return undefined;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const folded = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? fold(v) : null);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);

function stringEntries(param: string, type: string, v: unknown, out: IndexEntry[]): void {
  const add = (s: unknown) => {
    if (typeof s === 'string' && s.trim() !== '') out.push({ kind: 'string', param, value: fold(s), exact: s });
  };
  if (PRIMITIVE_STRINGS.has(type)) add(v);
  else if (type === 'HumanName') {
    const n = v as Obj;
    add(n.family);
    for (const part of [...list(n.given), ...list(n.prefix), ...list(n.suffix)]) add(part);
    add(n.text);
  } else if (type === 'Address') {
    const a = v as Obj;
    for (const line of list(a.line)) add(line);
    for (const part of [a.city, a.district, a.state, a.postalCode, a.country, a.text]) add(part);
  }
}

function token(param: string, system: unknown, code: unknown, text: unknown, out: IndexEntry[]): void {
  const entry = { kind: 'token' as const, param, system: str(system), code: str(code), text: folded(text) };
  if (entry.system !== null || entry.code !== null || entry.text !== null) out.push(entry);
}

function identifierToken(param: string, id: Obj, out: IndexEntry[]): void {
  token(param, id.system, id.value, id.type?.text, out);
}

/**
 * `identifier:of-type=system|code|value`: one entry per Identifier.type coding with a code,
 * system/code from the coding and text the Identifier.value exactly as written (not folded: the
 * modifier matches the value exactly, like the code of an ordinary token).
 */
function identifierOfType(param: string, id: Obj, out: IndexEntry[]): void {
  const value = str(id.value);
  if (value === null || !id.type || typeof id.type !== 'object') return;
  for (const c of list((id.type as Obj).coding)) {
    if (!c || typeof c !== 'object') continue;
    const code = str((c as Obj).code);
    if (code !== null) out.push({ kind: 'token', param: `${param}:of-type`, system: str((c as Obj).system), code, text: value });
  }
}

function tokenEntries(param: string, type: string, v: unknown, out: IndexEntry[], derived: boolean): void {
  const o = v as Obj;
  if (type === 'boolean') token(param, null, String(v), null, out);
  else if (PRIMITIVE_STRINGS.has(type)) token(param, null, v, null, out);
  else if (type === 'Coding') token(param, o.system, o.code, o.display, out);
  else if (type === 'CodeableConcept') {
    for (const c of list(o.coding)) if (c && typeof c === 'object') token(param, (c as Obj).system, (c as Obj).code, (c as Obj).display, out);
    token(param, null, null, o.text, out);
  } else if (type === 'Identifier') {
    identifierToken(param, o, out);
    if (derived) identifierOfType(param, o, out);
  }
  // ContactPoint.system is the kind of contact (phone, email), not a namespace for the value, so
  // it is not the token's system: `telecom=0123` matches the number; `phone=`/`email=` params
  // already select the kind in their expressions.
  else if (type === 'ContactPoint') token(param, null, o.value, null, out);
}

function dateEntries(param: string, type: string, v: unknown, out: IndexEntry[]): void {
  const add = (low: number, high: number) => out.push({ kind: 'date', param, low, high });
  if (DATES.has(type) || type === 'string') {
    const b = typeof v === 'string' ? dateBounds(v) : undefined;
    if (b) add(b.low, b.high);
  } else if (type === 'Period') {
    const p = v as Obj;
    const start = typeof p.start === 'string' ? dateBounds(p.start) : undefined;
    const end = typeof p.end === 'string' ? dateBounds(p.end) : undefined;
    // An unparseable bound must not silently become an open one.
    if ((p.start !== undefined && !start) || (p.end !== undefined && !end) || (!start && !end)) return;
    add(start?.low ?? MIN_DATE, end?.high ?? MAX_DATE);
  } else if (type === 'Timing') {
    for (const e of list((v as Obj).event)) {
      const b = typeof e === 'string' ? dateBounds(e) : undefined;
      if (b) add(b.low, b.high);
    }
  }
}

function numberEntries(param: string, type: string, v: unknown, out: IndexEntry[]): void {
  if (NUMBERS.has(type) && typeof v === 'number' && Number.isFinite(v)) out.push({ kind: 'number', param, value: v });
}

function quantityEntries(param: string, type: string, v: unknown, out: IndexEntry[]): void {
  const q = v as Obj;
  if (typeof q?.value !== 'number' || !Number.isFinite(q.value)) return;
  if (QUANTITIES.has(type)) {
    out.push({ kind: 'quantity', param, value: q.value, system: str(q.system), code: str(q.code), unit: str(q.unit) });
  } else if (type === 'Money') {
    out.push({ kind: 'quantity', param, value: q.value, system: 'urn:iso:std:iso:4217', code: str(q.currency), unit: null });
  }
}

function referenceEntry(param: string, r: ParsedReference | undefined, out: IndexEntry[]): void {
  if (r) out.push({ kind: 'reference', param, ...r });
}

function referenceEntries(param: string, type: string, v: unknown, out: IndexEntry[], derived: boolean): void {
  if (type === 'Reference') {
    const ref = v as Obj;
    if (typeof ref.reference === 'string') referenceEntry(param, parseReference(ref.reference), out);
    // Logical references (by identifier) are searched with :identifier, a token match.
    if (derived && ref.identifier && typeof ref.identifier === 'object') identifierToken(`${param}:identifier`, ref.identifier, out);
  } else if (PRIMITIVE_STRINGS.has(type) && typeof v === 'string') {
    referenceEntry(param, parseCanonical(v), out);
  }
}

function uriEntries(param: string, type: string, v: unknown, out: IndexEntry[]): void {
  if (PRIMITIVE_STRINGS.has(type) && typeof v === 'string' && v !== '') out.push({ kind: 'uri', param, value: v });
}

const BY_PARAM_TYPE: Partial<Record<SearchParamType, (param: string, type: string, v: unknown, out: IndexEntry[], derived: boolean) => void>> = {
  string: stringEntries,
  token: tokenEntries,
  date: dateEntries,
  number: numberEntries,
  quantity: quantityEntries,
  reference: referenceEntries,
  uri: uriEntries,
};

/**
 * Appends the entries for one selected value to out. composite and special yield nothing here.
 * `derived` (default true) adds the modifier entries under other params (`${param}:identifier`
 * for logical references, `${param}:of-type` for typed Identifiers); composite components, which
 * take no modifiers, leave them out.
 */
export function toEntries(param: string, paramType: SearchParamType, value: TypedValue, out: IndexEntry[], derived = true): void {
  const convert = BY_PARAM_TYPE[paramType];
  if (!convert || value.value === null || value.value === undefined) return;
  const type = value.type ?? guessType(value.value);
  if (type) convert(param, type, value.value, out, derived);
}
