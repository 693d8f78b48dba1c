import { isResourceType } from './definitions.js';
import { errors, FhirError } from './errors.js';

/**
 * The one FHIR request parser (R4 http.html). An HTTP method and a path relative to the FHIR base
 * become a FhirRequest: which interaction, at which level, on which type, id, version,
 * compartment or operation. The HTTP edge (server/), Bundle entries (resources/bundle.ts) and the
 * access decision and audit trail (which read the value the edge parsed) all see the same value,
 * so they cannot disagree about what `/Patient/x/$everything` or `/Patient/_history` is.
 *
 * It decides the shape only. Whether an operation exists, and whether an id is valid for its type
 * (an NHS number for Patient), is for the route table and the engine to say.
 */

export type FhirInteraction =
  | 'capabilities'
  | 'read' | 'vread' | 'update' | 'patch' | 'delete'
  | 'history-instance' | 'history-type' | 'history-system'
  | 'create' | 'search-type' | 'search-system' | 'search-compartment'
  /** `POST [base]` with a Bundle: batch or transaction, as the Bundle's type says. */
  | 'batch-or-transaction'
  | 'operation';

export type FhirLevel = 'system' | 'type' | 'instance';

export interface FhirRequest {
  /** The HTTP method, upper case; HEAD is kept (it is answered as GET without a body). */
  method: string;
  interaction: FhirInteraction;
  level: FhirLevel;
  /** The resource type; for a compartment search, the type searched. */
  type?: string;
  id?: string;
  /** vread: the version in the path. */
  version?: string;
  /** A compartment search: the compartment's type and id (`Patient/9000000009/Observation`). */
  compartment?: { type: string; id: string };
  /** An operation's name, without the `$`. */
  operation?: string;
  /** Conditional update, patch or delete: addressed by search criteria (`PUT Type?criteria`). */
  conditional?: boolean;
  /** `POST _search`: parameters also come in the form body. */
  searchInBody?: boolean;
  /** The query string as sent, without the `?` ('' when none). */
  query: string;
}

/** What a refused path still names (its type, id and version), so that the refusal can be audited against it. */
export interface PathTarget {
  type?: string;
  id?: string;
  version?: string;
}

/** The parser's refusal of a path, with what the path names. */
export class RefusedRequest extends FhirError {
  constructor(cause: FhirError, readonly target: PathTarget) {
    super(cause.status, cause.issues, cause.headers);
  }
}

/** The methods each path shape answers, for a 405's Allow header. */
const ALLOW = {
  base: ['GET', 'POST'],
  get: ['GET'],
  post: ['POST'],
  type: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
  instance: ['GET', 'PUT', 'PATCH', 'DELETE'],
} as const;

/** The method as the shapes are written: HEAD is a GET without a body. */
function asGet(method: string): string {
  return method === 'HEAD' ? 'GET' : method;
}

function notAllowed(method: string, path: string, allow: readonly string[]): never {
  throw errors.methodNotAllowed(`${method} is not supported on ${path}`, [...allow]);
}

/** The decoded segments of a path; 400 for a malformed percent-escape (`%E0%A4%A`). */
function segmentsOf(path: string): string[] {
  try {
    return path.split('/').filter((s) => s !== '').map(decodeURIComponent);
  } catch {
    throw errors.badRequest('The request path has a malformed percent-escape');
  }
}

function operationName(segment: string | undefined): string | undefined {
  return segment !== undefined && segment.startsWith('$') && segment.length > 1 ? segment.slice(1) : undefined;
}

function assertType(type: string): void {
  if (!isResourceType(type)) throw errors.notFound(`Unknown resource type '${type}'`);
}

/**
 * Parses `method path?query` (path relative to the FHIR base, with or without a leading `/`).
 * Throws a FhirError: 400 for a malformed escape, 404 for a path that names no FHIR endpoint or
 * an unknown resource type, 405 (with Allow) for a method the path does not answer.
 */
export function parseFhirRequest(method: string, pathAndQuery: string): FhirRequest {
  const q = pathAndQuery.indexOf('?');
  const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = q < 0 ? '' : pathAndQuery.slice(q + 1);
  const segments = segmentsOf(path);
  try {
    return parseSegments(method, segments, query, `/${path.replace(/^\/+/, '')}`);
  } catch (error) {
    if (!(error instanceof FhirError)) throw error;
    const [a, b, c, d] = segments;
    const target: PathTarget = {};
    if (a !== undefined && isResourceType(a)) {
      target.type = a;
      if (b !== undefined && !b.startsWith('_') && !b.startsWith('$')) {
        target.id = b;
        if (c === '_history' && d !== undefined) target.version = d;
      }
    }
    throw new RefusedRequest(error, target);
  }
}

function parseSegments(method: string, segments: string[], query: string, shown: string): FhirRequest {
  const m = asGet(method);
  const [a, b, c, d, ...rest] = segments;
  const at = (interaction: FhirInteraction, level: FhirLevel, more: Partial<FhirRequest> = {}): FhirRequest =>
    ({ method, interaction, level, query, ...more });
  const noEndpoint = (): never => { throw errors.notFound(`No FHIR endpoint at ${shown}`); };
  if (rest.length) noEndpoint();

  if (a === undefined) {
    if (m === 'GET') return at('search-system', 'system');
    if (m === 'POST') return at('batch-or-transaction', 'system');
    return notAllowed(method, shown, ALLOW.base);
  }
  if (b === undefined) {
    const operation = operationName(a);
    if (operation) return at('operation', 'system', { operation });
    // Any method: the capabilities route answers 405 for all but GET, without asking for a token.
    if (a === 'metadata') return at('capabilities', 'system');
    if (a === '_search') return m === 'POST' ? at('search-system', 'system', { searchInBody: true }) : notAllowed(method, shown, ALLOW.post);
    if (a === '_history') return m === 'GET' ? at('history-system', 'system') : notAllowed(method, shown, ALLOW.get);
    assertType(a);
    const type = { type: a };
    switch (m) {
      case 'GET': return at('search-type', 'type', type);
      case 'POST': return at('create', 'type', type);
      case 'PUT': return at('update', 'type', { ...type, conditional: true });
      case 'PATCH': return at('patch', 'type', { ...type, conditional: true });
      case 'DELETE': return at('delete', 'type', { ...type, conditional: true });
      default: return notAllowed(method, shown, ALLOW.type);
    }
  }
  assertType(a);
  if (c === undefined) {
    const operation = operationName(b);
    if (operation) return at('operation', 'type', { type: a, operation });
    if (b === '_search') return m === 'POST' ? at('search-type', 'type', { type: a, searchInBody: true }) : notAllowed(method, shown, ALLOW.post);
    if (b === '_history') return m === 'GET' ? at('history-type', 'type', { type: a }) : notAllowed(method, shown, ALLOW.get);
    const instance = { type: a, id: b };
    switch (m) {
      case 'GET': return at('read', 'instance', instance);
      case 'PUT': return at('update', 'instance', instance);
      case 'PATCH': return at('patch', 'instance', instance);
      case 'DELETE': return at('delete', 'instance', instance);
      default: return notAllowed(method, shown, ALLOW.instance);
    }
  }
  if (d === undefined) {
    const operation = operationName(c);
    if (operation) return at('operation', 'instance', { type: a, id: b, operation });
    if (c === '_history') return m === 'GET' ? at('history-instance', 'instance', { type: a, id: b }) : notAllowed(method, shown, ALLOW.get);
    if (!isResourceType(c)) return noEndpoint();
    return m === 'GET' ? at('search-compartment', 'type', { type: c, compartment: { type: a, id: b } }) : notAllowed(method, shown, ALLOW.get);
  }
  if (c === '_history') return m === 'GET' ? at('vread', 'instance', { type: a, id: b, version: d }) : notAllowed(method, shown, ALLOW.get);
  return noEndpoint();
}

/** `Type/id/_history/v` or `Type/id` of a request that names an instance, for messages and audit. */
export function instanceOf(request: FhirRequest): string | undefined {
  if (request.type === undefined || request.id === undefined) return undefined;
  return `${request.type}/${request.id}${request.version !== undefined ? `/_history/${request.version}` : ''}`;
}

/** The query's parameters, in order. */
export function queryPairs(request: Pick<FhirRequest, 'query'>): [string, string][] {
  return request.query === '' ? [] : [...new URLSearchParams(request.query)];
}
