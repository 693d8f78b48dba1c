import type { Resource } from 'fhir/r4.js';
import { errors } from '../../fhir/errors.js';
import { compileFhirPath, FHIRPATH_MODEL as r4 } from '../../fhir/fhirpath.js';

/**
 * FHIRPath Patch (R4 fhirpatch.html): a Parameters resource with one `operation` parameter per
 * change, applied in order and atomically (on a copy; the first failure throws).
 *
 * Targets are found structurally. fhirpath.js, asked not to resolve its internal types, returns
 * ResourceNodes that remember their parent node, the member name they were read from and their
 * position in a list; complex nodes hold the resource's own objects. So every result is mapped
 * back to a slot (container object, member key, list index), and each slot is checked against the
 * copy by identity, all the way up to the root, before anything is written: a path that leaves
 * the resource (a literal, %factory, a value from outside) can never be written to.
 *
 * Primitive extensions (the `_name` twins of primitive members) are kept in step: deleting,
 * inserting or moving an item of a primitive list splices its `_name` list too; deleting a
 * primitive drops its extensions; replacing a primitive replaces its extensions with the value's
 * own (`_value[x]` on the part), if any.
 */

type Json = Record<string, unknown>;
type OpType = 'add' | 'insert' | 'delete' | 'replace' | 'move';

/** A value carried by a `value` part: a value[x] (or resource), or nested parts for a complex value. */
type ParamValue =
  | { kind: 'typed'; type: string; json: unknown; ext?: unknown }
  | { kind: 'parts'; parts: { name: string; value: ParamValue }[] };

export interface FhirPathPatchOperation {
  /** Index of the parameter in Parameters.parameter, for messages. */
  at: number;
  type: OpType;
  path: string;
  name?: string;
  value?: ParamValue;
  index?: number;
  source?: number;
  destination?: number;
}

/** The parts of fhirpath.js's ResourceNode this module relies on. */
interface FpNode {
  data: unknown;
  _data: unknown;
  parentResNode: FpNode | null;
  path: string | null;
  fhirNodeDataType: string | null;
  propName: string | null;
  index: number | null;
}

/** Where an element lives: `container[key]`, or `container[key][index]` for a list item. */
interface Slot {
  kind: 'slot';
  container: Json;
  key: string;
  index: number | null;
  /** Where the container lives, and whether it is that element's `_name` twin (primitives). */
  owner: Location;
  inTwin: boolean;
}
type Location = { kind: 'root' } | Slot;

/** A value ready to be written: its JSON, its primitive extensions, its FHIR type if known. */
interface Built {
  json: unknown;
  ext?: unknown;
  type?: string;
}

const OP_TYPES = new Set<OpType>(['add', 'insert', 'delete', 'replace', 'move']);
const PART_NAMES = new Set(['type', 'path', 'name', 'value', 'index', 'source', 'destination']);
const REQUIRED: Record<OpType, string[]> = {
  add: ['path', 'name', 'value'],
  insert: ['path', 'value', 'index'],
  delete: ['path'],
  replace: ['path', 'value'],
  move: ['path', 'source', 'destination'],
};
const ELEMENT_NAME = /^[A-Za-z][A-Za-z0-9]*$/;
/** Names that reach Object.prototype; no FHIR element is called any of them. */
const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);
const FORBIDDEN_IN_PATH = /__proto__|\bconstructor\b|\bprototype\b/;
const PRIMITIVE_SUFFIXES = new Set([
  'Base64Binary', 'Boolean', 'Canonical', 'Code', 'Date', 'DateTime', 'Decimal', 'Id', 'Instant', 'Integer',
  'Markdown', 'Oid', 'PositiveInt', 'String', 'Time', 'UnsignedInt', 'Uri', 'Url', 'Uuid',
]);

const hasOwn = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);
/** `c[key]` if `c` has it itself (never an inherited member such as toString). */
const own = (c: Json, key: string): unknown => (hasOwn(c, key) ? c[key] : undefined);
const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const isPlainObject = (v: unknown) => isObject(v) && [Object.prototype, null].includes(Object.getPrototypeOf(v));
const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
const isPrimitiveType = (t: string) => t.startsWith('System.') || /^[a-z]/.test(t);

// ---------------------------------------------------------------------------------------------
// Reading the Parameters resource (every fault here is a malformed document: 400)

function where(at: number): string[] {
  return [`Parameters.parameter[${at}]`];
}

function validName(name: unknown, what: string, at: number): string {
  if (typeof name !== 'string' || !ELEMENT_NAME.test(name) || FORBIDDEN.has(name)) {
    throw errors.badRequest(`FHIRPath Patch operation ${at}: ${what} ${JSON.stringify(name)} is not a valid element name`, where(at));
  }
  return name;
}

function parseValue(part: Json, at: number, what: string): ParamValue {
  const valueKeys = Object.keys(part).filter((k) => /^value[A-Z][A-Za-z0-9]*$/.test(k));
  const hasParts = part.part !== undefined;
  const hasResource = part.resource !== undefined;
  if (valueKeys.length + (hasParts ? 1 : 0) + (hasResource ? 1 : 0) !== 1) {
    throw errors.badRequest(`FHIRPath Patch operation ${at}: ${what} must carry exactly one of a value[x], a resource or nested parts`, where(at));
  }
  if (hasResource) {
    const resource = part.resource;
    if (!isObject(resource) || typeof resource.resourceType !== 'string') {
      throw errors.badRequest(`FHIRPath Patch operation ${at}: ${what} has a resource without a resourceType`, where(at));
    }
    return { kind: 'typed', type: resource.resourceType, json: resource };
  }
  if (hasParts) {
    if (!Array.isArray(part.part)) throw errors.badRequest(`FHIRPath Patch operation ${at}: ${what}.part must be an array`, where(at));
    return {
      kind: 'parts',
      parts: part.part.map((p: unknown) => {
        if (!isObject(p)) throw errors.badRequest(`FHIRPath Patch operation ${at}: a part of ${what} is not an object`, where(at));
        const name = validName(p.name, `a part of ${what} is named`, at);
        return { name, value: parseValue(p, at, `part '${name}'`) };
      }),
    };
  }
  const key = valueKeys[0];
  const json = part[key];
  if (json === null || json === undefined) throw errors.badRequest(`FHIRPath Patch operation ${at}: ${what} has an empty ${key}`, where(at));
  const suffix = key.slice('value'.length);
  const value: ParamValue = { kind: 'typed', type: PRIMITIVE_SUFFIXES.has(suffix) ? lowerFirst(suffix) : suffix, json };
  if (part['_' + key] !== undefined) value.ext = part['_' + key];
  return value;
}

function stringPart(part: Json, at: number, name: string, keys: string[]): string {
  for (const k of keys) if (typeof part[k] === 'string' && part[k] !== '') return part[k] as string;
  throw errors.badRequest(`FHIRPath Patch operation ${at}: part '${name}' needs a ${keys[0]}`, where(at));
}

function integerPart(part: Json, at: number, name: string): number {
  for (const k of ['valueInteger', 'valueUnsignedInt', 'valuePositiveInt']) {
    const v = part[k];
    if (v === undefined) continue;
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
    break;
  }
  throw errors.badRequest(`FHIRPath Patch operation ${at}: part '${name}' needs a valueInteger of 0 or more`, where(at));
}

/** Reads and checks the Parameters resource; throws 400 when it is not a valid FHIRPath Patch. */
export function parseFhirPathPatch(parameters: unknown): FhirPathPatchOperation[] {
  if (!isObject(parameters) || parameters.resourceType !== 'Parameters') {
    throw errors.badRequest('A FHIRPath Patch body must be a Parameters resource');
  }
  const params = parameters.parameter ?? [];
  if (!Array.isArray(params)) throw errors.badRequest('Parameters.parameter must be an array');
  return params.map((param: unknown, at: number) => {
    if (!isObject(param) || param.name !== 'operation') {
      throw errors.badRequest(`FHIRPath Patch parameter ${at} must be named 'operation'`, where(at));
    }
    if (!Array.isArray(param.part)) throw errors.badRequest(`FHIRPath Patch operation ${at} has no parts`, where(at));
    const parts = new Map<string, Json>();
    for (const part of param.part as unknown[]) {
      if (!isObject(part) || typeof part.name !== 'string') throw errors.badRequest(`FHIRPath Patch operation ${at} has a part without a name`, where(at));
      if (!PART_NAMES.has(part.name)) throw errors.badRequest(`FHIRPath Patch operation ${at} has an unknown part '${part.name}'`, where(at));
      if (parts.has(part.name)) throw errors.badRequest(`FHIRPath Patch operation ${at} has more than one '${part.name}' part`, where(at));
      parts.set(part.name, part);
    }
    const typePart = parts.get('type');
    if (!typePart) throw errors.badRequest(`FHIRPath Patch operation ${at} has no 'type' part`, where(at));
    const type = typePart.valueCode ?? typePart.valueString;
    if (typeof type !== 'string' || !OP_TYPES.has(type as OpType)) {
      throw errors.badRequest(`FHIRPath Patch operation ${at} has an unknown type ${JSON.stringify(type)} (add | insert | delete | replace | move)`, where(at));
    }
    for (const required of REQUIRED[type as OpType]) {
      if (!parts.has(required)) throw errors.badRequest(`FHIRPath Patch operation ${at} (${type}) has no '${required}' part`, where(at));
    }
    const op: FhirPathPatchOperation = { at, type: type as OpType, path: stringPart(parts.get('path')!, at, 'path', ['valueString']) };
    if (FORBIDDEN_IN_PATH.test(op.path)) throw errors.badRequest(`FHIRPath Patch operation ${at}: the path names a forbidden member`, where(at));
    if (op.type === 'add') op.name = validName(stringPart(parts.get('name')!, at, 'name', ['valueString', 'valueCode']), 'name', at);
    if (op.type === 'add' || op.type === 'insert' || op.type === 'replace') op.value = parseValue(parts.get('value')!, at, "part 'value'");
    if (op.type === 'insert') op.index = integerPart(parts.get('index')!, at, 'index');
    if (op.type === 'move') {
      op.source = integerPart(parts.get('source')!, at, 'source');
      op.destination = integerPart(parts.get('destination')!, at, 'destination');
    }
    return op;
  });
}

// ---------------------------------------------------------------------------------------------
// The R4 model, for whether a member repeats, is a choice, and what type it holds

interface ElementInfo {
  repeating: boolean;
  choice: boolean;
  type?: string;
  /** Where the element's own children are described (a type name, or a backbone element's path). */
  ctx?: string;
}

function childInfo(ctx: string | null | undefined, name: string): ElementInfo | undefined {
  if (name === 'extension' || name === 'modifierExtension') return { repeating: true, choice: false, type: 'Extension', ctx: 'Extension' };
  if (!ctx) return undefined;
  const key = `${ctx}.${name}`;
  const path = r4.pathsDefinedElsewhere[key] ?? key;
  if (r4.choiceTypePaths[path]) return { repeating: false, choice: true };
  const type = r4.path2Type[path];
  if (!type) return undefined;
  return {
    repeating: Boolean(r4.path2Repeating[path]),
    choice: false,
    type,
    ctx: type === 'BackboneElement' || type === 'Element' ? path : type,
  };
}

function checkType(expected: string | null | undefined, built: Built, what: string, at: number): void {
  if (!expected || !built.type) return;
  if (isPrimitiveType(expected) !== isPrimitiveType(built.type)) {
    throw errors.unprocessable(`FHIRPath Patch operation ${at}: ${what} holds a ${expected}; a ${built.type} cannot go there`, where(at));
  }
}

// ---------------------------------------------------------------------------------------------
// Building values from parts

function build(value: ParamValue, ctx: string | undefined, at: number): Built {
  if (value.kind === 'typed') {
    const built: Built = { json: structuredClone(value.json), type: value.type };
    if (value.ext !== undefined) built.ext = structuredClone(value.ext);
    return built;
  }
  const obj: Json = {};
  for (const { name, value: partValue } of value.parts) {
    const info = childInfo(ctx, name);
    const built = build(partValue, info?.ctx, at);
    if (info && !info.choice) checkType(info.type, built, `'${name}'`, at);
    putMember(obj, name, info, built, at);
  }
  return { json: obj };
}

/** Adds member `name` to `container`: appended when it repeats, else set if not there yet. */
function putMember(container: Json, name: string, info: ElementInfo | undefined, built: Built, at: number): void {
  let key = name;
  if (info?.choice) {
    // A choice element (deceased[x], value[x]) takes the value's type into its member name.
    if (!built.type) {
      throw errors.unprocessable(`FHIRPath Patch operation ${at}: '${name}' is a choice element; give a typed value or put the type in the name (e.g. ${name}Quantity)`, where(at));
    }
    key = name + upperFirst(built.type);
    const other = Object.keys(container).find((k) => choiceMemberOf(k, name));
    if (other) throw errors.unprocessable(`FHIRPath Patch operation ${at}: '${name}' already has a value (${other.replace(/^_/, '')}); use replace`, where(at));
  }
  const repeating = info ? info.repeating : Array.isArray(own(container, key));
  if (repeating) {
    spliceList(container, key, listLength(container, key, at), 0, [built], at);
    return;
  }
  if (own(container, key) !== undefined) {
    throw errors.unprocessable(`FHIRPath Patch operation ${at}: '${key}' does not repeat and already has a value; use replace`, where(at));
  }
  container[key] = built.json;
  if (built.ext !== undefined) container['_' + key] = built.ext;
}

function choiceMemberOf(key: string, base: string): boolean {
  const k = key.startsWith('_') ? key.slice(1) : key;
  return k.length > base.length && k.startsWith(base) && /[A-Z]/.test(k.charAt(base.length));
}

// ---------------------------------------------------------------------------------------------
// Lists, with their `_name` twins kept in step

function asList(v: unknown, key: string, at: number): unknown[] {
  if (v === undefined) return [];
  if (Array.isArray(v)) return [...v];
  throw errors.unprocessable(`FHIRPath Patch operation ${at}: '${key}' is not a list`, where(at));
}

function listLength(c: Json, key: string, at: number): number {
  return Math.max(asList(own(c, key), key, at).length, asList(own(c, '_' + key), '_' + key, at).length);
}

/** Array.prototype.splice over `c[key]` and its twin `c['_' + key]`; empty lists are removed. */
function spliceList(c: Json, key: string, start: number, deleteCount: number, items: Built[], at: number): Built[] {
  const twinKey = '_' + key;
  const values = asList(own(c, key), key, at);
  const twin = own(c, twinKey) === undefined && items.every((i) => i.ext === undefined || i.ext === null)
    ? undefined
    : asList(own(c, twinKey), twinKey, at);
  if (twin) {
    const length = Math.max(values.length, twin.length);
    while (values.length < length) values.push(null);
    while (twin.length < length) twin.push(null);
  }
  const removedValues = values.splice(start, deleteCount, ...items.map((i) => i.json));
  const removedTwins = twin?.splice(start, deleteCount, ...items.map((i) => i.ext ?? null));
  const twinUsed = twin !== undefined && twin.some((e) => e !== null && e !== undefined);
  if (values.length === 0 || (!twinUsed && values.every((v) => v === null))) delete c[key];
  else c[key] = values;
  if (twinUsed) c[twinKey] = twin;
  else delete c[twinKey];
  return removedValues.map((json, i) => {
    const ext = removedTwins?.[i];
    return ext === null || ext === undefined ? { json } : { json, ext };
  });
}

// ---------------------------------------------------------------------------------------------
// Evaluating paths and locating what they select

function evaluate(doc: Json, expression: string, at: number): unknown[] {
  let fn;
  try {
    fn = compileFhirPath(expression);
  } catch (e) {
    throw errors.badRequest(`FHIRPath Patch operation ${at}: '${expression}' is not valid FHIRPath: ${(e as Error).message}`, where(at));
  }
  let result: unknown;
  try {
    result = fn(doc, { resource: doc, rootResource: doc });
  } catch (e) {
    throw errors.unprocessable(`FHIRPath Patch operation ${at}: '${expression}' could not be evaluated: ${(e as Error).message}`, where(at));
  }
  if (!Array.isArray(result)) throw errors.unprocessable(`FHIRPath Patch operation ${at}: '${expression}' needs asynchronous evaluation, which patch does not allow`, where(at));
  return result;
}

function exactlyOne(nodes: unknown[], expression: string, at: number): unknown {
  if (nodes.length !== 1) {
    throw errors.unprocessable(`FHIRPath Patch operation ${at}: '${expression}' matched ${nodes.length} elements; exactly one is required`, where(at));
  }
  return nodes[0];
}

const isNode = (v: unknown): v is FpNode => isObject(v) && 'parentResNode' in v && 'data' in v && 'propName' in v;

function valueAt(s: Slot): unknown {
  const v = s.container[s.key];
  return s.index === null ? v : Array.isArray(v) ? v[s.index] : undefined;
}

function twinAt(s: Slot): unknown {
  const v = s.container['_' + s.key];
  return s.index === null ? v : Array.isArray(v) ? v[s.index] : undefined;
}

/** The member of `c` that holds `prop`: itself, its `_` twin, or a choice member (valueQuantity). */
function memberKey(c: Json, prop: string): string | undefined {
  if (hasOwn(c, prop) || hasOwn(c, '_' + prop)) return prop;
  const choice = Object.keys(c).find((k) => choiceMemberOf(k, prop));
  return choice?.replace(/^_/, '');
}

/**
 * Maps a fhirpath.js result back to where it lives in `doc`, checking each step by identity up to
 * the root, so that only elements of `doc` itself are ever located.
 */
function locate(node: unknown, doc: Json, expression: string, at: number): Location {
  const fail = () => errors.unprocessable(`FHIRPath Patch operation ${at}: '${expression}' selects something that is not an element of the resource`, where(at));
  if (!isNode(node)) throw fail();
  const parent = node.parentResNode;
  if (!parent) {
    if (node.data === doc) return { kind: 'root' };
    throw fail();
  }
  if (typeof node.propName !== 'string' || !isNode(parent)) throw fail();
  const owner = locate(parent, doc, expression, at);
  const ownerValue = owner.kind === 'root' ? doc : valueAt(owner);
  const ownerTwin = owner.kind === 'root' ? undefined : twinAt(owner);
  // A member lives in its parent object or, below a primitive (id, extension), in the twin.
  for (const [container, inTwin] of [[parent.data, false], [parent._data, true]] as const) {
    if (!isObject(container) || container !== (inTwin ? ownerTwin : ownerValue)) continue;
    const key = memberKey(container, node.propName);
    if (!key) continue;
    const slot: Slot = { kind: 'slot', container, key, index: null, owner, inTwin };
    if (typeof node.index === 'number') {
      if (!Array.isArray(container[key]) && !Array.isArray(container['_' + key])) continue;
      slot.index = node.index;
    }
    // Complex values are the resource's own objects; primitives come as copies (numbers even
    // wrapped as FP_Decimal objects), so only objects can be, and are, compared by identity.
    const actual = valueAt(slot);
    if (isObject(actual) ? actual !== node.data : isPlainObject(node.data)) continue;
    return slot;
  }
  throw fail();
}

/** The object that new members of the located element go in (its `_` twin for a primitive). */
function containerOf(node: FpNode, location: Location, doc: Json, name: string, at: number): { container: Json; ctx: string | null } {
  if (location.kind === 'root') return { container: doc, ctx: typeof doc.resourceType === 'string' ? doc.resourceType : null };
  const value = valueAt(location);
  if (isObject(value)) return { container: value, ctx: node.path };
  if (name !== 'extension' && name !== 'id') {
    throw errors.unprocessable(`FHIRPath Patch operation ${at}: a primitive value has only 'id' and 'extension' members, not '${name}'`, where(at));
  }
  return { container: ensureTwin(location, at), ctx: null };
}

function ensureTwin(s: Slot, at: number): Json {
  const twinKey = '_' + s.key;
  if (s.index === null) {
    if (!isObject(s.container[twinKey])) s.container[twinKey] = {};
    return s.container[twinKey] as Json;
  }
  const twin = asList(s.container[twinKey], twinKey, at);
  while (twin.length < listLength(s.container, s.key, at)) twin.push(null);
  if (!isObject(twin[s.index])) twin[s.index] = {};
  s.container[twinKey] = twin;
  return twin[s.index] as Json;
}

function removeAt(s: Slot, at: number): void {
  if (s.index === null) {
    delete s.container[s.key];
    delete s.container['_' + s.key];
  } else {
    spliceList(s.container, s.key, s.index, 1, [], at);
  }
}

/** After a removal, removes elements it left empty (FHIR has no empty objects), upwards. */
function pruneUp(s: Slot, at: number): void {
  if (Object.keys(s.container).length > 0 || s.owner.kind === 'root') return;
  const owner = s.owner;
  if (!s.inTwin) {
    removeAt(owner, at);
    pruneUp(owner, at);
    return;
  }
  // The primitive's twin is empty: drop it, and the primitive too if it had no value.
  if (owner.index === null) delete owner.container['_' + owner.key];
  else {
    const twin = owner.container['_' + owner.key] as unknown[];
    twin[owner.index] = null;
    if (twin.every((e) => e === null)) delete owner.container['_' + owner.key];
  }
  if (valueAt(owner) === null || valueAt(owner) === undefined) {
    removeAt(owner, at);
    pruneUp(owner, at);
  }
}

/** Splits `a.b.where(x).c` into `a.b.where(x)` and `c`; the last step must be an element name. */
function splitLast(path: string, at: number): { parent: string | null; name: string } {
  let depth = 0;
  let quote: string | null = null;
  let lastDot = -1;
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
    } else if (c === "'" || c === '`' || c === '"') quote = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (c === '.' && depth === 0) lastDot = i;
  }
  const parent = lastDot < 0 ? null : path.slice(0, lastDot).trim();
  let name = path.slice(lastDot + 1).trim();
  if (name.startsWith('`') && name.endsWith('`')) name = name.slice(1, -1);
  if (!ELEMENT_NAME.test(name) || !/^[a-z]/.test(name) || FORBIDDEN.has(name) || parent === '') {
    throw errors.badRequest(`FHIRPath Patch operation ${at}: the path of a list operation must end in an element name ('Patient.name'), not '${path}'`, where(at));
  }
  return { parent, name };
}

/** For insert and move: the one element holding the list, and the list's member name. */
function locateList(doc: Json, op: FhirPathPatchOperation): { container: Json; name: string; info: ElementInfo | undefined } {
  const { parent, name } = splitLast(op.path, op.at);
  let node: FpNode;
  let location: Location;
  if (parent === null) {
    node = { data: doc, _data: null, parentResNode: null, path: null, fhirNodeDataType: null, propName: null, index: null };
    location = { kind: 'root' };
  } else {
    const found = exactlyOne(evaluate(doc, parent, op.at), parent, op.at);
    location = locate(found, doc, parent, op.at);
    node = found as FpNode;
  }
  const { container, ctx } = containerOf(node, location, doc, name, op.at);
  const info = childInfo(ctx, name);
  if (info && (info.choice || !info.repeating)) {
    throw errors.unprocessable(`FHIRPath Patch operation ${op.at}: '${op.path}' is not a list`, where(op.at));
  }
  return { container, name, info };
}

// ---------------------------------------------------------------------------------------------
// The operations

function applyOperation(doc: Json, op: FhirPathPatchOperation): void {
  const at = op.at;
  switch (op.type) {
    case 'add': {
      const node = exactlyOne(evaluate(doc, op.path, at), op.path, at);
      const location = locate(node, doc, op.path, at);
      const { container, ctx } = containerOf(node as FpNode, location, doc, op.name!, at);
      const info = childInfo(ctx, op.name!);
      const built = build(op.value!, info?.ctx, at);
      if (info && !info.choice) checkType(info.type, built, `'${op.name}'`, at);
      putMember(container, op.name!, info, built, at);
      return;
    }
    case 'insert': {
      const { container, name, info } = locateList(doc, op);
      const length = listLength(container, name, at);
      if (op.index! > length) {
        throw errors.unprocessable(`FHIRPath Patch operation ${at}: index ${op.index} is out of range ('${op.path}' has ${length} items)`, where(at));
      }
      const built = build(op.value!, info?.ctx, at);
      checkType(info?.type, built, `'${op.path}'`, at);
      spliceList(container, name, op.index!, 0, [built], at);
      return;
    }
    case 'move': {
      const { container, name } = locateList(doc, op);
      const length = listLength(container, name, at);
      for (const i of [op.source!, op.destination!]) {
        if (i >= length) throw errors.unprocessable(`FHIRPath Patch operation ${at}: index ${i} is out of range ('${op.path}' has ${length} items)`, where(at));
      }
      const moved = spliceList(container, name, op.source!, 1, [], at);
      spliceList(container, name, op.destination!, 0, moved, at);
      return;
    }
    case 'delete': {
      const nodes = evaluate(doc, op.path, at);
      if (nodes.length === 0) return; // nothing to delete is not an error
      const location = locate(exactlyOne(nodes, op.path, at), doc, op.path, at);
      if (location.kind === 'root') throw errors.unprocessable(`FHIRPath Patch operation ${at}: the resource itself cannot be deleted by a patch`, where(at));
      removeAt(location, at);
      pruneUp(location, at);
      return;
    }
    case 'replace': {
      const node = exactlyOne(evaluate(doc, op.path, at), op.path, at) as FpNode;
      const location = locate(node, doc, op.path, at);
      if (location.kind === 'root') throw errors.unprocessable(`FHIRPath Patch operation ${at}: the resource itself cannot be replaced by a patch; use update (PUT)`, where(at));
      const built = build(op.value!, node.path ?? undefined, at);
      let slot = location;
      if (location.key !== node.propName && node.propName && built.type) {
        // A choice element: the new value's type names the member (deceasedBoolean → deceasedDateTime).
        const key = node.propName + upperFirst(built.type);
        if (key !== location.key) {
          removeAt(location, at);
          slot = { ...location, key };
        }
      } else {
        checkType(node.fhirNodeDataType, built, `'${op.path}'`, at);
      }
      if (slot.index === null) {
        slot.container[slot.key] = built.json;
        if (built.ext !== undefined) slot.container['_' + slot.key] = built.ext;
        else delete slot.container['_' + slot.key];
      } else {
        spliceList(slot.container, slot.key, slot.index, 1, [built], at);
      }
      return;
    }
  }
}

/**
 * Applies a FHIRPath Patch (a Parameters resource) to a copy of `resource` and returns the copy.
 * 400 for a malformed Parameters resource; 422 when it cannot be applied (a path matching no or
 * several elements where one is required, an index out of range, a member that already exists).
 */
export function applyFhirPathPatch(resource: Resource, parameters: unknown): Resource {
  const operations = parseFhirPathPatch(parameters);
  const doc = structuredClone(resource) as unknown as Json;
  for (const op of operations) applyOperation(doc, op);
  return doc as unknown as Resource;
}
