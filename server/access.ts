import type { Request } from 'express';
import type { Resource } from 'fhir/r4.js';
import { decide, type AccessDecision, type AccessRequest, type Grant, type TypeAccess } from '../auth/access.js';
import type { AuthServer } from '../auth/authorization-server.js';
import { parseScopes } from '../auth/scopes.js';
import { FhirError } from '../fhir/errors.js';
import type { FhirRequest } from '../fhir/request.js';
import type { Requester } from '../fhir/requester.js';
import type { InteractionEngine, WriteObserver } from '../resources/engine.js';
import type { OperationAccess } from '../resources/hooks.js';
import type { AccessNeed } from '../resources/module.js';
import type { Spine } from '../resources/spine.js';
import type { Condition } from '../search/plan.js';
import { compartmentCondition } from '../search/parse.js';
import type { Access, RequestContext } from './context.js';
import type { Resolved } from './route-table.js';

/**
 * The one access decision per FHIR request (ARCHITECTURE.md "Security and audit"): the bearer
 * token is verified and becomes the request context's requester and grant; the route table row
 * says what the parsed request needs, and auth/access.ts decides. A denial is a 401 (no valid
 * token) or a 403 (not allowed) OperationOutcome that names no data. An allowed request carries
 * its restrictions in the context (`ctx.access`); the routes apply them inside the search plan
 * (never by filtering a page afterwards) and check single resources against them. The Spine
 * modules' access restrictions (resources/module.ts AccessRestriction) narrow the decision here.
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
 * under v2 query constraints, history beyond one instance under a restriction, alternative (OR)
 * v2 query constraints, $reindex without system/*.cruds.
 */

export const forbidden = (diagnostics: string): FhirError => new FhirError(403, [{ severity: 'error', code: 'forbidden', diagnostics }]);

function unauthenticated(diagnostics: string, error?: string): FhirError {
  return new FhirError(401, [{ severity: 'error', code: 'login', diagnostics }], {
    'WWW-Authenticate': `Bearer realm="vertebra"${error ? `, error="${error}"` : ''}`,
  });
}

export interface AccessDeps {
  /** The SMART authorization server; absent with AUTH=off (then every request is the anonymous user). */
  auth?: AuthServer;
  engine: InteractionEngine;
  spine: Spine;
  /** The FHIR base the token's audience must be. */
  baseUrl: (req: Request) => string;
}

/** Answered without a token: the route says so; the CapabilityStatement's 405s need none either. */
export function isPublic(ctx: RequestContext, resolved: Resolved | undefined): boolean {
  return resolved ? resolved.access === 'public' : ctx.request?.interaction === 'capabilities';
}

/** The access request a route's need stands for, for auth/access.ts. */
function accessRequest(need: AccessNeed | { interaction: AccessRequest['interaction']; resourceTypes: string[]; creates?: boolean }): AccessRequest {
  return need.creates ? { interaction: need.interaction, resourceTypes: need.resourceTypes, creates: true } : { interaction: need.interaction, resourceTypes: need.resourceTypes };
}

/**
 * The access decision for the request in `ctx` (its route already resolved, or the error that
 * resolving it raised, answered once the token has been checked). Returns the write observer a
 * restricted write must run under, if any.
 */
export async function authorizeRequest(
  deps: AccessDeps, req: Request, ctx: RequestContext, resolved: Resolved | undefined, unroutable: unknown,
): Promise<WriteObserver | undefined> {
  const { auth, engine, spine } = deps;
  if (isPublic(ctx, resolved)) {
    if (unroutable) throw unroutable;
    return undefined;
  }
  if (!auth) {
    if (unroutable) throw unroutable;
    return undefined;
  }
  const header = req.get('authorization') ?? '';
  const token = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header)?.[1];
  if (!token) throw unauthenticated('A bearer access token is required');
  let claims: Record<string, unknown>;
  try {
    claims = await auth.verifyAccessToken(token, deps.baseUrl(req));
  } catch {
    throw unauthenticated('The access token is not valid (expired, revoked, or not issued for this server)', 'invalid_token');
  }
  const grant = ctx.grant = grantOf(claims);
  ctx.who = requesterOf(claims, grant); // for the audit trail, denials included
  ctx.authenticated = true;
  ctx.decide = (request) => decide(request, grant, spine.accessRules);
  if (unroutable) throw unroutable;
  const request = ctx.request!;
  const { access: need } = resolved!;
  if (need === 'admin') {
    const full = grant.scopes.resources.some((s) => s.context === 'system' && s.resourceType === '*' && s.permissions.size === 5 && !s.query);
    if (!full) throw forbidden('This operation needs system/*.cruds (or system/*.*)');
    return undefined;
  }
  if (need === 'bundle' || need === 'by-body' || need === 'public') return undefined; // bundles decide per entry, operations per what their body asks
  const what = accessRequest(resolved!.need!);
  const decision = ctx.decide(what);
  if (!decision.allow) throw forbidden(decision.reason);
  await applyRestrictions(spine, ctx.who, decision, what, (name) => req.get(name), engine);
  checkConstraints(decision, engine);
  ctx.access = { grant, decision };
  return checkRestricted(what, request, req, ctx.access, engine);
}

/**
 * The Spine modules' narrowing of the decision (a privacy officer sees the alerts of its own
 * organisation): their constraints are ANDed into the type's v2 constraints, which the search
 * plan and the single-resource checks then apply.
 */
async function applyRestrictions(
  spine: Spine, who: Requester, decision: Extract<AccessDecision, { allow: true }>, request: AccessRequest,
  header: (name: string) => string | undefined, engine: InteractionEngine,
): Promise<void> {
  for (const restriction of spine.restrictions) {
    const typeAccess = decision.byType[restriction.resourceType];
    if (!typeAccess || !restriction.appliesTo(who)) continue;
    const own = await restriction.constraints(who, header, engine);
    typeAccess.constraints = typeAccess.constraints ? typeAccess.constraints.map((list) => [...list, ...own]) : [own];
    if (request.resourceTypes.length === 1) decision.constraints = typeAccess.constraints;
  }
}

/** The restriction of a module that applies to `who` on `type`, where it cannot be applied piecemeal. */
export function unappliedRestriction(spine: Spine, who: Requester, decision: Extract<AccessDecision, { allow: true }>): string | undefined {
  return spine.restrictions.find((r) => decision.byType[r.resourceType] && r.appliesTo(who))?.describe;
}

/**
 * The access decision for a custom operation, once its body told what it needs (AUTH=off: no
 * grant, nothing to check). Operations write across several resources on the server's terms, so
 * patient-context and query-constrained grants are refused rather than half-applied.
 */
export function authorizeOperation(ctx: RequestContext, needs: OperationAccess[], actsFor?: string): void {
  const { grant } = ctx;
  if (!grant || !ctx.decide) return;
  // An operation writes more types than it names (a release also moves its line items): no
  // restricted token may run one at all, rather than only those restricted on the named types.
  if (grant.patient !== undefined || grant.scopes.resources.some((s) => s.query !== undefined)) {
    throw forbidden('Operations are not available to patient-context or query-constrained tokens');
  }
  // An operation done on behalf of an organisation (a pharmacy releasing prescriptions) must come
  // from that organisation: its registered backend client, or a user of one of its role profiles.
  if (actsFor !== undefined && grant.orgCode?.toUpperCase() !== actsFor.toUpperCase()) {
    throw forbidden(grant.orgCode
      ? `This token acts for organisation ${grant.orgCode}, not for ${actsFor}`
      : `This operation acts for organisation ${actsFor}, and the token names no organisation (org_code)`);
  }
  for (const { interaction, resourceType } of needs) {
    const decision = ctx.decide({ interaction, resourceTypes: [resourceType] });
    if (!decision.allow) throw forbidden(decision.reason);
    if (restricts(decision.byType[resourceType])) {
      throw forbidden(`This operation is not available to patient-context or query-constrained tokens (${interaction} on ${resourceType})`);
    }
  }
}

/** A module's second decision, for what a call touches beyond its path (ModuleCall.authorize). */
export function authorizeNeeds(ctx: RequestContext, needs: AccessNeed[]): { restricted: boolean } {
  if (!ctx.decide) return { restricted: false };
  let restricted = false;
  for (const need of needs) {
    const decision = ctx.decide(accessRequest(need));
    if (!decision.allow) throw forbidden(decision.reason);
    if (Object.values(decision.byType).some(restricts)) restricted = true;
  }
  return { restricted };
}

/**
 * Applies a restricted decision (launch patient's compartment, v2 query constraints) where the
 * route cannot: a single resource must lie inside the restriction (else 403, naming nothing);
 * interactions that cannot be restricted yet are refused. Searches are restricted in the plan by
 * the search route (restrictionFor).
 */
async function checkRestricted(what: AccessRequest, request: FhirRequest, req: Request, access: Access, engine: InteractionEngine): Promise<WriteObserver | undefined> {
  const restricted = what.resourceTypes.filter((t) => restricts(access.decision.byType[t]));
  if (!restricted.length) return undefined;
  const [type] = what.resourceTypes;
  /** The current `type/id`, if any, must lie inside the restriction (a missing one is the route's 404, or an update as create). */
  const assertInside = async (id: string, verb: string, ifExists: boolean): Promise<void> => {
    const { where, params } = restrictionFor(access, type);
    const { result } = await engine.search([type], [['_id', id], ...params], { strict: true, defaultCount: 1, maxCount: 1 }, where);
    if (result.matches.length) return;
    if (ifExists && !(await engine.exists(type, id))) return;
    throw forbidden(`${type}/${id} is outside what this token may ${verb}`);
  };
  switch (what.interaction) {
    case 'operation':
    case 'read': {
      // A type-level operation ($validate) checks a body, not stored data; an instance one must
      // stay inside the restriction like a read.
      if (request.id === undefined) return undefined;
      await assertInside(request.id, 'read', false);
      return undefined;
    }
    case 'vread':
    case 'history-instance': {
      // Older versions: the record must be inside the restriction now, and every version shown must
      // have been in the launch patient's compartment too (a resource may have moved between
      // patients). v2 query constraints cannot be judged on old versions: refused.
      const typeAccess = access.decision.byType[type];
      if (typeAccess?.constraints) throw forbidden(`${what.interaction} under a query-constrained scope is not supported yet`);
      const id = request.id!;
      await assertInside(id, 'read', false);
      const patient = typeAccess?.patientCompartment;
      if (patient === undefined) return undefined;
      const outside = (v: { json?: string; deleted: boolean }) =>
        !v.deleted && v.json !== undefined && !engine.compartmentsOf(JSON.parse(v.json) as Resource, 'Patient').includes(patient);
      if (what.interaction === 'vread') {
        const n = /^[1-9]\d{0,15}$/.test(request.version!) ? Number(request.version) : undefined;
        const version = n === undefined ? undefined : await engine.versionOf(type, id, n);
        if (version && outside(version)) throw forbidden(`${type}/${id} is outside what this token may read`);
        return undefined;
      }
      let cursor: string | undefined;
      do {
        const page = await engine.history({ resourceType: type, id, count: 500, cursor });
        if (page.versions.some(outside)) throw forbidden(`Versions of ${type}/${id} lie outside what this token may read`);
        cursor = page.nextCursor;
      } while (cursor);
      return undefined;
    }
    case 'search-type': {
      if (request.operation === 'match') throw forbidden('$match is not available to patient-context or query-constrained tokens');
      // A compartment search of another patient answers the same whether that patient exists or not.
      const owner = request.compartment?.type === 'Patient' ? request.compartment.id : undefined;
      const own = access.decision.byType[type]?.patientCompartment;
      if (owner !== undefined && own !== undefined && owner !== own) {
        throw forbidden('A patient-context token may search only its own patient\'s compartment');
      }
      return undefined;
    }
    case 'create':
    case 'update':
    case 'patch':
    case 'delete': {
      // Conditional forms match across every patient: their outcome would tell what lies outside.
      const conditional = what.interaction === 'create' ? req.get('if-none-exist') !== undefined : request.conditional === true;
      if (conditional) throw forbidden(`Conditional ${what.interaction} under a patient-context or query-constrained scope is not supported yet`);
      // An operation that writes (SCR $setPermission) names no instance to check, and writes more
      // than the type its row names: refused, as custom operations are (authorizeOperation).
      if (what.interaction !== 'create' && request.id === undefined || request.interaction === 'operation') {
        throw forbidden('Operations are not available to patient-context or query-constrained tokens');
      }
      if (what.interaction !== 'create') await assertInside(request.id!, 'change', what.interaction === 'update');
      return restrictedWrites(access, engine);
    }
    default:
      throw forbidden(`${what.interaction} on ${restricted.join(', ')} under a patient-context or query-constrained scope is not supported yet`);
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
        const refuse = () => forbidden(`The ${version.resourceType} written would lie outside what this token may write`);
        if (previous?.json && !previous.deleted && !inCompartment(JSON.parse(previous.json) as Resource)) throw refuse();
        if (!resource) continue;
        if (!inCompartment(resource)) throw refuse();
        const { params } = restrictionFor(access, version.resourceType);
        if (params.length && !(await session.matches(version.resourceType, [['_id', version.id], ...params], 1)).length) throw refuse();
      }
    },
  };
}

/** Who a verified token speaks for (never the token itself), given the grant read from the same claims. */
export function requesterOf(claims: Record<string, unknown>, grant: Grant): Requester {
  const who: Requester = { clientId: String(claims.client_id ?? claims.sub ?? 'unknown'), privileged: false };
  if (grant.user) who.user = grant.user;
  if (grant.orgCode !== undefined) who.orgCode = grant.orgCode;
  if (grant.patient !== undefined) who.patient = grant.patient;
  const pou = claims.purpose_of_use;
  const codes = (Array.isArray(pou) ? pou : typeof pou === 'string' ? pou.split(/\s+/) : []).filter((c): c is string => typeof c === 'string' && c !== '');
  if (codes.length) who.purposeOfUse = codes;
  return who;
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
          throw forbidden(`The scope constraint '${name}' is not a search parameter of ${type}, so it cannot be applied`);
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
export function restrictionFor(access: Access | undefined, type: string): { where?: Condition; params: [string, string][] } {
  if (!access) return { params: [] };
  const restriction = access.decision.byType[type] ?? {};
  const params: [string, string][] = [];
  if (restriction.constraints) {
    if (restriction.constraints.length !== 1) throw forbidden(`Alternative v2 query constraints on ${type} are not supported yet`);
    params.push(...restriction.constraints[0]);
  }
  if (restriction.patientCompartment === undefined) return { params };
  try {
    return { where: compartmentCondition('Patient', restriction.patientCompartment, type), params };
  } catch {
    throw forbidden(`${type} is outside the patient compartment a patient-context token is limited to`);
  }
}

/** True when an allowed type is limited to a patient's compartment or by v2 query constraints. */
export function restricts(typeAccess: TypeAccess | undefined): boolean {
  return typeAccess !== undefined && (typeAccess.patientCompartment !== undefined || typeAccess.constraints !== undefined);
}
