import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';

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
  const fn = fhirpath.compile(rewriteResolve(expression), r4, { resolveInternalTypes: false });
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
const OUTER_AS = /^\((.*)\s+as\s+([A-Za-z]+)\s*\)$/;

/** Compiles one union term to its branches, or undefined when the term is beyond the fast path. */
function fastBranches(term: string, resourceType: string): Branch[] | undefined {
  let path = term;
  let outerAs: string | undefined;
  const outer = OUTER_AS.exec(term);
  if (outer) [, path, outerAs] = outer;
  const segments = splitTopLevel(path, '.').map((s) => s.trim());
  if (segments[0] !== resourceType) return undefined;
  if (outerAs) segments.push(`as(${outerAs})`);

  const steps: Step[] = [];
  let ctx = resourceType;
  let type = resourceType;
  for (let i = 1; i < segments.length; i++) {
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
            branches.push({ steps: [...steps, { kind: 'prop', name: seg + s }], type: info.type });
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
  return steps.length ? [{ steps, type }] : undefined;
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
      const branches = fast ? fastBranches(term, resourceType) : undefined;
      if (branches) parts.push(fastEvaluator(branches, resourceType));
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
  return splitUnion(expression).every((t) => fastBranches(t, resourceType) !== undefined);
}
