import type { PractitionerRole, Reference } from 'fhir/r4.js';
import { referencedId } from '../../fhir/id.js';
import { fhirUserType, type Requester } from '../../fhir/requester.js';
import type { InteractionEngine } from '../engine.js';
import { ODS_ORGANIZATION_CODE_SYSTEM } from '../organization/ods.js';
import { SDS_ROLE_PROFILE_ID_SYSTEM } from './identifiers.js';

function odsCodeOf(organization: Reference | undefined): string | undefined {
  if (organization?.identifier?.system === ODS_ORGANIZATION_CODE_SYSTEM && organization.identifier.value) return organization.identifier.value;
  return referencedId(organization?.reference, 'Organization'); // ODS: the Organization id is the ODS code
}

/**
 * The reader's organisation (ODS code), as SDS knows it: the organization of the user's
 * PractitionerRole, which is the token's fhirUser when that is a PractitionerRole, or else the role
 * profile the request names in `NHSD-Session-URID` (its sds-role-profile-id), which must belong to
 * the fhirUser Practitioner. Undefined when neither names an active role with an organisation.
 */
export async function readerOrganization(engine: InteractionEngine, user: Requester['user'], urid: string | undefined): Promise<string | undefined> {
  const fhirUser = user?.fhirUser;
  if (fhirUser === undefined) return undefined;
  const type = fhirUserType(fhirUser);
  let role: PractitionerRole | undefined;
  if (type === 'PractitionerRole') {
    const id = referencedId(fhirUser, 'PractitionerRole')!;
    if (await engine.exists('PractitionerRole', id)) role = JSON.parse((await engine.read('PractitionerRole', id)).json!) as PractitionerRole;
  } else if (type === 'Practitioner' && urid !== undefined && /^\d{1,32}$/.test(urid)) {
    const practitioner = referencedId(fhirUser, 'Practitioner')!;
    const { result } = await engine.search(['PractitionerRole'], [
      ['identifier', `${SDS_ROLE_PROFILE_ID_SYSTEM}|${urid}`], ['practitioner', `Practitioner/${practitioner}`],
    ], { strict: true, defaultCount: 2, maxCount: 2 });
    if (result.matches.length === 1) role = JSON.parse(result.matches[0].json!) as PractitionerRole;
  }
  return role && role.active !== false ? odsCodeOf(role.organization) : undefined;
}

/** The request header naming the reader's role profile (NHS API convention). */
export const SESSION_URID_HEADER = 'NHSD-Session-URID';
