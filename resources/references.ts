import type { Resource } from 'fhir/r4.js';
import { isResourceType } from '../fhir/definitions.js';
import { errors } from '../fhir/errors.js';
import type { Criteria } from './hooks.js';

/**
 * Rewrites the references of a transaction entry's resource (R4 http.html#trules): a reference to
 * another entry's fullUrl (urn:uuid:, urn:oid: or any URL) becomes that entry's 'Type/id', and a
 * conditional reference (`Patient?identifier=...`) becomes the one resource it matches. Every
 * `reference` in the tree is visited, so those inside extensions, backbone elements and contained
 * resources are rewritten too. The resource is changed in place.
 */
export async function rewriteReferences(
  resource: Resource,
  ids: ReadonlyMap<string, string>,
  resolveConditional: (resourceType: string, criteria: Criteria) => Promise<string>,
  baseUrl: string,
): Promise<void> {
  const visit = async (node: unknown): Promise<void> => {
    if (Array.isArray(node)) {
      for (const item of node) await visit(item);
      return;
    }
    if (typeof node !== 'object' || node === null) return;
    const record = node as Record<string, unknown>;
    for (const [key, value] of Object.entries(record)) {
      if (key === 'reference' && typeof value === 'string') record.reference = await rewrite(value);
      else if (typeof value === 'object') await visit(value);
    }
  };
  const rewrite = async (reference: string): Promise<string> => {
    // A relative reference may name an entry whose fullUrl is absolute under this server's base.
    const mapped = ids.get(reference) ?? (/^[A-Za-z]+\/[^/]+$/.test(reference) ? ids.get(`${baseUrl}/${reference}`) : undefined);
    if (mapped) return mapped;
    if (reference.startsWith('urn:uuid:') || reference.startsWith('urn:oid:')) {
      throw errors.badRequest(`The reference '${reference}' names no entry of this transaction`);
    }
    const conditional = /^([A-Za-z]+)\?(.*)$/.exec(reference);
    if (conditional && isResourceType(conditional[1])) {
      const criteria = [...new URLSearchParams(conditional[2])];
      return `${conditional[1]}/${await resolveConditional(conditional[1], criteria)}`;
    }
    return reference;
  };
  await visit(resource);
}
