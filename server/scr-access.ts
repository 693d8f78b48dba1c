import type { Request, Response } from 'express';
import type { PractitionerRole, Reference } from 'fhir/r4.js';
import { decide, fhirUserType, type AccessDecision, type AccessRequest, type Grant } from '../auth/access.js';
import { FhirError } from '../fhir/errors.js';
import { ALERT_TYPE_SYSTEM } from '../resources/composition/codes.js';
import { alertOrganizationReference } from '../resources/composition/alert.js';
import type { InteractionEngine } from '../resources/engine.js';
import { ODS_ORGANIZATION_CODE_SYSTEM } from '../resources/organization/ods.js';
import { SDS_ROLE_PROFILE_ID_SYSTEM } from '../resources/practitioner/identifiers.js';
import { jobRoleOf } from '../resources/practitioner/rbac.js';

/**
 * The access rules of the Summary Care Record API (nhs-spine.md §4, §5) that sit beside the one
 * access decision of server/access.ts: how its operations are classified, the second decision an
 * SCR operation needs for the clinical data it touches, who the reader's organisation is, and the
 * privacy officer's view of the audit trail.
 */

const forbidden = (diagnostics: string) => new FhirError(403, [{ severity: 'error', code: 'forbidden', diagnostics }]);

/** The SCR operations' paths for accessRequestFor (undefined: not an SCR operation path). */
export function scrAccessRequest(segments: string[]): AccessRequest | undefined {
  const [a, b, c, d] = segments;
  // $setPermission writes the patient's SCR permission, kept as a Consent (created or replaced).
  if (a === '$setPermission' && b === undefined) return { interaction: 'update', resourceTypes: ['Consent'], creates: true };
  if (a === 'Composition' && b !== undefined && c === '$document' && d === undefined) return { interaction: 'read', resourceTypes: ['Composition'] };
  return undefined;
}

/**
 * What an SCR operation needs beyond its path's own decision, e.g. an upload (a create on Bundle)
 * also creates a Composition and a DocumentReference, and reading the record through
 * `GET /Bundle` reads the Composition: the same scopes and clinical RBAC role apply to them. The
 * SCR API is a staff API: patient-context and query-constrained tokens are refused. AUTH=off: none.
 */
export function requireScrAccess(res: Response, ...requests: AccessRequest[]): void {
  const grant = (res.locals.access as { grant?: Grant } | undefined)?.grant;
  if (!grant) return;
  for (const request of requests) {
    const decision = decide(request, grant);
    if (!decision.allow) throw forbidden(decision.reason);
    if (Object.values(decision.byType).some((t) => t.patientCompartment !== undefined || t.constraints !== undefined)) {
      throw forbidden('The Summary Care Record API is not available to patient-context or query-constrained tokens');
    }
  }
}

/** The token's user, as server/access.ts found it (undefined with AUTH=off or for an app-restricted token). */
export function userOf(res: Response): Grant['user'] {
  return (res.locals.access as { grant?: Grant } | undefined)?.grant?.user;
}

function idOf(reference: string | undefined, type: string): string | undefined {
  return reference === undefined ? undefined : new RegExp(`(?:^|/)${type}/([A-Za-z0-9\\-.]{1,64})$`).exec(reference)?.[1];
}

function odsCodeOf(organization: Reference | undefined): string | undefined {
  if (organization?.identifier?.system === ODS_ORGANIZATION_CODE_SYSTEM && organization.identifier.value) return organization.identifier.value;
  return idOf(organization?.reference, 'Organization'); // ODS: the Organization id is the ODS code
}

/**
 * The reader's organisation (ODS code): the organization of the user's PractitionerRole, which is
 * the token's fhirUser when that is a PractitionerRole, or else the role profile the request names
 * in `NHSD-Session-URID` (its sds-role-profile-id), which must belong to the fhirUser Practitioner.
 * Undefined when neither names a role with an organisation.
 */
export async function readerOrganization(engine: InteractionEngine, user: Grant['user'], urid: string | undefined): Promise<string | undefined> {
  const fhirUser = user?.fhirUser;
  if (fhirUser === undefined) return undefined;
  const type = fhirUserType(fhirUser);
  let role: PractitionerRole | undefined;
  if (type === 'PractitionerRole') {
    const id = idOf(fhirUser, 'PractitionerRole')!;
    if (await engine.exists('PractitionerRole', id)) role = JSON.parse((await engine.read('PractitionerRole', id)).json!) as PractitionerRole;
  } else if (type === 'Practitioner' && urid !== undefined && /^\d{1,32}$/.test(urid)) {
    const practitioner = idOf(fhirUser, 'Practitioner')!;
    const { result } = await engine.search(['PractitionerRole'], [
      ['identifier', `${SDS_ROLE_PROFILE_ID_SYSTEM}|${urid}`], ['practitioner', `Practitioner/${practitioner}`],
    ], { strict: true, defaultCount: 2, maxCount: 2 });
    if (result.matches.length === 1) role = JSON.parse(result.matches[0].json!) as PractitionerRole;
  }
  return role && role.active !== false ? odsCodeOf(role.organization) : undefined;
}

const PRIVACY_OFFICER = 'R0001';

/** A staff user holding the Privacy Officer job role, whose view of AuditEvent is narrowed below. */
export function isPrivacyOfficer(grant: Grant): boolean {
  if (!grant.user || !grant.user.roles.some((r) => jobRoleOf(r) === PRIVACY_OFFICER)) return false;
  const type = grant.user.fhirUser === undefined ? undefined : fhirUserType(grant.user.fhirUser);
  return type !== 'Patient' && type !== 'RelatedPerson';
}

/**
 * A staff user holding the Privacy Officer role (R0001) sees, of the audit trail, the SCR alerts of
 * its own organisation (readerOrganization): the AuditEvent access of its decision is narrowed
 * with the constraints `type=<SCR-AlertType>|` and `agent=Organization/<ODS>`, which the search
 * plan and the single-resource checks of server/access.ts then apply. No organisation: 403.
 */
export async function restrictPrivacyOfficer(
  request: AccessRequest, grant: Grant, decision: Extract<AccessDecision, { allow: true }>, req: Request, engine: InteractionEngine,
): Promise<void> {
  const audit = decision.byType.AuditEvent;
  if (!audit || !isPrivacyOfficer(grant)) return;
  const ods = await readerOrganization(engine, grant.user, req.get('nhsd-session-urid'));
  if (ods === undefined) {
    throw forbidden('A privacy officer sees the alerts of its organisation: name the role (fhirUser PractitionerRole or NHSD-Session-URID)');
  }
  const own: [string, string][] = [['type', `${ALERT_TYPE_SYSTEM}|`], ['agent', alertOrganizationReference(ods)]];
  audit.constraints = audit.constraints ? audit.constraints.map((list) => [...list, ...own]) : [own];
  if (request.resourceTypes.length === 1) decision.constraints = audit.constraints;
}
