import type { Coding, Resource } from 'fhir/r4.js';
import { errors } from '../fhir/errors.js';
import { resourceTypes } from '../fhir/definitions.js';

/**
 * _summary and _elements (R4 search.html#summary, #elements): return a subset of each resource,
 * marked with the SUBSETTED tag so a client never mistakes it for the whole resource.
 * Subsetting works on top-level elements; a kept element is kept whole.
 */
export type SummaryMode = 'true' | 'text' | 'data' | 'count' | 'false';

export interface Subsetting {
  summary?: SummaryMode;
  /** Top-level element names requested by _elements. */
  elements?: string[];
}

const SUBSETTED: Coding = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };
const SUMMARY_MODES = new Set(['true', 'text', 'data', 'count', 'false']);
const ALWAYS_KEPT = ['resourceType', 'id', 'meta'];

/** Reads _summary and _elements from query parameters; invalid values are a 400. */
export function parseSubsetting(query: Record<string, unknown>): Subsetting {
  const out: Subsetting = {};
  const summary = single(query, '_summary');
  if (summary !== undefined) {
    if (!SUMMARY_MODES.has(summary)) throw errors.badRequest(`_summary must be one of true, text, data, count, false (got '${summary}')`);
    out.summary = summary as SummaryMode;
  }
  const elements = single(query, '_elements');
  if (elements !== undefined) {
    out.elements = elements.split(',').map((e) => e.trim()).filter((e) => e.length > 0);
    if (out.summary !== undefined && out.summary !== 'false') throw errors.badRequest('_summary and _elements cannot be combined');
  }
  return out;
}

function single(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw errors.badRequest(`${name} may be given only once`);
  return v;
}

export function isSubsetting(s: Subsetting): boolean {
  return (s.summary !== undefined && s.summary !== 'false') || s.elements !== undefined;
}

/** Applies the subsetting to one resource (a new object; the input is not changed). */
export function subset(resource: Resource, s: Subsetting): Resource {
  if (!isSubsetting(s)) return resource;
  const info = resourceTypes().get(resource.resourceType);
  const mandatory = info?.mandatoryElements ?? new Set<string>();
  let keep: (name: string) => boolean;
  switch (s.summary) {
    case 'true':
      keep = (n) => ALWAYS_KEPT.includes(n) || mandatory.has(n) || (n !== 'text' && (info?.summaryElements.has(n) ?? false));
      break;
    case 'text':
      keep = (n) => ALWAYS_KEPT.includes(n) || n === 'text' || mandatory.has(n);
      break;
    case 'data':
      keep = (n) => n !== 'text';
      break;
    default: {
      const wanted = new Set(s.elements);
      keep = (n) => ALWAYS_KEPT.includes(n) || mandatory.has(n) || wanted.has(n);
    }
  }
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(resource)) {
    // A primitive's extension (_birthDate) follows its value (birthDate).
    if (keep(name.startsWith('_') ? name.slice(1) : name)) out[name] = value;
  }
  const meta = { ...(resource.meta ?? {}) };
  meta.tag = [...(meta.tag ?? []).filter((t) => !(t.system === SUBSETTED.system && t.code === SUBSETTED.code)), SUBSETTED];
  out.meta = meta;
  return out as unknown as Resource;
}
