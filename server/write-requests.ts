import type { Request } from 'express';
import { errors } from '../fhir/errors.js';
import type { Criteria, PatchBody } from '../resources/engine.js';

/**
 * Reading the parts of a write request that are not a plain resource body: the criteria of a
 * conditional interaction (URL query or If-None-Exist) and a PATCH document.
 */

/** Parameters that shape the response, never part of conditional criteria. */
const NOT_CRITERIA = new Set(['_format', '_pretty', '_summary', '_elements']);

/** Conditional criteria from a query string (`identifier=a|b&active=true`), in order. */
export function criteriaFrom(query: string): Criteria {
  return [...new URLSearchParams(query.startsWith('?') ? query.slice(1) : query)].filter(([k]) => !NOT_CRITERIA.has(k));
}

/** The criteria in the request URL of `PUT/PATCH/DELETE Type?criteria`. */
export function urlCriteria(req: Request): Criteria {
  const q = req.originalUrl.indexOf('?');
  return q < 0 ? [] : criteriaFrom(req.originalUrl.slice(q + 1));
}

/** If-None-Exist (R4 http.html#ccreate): a query string without the `?`, or undefined. */
export function ifNoneExist(req: Request): Criteria | undefined {
  const header = req.get('if-none-exist');
  if (header === undefined) return undefined;
  // Clients send it either bare (identifier=x) or as a URL (Patient?identifier=x).
  const q = header.indexOf('?');
  const criteria = criteriaFrom(q < 0 ? header : header.slice(q + 1));
  if (criteria.length === 0) throw errors.badRequest('If-None-Exist must carry search criteria');
  return criteria;
}

/**
 * A PATCH body (R4 http.html#patch): JSON Patch (application/json-patch+json), or FHIRPath Patch
 * (a Parameters resource as application/fhir+json). XML Patch is not supported (415).
 */
export function patchBody(req: Request): PatchBody {
  const raw = req.body as Buffer | undefined;
  if (!Buffer.isBuffer(raw) || raw.length === 0) throw errors.badRequest('A PATCH needs a body');
  const type = (req.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
  let parsed: unknown;
  const parse = () => {
    try {
      return JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw errors.badRequest(`The body is not valid JSON: ${(e as Error).message}`);
    }
  };
  switch (type) {
    case 'application/json-patch+json':
      parsed = parse();
      return { kind: 'json-patch', operations: parsed };
    case 'application/fhir+json':
    case 'application/json':
      parsed = parse();
      if ((parsed as { resourceType?: unknown })?.resourceType !== 'Parameters') {
        throw errors.badRequest('A FHIR JSON PATCH body must be a Parameters resource (FHIRPath Patch)');
      }
      return { kind: 'fhirpath-patch', parameters: parsed };
    default:
      throw errors.unsupportedMediaType(`PATCH takes application/json-patch+json or a FHIRPath Patch Parameters as application/fhir+json, not '${type || 'none'}'`);
  }
}
