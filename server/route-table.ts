import type { Request, Response } from 'express';
import { errors } from '../fhir/errors.js';
import type { FhirInteraction, FhirRequest } from '../fhir/request.js';
import type { AccessNeed } from '../resources/module.js';
import type { RequestContext } from './context.js';

/**
 * The route table: one row per thing the FHIR API does. A row names the interaction it serves
 * (and, for operations, which), what the access decision must allow before it runs, and its
 * handler. Module rows (resources/module.ts) come first and may pass a request on (`when`); the
 * generic rows come last. The CapabilityStatement reads the same table.
 */

/** One request being served: the HTTP exchange, its context and its parsed FHIR request. */
export interface Exchange {
  req: Request;
  res: Response;
  ctx: RequestContext;
  request: FhirRequest;
  /** The FHIR base the client used (or BASE_URL). */
  base: string;
}

/**
 * What a row needs from the access decision before its handler runs:
 * - 'public': nothing (no token either), e.g. /metadata;
 * - 'admin': a full system/*.cruds grant;
 * - 'bundle': each entry is decided on its own, before any runs;
 * - 'by-body': the handler asks once it has read what the body wants (custom operations);
 * - a function: the permission the parsed request needs.
 */
export type RouteAccess = 'public' | 'admin' | 'bundle' | 'by-body' | ((request: FhirRequest) => AccessNeedOrSystem);

/** A need as AccessNeed, or a system-level read of many types (search-system, history-system). */
export type AccessNeedOrSystem = AccessNeed | { interaction: 'search-system' | 'history-system' | 'read' | 'vread' | 'history-instance' | 'history-type' | 'patch' | 'delete'; resourceTypes: string[] };

/** What each interaction needs by default: its own permission on the request's type (R4 → SMART letters in auth/access.ts). */
export function defaultAccess(interaction: FhirInteraction): RouteAccess {
  switch (interaction) {
    case 'capabilities': return 'public';
    case 'batch-or-transaction': return 'bundle';
    case 'search-compartment': return (r) => ({ interaction: 'search-type', resourceTypes: [r.type!] });
    case 'search-system': case 'history-system': throw new Error(`${interaction} has no default access: the row names its types`);
    default: return (r) => ({ interaction, resourceTypes: [r.type!] } as AccessNeedOrSystem);
  }
}

export interface Route {
  interaction: FhirInteraction;
  /** Operations (and capabilities): whether the row serves the request's operation, level and type. */
  serves?(request: FhirRequest): boolean;
  /** The methods it answers (HEAD counts as GET); absent: those the parser admitted. */
  methods?: readonly string[];
  access: RouteAccess;
  /** A module row that takes only some requests: false passes the request to the next row. */
  when?(x: Exchange): boolean;
  handle(x: Exchange): Promise<void> | void;
}

/** The rows that may serve a request, in order, and what the first of them needs. */
export interface Resolved {
  rows: Route[];
  access: RouteAccess;
  /** When `access` is a function: the permission this request needs, worked out once (access decision and audit read it). */
  need?: AccessNeedOrSystem;
}

/** Finds the rows for a parsed request: 404 for an unknown operation, 405 for a method a row does not answer. */
export function resolve(table: readonly Route[], request: FhirRequest): Resolved {
  const rows = table.filter((r) => r.interaction === request.interaction && (r.serves?.(request) ?? true));
  if (rows.length === 0) {
    if (request.interaction === 'operation') {
      const where = request.level === 'system' ? 'the system level' : request.level === 'type' ? request.type : `${request.type} instances`;
      throw errors.notFound(`Unknown operation $${request.operation} on ${where}: this server does not implement it (see the CapabilityStatement)`);
    }
    throw errors.notFound(`No FHIR endpoint serves ${request.interaction}`);
  }
  const method = request.method === 'HEAD' ? 'GET' : request.method;
  const allowed = rows.filter((r) => r.methods === undefined || r.methods.includes(method));
  if (allowed.length === 0) {
    const allow = [...new Set(rows.flatMap((r) => r.methods ?? []))];
    const name = request.operation ? `$${request.operation}` : request.interaction === 'capabilities' ? 'metadata' : request.interaction;
    throw errors.methodNotAllowed(`${request.method} is not supported on ${name}`, allow);
  }
  const { access } = allowed[0];
  return typeof access === 'function' ? { rows: allowed, access, need: access(request) } : { rows: allowed, access };
}

/** Runs the first row that takes the exchange. */
export async function dispatch(resolved: Resolved, x: Exchange): Promise<void> {
  for (const row of resolved.rows) {
    if (row.when && !row.when(x)) continue;
    await row.handle(x);
    return;
  }
  throw errors.notFound(`No FHIR endpoint serves ${x.request.method} ${x.request.interaction}`);
}
