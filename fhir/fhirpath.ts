import fhirpath, { type Path } from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';

/** fhirpath.js's R4 model: the types, choice paths and repeating elements it evaluates with. */
export const FHIRPATH_MODEL = r4;

/**
 * The options of every FHIRPath compile in vertebra. Expressions come from clients
 * (SearchParameter resources, FHIRPath Patch paths, invariants of posted StructureDefinitions):
 * fhirpath's trace() would print their data to the server's stdout, so traces go nowhere. Results
 * keep fhirpath.js's internal types (ResourceNodes carry the FHIR type); callers resolve them.
 */
export const FHIRPATH_OPTIONS = { resolveInternalTypes: false, traceFn: () => undefined };

/** Compiles an expression (or a `{ base, expression }` relative to a path) over the R4 model; throws when it does not parse. */
export function compileFhirPath(path: string | Path) {
  return fhirpath.compile(path, FHIRPATH_MODEL, FHIRPATH_OPTIONS);
}
