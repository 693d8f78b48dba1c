import { isResourceType } from '../fhir/definitions.js';
import { FHIR_ID_SOURCE } from '../fhir/id.js';

/** A reference or canonical split into the parts the index and the query side compare. */
export interface ParsedReference {
  targetType: string | null;
  targetId: string | null;
  targetVersion: string | null;
  /** The absolute URL (or canonical, without |version); null for relative references. */
  url: string | null;
}

// Type/id with an optional /_history/vid, at the end of the text (id syntax from R4 datatypes).
const TAIL = new RegExp(`(?:^|/)([A-Z][A-Za-z]+)/(${FHIR_ID_SOURCE})(?:/_history/(${FHIR_ID_SOURCE}))?$`);
const ABSOLUTE = /^[a-z][a-z0-9+.-]*:/i;

/**
 * Parses Reference.reference text: 'Patient/1', 'Patient/1/_history/2', or an absolute URL.
 * Only a relative reference names a resource on this server (targetType/targetId). An absolute URL
 * is kept whole in `url` and nothing more: 'https://other.example/fhir/Patient/1' is somebody
 * else's Patient 1, and treating its tail as local would put foreign records into our
 * compartments, chains and includes. (Clients write local references relative; transactions
 * rewrite fullUrls to relative ones.)
 * Returns undefined for contained ('#x') references: they have no target outside the resource.
 */
export function parseReference(text: string): ParsedReference | undefined {
  if (text === '' || text.startsWith('#')) return undefined;
  if (ABSOLUTE.test(text)) return { targetType: null, targetId: null, targetVersion: null, url: text };
  const m = TAIL.exec(text);
  if (m && isResourceType(m[1]) && m.index === 0) {
    return { targetType: m[1], targetId: m[2], targetVersion: m[3] ?? null, url: null };
  }
  return undefined;
}

/**
 * Parses a canonical (or uri used as a reference): 'http://x/ValueSet/vs|1.2' -> url without the
 * version, targetVersion '1.2'. As for references, only a relative 'Type/id' names a local target.
 */
export function parseCanonical(text: string): ParsedReference | undefined {
  const bar = text.lastIndexOf('|');
  const url = bar < 0 ? text : text.slice(0, bar);
  const version = bar < 0 ? null : text.slice(bar + 1) || null;
  if (url === '') return undefined;
  const m = TAIL.exec(url);
  const typed = m !== null && isResourceType(m[1]) && m.index === 0 && !ABSOLUTE.test(url);
  return {
    targetType: typed ? m[1] : null,
    targetId: typed ? m[2] : null,
    targetVersion: version,
    url,
  };
}
