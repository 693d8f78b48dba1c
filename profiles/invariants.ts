import { compileFhirPath } from '../fhir/fhirpath.js';

/**
 * Invariants (ElementDefinition.constraint.expression) compiled once per expression and base
 * path with fhirpath.js and its R4 model, then evaluated per element instance. An expression the
 * library cannot compile or run (an unsupported function such as htmlChecks or conformsTo) is
 * reported once as "not checked", never as a failure of the resource. Expressions may come from
 * posted StructureDefinitions (clients), so trace() goes nowhere.
 */
type Compiled = (data: unknown, env: Record<string, unknown>) => unknown[];

const cache = new Map<string, Compiled | Error>();

function compiled(base: string, expression: string): Compiled | Error {
  const key = `${base}\u0000${expression}`;
  let fn = cache.get(key);
  if (!fn) {
    try {
      fn = compileFhirPath({ base, expression }) as unknown as Compiled;
    } catch (e) {
      fn = e as Error;
    }
    cache.set(key, fn);
  }
  return fn;
}

type Json = Record<string, unknown>;
const has = (v: Json, key: string) => v[key] !== undefined;
const hasValueX = (v: Json) => Object.keys(v).some((k) => k.startsWith('value') && /^[A-Z]/.test(k.charAt(5)));

/**
 * The R4 invariants that sit on nearly every element (every extension, every resource, every
 * Reference...), decided in plain JS: through fhirpath.js they were four fifths of the time of a
 * validation. Each stands only for its exact R4 expression (a profile that redefines the key with
 * another expression goes to fhirpath), and answers undefined to hand a case it does not cover
 * (a resource with contained resources, a local reference) to fhirpath.
 */
const NATIVE: Record<string, (v: Json) => boolean | undefined> = {
  'extension.exists() != value.exists()': (v) => (Array.isArray(v.extension) && v.extension.length > 0) !== hasValueX(v), // ext-1
  'contained.contained.empty()': (v) => (has(v, 'contained') ? undefined : true), // dom-2
  'contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()': (v) => (has(v, 'contained') ? undefined : true), // dom-4
  'contained.meta.security.empty()': (v) => (has(v, 'contained') ? undefined : true), // dom-5
  'text.`div`.exists()': (v) => typeof (v.text as Json | undefined)?.div === 'string', // dom-6
  'code.empty() or system.exists()': (v) => !has(v, 'code') || has(v, 'system'), // qty-3
  'value.empty() or system.exists()': (v) => !has(v, 'value') || has(v, 'system'), // cpt-2
  'data.empty() or contentType.exists()': (v) => !has(v, 'data') || has(v, 'contentType'), // att-1
  'comparator.empty()': (v) => !has(v, 'comparator'), // sqty-1
  "start.hasValue().not() or end.hasValue().not() or (start <= end)": (v) => (has(v, 'start') && has(v, 'end') ? undefined : true), // per-1
  "reference.startsWith('#').not() or (reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids'))": // ref-1
    (v) => (typeof v.reference === 'string' && v.reference.startsWith('#') ? undefined : true),
};
const DOM_3_START = "contained.where((('#'+id in (%resource.descendants().reference"; // dom-3: only about contained resources

/** true: holds; false: violated; an Error: could not be evaluated. */
export function evaluateInvariant(base: string, expression: string, data: unknown, resource: unknown): boolean | Error {
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    const native = NATIVE[expression];
    const quick = native ? native(data as Json) : expression.startsWith(DOM_3_START) && !has(data as Json, 'contained') ? true : undefined;
    if (quick !== undefined) return quick;
  }
  const fn = compiled(base, expression);
  if (fn instanceof Error) return fn;
  try {
    const result = fn(data, { resource, rootResource: resource });
    // An empty result means the expression does not apply here; only an explicit false fails.
    return !(result.length === 1 && result[0] === false);
  } catch (e) {
    return e as Error;
  }
}
