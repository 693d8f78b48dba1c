/**
 * Staff identifiers (nhs-spine.md §4 and §2.3): the SDS user and role-profile ids, and the
 * professional registration numbers UK Core lists for Practitioner.identifier. Pure: no I/O.
 *
 * The format rules, and where each comes from:
 * - SDS user id and SDS role profile id: exactly 12 digits. This is the smartcard UUID / URPID
 *   shape in every Spine example (`555086689106`, `100334993514`, `555086415105`). vertebra's own
 *   rule: SDS publishes no format.
 * - GMC: 7 digits or `L` + 6 digits (UK Core identifier guide). EPS sends the prescriber-code
 *   form with a leading `C` (`C6095103`), which is accepted too.
 * - GMP: `G` + 7 digits, i.e. a leading character, the 6-digit DIN and a check digit (UK Core
 *   guide; EPS example `G1234567`). The check-digit algorithm is not published in the reference,
 *   so only the shape is checked.
 * - NMC: 8 alphanumeric characters (UK Core guide; `12A3456B`, `71A2998E`).
 * - GPhC: 7 digits starting with 2 (UK Core guide; `2095103`, `2298676`).
 * - HCPC: 2 letters + 1 to 6 digits (UK Core guide; `CH001234`).
 * - DIN, professional-code and the NHSBSA spurious code: no published rule, not checked.
 *
 * Three UK Core 2.0.0 examples carry placeholder values that break the guide's own rules
 * (ConsultantSandraGose: GMC `C12345678`; DoctorPaulRastall: GMP `G12345678`;
 * PharmacistJimmyChuck: SDS user id `P12345678`): vertebra refuses them.
 */

export const SDS_USER_ID_SYSTEM = 'https://fhir.nhs.uk/Id/sds-user-id';
export const SDS_ROLE_PROFILE_ID_SYSTEM = 'https://fhir.nhs.uk/Id/sds-role-profile-id';
export const GMC_SYSTEM = 'https://fhir.hl7.org.uk/Id/gmc-number';
export const GMP_SYSTEM = 'https://fhir.hl7.org.uk/Id/gmp-number';
export const NMC_SYSTEM = 'https://fhir.hl7.org.uk/Id/nmc-number';
export const GPHC_SYSTEM = 'https://fhir.hl7.org.uk/Id/gphc-number';
export const HCPC_SYSTEM = 'https://fhir.hl7.org.uk/Id/hcpc-number';
export const DIN_SYSTEM = 'https://fhir.hl7.org.uk/Id/din-number';
export { ODS_ORGANIZATION_CODE_SYSTEM } from '../organization/ods.js';

interface FormatRule {
  /** What a client is told the value should look like. */
  name: string;
  description: string;
  pattern: RegExp;
}

const TWELVE_DIGITS = /^\d{12}$/;

/** Identifier systems whose values vertebra checks, with their rule. */
const RULES: Record<string, FormatRule> = {
  [SDS_USER_ID_SYSTEM]: { name: 'SDS user id', description: '12 digits', pattern: TWELVE_DIGITS },
  [SDS_ROLE_PROFILE_ID_SYSTEM]: { name: 'SDS role profile id', description: '12 digits', pattern: TWELVE_DIGITS },
  [GMC_SYSTEM]: { name: 'GMC number', description: '7 digits (optionally prefixed C), or L followed by 6 digits', pattern: /^(C?\d{7}|L\d{6})$/ },
  [GMP_SYSTEM]: { name: 'GMP number', description: 'G followed by 7 digits', pattern: /^G\d{7}$/ },
  [NMC_SYSTEM]: { name: 'NMC PIN', description: '8 letters or digits, e.g. 12A3456B', pattern: /^[A-Z0-9]{8}$/ },
  [GPHC_SYSTEM]: { name: 'GPhC number', description: '7 digits starting with 2', pattern: /^2\d{6}$/ },
  [HCPC_SYSTEM]: { name: 'HCPC number', description: '2 letters followed by up to 6 digits, e.g. CH001234', pattern: /^[A-Z]{2}\d{1,6}$/ },
};

/** True when vertebra has a format rule for identifiers of `system`. */
export function hasFormatRule(system: string): boolean {
  return Object.hasOwn(RULES, system);
}

/**
 * Why `value` is not a well-formed identifier of `system`, or undefined when it is (or when
 * vertebra has no rule for the system).
 */
export function identifierProblem(system: string, value: string): string | undefined {
  if (!hasFormatRule(system)) return undefined;
  const rule = RULES[system];
  if (rule.pattern.test(value)) return undefined;
  return `'${value}' is not a valid ${rule.name} (${system}): expected ${rule.description}`;
}

export const isSdsUserId = (value: string): boolean => TWELVE_DIGITS.test(value);
export const isSdsRoleProfileId = (value: string): boolean => TWELVE_DIGITS.test(value);
export const isGmcNumber = (value: string): boolean => RULES[GMC_SYSTEM].pattern.test(value);
export const isGmpNumber = (value: string): boolean => RULES[GMP_SYSTEM].pattern.test(value);
export const isNmcPin = (value: string): boolean => RULES[NMC_SYSTEM].pattern.test(value);
export const isGphcNumber = (value: string): boolean => RULES[GPHC_SYSTEM].pattern.test(value);
export const isHcpcNumber = (value: string): boolean => RULES[HCPC_SYSTEM].pattern.test(value);
