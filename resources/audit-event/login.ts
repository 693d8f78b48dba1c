import type { AuditEvent, AuditEventAgent, Identifier } from 'fhir/r4.js';
import { ODS_ORGANIZATION_CODE_SYSTEM, SDS_ROLE_PROFILE_ID_SYSTEM, SDS_USER_ID_SYSTEM } from '../practitioner/identifiers.js';
import { CLIENT_ID_SYSTEM, JOB_ROLE_SYSTEM } from './index.js';
import type { LoginAuditInput } from '../module.js';

/**
 * The AuditEvent of a staff sign-in attempt or sign-out (issue 5: "AuditEvent ... for logins"), in
 * the DICOM / IHE style: type DCM 110114 "User Authentication", subtype 110122 "Login" or 110123
 * "Logout", outcome 0 (success) or 4 (failure). The user is the requestor: `who.reference` is
 * their fhirUser when known, `who.identifier` their SDS user id (IdP sign-in) or the local
 * username (typed, for a failed attempt). The OAuth client they were signing in for is a second
 * agent. Never a password: the input has no field for one.
 */
export type { LoginAuditInput } from '../module.js';

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
/** Local usernames (DATA_DIR/auth/accounts.json) as agent identifiers. */
export const STAFF_USERNAME_SYSTEM = 'urn:vertebra:staff-username';

export function loginAuditEvent(input: LoginAuditInput): AuditEvent {
  const agent: AuditEventAgent[] = [];
  const u = input.user;
  const user: AuditEventAgent = {
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type', code: 'humanuser', display: 'human user' }] },
    requestor: true,
  };
  const identifier: Identifier | undefined = u?.sdsUserId ? { system: SDS_USER_ID_SYSTEM, value: u.sdsUserId }
    : u?.username ? { system: STAFF_USERNAME_SYSTEM, value: u.username } : undefined;
  if (u?.fhirUser || identifier) user.who = { ...(u?.fhirUser ? { reference: u.fhirUser } : {}), ...(identifier ? { identifier } : {}) };
  else user.who = { display: 'unknown user' };
  if (u?.roles?.length) user.role = u.roles.map((r) => ({ coding: [{ system: JOB_ROLE_SYSTEM, code: r }] }));
  agent.push(user);
  if (input.clientId !== undefined) {
    agent.push({
      type: { coding: [{ system: DCM, code: '110150', display: 'Application' }] },
      who: { identifier: { system: CLIENT_ID_SYSTEM, value: input.clientId } },
      requestor: false,
    });
  }
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    type: { system: DCM, code: '110114', display: 'User Authentication' },
    subtype: [input.action === 'login' ? { system: DCM, code: '110122', display: 'Login' } : { system: DCM, code: '110123', display: 'Logout' }],
    action: 'E',
    recorded: input.recorded,
    outcome: input.success ? '0' : '4',
    agent,
    source: {
      observer: { display: 'vertebra' },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
  };
  if (!input.success && input.outcomeDesc) event.outcomeDesc = input.outcomeDesc;
  const entity: NonNullable<AuditEvent['entity']> = [];
  // The CIS2 role profile and its organisation, when the IdP named them: in which role, where.
  if (u?.roleProfileId) {
    entity.push({
      what: { identifier: { system: SDS_ROLE_PROFILE_ID_SYSTEM, value: u.roleProfileId } },
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
      description: 'selected role profile',
      ...(u.orgCode ? { detail: [{ type: 'organisation', valueString: `${ODS_ORGANIZATION_CODE_SYSTEM}|${u.orgCode}` }] } : {}),
    });
  }
  if (input.requestId !== undefined) {
    entity.push({
      what: { identifier: { value: input.requestId } },
      type: { system: 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType', code: 'XrequestId', display: 'X-Request-Id' },
    });
  }
  if (entity.length) event.entity = entity;
  return event;
}
