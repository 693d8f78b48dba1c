import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { AccessDecision, AccessRequest, Grant } from '../auth/access.js';
import type { FhirRequest } from '../fhir/request.js';
import { ANONYMOUS, type Requester } from '../fhir/requester.js';
import { negotiate } from './negotiate.js';

/**
 * The request context: everything the pipeline learns about one request, created once at the
 * edge and passed explicitly from there on (parse → context → access → route → engine/module →
 * audit). This file is the only one that ties it to the HTTP exchange: `contextOf(res)` is for
 * the few places that only hold the response (the error handler, the byte writer); everything
 * else receives the context as a parameter.
 */
export interface RequestContext {
  /** X-Request-ID: the client's UUID, or a new one. */
  requestId: string;
  /** The negotiated response media type (406 was thrown at the edge when none fits). */
  mediaType: string;
  /** The FHIR request, parsed once (absent outside /fhir and when the path names no endpoint). */
  request?: FhirRequest;
  /** Who asks: ANONYMOUS until a token is verified, and for every request with AUTH=off. */
  who: Requester;
  /** A token was verified (AUTH=smart). */
  authenticated: boolean;
  /** The token's scopes and launch context, for the access decision. */
  grant?: Grant;
  /** The access decision for the request's own path, with its restrictions. */
  access?: Access;
  /** Decides another access request on the same grant (Bundle entries, operations, module calls). */
  decide?: (request: AccessRequest) => AccessDecision;
}

/** An allowed request's decision and the grant it was made on. */
export interface Access {
  grant: Grant;
  decision: Extract<AccessDecision, { allow: true }>;
}

const contexts = new WeakMap<Response, RequestContext>();

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Correlation ids are the client's; accept any short token of visible ASCII, as the NHS APIs do. */
const CORRELATION = /^[\x21-\x7e]{1,200}$/;

/**
 * The edge: X-Request-ID (echoed when the client sent a UUID, the NHS API convention, otherwise
 * new), X-Correlation-ID (echoed when sane), the media type (406 when the client takes nothing
 * vertebra makes) and the context every later step reads.
 */
export function beginContext(req: Request, res: Response, next: NextFunction): void {
  const sent = req.get('x-request-id');
  const requestId = sent && UUID.test(sent) ? sent : randomUUID();
  res.setHeader('X-Request-ID', requestId);
  const correlation = req.get('x-correlation-id');
  if (correlation && CORRELATION.test(correlation)) res.setHeader('X-Correlation-ID', correlation);
  const context: RequestContext = { requestId, mediaType: 'application/fhir+json', who: ANONYMOUS, authenticated: false };
  contexts.set(res, context);
  context.mediaType = negotiate(req);
  next();
}

/** The context of a response; a bare one if the edge did not run (it always does in createApp). */
export function contextOf(res: Response): RequestContext {
  let context = contexts.get(res);
  if (!context) contexts.set(res, context = { requestId: randomUUID(), mediaType: 'application/fhir+json', who: ANONYMOUS, authenticated: false });
  return context;
}
