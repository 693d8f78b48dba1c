import type { Request, Response } from 'express';
import { errors } from '../fhir/errors.js';
import { contextOf } from './context.js';

/**
 * The bytes of a FHIR response, and the body of a request. vertebra speaks FHIR JSON; a body in
 * another format gets 415 (what the client accepts is negotiated at the edge: negotiate.ts).
 */
const FHIR_JSON = 'application/fhir+json';

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
  res.setHeader('Content-Type', `${contextOf(res).mediaType}; charset=utf-8`);
  res.send(text);
}
