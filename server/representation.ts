import type { Request, Response } from 'express';
import { errors } from '../fhir/errors.js';

/**
 * Content negotiation and the bytes of a FHIR response. vertebra speaks FHIR JSON; a client that
 * can only take XML (or anything else) gets 406, a body in another format gets 415.
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

export function isPretty(req: Request): boolean {
  return req.query._pretty === 'true';
}

/** The request body as JSON, checking its media type (415) and syntax (400). */
export function jsonBody(req: Request): unknown {
  const raw = req.body as Buffer | undefined;
  if (!Buffer.isBuffer(raw) || raw.length === 0) throw errors.badRequest('A request body is required');
  const contentType = req.get('content-type');
  if (!contentType) throw errors.unsupportedMediaType(`Content-Type is required: send ${FHIR_JSON}`);
  const [type, ...params] = contentType.split(';').map((s) => s.trim().toLowerCase());
  if (type !== FHIR_JSON && type !== 'application/json') {
    throw errors.unsupportedMediaType(`Content-Type '${type}' is not supported: send ${FHIR_JSON}`);
  }
  const charset = params.find((p) => p.startsWith('charset='));
  if (charset && !/^charset="?utf-8"?$/.test(charset)) throw errors.unsupportedMediaType('Only UTF-8 bodies are accepted');
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw errors.badRequest(`The body is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Writes a FHIR JSON body. `body` may be an object or stored JSON text; text is sent as is
 * (the fast path for reads) unless the client asked for _pretty.
 */
export function sendFhir(req: Request, res: Response, status: number, body: object | string | undefined): void {
  res.status(status);
  if (body === undefined) {
    res.end();
    return;
  }
  const pretty = isPretty(req);
  let text: string;
  if (typeof body === 'string') text = pretty ? JSON.stringify(JSON.parse(body), null, 2) : body;
  else text = pretty ? JSON.stringify(body, null, 2) : JSON.stringify(body);
  res.setHeader('Content-Type', `${res.locals.mediaType ?? FHIR_JSON}; charset=utf-8`);
  res.send(text);
}
