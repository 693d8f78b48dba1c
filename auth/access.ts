import { isResourceType } from '../fhir/definitions.js';
import { isStaffUser } from '../fhir/requester.js';
import { permissionString, type Permission, type ResourceScope, type ScopeSet } from './scopes.js';

/**
 * The pure core of the one access decision per request (ARCHITECTURE.md "Security and audit"):
 * granted SMART scopes + launch context + user RBAC roles, against one FHIR interaction on one or
 * more resource types → deny, or allow with the restrictions the search plan / write path must
 * apply. No tokens, no HTTP, no store: the caller resolves those and passes plain values.
 *
 * Rules (see also the table in the unit tests):
 * 1. Interaction → permission letters: read, vread, history-instance, operation → r;
 *    search-type, search-system, history-type, history-system → s; create → c;
 *    update, patch → u (and c as well when `creates`); delete → d.
 * 2. A resource scope grants a letter on a type when it holds the letter and its type is that
 *    type or `*`. Malformed scopes never reach here (they are in ScopeSet.invalid).
 * 3. Tiers: `user/` and `system/` scopes form the broad tier; `patient/` scopes form the patient
 *    tier, and only when the grant has a launch patient (otherwise they grant nothing). For each
 *    letter the broad tier wins when it grants the letter; else the patient tier, which restricts
 *    the request to the launch patient's compartment (`patientCompartment`).
 * 4. v2 queries: the constraints of a letter are the queries of every granting scope of the
 *    winning tier (OR); one granting scope without a query makes the letter unconstrained. When
 *    several letters are needed (update that creates), their constraints are ANDed (expanded to
 *    OR-of-AND lists).
 * 5. Several types (system search/history): every type must be granted or the request is denied,
 *    naming the types that are not. `byType` holds each type's restrictions; the top-level fields
 *    repeat them only when all types are restricted identically.
 * 6. RBAC: when a staff user is present (grant.user whose fhirUser is not a Patient or
 *    RelatedPerson) and a type is in CLINICAL_RESOURCE_TYPES, at least one of the user's roles must
 *    be a clinical national RBAC job role (isClinicalRole), for every interaction.
 * Deny reasons name interactions, letters, types and scope strings only: never a patient id,
 * user id, or any resource content.
 */

export type Interaction =
  | 'read' | 'vread' | 'history-instance' | 'history-type' | 'history-system'
  | 'search-type' | 'search-system'
  | 'create' | 'update' | 'patch' | 'delete' | 'operation';

export const INTERACTIONS: readonly Interaction[] = [
  'read', 'vread', 'history-instance', 'history-type', 'history-system',
  'search-type', 'search-system', 'create', 'update', 'patch', 'delete', 'operation',
];

export interface AccessRequest {
  interaction: Interaction;
  /**
   * The types the request touches: exactly one for instance- and type-level interactions; for
   * system-level ones (search-system, history-system, a system operation) every type it can
   * return (all types when `_type` is absent). Never empty.
   */
  resourceTypes: string[];
  /** update/patch only: the target does not exist yet, so the write also creates (needs c). */
  creates?: boolean;
}

export interface Grant {
  scopes: ScopeSet;
  /** Launch context patient id (token response `patient`). */
  patient?: string;
  user?: {
    /** The fhirUser reference (`Practitioner/123`, an absolute URL, or `Patient/9`). */
    fhirUser?: string;
    /** National RBAC job role codes (`R8000`, or CIS2 `S....:G....:R....`). */
    roles: string[];
  };
  /** The ODS code of the organisation the caller acts for (token `org_code`). */
  orgCode?: string;
}

/** The restrictions that apply to one resource type of an allowed request. */
export interface TypeAccess {
  /** The request may only see/touch resources in this patient's compartment. */
  patientCompartment?: string;
  /**
   * v2 query constraints: the resource must match at least one of these lists, each list being
   * ANDed [name, value] search parameters. Undefined = unconstrained.
   */
  constraints?: [string, string][][];
}

export type AccessDecision =
  | { allow: false; reason: string }
  | {
      allow: true;
      /** Set when every requested type is restricted to the same patient compartment. */
      patientCompartment?: string;
      /** Set when every requested type has the same constraints (see TypeAccess.constraints). */
      constraints?: [string, string][][];
      /**
       * The restrictions per requested type; authoritative. For a single type it equals the
       * top-level fields. When types are restricted differently, the top-level fields are absent
       * and only byType tells the restrictions: a multi-type caller must read byType.
       */
      byType: Record<string, TypeAccess>;
    };

/**
 * Resource types that hold clinical information about a patient; reading or writing them needs a
 * clinical RBAC job role when a staff user is present. Demographics (Patient, RelatedPerson),
 * directory data (Organization, Practitioner, PractitionerRole, Location, HealthcareService,
 * Endpoint), medication definitions (Medication), conformance and terminology resources, and
 * AuditEvent (read by Privacy Officers, a non-clinical role) are not clinical.
 */
export const CLINICAL_RESOURCE_TYPES: ReadonlySet<string> = new Set([
  'AllergyIntolerance', 'CarePlan', 'CareTeam', 'ClinicalImpression', 'Communication', 'Composition',
  'Condition', 'Consent', 'DetectedIssue', 'DiagnosticReport', 'DocumentReference', 'Encounter',
  'EpisodeOfCare', 'FamilyMemberHistory', 'Flag', 'Goal', 'ImagingStudy', 'Immunization',
  'Media', 'MedicationAdministration', 'MedicationDispense', 'MedicationRequest',
  'MedicationStatement', 'NutritionOrder', 'Observation', 'Procedure', 'QuestionnaireResponse',
  'RiskAssessment', 'ServiceRequest', 'Specimen',
]);

export function isClinicalResourceType(type: string): boolean {
  return CLINICAL_RESOURCE_TYPES.has(type);
}

/** Rule 1: the permission letters an interaction needs. */
export function requiredPermissions(request: Pick<AccessRequest, 'interaction' | 'creates'>): Permission[] {
  switch (request.interaction) {
    case 'read': case 'vread': case 'history-instance': case 'operation': return ['r'];
    case 'search-type': case 'search-system': case 'history-type': case 'history-system': return ['s'];
    case 'create': return ['c'];
    case 'update': case 'patch': return request.creates ? ['c', 'u'] : ['u'];
    case 'delete': return ['d'];
  }
}

const TYPE_LEVEL: ReadonlySet<Interaction> = new Set([
  'read', 'vread', 'history-instance', 'history-type', 'search-type', 'create', 'update', 'patch', 'delete',
]);

/**
 * What the decision needs to know that only the Spine modules can tell (auth/ imports none of
 * them): which national RBAC job roles are clinical (resources/practitioner, SDS).
 */
export interface AccessRules {
  isClinicalRole(code: string): boolean;
}

function deny(reason: string): AccessDecision {
  return { allow: false, reason };
}

function grants(scope: ResourceScope, type: string, letter: Permission): boolean {
  return scope.permissions.has(letter) && (scope.resourceType === '*' || scope.resourceType === type);
}

/** OR of the granting scopes' queries; undefined when one of them is unconstrained. */
function constraintsOf(granting: ResourceScope[]): [string, string][][] | undefined {
  if (granting.some((s) => !s.query)) return undefined;
  const seen = new Set<string>();
  const lists: [string, string][][] = [];
  for (const s of granting) {
    const key = JSON.stringify(s.query);
    if (seen.has(key)) continue;
    seen.add(key);
    lists.push(s.query!.map(([n, v]) => [n, v] as [string, string]));
  }
  return lists;
}

/** AND of two OR-lists (undefined = true): every pairing of one list of each, concatenated. */
function andConstraints(a: [string, string][][] | undefined, b: [string, string][][] | undefined): [string, string][][] | undefined {
  if (!a) return b;
  if (!b) return a;
  const out: [string, string][][] = [];
  const seen = new Set<string>();
  for (const x of a) {
    for (const y of b) {
      const merged = [...x, ...y.filter(([n, v]) => !x.some(([n2, v2]) => n2 === n && v2 === v))];
      const key = JSON.stringify(merged);
      if (!seen.has(key)) { seen.add(key); out.push(merged); }
    }
  }
  return out;
}

type TypeResult = { ok: true; access: TypeAccess } | { ok: false; missing: Permission[] };

function decideType(type: string, letters: Permission[], grant: Grant, broad: ResourceScope[], patientTier: ResourceScope[]): TypeResult {
  const access: TypeAccess = {};
  let constraints: [string, string][][] | undefined;
  const missing: Permission[] = [];
  for (const letter of letters) {
    const fromBroad = broad.filter((s) => grants(s, type, letter));
    const fromPatient = patientTier.filter((s) => grants(s, type, letter));
    const winning = fromBroad.length ? fromBroad : fromPatient;
    if (!winning.length) { missing.push(letter); continue; }
    if (!fromBroad.length) access.patientCompartment = grant.patient;
    constraints = andConstraints(constraints, constraintsOf(winning));
  }
  if (missing.length) return { ok: false, missing };
  if (constraints) access.constraints = constraints;
  return { ok: true, access };
}

function sameAccess(a: TypeAccess, b: TypeAccess): boolean {
  return a.patientCompartment === b.patientCompartment && JSON.stringify(a.constraints) === JSON.stringify(b.constraints);
}

export function decide(request: AccessRequest, grant: Grant, rules: AccessRules): AccessDecision {
  const { interaction } = request;
  const types = [...new Set(request.resourceTypes)];
  if (!(INTERACTIONS as readonly string[]).includes(interaction)) return deny('unknown interaction');
  if (types.length === 0) return deny(`${interaction}: no resource types given`);
  if (TYPE_LEVEL.has(interaction) && types.length !== 1) return deny(`${interaction} applies to exactly one resource type`);
  const unknown = types.filter((t) => !isResourceType(t));
  if (unknown.length) return deny(`${interaction}: not R4 resource types: ${unknown.map((t) => JSON.stringify(t.slice(0, 64))).join(', ')}`);
  if (request.creates && interaction !== 'update' && interaction !== 'patch') {
    return deny(`${interaction}: 'creates' applies only to update and patch`);
  }

  const letters = requiredPermissions(request);
  const resources = grant.scopes.resources;
  const broad = resources.filter((s) => s.context !== 'patient');
  const patientScopes = resources.filter((s) => s.context === 'patient');
  const patientTier = grant.patient ? patientScopes : [];

  const byType: Record<string, TypeAccess> = {};
  const refused: string[] = [];
  for (const type of types) {
    const result = decideType(type, letters, grant, broad, patientTier);
    if (result.ok) byType[type] = result.access;
    else refused.push(`${type} (${permissionString(result.missing)})`);
  }
  if (refused.length) {
    let reason = `no granted scope permits ${interaction} (${permissionString(letters)}) on ${refused.join(', ')}`;
    if (patientScopes.length && !grant.patient) reason += '; patient/ scopes grant nothing without a launch patient';
    return deny(reason);
  }

  if (isStaffUser(grant.user) && !grant.user.roles.some((r) => rules.isClinicalRole(r))) {
    const clinical = types.filter(isClinicalResourceType);
    if (clinical.length) {
      return deny(`RBAC: ${interaction} on clinical resource types (${clinical.join(', ')}) needs a clinical national RBAC job role; the user has none`);
    }
  }

  const accesses = Object.values(byType);
  const decision: AccessDecision = { allow: true, byType };
  if (accesses.every((a) => sameAccess(a, accesses[0]))) {
    if (accesses[0].patientCompartment !== undefined) decision.patientCompartment = accesses[0].patientCompartment;
    if (accesses[0].constraints) decision.constraints = accesses[0].constraints;
  }
  return decision;
}
