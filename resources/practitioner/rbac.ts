/**
 * National RBAC job roles (nhs-spine.md §4): the few the server knows by name, and the shape of
 * job role codes as they appear on PractitionerRole.code and in CIS2's `nhsid_nrbac_roles[]`.
 * Pure: the auth work decides access with it. Codes and displays are those of UK Core's
 * CodeSystem-UKCore-SDSJobRoleName (392 codes; any `R` + 4 digits is a well-formed code).
 */

export const SDS_JOB_ROLE_CODE_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode';
export const SDS_JOB_ROLE_NAME_SYSTEM = 'https://fhir.hl7.org.uk/CodeSystem/UKCore-SDSJobRoleName';
/** The CodeSystems whose codes on PractitionerRole.code are national RBAC job roles. */
export const JOB_ROLE_SYSTEMS: readonly string[] = [SDS_JOB_ROLE_CODE_SYSTEM, SDS_JOB_ROLE_NAME_SYSTEM];

export interface RbacRole {
  code: string;
  display: string;
  /** A role whose holder gives care and may see clinical records (not admin, clerical or IG). */
  clinical: boolean;
}

export const NATIONAL_RBAC_ROLES: readonly RbacRole[] = Object.freeze([
  { code: 'R8000', display: 'Clinical Practitioner Access Role', clinical: true },
  { code: 'R8001', display: 'Nurse Access Role', clinical: true },
  { code: 'R8002', display: 'Nurse Manager Access Role', clinical: true },
  { code: 'R8003', display: 'Health Professional Access Role', clinical: true },
  // Students work under supervision: not a clinical role on its own.
  { code: 'R8004', display: 'Healthcare Student Access Role', clinical: false },
  { code: 'R8008', display: 'Admin/Clinical Support Access Role', clinical: false },
  { code: 'R8010', display: 'Clerical Access Role', clinical: false },
  { code: 'R8013', display: 'Health Records Manager Access Role', clinical: false },
  { code: 'R8015', display: 'Systems Support Access Role', clinical: false },
  { code: 'R0001', display: 'Privacy Officer', clinical: false },
  { code: 'R0050', display: 'Consultant', clinical: true },
  { code: 'R0260', display: 'General Medical Practitioner', clinical: true },
  { code: 'R0270', display: 'Salaried General Practitioner', clinical: true },
  { code: 'R6200', display: 'GP Registrar', clinical: true },
  { code: 'R6300', display: 'Sessional GP', clinical: true },
  { code: 'R0600', display: 'Specialist Nurse Practitioner', clinical: true },
  { code: 'R1290', display: 'Pharmacist', clinical: true },
].map((r) => Object.freeze(r)));

const BY_CODE = new Map(NATIONAL_RBAC_ROLES.map((r) => [r.code, r]));

/** `R` + 4 digits, alone or as the job role of a CIS2 `S....:G....:R....` triple. */
const JOB_ROLE = /^R\d{4}$/;
const TRIPLE = /^S\d{4}:G\d{4}:(R\d{4})$/;

/**
 * The job role (`R....`) a code names, from either the bare form or the CIS2 triple
 * (staff group : sub-group : job role); undefined when the code has neither shape.
 */
export function jobRoleOf(code: string): string | undefined {
  if (JOB_ROLE.test(code)) return code;
  return TRIPLE.exec(code)?.[1];
}

export function isWellFormedJobRoleCode(code: string): boolean {
  return jobRoleOf(code) !== undefined;
}

/** The known national RBAC role for a code (bare or triple form), if vertebra knows it. */
export function rbacRole(code: string): RbacRole | undefined {
  const role = jobRoleOf(code);
  return role === undefined ? undefined : BY_CODE.get(role);
}

/** True when the code (bare or triple form) is a known clinical job role; unknown codes are not. */
export function isClinicalRole(code: string): boolean {
  return rbacRole(code)?.clinical ?? false;
}
