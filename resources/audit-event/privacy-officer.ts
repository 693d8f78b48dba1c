import { FhirError } from '../../fhir/errors.js';
import { isStaffUser, type Requester } from '../../fhir/requester.js';
import { alertOrganizationReference } from '../composition/alert.js';
import { ALERT_TYPE_SYSTEM } from '../composition/codes.js';
import type { AccessRestriction } from '../module.js';
import { jobRoleOf } from '../practitioner/rbac.js';
import { readerOrganization, SESSION_URID_HEADER } from '../practitioner/reader-organization.js';

const PRIVACY_OFFICER = 'R0001';

/** A staff user holding the Privacy Officer job role (R0001). */
export function isPrivacyOfficer(who: Requester): boolean {
  return isStaffUser(who.user) && who.user.roles.some((r) => jobRoleOf(r) === PRIVACY_OFFICER);
}

/**
 * A privacy officer sees, of the audit trail, the SCR alerts of its own organisation (the
 * organisation of its role, resources/practitioner/reader-organization.ts): its AuditEvent access
 * is narrowed with `type=<SCR-AlertType>|` and `agent=Organization/<ODS>`, which the search plan
 * and the single-resource checks then apply. No organisation: 403.
 */
export const privacyOfficerRestriction: AccessRestriction = {
  resourceType: 'AuditEvent',
  appliesTo: isPrivacyOfficer,
  describe: 'a privacy officer\'s AuditEvent access is restricted',
  async constraints(who, header, engine) {
    const ods = await readerOrganization(engine, who.user, header(SESSION_URID_HEADER));
    if (ods === undefined) {
      throw new FhirError(403, [{ severity: 'error', code: 'forbidden', diagnostics: 'A privacy officer sees the alerts of its organisation: name the role (fhirUser PractitionerRole or NHSD-Session-URID)' }]);
    }
    return [['type', `${ALERT_TYPE_SYSTEM}|`], ['agent', alertOrganizationReference(ods)]];
  },
};
