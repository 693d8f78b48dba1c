import type { NextFunction, Request, Response } from 'express';
import { decide, type AccessDecision, type AccessRequest, type Grant, type Interaction, type TypeAccess } from '../auth/access.js';
import type { AuthServer } from '../auth/authorization-server.js';
import { parseScopes } from '../auth/scopes.js';
import { resourceTypes, isResourceType } from '../fhir/definitions.js';
import { FhirError } from '../fhir/errors.js';
import type { Resource } from 'fhir/r4.js';
import type { InteractionEngine, WriteObserver } from '../resources/engine.js';
import { TERMINOLOGY_OPERATIONS } from '../terminology/operations.js';
import type { OperationAccess } from '../resources/hooks.js';
import type { Condition } from '../search/plan.js';
import { compartmentCondition } from '../search/parse.js';
import { baseUrl } from './base-url.js';
import { restrictPrivacyOfficer, scrAccessRequest } from './scr-access.js';
import type { Config } from './config.js';

/**
 * The one access decision per FHIR request (ARCHITECTURE.md "Security and audit"): the bearer
 * token is verified, its scopes and launch context become a Grant, the request becomes an
 * interaction on resource types, and auth/access.ts decides. A denial is a 401 (no valid token) or
 * a 403 (not allowed) OperationOutcome that names no data. An allowed request carries its
 * restrictions in `res.locals.access`; the routes apply them inside the search plan (never by
 * filtering a page afterwards) and check single resources against them.
 *
 * Restricted writes (create, update, patch, delete of one resource under a patient-context or
 * query-constrained scope) are checked twice: the current resource must lie inside the restriction
 * before the write (else 403), and inside the store transaction, just before it commits, every
 * version written or replaced must lie inside it (a write observer: else 403 and nothing commits).
 *
 * vread and instance history under a patient-context scope: the record must lie inside the
 * compartment now and every version shown must have lain inside it (checked before the route).
 *
 * Not covered yet (each is denied rather than let through): conditional writes, vread/history
 * under v2 query constraints, history beyond one instance under a restriction, alternative (OR) v2 query constraints, $reindex without
 * system/*.cruds.
 */

export interface Access {
  grant: Grant;
  decision: Extract<AccessDecision, { allow: true }>;
}

/** What a request does, for the decision; undefined for public paths and for paths the router will refuse anyway. */
export function accessRequestFor(method: string, path: string, query: URLSearchParams): AccessRequest | 'public' | 'admin' | 'bundle' | 'operation' | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  const segments = pathSegments(path);
  if (!segments) return undefined; // malformed escapes: the router answers it
  const [a, b, c, d, ...rest] = segments;
  if (rest.length) return undefined;
  const scr = scrAccessRequest(segments);
  if (scr) return scr;
  const type = (t: string | undefined): t is string => t !== undefined && isResourceType(t);
  const systemTypes = () => {
    const listed = query.getAll('_type').flatMap((v) => v.split(',')).map((t) => t.trim()).filter((t) => t !== '');
    return listed.length ? [...new Set(listed)] : [...resourceTypes().keys()];
  };
  const on = (interaction: Interaction, types: string[]): AccessRequest => ({ interaction, resourceTypes: types });
  if (a === undefined) return m === 'POST' ? 'bundle' : m === 'GET' ? on('search-system', systemTypes()) : undefined;
  if (a === 'metadata' && b === undefined) return 'public';
  if (a === '_search' && b === undefined) return on('search-system', systemTypes());
  if (a === '_history' && b === undefined) return on('history-system', [...resourceTypes().keys()]);
  if (a === '$reindex' && b === undefined) return 'admin';
  // Custom operations (EPS $process-message): what they need depends on the body, so the route
  // asks the decision once it has read it (authorizeOperation).
  if (a.startsWith('$') && b === undefined) return m === 'POST' ? 'operation' : undefined;
  if (!type(a)) return undefined;
  if (b === undefined) {
    const byMethod: Record<string, Interaction> = { GET: 'search-type', POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
    return byMethod[m] ? on(byMethod[m], [a]) : undefined;
  }
  if (c === undefined) {
    if (b === '_search') return on('search-type', [a]);
    if (b === '_history') return on('history-type', [a]);
    if (b === '$validate') return on('operation', [a]);
    if (b === '$match') return on('search-type', [a]);
    if (isTerminologyOperation(a, b, false)) return on('operation', [a]);
    if (b === '$reindex') return 'admin';
    if (b.startsWith('$')) return m === 'POST' ? 'operation' : undefined; // Task/$release and the like
    const byMethod: Record<string, Interaction> = { GET: 'read', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
    return byMethod[m] ? on(byMethod[m], [a]) : undefined;
  }
  if (d === undefined) {
    if (c === '_history') return on('history-instance', [a]);
    if (c === '$validate') return on('operation', [a]);
    if (isTerminologyOperation(a, c, true)) return on('operation', [a]);
    if (type(c)) return on('search-type', [c]); // compartment search: the route checks the compartment id
    return undefined;
  }
  return c === '_history' ? on('vread', [a]) : undefined;
}

/** `$lookup`, `$expand`… on the types (and levels) terminology/operations.ts defines them for: reads of terminology. */
function isTerminologyOperation(type: string, segment: string, instance: boolean): boolean {
  return TERMINOLOGY_OPERATIONS.some((o) => o.type === type && `$${o.name}` === segment && (o.instance || !instance));
}

/** The decoded segments of a request path, or undefined when an escape is malformed (`%E0%A4`). */
export function pathSegments(path: string): string[] | undefined {
  try {
    return path.split('/').filter((s) => s !== '').map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

function outcome(status: number, code: 'login' | 'forbidden', diagnostics: string, headers: Record<string, string> = {}): FhirError {
  return new FhirError(status, [{ severity: 'error', code, diagnostics }], headers);
}

/** Express middleware for the FHIR routes: AUTH=off lets everything through as the anonymous user. */
export function accessControl(auth: AuthServer | undefined, config: Config, engine: InteractionEngine) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (!auth) return next();
    const q = req.originalUrl.indexOf('?');
    const what = accessRequestFor(req.method, req.path, new URLSearchParams(q < 0 ? '' : req.originalUrl.slice(q + 1)));
    if (what === 'public') return next();
    const header = req.get('authorization') ?? '';
    const token = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header)?.[1];
    const challenge = (error?: string) => ({ 'WWW-Authenticate': `Bearer realm="vertebra"${error ? `, error="${error}"` : ''}` });
    if (!token) throw outcome(401, 'login', 'A bearer access token is required', challenge());
    let claims: Awaited<ReturnType<AuthServer['verifyAccessToken']>>;
    try {
      claims = await auth.verifyAccessToken(token, baseUrl(req, config));
    } catch {
      throw outcome(401, 'login', 'The access token is not valid (expired, revoked, or not issued for this server)', challenge('invalid_token'));
    }
    res.locals.principal = principalOf(claims); // for the audit trail, denials included
    const grant = grantOf(claims);
    // Every path a route serves is classified above; anything else is served by no route.
    if (what === undefined) throw new FhirError(404, [{ severity: 'error', code: 'not-found', diagnostics: `No FHIR endpoint for ${req.method} ${req.path}` }]);
    res.locals.grant = grant; // bundles decide per entry, operations per what their body asks (below)
    const request = what === 'admin' || what === 'bundle' || what === 'operation' ? undefined : what;
    if (what === 'admin') {
      const full = grant.scopes.resources.some((s) => s.context === 'system' && s.resourceType === '*' && s.permissions.size === 5 && !s.query);
      if (!full) throw outcome(403, 'forbidden', 'This operation needs system/*.cruds (or system/*.*)');
      return next();
    }
    if (what === 'bundle' || what === 'operation') return next();
    const decision = decide(request!, grant);
    if (!decision.allow) throw outcome(403, 'forbidden', decision.reason);
    await restrictPrivacyOfficer(request!, grant, decision, req, engine);
    checkConstraints(decision, engine);
    res.locals.access = { grant, decision } satisfies Access;
    const writes = await checkRestricted(request!, req, res, engine);
    if (writes) engine.observeWrites(writes, next);
    else next();
  };
}

/**
 * The access decision for a custom operation, once its body told what it needs (AUTH=off: no
 * grant, nothing to check). Operations write across several resources on the server's terms, so
 * patient-context and query-constrained grants are refused rather than half-applied.
 */
export function authorizeOperation(needs: OperationAccess[], res: Response, actsFor?: string): void {
  const grant = res.locals.grant as Grant | undefined;
  if (!grant) return;
  // An operation writes more types than it names (a release also moves its line items): no
  // restricted token may run one at all, rather than only those restricted on the named types.
  if (grant.patient !== undefined || grant.scopes.resources.some((s) => s.query !== undefined)) {
    throw outcome(403, 'forbidden', 'Operations are not available to patient-context or query-constrained tokens');
  }
  // An operation done on behalf of an organisation (a pharmacy releasing prescriptions) must come
  // from that organisation: its registered backend client, or a user of one of its role profiles.
  if (actsFor !== undefined && grant.orgCode?.toUpperCase() !== actsFor.toUpperCase()) {
    throw outcome(403, 'forbidden', grant.orgCode
      ? `This token acts for organisation ${grant.orgCode}, not for ${actsFor}`
      : `This operation acts for organisation ${actsFor}, and the token names no organisation (org_code)`);
  }
  for (const { interaction, resourceType } of needs) {
    const decision = decide({ interaction, resourceTypes: [resourceType] }, grant);
    if (!decision.allow) throw outcome(403, 'forbidden', decision.reason);
    if (restricts(decision.byType[resourceType])) {
      throw outcome(403, 'forbidden', `This operation is not available to patient-context or query-constrained tokens (${interaction} on ${resourceType})`);
    }
  }
}

/**
 * Applies a restricted decision (launch patient's compartment, v2 query constraints) where the
 * route cannot: a single resource must lie inside the restriction (else 403, naming nothing);
 * interactions that cannot be restricted yet are refused. Searches are restricted in the plan by
 * the search route (searchRestriction).
 */
async function checkRestricted(request: AccessRequest, req: Request, res: Response, engine: InteractionEngine): Promise<WriteObserver | undefined> {
  const restricted = request.resourceTypes.filter((t) => isRestricted(res, t));
  if (!restricted.length) return undefined;
  const [type] = request.resourceTypes;
  const segments = pathSegments(req.path)!;
  /** The current `type/id`, if any, must lie inside the restriction (a missing one is the route's 404, or an update as create). */
  const assertInside = async (id: string, what: string, ifExists: boolean): Promise<void> => {
    const { where, params } = searchRestriction(res, type);
    const { result } = await engine.search([type], [['_id', id], ...params], { strict: true, defaultCount: 1, maxCount: 1 }, where);
    if (result.matches.length) return;
    if (ifExists && !(await engine.exists(type, id))) return;
    throw outcome(403, 'forbidden', `${type}/${id} is outside what this token may ${what}`);
  };
  switch (request.interaction) {
    case 'operation':
    case 'read': {
      // A type-level operation ($validate) checks a body, not stored data; an instance one must
      // stay inside the restriction like a read.
      if (request.interaction === 'operation' && segments.length < 3) return undefined;
      await assertInside(segments[1], 'read', false);
      return undefined;
    }
    case 'vread':
    case 'history-instance': {
      // Older versions: the record must be inside the restriction now, and every version shown must
      // have been in the launch patient's compartment too (a resource may have moved between
      // patients). v2 query constraints cannot be judged on old versions: refused.
      const typeAccess = (res.locals.access as Access).decision.byType[type];
      if (typeAccess?.constraints) throw outcome(403, 'forbidden', `${request.interaction} under a query-constrained scope is not supported yet`);
      const id = segments[1];
      await assertInside(id, 'read', false);
      const patient = typeAccess?.patientCompartment;
      if (patient === undefined) return undefined;
      const outside = (v: { json?: string; deleted: boolean }) =>
        !v.deleted && v.json !== undefined && !engine.compartmentsOf(JSON.parse(v.json) as Resource, 'Patient').includes(patient);
      if (request.interaction === 'vread') {
        const n = /^[1-9]\d{0,15}$/.test(segments[3]) ? Number(segments[3]) : undefined;
        const version = n === undefined ? undefined : await engine.versionOf(type, id, n);
        if (version && outside(version)) throw outcome(403, 'forbidden', `${type}/${id} is outside what this token may read`);
        return undefined;
      }
      let cursor: string | undefined;
      do {
        const page = await engine.history({ resourceType: type, id, count: 500, cursor });
        if (page.versions.some(outside)) throw outcome(403, 'forbidden', `Versions of ${type}/${id} lie outside what this token may read`);
        cursor = page.nextCursor;
      } while (cursor);
      return undefined;
    }
    case 'search-type': {
      if (req.path.endsWith('/$match')) throw outcome(403, 'forbidden', '$match is not available to patient-context or query-constrained tokens');
      // A compartment search of another patient answers the same whether that patient exists or not.
      const compartmentOwner = segments.length === 3 && segments[0] === 'Patient' ? segments[1] : undefined;
      const own = (res.locals.access as Access).decision.byType[type]?.patientCompartment;
      if (compartmentOwner !== undefined && own !== undefined && compartmentOwner !== own) {
        throw outcome(403, 'forbidden', 'A patient-context token may search only its own patient\'s compartment');
      }
      return undefined;
    }
    case 'create':
    case 'update':
    case 'patch':
    case 'delete': {
      // Conditional forms match across every patient: their outcome would tell what lies outside.
      const conditional = request.interaction === 'create' ? req.get('if-none-exist') !== undefined : segments.length < 2;
      if (conditional) throw outcome(403, 'forbidden', `Conditional ${request.interaction} under a patient-context or query-constrained scope is not supported yet`);
      if (request.interaction !== 'create') await assertInside(segments[1], 'change', request.interaction === 'update');
      return restrictedWrites(res.locals.access as Access, engine);
    }
    default:
      throw outcome(403, 'forbidden', `${request.interaction} on ${restricted.join(', ')} under a patient-context or query-constrained scope is not supported yet`);
  }
}

/**
 * Inside the write's transaction: every version it writes, and every version it replaces, must lie
 * inside the restriction (the launch patient's compartment; the v2 query constraints for the new
 * version, searched inside the transaction so that they see it). Otherwise 403 and nothing commits.
 */
function restrictedWrites(access: Access, engine: InteractionEngine): WriteObserver {
  return {
    async beforeCommit(changes, session) {
      for (const { version, resource, previous } of changes) {
        const typeAccess = access.decision.byType[version.resourceType];
        if (!restricts(typeAccess)) continue;
        const patient = typeAccess!.patientCompartment;
        const inCompartment = (r: Resource) => patient === undefined || engine.compartmentsOf(r, 'Patient').includes(patient);
        const refuse = () => outcome(403, 'forbidden', `The ${version.resourceType} written would lie outside what this token may write`);
        if (previous?.json && !previous.deleted && !inCompartment(JSON.parse(previous.json) as Resource)) throw refuse();
        if (!resource) continue;
        if (!inCompartment(resource)) throw refuse();
        const { params } = restrictionFor(access, version.resourceType);
        if (params.length && !(await session.matches(version.resourceType, [['_id', version.id], ...params], 1)).length) throw refuse();
      }
    },
  };
}

/** Who a verified token speaks for, as the audit trail records it (never the token itself). */
export interface Principal {
  clientId: string;
  user?: { fhirUser?: string; roles: string[] };
  /** Token `purpose_of_use` claim (one code or several). */
  purposeOfUse?: string[];
}

export function principalOf(claims: Record<string, unknown>): Principal {
  const principal: Principal = { clientId: String(claims.client_id ?? claims.sub ?? 'unknown') };
  const grant = grantOf(claims);
  if (grant.user) principal.user = grant.user;
  const pou = claims.purpose_of_use;
  const codes = (Array.isArray(pou) ? pou : typeof pou === 'string' ? pou.split(/\s+/) : []).filter((c): c is string => typeof c === 'string' && c !== '');
  if (codes.length) principal.purposeOfUse = codes;
  return principal;
}

/** Result and paging parameters are not constraints: a scope may only narrow which resources match. */
const RESULT_PARAMETERS = /^_(count|sort|include|revinclude|summary|elements|total|contained|containedType|cursor|format|pretty)(:|$)/;

/**
 * v2 query constraints must be search parameters of the type they constrain (checked per type for
 * `*` scopes): one the search would ignore as unknown would silently widen the grant.
 */
function checkConstraints(decision: Extract<AccessDecision, { allow: true }>, engine: InteractionEngine): void {
  for (const [type, access] of Object.entries(decision.byType)) {
    for (const list of access.constraints ?? []) {
      for (const [name] of list) {
        const code = name.split(/[:.]/)[0];
        if (RESULT_PARAMETERS.test(name) || !engine.registry.get(type, code)) {
          throw outcome(403, 'forbidden', `The scope constraint '${name}' is not a search parameter of ${type}, so it cannot be applied`);
        }
      }
    }
  }
}

/** The grant a verified token carries: its scopes, launch patient, user and roles. */
export function grantOf(claims: Record<string, unknown>): Grant {
  const grant: Grant = { scopes: parseScopes(String(claims.scope ?? '')) };
  if (typeof claims.patient === 'string') grant.patient = claims.patient;
  if (typeof claims.org_code === 'string') grant.orgCode = claims.org_code;
  if (claims.fhirUser !== undefined) {
    const roles = Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string') : [];
    // A fhirUser that is not a string is treated as an unknown staff user: the RBAC rule applies.
    grant.user = typeof claims.fhirUser === 'string' ? { fhirUser: claims.fhirUser, roles } : { roles };
  }
  return grant;
}

/**
 * The restriction a request's access puts on searches of `type`: the launch patient's compartment
 * and the v2 query constraints (as extra parameters). Several alternative constraint lists cannot
 * be expressed as one query yet and are refused.
 */
export function searchRestriction(res: Response, type: string): { where?: Condition; params: [string, string][] } {
  return restrictionFor(res.locals.access as Access | undefined, type);
}

export function restrictionFor(access: Access | undefined, type: string): { where?: Condition; params: [string, string][] } {
  if (!access) return { params: [] };
  const restriction = access.decision.byType[type] ?? {};
  const params: [string, string][] = [];
  if (restriction.constraints) {
    if (restriction.constraints.length !== 1) throw outcome(403, 'forbidden', `Alternative v2 query constraints on ${type} are not supported yet`);
    params.push(...restriction.constraints[0]);
  }
  if (restriction.patientCompartment === undefined) return { params };
  try {
    return { where: compartmentCondition('Patient', restriction.patientCompartment, type), params };
  } catch {
    throw outcome(403, 'forbidden', `${type} is outside the patient compartment a patient-context token is limited to`);
  }
}

/** True when an allowed type is limited to a patient's compartment or by v2 query constraints. */
export function restricts(typeAccess: TypeAccess | undefined): boolean {
  return typeAccess !== undefined && (typeAccess.patientCompartment !== undefined || typeAccess.constraints !== undefined);
}

/** True when the request's access restricts `type` (compartment or constraints). */
export function isRestricted(res: Response, type: string): boolean {
  return restricts((res.locals.access as Access | undefined)?.decision.byType[type]);
}

export const forbidden = (diagnostics: string) => outcome(403, 'forbidden', diagnostics);
