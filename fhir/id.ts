/**
 * The FHIR id syntax (R4 datatypes.html#id: `[A-Za-z0-9\-\.]{1,64}`), defined once: the source
 * text to build larger patterns from (references, URLs), and the whole-string test.
 */
export const FHIR_ID_SOURCE = '[A-Za-z0-9\\-.]{1,64}';

/** A whole string that is a FHIR id. */
export const FHIR_ID = new RegExp(`^${FHIR_ID_SOURCE}$`);

const referencePatterns = new Map<string, RegExp>();

/**
 * The id a reference names when it is to a `type` resource: 'Type/id', relative or as the tail of
 * an absolute URL (`(?:^|/)Type/(id)$`); undefined for anything else.
 */
export function referencedId(reference: string | undefined, type: string): string | undefined {
  if (reference === undefined) return undefined;
  let pattern = referencePatterns.get(type);
  if (!pattern) {
    pattern = new RegExp(`(?:^|/)${type}/(${FHIR_ID_SOURCE})$`);
    referencePatterns.set(type, pattern);
  }
  return pattern.exec(reference)?.[1];
}
