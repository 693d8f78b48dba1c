import type { Resource } from 'fhir/r4.js';
// RFC 6902 engine: `rfc6902` rather than `fast-json-patch`. rfc6902 is still released (5.x), has
// no dependencies, ships its own TypeScript types, is tested against the json-patch-tests suite and
// already refuses `__proto__` in pointers and cloned values; fast-json-patch has had no release
// since 3.1.1 and carries a prototype-pollution history. rfc6902 is lenient in places (it reads
// inherited members, so `/name/length` "exists", and `replace` on an array accepts a non-numeric
// key), so every pointer is resolved strictly here before the library applies the operation.
import { applyPatch as apply6902, type Operation } from 'rfc6902';
import { errors } from '../../fhir/errors.js';

type Op = 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';

interface ParsedOperation {
  op: Op;
  path: string;
  tokens: string[];
  from?: string;
  fromTokens?: string[];
  value?: unknown;
  /** Position in the document, for messages. */
  at: number;
}

const OPS = new Set<Op>(['add', 'remove', 'replace', 'move', 'copy', 'test']);
/** Names that reach Object.prototype; no FHIR element is called any of them. */
const FORBIDDEN_TOKENS = new Set(['__proto__', 'constructor', 'prototype']);
const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

const hasOwn = (o: object, key: string) => Object.prototype.hasOwnProperty.call(o, key);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** RFC 6901 syntax: '' or '/'-separated tokens where '~' is only ever '~0' or '~1'. */
function parsePointer(pointer: unknown, member: string, at: number): string[] {
  if (typeof pointer !== 'string') throw errors.badRequest(`JSON Patch operation ${at}: "${member}" must be a JSON Pointer string`);
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw errors.badRequest(`JSON Patch operation ${at}: "${member}" is not a JSON Pointer (it must be empty or start with '/'): ${pointer}`);
  return pointer.slice(1).split('/').map((raw) => {
    if (/~(?![01])/.test(raw)) throw errors.badRequest(`JSON Patch operation ${at}: bad escape in JSON Pointer ${pointer} ('~' must be followed by 0 or 1)`);
    const token = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (FORBIDDEN_TOKENS.has(token)) throw errors.badRequest(`JSON Patch operation ${at}: JSON Pointer ${pointer} names a forbidden member '${token}'`);
    return token;
  });
}

/** Checks the document's shape (400 on any fault) and returns the operations it holds. */
export function parseJsonPatch(operations: unknown): ParsedOperation[] {
  if (!Array.isArray(operations)) throw errors.badRequest('A JSON Patch document must be an array of operations');
  return operations.map((raw, at) => {
    if (!isObject(raw)) throw errors.badRequest(`JSON Patch operation ${at} is not an object`);
    const op = raw.op;
    if (typeof op !== 'string' || !OPS.has(op as Op)) throw errors.badRequest(`JSON Patch operation ${at}: unknown "op" ${JSON.stringify(op)}`);
    if (!hasOwn(raw, 'path')) throw errors.badRequest(`JSON Patch operation ${at} (${op}) has no "path"`);
    const parsed: ParsedOperation = { op: op as Op, path: raw.path as string, tokens: parsePointer(raw.path, 'path', at), at };
    if (op === 'add' || op === 'replace' || op === 'test') {
      if (!hasOwn(raw, 'value') || raw.value === undefined) throw errors.badRequest(`JSON Patch operation ${at} (${op}) has no "value"`);
      parsed.value = raw.value;
    }
    if (op === 'move' || op === 'copy') {
      if (!hasOwn(raw, 'from')) throw errors.badRequest(`JSON Patch operation ${at} (${op}) has no "from"`);
      parsed.fromTokens = parsePointer(raw.from, 'from', at);
      parsed.from = raw.from as string;
    }
    return parsed;
  });
}

type Mode = 'existing' | 'insert';

/**
 * Resolves a pointer against the document over own members and valid indices only; throws 422
 * when it does not lead anywhere. `existing` demands the target exist (remove, replace, test,
 * from); `insert` demands only its container (add and the destination of move/copy).
 */
function check(doc: unknown, tokens: string[], pointer: string, mode: Mode, op: ParsedOperation): void {
  const fail = (why: string) => errors.unprocessable(`JSON Patch operation ${op.at} (${op.op} ${pointer}): ${why}`);
  let current: unknown = doc;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const last = i === tokens.length - 1;
    if (Array.isArray(current)) {
      if (last && mode === 'insert' && token === '-') return;
      if (!ARRAY_INDEX.test(token)) throw fail(`'${token}' is not an array index`);
      const index = Number(token);
      const limit = last && mode === 'insert' ? current.length : current.length - 1;
      if (index > limit) throw fail(`index ${index} is out of range (the array has ${current.length} items)`);
      current = current[index];
    } else if (isObject(current)) {
      if (!hasOwn(current, token)) {
        if (last && mode === 'insert') return;
        throw fail(`there is no '${token}' at ${tokens.slice(0, i).map((t) => '/' + t).join('') || 'the root'}`);
      }
      current = current[token];
    } else {
      throw fail('the path goes through a value that has no members');
    }
  }
}

function toLibrary(op: ParsedOperation, overrides: Partial<Operation> = {}): Operation {
  const out: Record<string, unknown> = { op: op.op, path: op.path };
  if (op.from !== undefined) out.from = op.from;
  if (op.op === 'add' || op.op === 'replace' || op.op === 'test') out.value = op.value;
  return { ...out, ...overrides } as Operation;
}

function run(doc: unknown, operation: Operation, op: ParsedOperation): void {
  let result;
  try {
    [result] = apply6902(doc, [operation]);
  } catch (e) {
    throw errors.unprocessable(`JSON Patch operation ${op.at} (${op.op} ${op.path}) could not be applied: ${(e as Error).message}`);
  }
  if (result) {
    if (result.name === 'TestError') throw errors.unprocessable(`JSON Patch operation ${op.at}: test failed at ${op.path || 'the root'}`);
    throw errors.unprocessable(`JSON Patch operation ${op.at} (${op.op} ${op.path}) could not be applied: ${result.message}`);
  }
}

function applyOne(doc: Record<string, unknown>, op: ParsedOperation): void {
  const rootWrite = op.tokens.length === 0 && op.op !== 'test';
  if (rootWrite) throw errors.unprocessable(`JSON Patch operation ${op.at} (${op.op}) may not target the whole resource; use update (PUT) instead`);
  switch (op.op) {
    case 'add':
      check(doc, op.tokens, op.path, 'insert', op);
      return run(doc, toLibrary(op), op);
    case 'remove':
    case 'replace':
    case 'test':
      check(doc, op.tokens, op.path, 'existing', op);
      return run(doc, toLibrary(op), op);
    case 'copy':
      check(doc, op.fromTokens!, op.from!, 'existing', op);
      check(doc, op.tokens, op.path, 'insert', op);
      return run(doc, toLibrary(op), op);
    case 'move': {
      const from = op.fromTokens!;
      if (from.length === 0) throw errors.unprocessable(`JSON Patch operation ${op.at} (move) may not move the whole resource`);
      if (from.length < op.tokens.length && from.every((t, i) => t === op.tokens[i])) {
        throw errors.unprocessable(`JSON Patch operation ${op.at} (move): ${op.from} cannot be moved into its own child ${op.path}`);
      }
      check(doc, from, op.from!, 'existing', op);
      // RFC 6902 §4.4: a remove at `from` followed by an add at `path`, so the destination is
      // judged against the document after the removal (this matters for indices in one array).
      let value: any = doc;
      for (const token of from) value = Array.isArray(value) ? value[Number(token)] : value[token];
      run(doc, { op: 'remove', path: op.from! }, op);
      check(doc, op.tokens, op.path, 'insert', op);
      return run(doc, { op: 'add', path: op.path, value }, op);
    }
  }
}

/**
 * Applies an RFC 6902 JSON Patch document. Atomic: the operations run on a copy, and the first
 * failure throws (400 for a malformed document, 422 for one that cannot be applied), so the
 * caller's resource is never changed and a half-applied result is never returned.
 */
export function applyJsonPatch(resource: Resource, operations: unknown): Resource {
  const parsed = parseJsonPatch(operations);
  const doc = structuredClone(resource) as unknown as Record<string, unknown>;
  for (const op of parsed) applyOne(doc, op);
  return doc as unknown as Resource;
}
