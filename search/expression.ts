import fhirpath from 'fhirpath';
import { compileFhirPath, FHIRPATH_MODEL as r4 } from '../fhir/fhirpath.js';

/** A value an expression selected, with its FHIR type when known ('HumanName', 'date', ...). */
export interface TypedValue {
  type: string | undefined;
  value: unknown;
}

export type Evaluator = (resource: object) => TypedValue[];

/** Splits a FHIRPath union on its top-level '|' (not inside parentheses or string literals). */
export function splitUnion(expression: string): string[] {
  return splitTopLevel(expression, '|').map((t) => t.trim()).filter((t) => t !== '');
}

function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === "'") quoted = false;
    } else if (c === "'") quoted = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === separator && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/**
 * fhirpath.js's resolve() needs the referenced resource (async, a server), which index extraction
 * has not got. The only R4 use is `X.where(resolve() is T)`, which asks whether the reference
 * points at a T: that is decidable from the reference text, so it is rewritten to a test on it.
 * The fast path applies the same regular expression.
 */
function referenceTypePattern(type: string): string {
  return `(^|/)${type}/[^/]+(/_history/[^/]+)?$`;
}

export function rewriteResolve(expression: string): string {
  return expression.replace(/where\(\s*resolve\(\)\s+is\s+([A-Za-z]+)\s*\)/g,
    (_, type: string) => `where(reference.matches('${referenceTypePattern(type)}'))`);
}

/**
 * fhirpath.js 5 makes `as` demand a singleton ("Expected singleton on left side of 'as'"), so
 * `(Observation.component.value as Quantity)` throws for an Observation with two components. R4's
 * expressions use `as` as a filter over collections (FHIRPath's later ofType()), which is what
 * the fast path does; for fhirpath.js both spellings, `(path as T)` around a plain path and
 * `.as(T)`, are rewritten to `.ofType(T)`, which agrees on singletons and admits subtypes too.
 */
export function rewriteAs(expression: string): string {
  return expression
    .replace(/(?<![\w)\]])\(\s*([A-Za-z_%$][\w.%$]*)\s+as\s+([A-Za-z]+)\s*\)/g, '$1.ofType($2)')
    .replace(/\.as\(\s*([A-Za-z]+)\s*\)/g, '.ofType($1)');
}

/** The rewrites an expression goes through before fhirpath.js compiles it. */
function forFhirpath(expression: string): string {
  return rewriteAs(rewriteResolve(expression));
}

// ---------------------------------------------------------------------------------------------
// fhirpath.js: everything the fast path does not cover.

const SYSTEM_TYPES: Record<string, string> = {
  'System.String': 'string', 'System.Boolean': 'boolean', 'System.Integer': 'integer',
  'System.Decimal': 'decimal', 'System.Date': 'date', 'System.DateTime': 'dateTime', 'System.Time': 'time',
};

function fromFhirpath(item: any): TypedValue {
  if (item !== null && typeof item === 'object' && 'fhirNodeDataType' in item && 'data' in item) {
    const type: string | null = item.fhirNodeDataType;
    // Decimals arrive wrapped (FP_Decimal) to keep their precision; the index stores numbers.
    const data = item.data instanceof fhirpath.FP_Decimal ? item.data.toNumber() : item.data;
    return { type: type ? (SYSTEM_TYPES[type] ?? type) : undefined, value: data };
  }
  // Computed values (booleans from `exists() and ...`, FP_* date and quantity objects).
  const value = fhirpath.resolveInternalTypes(item);
  return { type: undefined, value };
}

function compileFhirpath(expression: string): Evaluator {
  const fn = compileFhirPath(forFhirpath(expression));
  return (resource) => (fn(resource) as unknown[]).map(fromFhirpath);
}

// ---------------------------------------------------------------------------------------------
// Fast path: plain navigation `Type.a.b`, choice narrowing `(Type.a as X)` / `Type.a.as(X)`, a
// final un-narrowed choice element (`Observation.effective`), and the filters
// `.where(field='literal')` and `.where(resolve() is T)`. The FHIR type of the result is decided
// once, at compile time, from the fhirpath R4 model, so it agrees with what fhirpath reports.

type Step =
  | { kind: 'prop'; name: string }
  | { kind: 'whereEq'; field: string; value: string }
  | { kind: 'whereRef'; pattern: RegExp };

interface Branch {
  steps: Step[];
  type: string;
  /** The model path the result's children are described at (see ElementInfo.ctx). */
  ctx: string;
}

interface ElementInfo {
  type: string;
  /** Where the element's children are described: its own path for backbone elements, else its type. */
  ctx: string;
}

function elementInfo(ctx: string, name: string): ElementInfo | undefined {
  const key = `${ctx}.${name}`;
  const path = r4.pathsDefinedElsewhere[key] ?? key;
  const type = r4.path2Type[path];
  if (!type) return undefined;
  return { type: SYSTEM_TYPES[type] ?? type, ctx: type === 'BackboneElement' || type === 'Element' ? path : type };
}

function derivesFrom(type: string | undefined, ancestor: string): boolean {
  for (let t = type; t; t = r4.type2Parent[t]) if (t.toLowerCase() === ancestor.toLowerCase()) return true;
  return false;
}

const IDENT = /^[a-z][A-Za-z0-9]*$/;
const AS_CALL = /^as\(\s*([A-Za-z]+)\s*\)$/;
const WHERE_EQ = /^where\(\s*([a-z][A-Za-z0-9]*)\s*=\s*'([^'\\]*)'\s*\)$/;
const WHERE_RESOLVE = /^where\(\s*resolve\(\)\s+is\s+([A-Za-z]+)\s*\)$/;
const GROUP_AS = /^(.*\S)\s+as\s+([A-Za-z]+)\s*$/;

/** The index of the ')' closing the '(' at `open`, skipping string literals; -1 if none. */
function closingParen(text: string, open: number): number {
  let depth = 0;
  let quoted = false;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === "'") quoted = false;
    } else if (c === "'") quoted = true;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

/**
 * A term's path segments. A leading group `(path as T)`, alone or followed by more navigation
 * (`(Observation.value as CodeableConcept).text`), becomes path's segments, `as(T)`, the rest.
 */
function termSegments(term: string): string[] | undefined {
  const split = (text: string) => splitTopLevel(text, '.').map((s) => s.trim());
  if (!term.startsWith('(')) return split(term);
  const close = closingParen(term, 0);
  if (close < 0) return undefined;
  const m = GROUP_AS.exec(term.slice(1, close));
  const rest = term.slice(close + 1).trim();
  if (!m || (rest !== '' && !rest.startsWith('.'))) return undefined;
  return [...split(m[1]), `as(${m[2]})`, ...(rest ? split(rest.slice(1)) : [])];
}

/** Where a relative expression starts: the model path (ctx) and FHIR type of its context node. */
interface Start {
  ctx: string;
  type: string;
}

/**
 * Compiles one union term to its branches, or undefined when the term is beyond the fast path.
 * An absolute term starts with the resource type; a relative one (`from` given) starts at `from`.
 * `allowEmpty` admits the bare root (`Observation`), selecting the resource itself.
 */
function fastBranches(term: string, resourceType: string, from?: Start, allowEmpty = false): Branch[] | undefined {
  const segments = termSegments(term.trim());
  if (!segments || (!from && segments[0] !== resourceType)) return undefined;

  const steps: Step[] = [];
  let ctx = from?.ctx ?? resourceType;
  let type = from?.type ?? resourceType;
  for (let i = from ? 0 : 1; i < segments.length; i++) {
    const seg = segments[i];
    const asType = AS_CALL.exec(segments[i + 1] ?? '')?.[1];
    let m: RegExpExecArray | null;
    if (IDENT.test(seg)) {
      const choices = r4.choiceTypePaths[`${ctx}.${seg}`];
      if (choices) {
        // FHIRPath `as` also admits subtypes: `source as uri` selects sourceCanonical too.
        const suffixes = asType ? choices.filter((c) => derivesFrom(elementInfo(ctx, seg + c)?.type, asType)) : choices;
        if (asType) i++; // the as() is consumed here
        if (suffixes.length === 0) return undefined;
        if (suffixes.length > 1) {
          // Several variants (an un-narrowed choice): one branch each, only as the last step.
          if (i !== segments.length - 1) return undefined;
          const branches: Branch[] = [];
          for (const s of suffixes) {
            const info = elementInfo(ctx, seg + s);
            if (!info) return undefined;
            branches.push({ steps: [...steps, { kind: 'prop', name: seg + s }], type: info.type, ctx: info.ctx });
          }
          return branches;
        }
        const info = elementInfo(ctx, seg + suffixes[0]);
        if (!info) return undefined;
        steps.push({ kind: 'prop', name: seg + suffixes[0] });
        ({ type, ctx } = info);
      } else {
        if (asType) return undefined; // `as` on a non-choice element: leave the type test to fhirpath
        const info = elementInfo(ctx, seg);
        if (!info) return undefined;
        steps.push({ kind: 'prop', name: seg });
        ({ type, ctx } = info);
      }
    } else if ((m = WHERE_EQ.exec(seg))) {
      if (!elementInfo(ctx, m[1])) return undefined;
      steps.push({ kind: 'whereEq', field: m[1], value: m[2] });
    } else if ((m = WHERE_RESOLVE.exec(seg)) && type === 'Reference') {
      steps.push({ kind: 'whereRef', pattern: new RegExp(referenceTypePattern(m[1])) });
    } else {
      return undefined;
    }
  }
  return steps.length || allowEmpty ? [{ steps, type, ctx }] : undefined;
}

function walk(resource: object, steps: Step[]): unknown[] {
  let current: unknown[] = [resource];
  for (const step of steps) {
    const next: unknown[] = [];
    for (const item of current) {
      if (item === null || typeof item !== 'object') continue;
      const obj = item as Record<string, unknown>;
      if (step.kind === 'prop') {
        const v = obj[step.name];
        if (Array.isArray(v)) {
          for (const e of v) if (e !== null && e !== undefined) next.push(e);
        } else if (v !== null && v !== undefined) next.push(v);
      } else if (step.kind === 'whereEq') {
        if (obj[step.field] === step.value) next.push(item);
      } else if (typeof obj.reference === 'string' && step.pattern.test(obj.reference)) {
        next.push(item);
      }
    }
    current = next;
  }
  return current;
}

function fastEvaluator(branches: Branch[], resourceType: string): Evaluator {
  return (resource) => {
    if ((resource as { resourceType?: string }).resourceType !== resourceType) return [];
    const out: TypedValue[] = [];
    for (const b of branches) for (const value of walk(resource, b.steps)) out.push({ type: b.type, value });
    return out;
  };
}

/**
 * `X.exists() and X != false` (Patient.deceased, the one computed R4 expression on a hot type):
 * a single boolean, true when X is present and is not the single value false. (FHIRPath's `!=`
 * is true between a dateTime and false, and between a collection of two and a singleton.)
 */
const EXISTS_NOT_FALSE = /^(.+)\.exists\(\)\s+and\s+(.+?)\s*!=\s*false$/;

function existsNotFalse(term: string, resourceType: string): Evaluator | undefined {
  const m = EXISTS_NOT_FALSE.exec(term.trim());
  if (!m || m[1].trim() !== m[2].trim()) return undefined;
  const branches = fastBranches(m[1].trim(), resourceType);
  if (!branches) return undefined;
  return (resource) => {
    if ((resource as { resourceType?: string }).resourceType !== resourceType) return [];
    let count = 0;
    let first: unknown;
    for (const b of branches) {
      for (const v of walk(resource, b.steps)) if (count++ === 0) first = v;
    }
    return [{ type: 'boolean', value: count > 0 && !(count === 1 && first === false) }];
  };
}

/** The fast evaluator of one union term, or undefined when it is beyond the fast path. */
function fastTerm(term: string, resourceType: string): Evaluator | undefined {
  const branches = fastBranches(term, resourceType);
  return branches ? fastEvaluator(branches, resourceType) : existsNotFalse(term, resourceType);
}

// ---------------------------------------------------------------------------------------------

export interface CompileOptions {
  /** Use the fast path for the terms it covers (default true); false sends everything to fhirpath. */
  fastPath?: boolean;
}

const compiled = new Map<string, Evaluator>();

/**
 * Compiles an expression (already narrowed to resourceType) to an evaluator returning typed
 * values. A union is compiled term by term, each term taking the fast path when it can.
 * Evaluators are cached per process: they are pure and shared by every extractor.
 * Throws if fhirpath cannot parse the expression.
 */
export function compileExpression(expression: string, resourceType: string, options: CompileOptions = {}): Evaluator {
  const fast = options.fastPath ?? true;
  const key = `${fast ? 'f' : 'p'}\u0000${resourceType}\u0000${expression}`;
  let evaluator = compiled.get(key);
  if (!evaluator) {
    const parts: Evaluator[] = [];
    const slow: string[] = [];
    for (const term of splitUnion(expression)) {
      const evaluate = fast ? fastTerm(term, resourceType) : undefined;
      if (evaluate) parts.push(evaluate);
      else slow.push(term);
    }
    if (slow.length) parts.push(compileFhirpath(slow.join(' | ')));
    evaluator = parts.length === 1 ? parts[0] : (resource) => parts.flatMap((p) => p(resource));
    compiled.set(key, evaluator);
  }
  return evaluator;
}

/** True when every term of the expression takes the fast path (for tests and tuning). */
export function isFastPath(expression: string, resourceType: string): boolean {
  return splitUnion(expression).every((t) => fastTerm(t, resourceType) !== undefined);
}

// ---------------------------------------------------------------------------------------------
// Context nodes and relative expressions (composite parameters: the composite's expression picks
// nodes, each component's expression is evaluated relative to each node).

/**
 * A node an expression selected, with the model path its children are described at: the path
 * for backbone elements ('Observation.component'), else the type name ('UsageContext',
 * 'Observation'), the form fhirpath.js takes as the `base` of a relative expression.
 */
export interface ContextNode {
  node: object;
  base: string;
}

export type NodeEvaluator = (resource: object) => ContextNode[];

/** Evaluates relative to `node`; `resource` is the resource it lies in (FHIRPath's %resource). */
export type RelativeEvaluator = (node: object, resource: object) => TypedValue[];

function nodeFromFhirpath(item: any): ContextNode | undefined {
  if (item === null || typeof item !== 'object' || !('data' in item)) return undefined;
  const data = item.data;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  const type: string | null = item.fhirNodeDataType;
  const base = type && type !== 'BackboneElement' && type !== 'Element' ? type : item.path;
  return typeof base === 'string' ? { node: data, base } : undefined;
}

const compiledNodes = new Map<string, NodeEvaluator>();

/**
 * Compiles an expression (narrowed to resourceType) that selects context nodes, term by term in
 * union order on both paths, so the fast and the fhirpath path yield the same nodes in the same
 * order. Only object nodes are kept. A node selected by two terms is kept once.
 */
export function compileNodes(expression: string, resourceType: string, options: CompileOptions = {}): NodeEvaluator {
  const fast = options.fastPath ?? true;
  const key = `${fast ? 'f' : 'p'}\u0000${resourceType}\u0000${expression}`;
  let evaluator = compiledNodes.get(key);
  if (evaluator) return evaluator;
  const terms: NodeEvaluator[] = splitUnion(expression).map((term) => {
    const branches = fast ? fastBranches(term, resourceType, undefined, true) : undefined;
    if (branches) {
      return (resource) => {
        if ((resource as { resourceType?: string }).resourceType !== resourceType) return [];
        const out: ContextNode[] = [];
        for (const b of branches) {
          for (const node of walk(resource, b.steps)) {
            if (typeof node === 'object' && node !== null && !Array.isArray(node)) out.push({ node, base: b.ctx });
          }
        }
        return out;
      };
    }
    const fn = compileFhirPath(forFhirpath(term));
    return (resource) => {
      const out: ContextNode[] = [];
      for (const item of fn(resource) as unknown[]) {
        const n = nodeFromFhirpath(item);
        if (n) out.push(n);
      }
      return out;
    };
  });
  evaluator = terms.length === 1 ? terms[0] : (resource) => {
    const seen = new Set<object>();
    const out: ContextNode[] = [];
    for (const term of terms) {
      for (const n of term(resource)) {
        if (seen.has(n.node)) continue;
        seen.add(n.node);
        out.push(n);
      }
    }
    return out;
  };
  compiledNodes.set(key, evaluator);
  return evaluator;
}

/** The fast path's starting point for a ContextNode base, or undefined if the model lacks it. */
function startOf(base: string): Start | undefined {
  // A type name (resource or data type): its children are described under its own name.
  if (!base.includes('.')) return r4.type2Parent[base] !== undefined ? { ctx: base, type: base } : undefined;
  const path = r4.pathsDefinedElsewhere[base] ?? base;
  const type = r4.path2Type[path];
  if (type !== 'BackboneElement' && type !== 'Element') return undefined;
  return { ctx: path, type };
}

const compiledRelative = new Map<string, RelativeEvaluator>();

/**
 * Compiles an expression relative to a context node described at `base` (a ContextNode's base).
 * Terms the fast path covers are walked from the node; the rest (`%resource...`, functions) go to
 * fhirpath.js with `base` and %resource set, so types are reported as for absolute expressions.
 */
export function compileRelative(expression: string, base: string, options: CompileOptions = {}): RelativeEvaluator {
  const fast = options.fastPath ?? true;
  const key = `${fast ? 'f' : 'p'}\u0000${base}\u0000${expression}`;
  let evaluator = compiledRelative.get(key);
  if (evaluator) return evaluator;
  const start = fast ? startOf(base) : undefined;
  const parts: RelativeEvaluator[] = [];
  const slow: string[] = [];
  for (const term of splitUnion(expression)) {
    // The resource type argument only matters for absolute terms, which a relative one is not.
    const branches = start ? fastBranches(term, '', start) : undefined;
    if (branches) {
      parts.push((node) => {
        const out: TypedValue[] = [];
        for (const b of branches) for (const value of walk(node, b.steps)) out.push({ type: b.type, value });
        return out;
      });
    } else slow.push(term);
  }
  if (slow.length) {
    const fn = compileFhirPath({ base, expression: forFhirpath(slow.join(' | ')) });
    parts.push((node, resource) => (fn(node, { resource, rootResource: resource }) as unknown[]).map(fromFhirpath));
  }
  evaluator = parts.length === 1 ? parts[0] : (node, resource) => parts.flatMap((p) => p(node, resource));
  compiledRelative.set(key, evaluator);
  return evaluator;
}

/** True when every term of a relative expression takes the fast path from `base`. */
export function isFastPathRelative(expression: string, base: string): boolean {
  const start = startOf(base);
  return !!start && splitUnion(expression).every((t) => fastBranches(t, '', start) !== undefined);
}
