import { isResourceType } from '../fhir/definitions.js';

/** A reference or canonical split into the parts the index and the query side compare. */
export interface ParsedReference {
  targetType: string | null;
  targetId: string | null;
  targetVersion: string | null;
  /** The absolute URL (or canonical, without |version); null for relative references. */
  url: string | null;
}

// Type/id with an optional /_history/vid, at the end of the text (id syntax from R4 datatypes).
const TAIL = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([A-Za-z0-9\-.]{1,64}))?$/;
const ABSOLUTE = /^[a-z][a-z0-9+.-]*:/i;

/**
 * Parses Reference.reference text: 'Patient/1', 'Patient/1/_history/2', or an absolute URL (kept
 * whole in url, with its trailing Type/id parsed too when Type is an R4 resource type, so a search
 * by id also finds references written with the server's own base URL).
 * Returns undefined for contained ('#x') references: they have no target outside the resource.
 */
export function parseReference(text: string): ParsedReference | undefined {
  if (text === '' || text.startsWith('#')) return undefined;
  const absolute = ABSOLUTE.test(text);
  const m = TAIL.exec(text);
  if (m && isResourceType(m[1]) && (absolute || m.index === 0)) {
    return { targetType: m[1], targetId: m[2], targetVersion: m[3] ?? null, url: absolute ? text : null };
  }
  return absolute ? { targetType: null, targetId: null, targetVersion: null, url: text } : undefined;
}

/**
 * Parses a canonical (or uri used as a reference): 'http://x/ValueSet/vs|1.2' -> url without the
 * version, targetVersion '1.2'. The trailing Type/id is parsed as for absolute references.
 */
export function parseCanonical(text: string): ParsedReference | undefined {
  const bar = text.lastIndexOf('|');
  const url = bar < 0 ? text : text.slice(0, bar);
  const version = bar < 0 ? null : text.slice(bar + 1) || null;
  if (url === '') return undefined;
  const m = TAIL.exec(url);
  const typed = m !== null && isResourceType(m[1]) && (m.index === 0 || ABSOLUTE.test(url));
  return {
    targetType: typed ? m[1] : null,
    targetId: typed ? m[2] : null,
    targetVersion: version,
    url,
  };
}
