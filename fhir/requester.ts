import { FHIR_ID_SOURCE } from './id.js';

/**
 * Who is asking: the one shape of a requester that the access decision (auth/), the request
 * context (server/) and the Spine modules' rules (resources/) share. It is built once per
 * request from the verified token (server/access.ts); with AUTH=off every request is ANONYMOUS.
 * It carries no token and no secret.
 */
export interface Requester {
  /** The OAuth client (token `client_id`); absent for an anonymous request. */
  clientId?: string;
  /** The user on whose behalf the client acts: token `fhirUser` and national RBAC job roles. */
  user?: { fhirUser?: string; roles: string[] };
  /** The ODS code of the organisation the caller acts for (token `org_code`). */
  orgCode?: string;
  /** Token `purpose_of_use` codes (`code` in v3-ActReason, or `system|code`). */
  purposeOfUse?: string[];
  /** The SMART launch patient (token `patient`). */
  patient?: string;
  /**
   * May see what restricted (v3-Confidentiality R) patients' records hide. No requester is
   * privileged yet: emergency access to restricted records is to come (see the README).
   */
  privileged: boolean;
}

export const ANONYMOUS: Requester = Object.freeze({ privileged: false });

const FHIR_USER = new RegExp(`(?:^|/)([A-Z][A-Za-z]+)/${FHIR_ID_SOURCE}$`);

/** The resource type a fhirUser reference names (`Practitioner/1`, an absolute URL, `Patient/9`). */
export function fhirUserType(fhirUser: string): string | undefined {
  return FHIR_USER.exec(fhirUser)?.[1];
}

/** A staff user: a user whose fhirUser is not a patient or a related person. */
export function isStaffUser(user: Requester['user']): user is NonNullable<Requester['user']> {
  if (!user) return false;
  const type = user.fhirUser === undefined ? undefined : fhirUserType(user.fhirUser);
  return type !== 'Patient' && type !== 'RelatedPerson';
}
