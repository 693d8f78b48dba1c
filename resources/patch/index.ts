import type { Resource } from 'fhir/r4.js';
import { applyFhirPathPatch } from './fhirpath-patch.js';
import { applyJsonPatch } from './json-patch.js';

export { applyJsonPatch, parseJsonPatch } from './json-patch.js';
export { applyFhirPathPatch, parseFhirPathPatch } from './fhirpath-patch.js';
export type { FhirPathPatchOperation } from './fhirpath-patch.js';

/**
 * The body of a FHIR patch interaction, already told apart by media type:
 * `application/json-patch+json` → json-patch; a Parameters resource
 * (`application/fhir+json`) → fhirpath-patch.
 */
export type PatchBody =
  | { kind: 'json-patch'; operations: unknown }
  | { kind: 'fhirpath-patch'; parameters: unknown };

/**
 * Applies a patch and returns a new resource; `resource` is never changed. Throws FhirError: 400
 * for a malformed patch document, 422 for one that cannot be applied. All or nothing. The result
 * is not validated here: the engine validates it, re-stamps meta and checks the id is unchanged.
 */
export function applyPatch(resource: Resource, body: PatchBody): Resource {
  switch (body.kind) {
    case 'json-patch':
      return applyJsonPatch(resource, body.operations);
    case 'fhirpath-patch':
      return applyFhirPathPatch(resource, body.parameters);
    default:
      throw new TypeError(`unknown patch kind ${(body as { kind: unknown }).kind}`);
  }
}
