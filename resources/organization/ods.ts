/**
 * ODS (Organisation Data Service) vocabulary: the systems, extension URLs and code patterns that
 * the ODS FHIR R4 API uses for Organization and OrganizationAffiliation (nhs-spine.md §3.1).
 */
import type { Extension, Organization } from 'fhir/r4.js';

export const ODS_ORGANIZATION_CODE_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';
export const ODS_ROLE_SYSTEM = 'https://digital.nhs.uk/services/organisation-data-service/CodeSystem/ODSOrganisationRole';
export const ODS_RELATIONSHIP_SYSTEM = 'https://digital.nhs.uk/services/organisation-data-service/CodeSystem/ODSRelationship';
export const ORGANISATION_ROLE_URL = 'https://fhir.nhs.uk/England/StructureDefinition/Extension-England-OrganisationRole';
export const TYPED_PERIOD_URL = 'https://fhir.nhs.uk/England/StructureDefinition/Extension-England-TypedPeriod';
export const TYPED_DATE_TIME_URL = 'https://fhir.nhs.uk/England/StructureDefinition/Extension-England-TypedDateTime';
export const PERIOD_TYPE_SYSTEM = 'https://fhir.nhs.uk/England/CodeSystem/England-PeriodType';
export const ODS_DATE_TIME_SYSTEM = 'https://fhir.nhs.uk/England/CodeSystem/England-ODSDateTime';
export const UKCORE_ORGANIZATION_PROFILE = 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-Organization';
export const ENGLAND_ORGANIZATION_ODS_PROFILE = 'https://fhir.nhs.uk/England/StructureDefinition/England-Organization-ODS';

/**
 * An ODS code as vertebra accepts it for an Organization id: upper-case letters and digits, 3 to
 * 12 characters (real codes are 3 (regions, e.g. Y56) to 6 (practices, e.g. G81086) characters;
 * sites and other record classes are longer).
 */
export const ODS_CODE_PATTERN = /^[A-Z0-9]{3,12}$/;
/** An ODS role code as the ODS FHIR API writes it (`RO177`). */
export const ROLE_CODE_PATTERN = /^RO\d{1,4}$/;

export function isOdsCode(value: unknown): value is string {
  return typeof value === 'string' && ODS_CODE_PATTERN.test(value);
}

export interface OdsRole {
  code: string;
  /** ORD role instance id, when known. */
  instanceId?: number;
  /** Legal/operational start and end (yyyy-mm-dd). */
  start?: string;
  end?: string;
  active: boolean;
}

/** One Extension-England-OrganisationRole, in the shape the ODS FHIR API sends. */
export function roleExtension(role: OdsRole): Extension {
  const extension: Extension[] = [];
  if (role.instanceId !== undefined) extension.push({ url: 'instanceID', valueInteger: role.instanceId });
  extension.push({ url: 'roleCode', valueCoding: { system: ODS_ROLE_SYSTEM, code: role.code } });
  if (role.start !== undefined || role.end !== undefined) {
    const period = { ...(role.start ? { start: role.start } : {}), ...(role.end ? { end: role.end } : {}) };
    for (const dateType of ['Legal', 'Operational']) {
      extension.push({
        url: TYPED_PERIOD_URL,
        extension: [
          { url: 'dateType', valueCoding: { system: PERIOD_TYPE_SYSTEM, code: dateType, display: dateType } },
          { url: 'period', valuePeriod: period },
        ],
      });
    }
  }
  extension.push({ url: 'active', valueBoolean: role.active });
  return { url: ORGANISATION_ROLE_URL, extension };
}

/** Extension-England-TypedDateTime carrying the ODS LastChangeDate. */
export function lastChangeDateExtension(date: string): Extension {
  return {
    url: TYPED_DATE_TIME_URL,
    extension: [
      { url: 'type', valueCoding: { system: ODS_DATE_TIME_SYSTEM, code: 'LastChangeDate', display: 'Last Change Date' } },
      { url: 'dateTime', valueDateTime: date },
    ],
  };
}

/** The role codes an Organization carries (any coding of each role extension's roleCode). */
export function roleCodes(org: Organization): { code: string; active: boolean }[] {
  const out: { code: string; active: boolean }[] = [];
  for (const ext of org.extension ?? []) {
    if (ext.url !== ORGANISATION_ROLE_URL) continue;
    const sub = ext.extension ?? [];
    const active = sub.find((e) => e.url === 'active')?.valueBoolean === true;
    for (const e of sub) {
      if (e.url !== 'roleCode') continue;
      const codings = e.valueCoding ? [e.valueCoding] : e.valueCodeableConcept?.coding ?? [];
      for (const c of codings) if (c.code) out.push({ code: c.code, active });
    }
  }
  return out;
}
