import type { Request } from 'express';
import { errors } from '../fhir/errors.js';

/**
 * Content negotiation: vertebra speaks FHIR JSON; a client that can only take XML (or anything
 * else) gets 406.
 */
const FHIR_JSON = 'application/fhir+json';
const JSON_TYPES = new Set([FHIR_JSON, 'application/json', 'text/json', 'json']);
const XML_TYPES = new Set(['application/fhir+xml', 'application/xml', 'text/xml', 'xml', 'html', 'text/html', 'ttl', 'application/x-turtle', 'text/turtle']);

/** Decides the response media type from _format (which wins) or Accept; throws 406. */
export function negotiate(req: Request): string {
  const format = req.query._format;
  if (format !== undefined) {
    const f = String(format).split(';')[0].trim().toLowerCase();
    if (JSON_TYPES.has(f)) return f === 'application/json' ? 'application/json' : FHIR_JSON;
    throw errors.notAcceptable(XML_TYPES.has(f) ? `_format '${f}' is not supported: vertebra serves FHIR JSON only` : `Unknown _format '${f}'`);
  }
  const accept = req.get('accept');
  if (!accept) return FHIR_JSON;
  let acceptable = false;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (params.some((p) => /^q=0(\.0*)?$/.test(p))) continue;
    if (type === 'application/json') return 'application/json';
    if (JSON_TYPES.has(type) || type === '*/*' || type === 'application/*' || type === 'text/*') acceptable = true;
  }
  if (!acceptable) throw errors.notAcceptable(`None of the accepted media types (${accept}) can be served: vertebra serves ${FHIR_JSON}`);
  return FHIR_JSON;
}

