import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';

/**
 * Evaluates a FHIRPath expression (an assert's or variable's `expression`, or its `path`, which
 * the runner treats as FHIRPath over the JSON) against a resource. Throws with a readable message
 * when the expression is not valid or the path is XPath (the runner speaks JSON only).
 */
export function evaluatePath(resource: unknown, expression: string): unknown[] {
  const trimmed = expression.trim();
  if (trimmed.startsWith('/') || trimmed.startsWith('f:') || trimmed.includes('/f:')) {
    throw new Error(`XPath is not supported (JSON only): ${expression}`);
  }
  // JSONPath-style '$.a.b' is read as FHIRPath 'a.b' relative to the root.
  const expr = trimmed.startsWith('$.') ? trimmed.slice(2) : trimmed;
  if (resource === undefined || resource === null) return [];
  try {
    const result = fhirpath.evaluate(resource, expr, undefined, r4);
    return Array.isArray(result) ? result : [result];
  } catch (e) {
    throw new Error(`cannot evaluate '${expression}': ${(e as Error).message}`);
  }
}

/** A FHIRPath result as text: primitives as themselves, objects as JSON. */
export function asText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}
