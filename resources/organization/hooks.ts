import { randomInt } from 'node:crypto';
import type { Organization, Resource, SearchParameter } from 'fhir/r4.js';
import { spineError } from '../../fhir/spine-errors.js';
import type { SearchParameterRegistry } from '../../search/registry.js';
import type { HookRegistry, ResourceHooks } from '../hooks.js';
import {
  ODS_CODE_PATTERN, ODS_DATE_TIME_SYSTEM, ODS_ORGANIZATION_CODE_SYSTEM, ODS_ROLE_SYSTEM, ORGANISATION_ROLE_URL,
  ROLE_CODE_PATTERN, TYPED_DATE_TIME_URL,
} from './ods.js';

/**
 * ODS rules for Organization (nhs-spine.md §3.1): the id is the ODS code, an ODS identifier (if
 * any) repeats it, and roles are Extension-England-OrganisationRole with an ODS role code.
 */

const LOCAL_CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/**
 * The id of an Organization created without an ODS code (a plain FHIR client's POST): a local
 * 12-character code of the same alphabet, starting with 'VX' so that it cannot be confused with the
 * 3 to 6 character codes ODS issues to organisations.
 */
function localCode(): string {
  let code = 'VX';
  while (code.length < 12) code += LOCAL_CODE_ALPHABET[randomInt(LOCAL_CODE_ALPHABET.length)];
  return code;
}

function odsIdentifiers(org: Organization): { index: number; value: unknown }[] {
  return (org.identifier ?? []).flatMap((id, index) => (id.system === ODS_ORGANIZATION_CODE_SYSTEM ? [{ index, value: id.value }] : []));
}

export function validateOdsCode(id: string): void {
  if (!ODS_CODE_PATTERN.test(id)) {
    throw spineError(400, 'INVALID_RESOURCE_ID', `Organization id '${id}' is not an ODS code (3 to 12 upper-case letters and digits)`);
  }
}

/** Business rules of an Organization; its id (the one it is written under) is checked by validateId. */
export function validateOrganization(resource: Resource, id: string | undefined = resource.id): void {
  const org = resource as Organization;
  for (const { index, value } of odsIdentifiers(org)) {
    const path = [`Organization.identifier[${index}].value`];
    if (typeof value !== 'string' || !ODS_CODE_PATTERN.test(value)) {
      throw spineError(422, 'INVALID_VALUE', `The ODS organisation code '${String(value)}' is not an ODS code (3 to 12 upper-case letters and digits)`, path);
    }
    if (id !== undefined && value !== id) {
      throw spineError(422, 'INVALID_VALUE', `The ODS organisation code '${value}' must equal the Organization id '${id}'`, path);
    }
  }
  (org.extension ?? []).forEach((ext, i) => {
    if (ext.url !== ORGANISATION_ROLE_URL) return;
    const sub = ext.extension ?? [];
    const at = `Organization.extension[${i}]`;
    const codes = sub.flatMap((e, j) => (e.url === 'roleCode' ? [{ e, j }] : []));
    if (codes.length !== 1) throw spineError(422, 'INVALID_VALUE', 'An OrganisationRole extension needs exactly one roleCode', [`${at}.extension`]);
    const { e, j } = codes[0];
    const codings = e.valueCoding ? [e.valueCoding] : e.valueCodeableConcept?.coding ?? [];
    for (const c of codings) {
      if (c.system === ODS_ROLE_SYSTEM && !ROLE_CODE_PATTERN.test(c.code ?? '')) {
        throw spineError(422, 'INVALID_VALUE', `'${String(c.code)}' is not an ODS role code (RO followed by digits)`, [`${at}.extension[${j}].value`]);
      }
    }
    const active = sub.filter((s) => s.url === 'active');
    if (active.length > 1 || (active.length === 1 && typeof active[0].valueBoolean !== 'boolean')) {
      throw spineError(422, 'INVALID_VALUE', 'An OrganisationRole extension has at most one active flag, a boolean', [`${at}.extension`]);
    }
  });
}

export function organizationHooks(): ResourceHooks {
  const choose = async (resource: Resource, isTaken: (id: string) => Promise<boolean>): Promise<string> => {
    const [ods] = odsIdentifiers(resource as Organization);
    // An invalid code is refused by validate (422, with the identifier's path); a taken one is a 409.
    if (typeof ods?.value === 'string' && ODS_CODE_PATTERN.test(ods.value)) return ods.value;
    for (;;) {
      const code = localCode();
      if (!(await isTaken(code))) return code;
    }
  };
  return {
    validateId: validateOdsCode,
    assignId: choose,
    validate: (resource) => validateOrganization(resource),
  };
}

const SP_BASE = 'urn:vertebra:SearchParameter:';
const roles = `Organization.extension.where(url='${ORGANISATION_ROLE_URL}')`;

/** The ODS API's Organization search parameters that the R4 definitions lack. */
export const ODS_SEARCH_PARAMETERS: SearchParameter[] = [
  {
    resourceType: 'SearchParameter', url: `${SP_BASE}Organization-roleCode`, name: 'roleCode', status: 'active',
    description: 'Any ODS role of the organisation (Extension-England-OrganisationRole.roleCode), active or not',
    code: 'roleCode', base: ['Organization'], type: 'token',
    expression: `${roles}.extension.where(url='roleCode').value`,
  },
  {
    resourceType: 'SearchParameter', url: `${SP_BASE}Organization-activeRoleCode`, name: 'activeRoleCode', status: 'active',
    description: 'An ODS role of the organisation whose active flag is true',
    code: 'activeRoleCode', base: ['Organization'], type: 'token',
    expression: `${roles}.where(extension.where(url='active').value = true).extension.where(url='roleCode').value`,
  },
  {
    resourceType: 'SearchParameter', url: `${SP_BASE}Organization-lastChangeDate`, name: 'lastChangeDate', status: 'active',
    description: 'The ODS LastChangeDate (Extension-England-TypedDateTime)',
    code: 'lastChangeDate', base: ['Organization'], type: 'date',
    expression: `Organization.extension.where(url='${TYPED_DATE_TIME_URL}')`
      + `.where(extension.where(url='type').value.where(system='${ODS_DATE_TIME_SYSTEM}' and code='LastChangeDate').exists())`
      + `.extension.where(url='dateTime').value`,
  },
];

/** Registers the ODS hooks and search parameters (called by resources/spine.ts). */
export function registerOrganization(hooks: HookRegistry, registry: SearchParameterRegistry): void {
  hooks.register('Organization', organizationHooks());
  for (const sp of ODS_SEARCH_PARAMETERS) registry.register(sp);
}
