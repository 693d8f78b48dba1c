import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Correlation ids are the client's; accept any short token of visible ASCII, as the NHS APIs do. */
const CORRELATION = /^[\x21-\x7e]{1,200}$/;

/**
 * X-Request-ID: echoed when the client sent a UUID (NHS API convention), otherwise a new UUID.
 * X-Correlation-ID: echoed unchanged when present and sane.
 */
export function requestIds(req: Request, res: Response, next: NextFunction): void {
  const sent = req.get('x-request-id');
  const requestId = sent && UUID.test(sent) ? sent : randomUUID();
  res.locals.requestId = requestId;
  res.setHeader('X-Request-ID', requestId);
  const correlation = req.get('x-correlation-id');
  if (correlation && CORRELATION.test(correlation)) res.setHeader('X-Correlation-ID', correlation);
  next();
}
