import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';

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
      fn = fhirpath.compile({ base, expression }, r4 as never, { traceFn: () => undefined } as never) as unknown as Compiled;
    } catch (e) {
      fn = e as Error;
    }
    cache.set(key, fn);
  }
  return fn;
}

/** true: holds; false: violated; an Error: could not be evaluated. */
export function evaluateInvariant(base: string, expression: string, data: unknown, resource: unknown): boolean | Error {
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
