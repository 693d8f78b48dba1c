import { randomBytes } from 'node:crypto';
import type { Extension, HumanName, Patient, Resource } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { spineError } from '../../fhir/spine-errors.js';
import type { Preconditions, ResourceHooks } from '../hooks.js';
import { applyJsonPatch, parseJsonPatch, type PatchBody } from '../patch/index.js';
import { DEATH_NOTIFICATION_URL } from './extensions.js';

/**
 * PDS-style PATCH of Patient (nhs-spine.md §1.5; PDS `patient-patch.yaml`), as the engine's
 * `patch` hook: the `{"patches": [...]}` body (a bare RFC 6902 array is accepted too), a required
 * If-Match, the list rules that stop a patch from hitting the wrong list item, and a selection of
 * the field business rules. Every refusal carries the Spine error coding; the diagnostics follow
 * the strings the PDS sandbox and its karate tests use where those are known.
 *
 * `prepare` checks the request op by op against the document as the earlier ops leave it (list
 * indices shift as items are removed: PDS's own examples rely on that) and returns a plain RFC 6902
 * array for the generic applier. `finish` checks the patched Patient against the current one and
 * gives new list items their server-side ids.
 */

type Json = Record<string, unknown>;
interface Op { op: string; path: string; value?: unknown; tokens: string[] }

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const hasOwn = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);

const ALLOWED_OPS = new Set(['add', 'replace', 'remove', 'test']);

/** Patient's repeating top-level elements (R4): the lists the list rules guard. */
const LISTS = new Set([
  'contained', 'extension', 'modifierExtension', 'identifier', 'name', 'telecom', 'address', 'photo',
  'contact', 'communication', 'generalPractitioner', 'link',
]);
/** Lists whose items the server gives an id when they lack one. */
const ID_LISTS = ['name', 'address', 'telecom', 'contact', 'generalPractitioner'] as const;
/** Every R4 Patient element; a patch may not write anything else ('pets'). */
const PATIENT_ELEMENTS = new Set([
  'id', 'meta', 'implicitRules', 'language', 'text', 'contained', 'extension', 'modifierExtension', 'identifier',
  'active', 'name', 'telecom', 'gender', 'birthDate', 'deceasedBoolean', 'deceasedDateTime', 'address',
  'maritalStatus', 'multipleBirthBoolean', 'multipleBirthInteger', 'photo', 'contact', 'communication',
  'generalPractitioner', 'managingOrganization', 'link',
]);
/** Elements the server owns: a patch may test them but not write them. */
const SERVER_OWNED = new Set(['resourceType', 'id', 'meta']);

export { DEATH_NOTIFICATION_URL };

const NO_IF_MATCH = 'Invalid request with error - If-Match header must be supplied to update this resource';
/** What PDS answers (412) for an If-Match that is not `W/"<version>"`. */
const BAD_IF_MATCH = 'Invalid update with error - This resource has changed since you last read. Please re-read and try again with the new version number.';
const NO_PATCHES = 'Invalid update with error - No patches found';

const invalidUpdate = (why: string, expression?: string[]) => spineError(400, 'INVALID_UPDATE', `Invalid update with error - ${why}`, expression);
const forbidden = (why: string, expression?: string[]) => spineError(403, 'FORBIDDEN_UPDATE', `Forbidden update with error - ${why}`, expression);
const invalidValue = (value: unknown, field: string, expression?: string[]) =>
  spineError(400, 'INVALID_VALUE', `Invalid value - '${typeof value === 'string' ? value : JSON.stringify(value)}' in field '${field}'`, expression);

/** The identity member of an item of `list`: extensions are told apart by url, the rest by id. */
function identityKey(list: string): 'url' | 'id' {
  return list === 'extension' || list === 'modifierExtension' ? 'url' : 'id';
}

function decodePointer(path: string): string[] {
  return path === '' ? [] : path.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

// ---------------------------------------------------------------------------------------------
// prepare

/** If-Match is required: missing or malformed 412 PRECONDITION_FAILED. */
function requireIfMatch(pre: Preconditions): number {
  if (pre.ifMatch === undefined) throw spineError(412, 'PRECONDITION_FAILED', NO_IF_MATCH);
  if (!Number.isInteger(pre.ifMatch)) throw spineError(412, 'PRECONDITION_FAILED', BAD_IF_MATCH);
  return pre.ifMatch;
}

/** Stale If-Match: 409 RESOURCE_VERSION_MISMATCH (the generic check would answer 412). */
function checkVersion(expected: number, current: Resource): void {
  const actual = Number(current.meta?.versionId);
  if (expected !== actual) {
    throw spineError(409, 'RESOURCE_VERSION_MISMATCH',
      `Invalid update with error - If-Match names version ${expected} but the current version is ${current.meta?.versionId}; read the patient again and retry`);
  }
}

/** The operations of a `{"patches": [...]}` body or of a bare RFC 6902 array. */
function patchList(operations: unknown): unknown[] {
  if (Array.isArray(operations)) {
    if (operations.length === 0) throw spineError(400, 'INVALID_UPDATE', NO_PATCHES);
    return operations;
  }
  if (!isObject(operations) || !hasOwn(operations, 'patches')) throw spineError(400, 'INVALID_UPDATE', NO_PATCHES);
  const extra = Object.keys(operations).filter((k) => k !== 'patches');
  if (extra.length > 0) {
    throw spineError(400, 'ADDITIONAL_PROPERTIES', `Invalid request with error - Additional properties are not allowed ('${extra.join("', '")}' ${extra.length === 1 ? 'was' : 'were'} unexpected)`);
  }
  const { patches } = operations;
  if (!Array.isArray(patches) || patches.length === 0) throw spineError(400, 'INVALID_UPDATE', NO_PATCHES);
  return patches;
}

/** Only add, replace, remove and test (PDS answers an unsupported op with INVALID_VALUE). */
function checkOps(list: unknown[]): Op[] {
  list.forEach((raw, i) => {
    const op = isObject(raw) ? raw.op : undefined;
    if (typeof op !== 'string' || !ALLOWED_OPS.has(op)) {
      throw spineError(400, 'INVALID_VALUE', `Invalid value - '${typeof op === 'string' ? op : JSON.stringify(op ?? null)}' in field '${i}/op'`);
    }
  });
  try {
    parseJsonPatch(list);
  } catch (e) {
    throw asInvalidUpdate(e);
  }
  return (list as Json[]).map((raw) => {
    const op: Op = { op: raw.op as string, path: raw.path as string, tokens: decodePointer(raw.path as string) };
    if (hasOwn(raw, 'value')) op.value = raw.value;
    return op;
  });
}

/** A generic JSON Patch failure (400 malformed, 422 not applicable) as PDS's 400 INVALID_UPDATE. */
function asInvalidUpdate(e: unknown, at?: number): unknown {
  if (!(e instanceof FhirError)) return e;
  let diagnostics = e.issues[0]?.diagnostics ?? e.message;
  if (at !== undefined) diagnostics = diagnostics.replace(/^JSON Patch operation 0\b/, `JSON Patch operation ${at}`);
  return spineError(400, 'INVALID_UPDATE', `Invalid update with error - Invalid patch - ${diagnostics}`);
}

function toJson(op: Op): Json {
  const out: Json = { op: op.op, path: op.path };
  if (op.op !== 'remove') out.value = op.value;
  return out;
}

/**
 * The list rules, for operation `at` against `doc` (the document as the earlier operations left
 * it). Returns the operation to apply: `add /name/-` to a Patient without names becomes
 * `add /name [item]`, which plain RFC 6902 needs.
 */
function checkListRules(doc: Json, ops: Op[], at: number): Op {
  const op = ops[at];
  const [top, index, member] = op.tokens;
  if (op.op === 'test' || top === undefined) return op;
  if (SERVER_OWNED.has(top) || !PATIENT_ELEMENTS.has(top.startsWith('_') ? top.slice(1) : top)) {
    throw invalidUpdate(`Update unsupported for resource - '${top}'`);
  }
  if (!LISTS.has(top)) return op;
  const list = doc[top];
  const key = identityKey(top);
  const root = `/${top}/${index}`;

  if (op.tokens.length === 1) {
    // The whole list: only adding one where there is none, with items the server will number.
    if (op.op === 'add' && list === undefined && Array.isArray(op.value)) {
      op.value.forEach((item, i) => checkNewItem(top, item, `${top}/${i}`));
      return op;
    }
    throw invalidUpdate(`the whole list '/${top}' cannot be ${op.op === 'remove' ? 'removed' : 'replaced'}; patch its items ('/${top}/-' to add one, '/${top}/<index>' to replace or remove one)`, [`Patient.${top}`]);
  }

  const item = Array.isArray(list) && /^\d+$/.test(index) ? list[Number(index)] : undefined;

  if (op.tokens.length === 2) {
    switch (op.op) {
      case 'add':
        if (index !== '-') {
          throw invalidUpdate(`items are added to the end of a list: use '/${top}/-', not '${op.path}' (the server decides the order)`, [`Patient.${top}`]);
        }
        checkNewItem(top, op.value, `${top}/-`);
        return list === undefined ? { ...op, path: `/${top}`, tokens: [top], value: [op.value] } : op;
      case 'replace': {
        if (!isObject(item)) return op; // out of range: the applier says so
        if (!isObject(op.value)) throw invalidValue(op.value, `${top}/${index}`, [`Patient.${top}[${index}]`]);
        const was = item[key];
        const now = op.value[key];
        if (was === undefined) {
          if (now !== undefined) throw invalidUpdate(`'${op.path}' has no ${key}: a ${key} cannot be given to an existing item`, [`Patient.${top}[${index}]`]);
          return op;
        }
        if (now === undefined) throw invalidUpdate(`no id or url found for path with root ${root}`, [`Patient.${top}[${index}]`]);
        if (now !== was) throw invalidUpdate(`no '${top}' resources with object ${key} '${String(now)}'`, [`Patient.${top}[${index}]`]);
        return op;
      }
      case 'remove': {
        const prev = ops[at - 1];
        const tested = prev?.op === 'test' && prev.tokens[0] === top && prev.tokens[1] === index
          && (prev.tokens.length === 2 || (prev.tokens.length === 3 && prev.tokens[2] === key));
        if (!tested) {
          const instead = prev ? `it is '${prev.op} ${prev.path}'` : 'it is the first item';
          throw invalidUpdate(`removal '${op.path}' is not immediately preceded by equivalent test - instead ${instead}`, [`Patient.${top}[${index}]`]);
        }
        return op;
      }
    }
  }

  // Below an item: free, except its identity, which is the server's.
  if (op.tokens.length === 3 && member === key && isObject(item)) {
    if (op.op === 'remove') throw invalidUpdate(`the ${key} of '${root}' cannot be removed`, [`Patient.${top}[${index}].${key}`]);
    if (op.value !== item[key]) {
      throw item[key] === undefined
        ? invalidUpdate(`'${root}' has no ${key}: ${key}s are assigned by the server`, [`Patient.${top}[${index}].${key}`])
        : invalidUpdate(`no '${top}' resources with object ${key} '${String(op.value)}'`, [`Patient.${top}[${index}].${key}`]);
    }
  }
  return op;
}

/** A new list item must be an object, and its id is the server's to give. */
function checkNewItem(list: string, item: unknown, field: string): void {
  if (!isObject(item)) throw invalidValue(item, field, [`Patient.${list}`]);
  if (hasOwn(item, 'id')) {
    throw invalidUpdate(`a new '${list}' item must not carry an id: ids are assigned by the server`, [`Patient.${list}`]);
  }
}

/**
 * Checks a PDS-style PATCH request and returns the plain RFC 6902 document to apply. FHIRPath
 * Patch bodies pass through unchanged, after the same If-Match check.
 */
export function preparePdsPatch(body: PatchBody, current: Resource, pre: Preconditions): PatchBody {
  const expected = requireIfMatch(pre);
  if (body.kind !== 'json-patch') {
    checkVersion(expected, current);
    return body;
  }
  const list = patchList(body.operations);
  checkVersion(expected, current);
  const ops = checkOps(list);
  // Dry run, op by op, so every rule sees the document the earlier ops produced and every failure
  // is PDS's 400 INVALID_UPDATE; the engine then applies the same operations atomically.
  let doc = structuredClone(current) as unknown as Json;
  const out: Json[] = [];
  for (let at = 0; at < ops.length; at++) {
    const op = checkListRules(doc, ops, at);
    const json = toJson(op);
    try {
      doc = applyJsonPatch(doc as unknown as Resource, [json]) as unknown as Json;
    } catch (e) {
      throw asInvalidUpdate(e, at);
    }
    out.push(json);
  }
  return { kind: 'json-patch', operations: out };
}

// ---------------------------------------------------------------------------------------------
// finish

const todayUtc = () => new Date().toISOString().slice(0, 10);

/** A partial date (YYYY, YYYY-MM, YYYY-MM-DD) lies wholly after `day` (YYYY-MM-DD). */
const after = (date: string, day: string) => date > day.slice(0, date.length);

function deathNotification(p: Patient): Extension | undefined {
  return p.extension?.find((e) => e.url === DEATH_NOTIFICATION_URL);
}

function deathNotificationStatus(ext: Extension | undefined): string | undefined {
  const status = ext?.extension?.find((e) => e.url === 'deathNotificationStatus');
  return status?.valueCodeableConcept?.coding?.[0]?.code;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const count = (names: HumanName[] | undefined, use: HumanName['use']) => (names ?? []).filter((n) => n.use === use).length;

function checkNames(patched: Patient, current: Patient): void {
  const before = current.name ?? [];
  const after = patched.name ?? [];
  for (const name of before) {
    if (name.id === undefined) continue;
    const now = after.find((n) => n.id === name.id);
    if (now && now.use !== name.use) {
      throw invalidUpdate(`the use of name '${name.id}' cannot be changed ('${name.use ?? 'none'}' to '${now.use ?? 'none'}'): remove the name and add a new one`, ['Patient.name.use']);
    }
  }
  const usualRemoved = before.some((n) => n.use === 'usual' && (n.id === undefined ? count(after, 'usual') === 0 : !after.some((m) => m.id === n.id)));
  if (usualRemoved) throw forbidden('not permitted to remove usual name', ['Patient.name']);
  if (count(after, 'usual') > 1 && count(after, 'usual') > count(before, 'usual')) throw forbidden('multiple usual names cannot be added', ['Patient.name']);
  if (count(after, 'nickname') > 1 && count(after, 'nickname') > count(before, 'nickname')) throw forbidden('multiple nicknames cannot be added', ['Patient.name']);
}

function checkGenderAndBirth(patched: Patient, current: Patient): void {
  if (current.gender !== undefined && patched.gender === undefined) throw forbidden("source not permitted to remove 'gender'", ['Patient.gender']);
  // male, female or unknown; `other` may be read (legacy data) but not set.
  if (patched.gender !== undefined && patched.gender !== current.gender && !['male', 'female', 'unknown'].includes(patched.gender)) {
    throw invalidValue(patched.gender, 'gender', ['Patient.gender']);
  }
  if (current.birthDate !== undefined && patched.birthDate === undefined) throw forbidden("source not permitted to remove 'birthDate'", ['Patient.birthDate']);
  if (patched.birthDate !== undefined && patched.birthDate !== current.birthDate && after(patched.birthDate, todayUtc())) {
    throw invalidValue(patched.birthDate, 'birthDate', ['Patient.birthDate']);
  }
}

function checkDeath(patched: Patient, current: Patient): void {
  const dnsBefore = deathNotification(current);
  const dnsAfter = deathNotification(patched);
  const statusBefore = deathNotificationStatus(dnsBefore);
  const statusAfter = deathNotificationStatus(dnsAfter);
  const diedBefore = current.deceasedDateTime;
  const diedAfter = patched.deceasedDateTime;

  if (dnsBefore && !dnsAfter) throw forbidden('death notification status cannot be removed', ['Patient.extension']);
  if (diedBefore !== undefined && diedAfter === undefined) throw forbidden("source not permitted to remove 'deceasedDateTime'", ['Patient.deceasedDateTime']);
  if (dnsBefore && statusBefore === '2' && !same(dnsBefore, dnsAfter)) {
    throw forbidden('a formal (2) death notification cannot be changed', ['Patient.extension']);
  }
  if (diedBefore !== undefined && diedAfter !== diedBefore && statusBefore === '2') {
    throw forbidden('deceasedDateTime cannot be changed once the death notification is formal (2)', ['Patient.deceasedDateTime']);
  }
  if (statusAfter !== statusBefore) {
    if (statusAfter === 'U') {
      throw spineError(400, 'UNSUPPORTED_VALUE', "Unsupported value - 'U' in field 'deathNotificationStatus': the removed status cannot be set", ['Patient.extension']);
    }
    if (statusAfter === '2') throw forbidden('only the registration services may set a formal (2) death notification status', ['Patient.extension']);
  }
  if (diedBefore === undefined && diedAfter !== undefined && !dnsAfter) {
    throw invalidUpdate('deceasedDateTime must be added together with a death notification status extension', ['Patient.deceasedDateTime']);
  }
  if (!dnsBefore && dnsAfter && diedAfter === undefined) {
    throw invalidUpdate('a death notification status must be added together with deceasedDateTime', ['Patient.extension']);
  }
  if (diedAfter !== undefined && diedAfter !== diedBefore) {
    if (Date.parse(diedAfter) > Date.now() || after(diedAfter.slice(0, 10), todayUtc())) {
      throw invalidValue(diedAfter, 'deceasedDateTime', ['Patient.deceasedDateTime']);
    }
  }
  if (patched.birthDate !== undefined && diedAfter !== undefined && (patched.birthDate !== current.birthDate || diedAfter !== diedBefore)
    && after(patched.birthDate, diedAfter.slice(0, 10))) {
    throw invalidUpdate('birthDate cannot be after deceasedDateTime', ['Patient.birthDate']);
  }
}

function checkGeneralPractitioner(patched: Patient, current: Patient): void {
  const n = patched.generalPractitioner?.length ?? 0;
  if (n > 1 && n > (current.generalPractitioner?.length ?? 0)) {
    throw spineError(400, 'TOO_MANY_VALUES_SUBMITTED', `Too many values submitted - ${n} items in field 'generalPractitioner' (at most 1)`, ['Patient.generalPractitioner']);
  }
}

function newId(taken: Set<unknown>): string {
  for (;;) {
    const id = randomBytes(4).toString('hex').toUpperCase();
    if (!taken.has(id)) return id;
  }
}

/** Gives every item of the id-bearing lists that lacks an id a short random one. */
export function assignListItemIds(patient: Patient): Patient {
  const out = structuredClone(patient) as unknown as Json;
  for (const list of ID_LISTS) {
    const items = out[list];
    if (!Array.isArray(items)) continue;
    const taken = new Set(items.map((i) => (isObject(i) ? i.id : undefined)));
    for (const item of items) {
      if (isObject(item) && item.id === undefined) {
        const id = newId(taken);
        taken.add(id);
        // id first, as PDS sends it
        const rest = { ...item };
        for (const k of Object.keys(item)) delete item[k];
        Object.assign(item, { id }, rest);
      }
    }
  }
  return out as unknown as Patient;
}

/** Checks the patched Patient against the current one (1.5 field rules) and numbers new list items. */
export function finishPdsPatch(patched: Resource, current: Resource): Resource {
  const p = patched as Patient;
  const c = current as Patient;
  checkGenderAndBirth(p, c);
  checkNames(p, c);
  checkDeath(p, c);
  checkGeneralPractitioner(p, c);
  return assignListItemIds(p);
}

/** The `patch` hook of Patient (resources/hooks.ts). */
export const pdsPatchRules: NonNullable<ResourceHooks['patch']> = {
  prepare: preparePdsPatch,
  finish: finishPdsPatch,
};
