import type { Coding, Patient } from 'fhir/r4.js';
import type { Reader } from '../hooks.js';
import { DEATH_NOTIFICATION_URL } from './extensions.js';

/**
 * Information-governance rules for sensitive patients (nhs-spine.md §1.8). A patient labelled
 * v3-Confidentiality `R` keeps its identity (name, gender, birth, death) but loses every detail
 * that would locate them, for every reader without a privileged role; a `REDACTED` record is an
 * invalidated one and is never returned.
 */
export const CONFIDENTIALITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';

/**
 * What a restricted record keeps for a non-privileged reader: identity, birth and death, as the PDS
 * sample of a sensitive patient shows. Everything else goes, narrative and contained resources
 * included, since either may repeat an address.
 */
const KEPT_ELEMENTS = new Set([
  'resourceType', 'id', 'meta', 'implicitRules', 'language', 'identifier', 'active', 'name', 'gender', 'birthDate',
  'deceasedBoolean', 'deceasedDateTime', 'multipleBirthBoolean', 'multipleBirthInteger', 'link',
]);
const KEPT_EXTENSIONS = new Set([DEATH_NOTIFICATION_URL]);

/**
 * Search parameters over the stripped elements. A restricted patient must not be found through
 * them either, or the search itself would reveal where they live (PDS excludes them from postcode
 * and GP searches; the same reasoning covers the other address and telecom parameters).
 */
const LOCATING_PARAMETERS = new Set([
  'address', 'address-city', 'address-country', 'address-postalcode', 'address-postcode', 'address-state', 'address-use',
  'general-practitioner', 'phone', 'email', 'telecom',
]);

function hasLabel(patient: { meta?: { security?: Coding[] } }, code: string): boolean {
  return patient.meta?.security?.some((c) => c.system === CONFIDENTIALITY_SYSTEM && c.code === code) ?? false;
}

export const isRestricted = (patient: Patient): boolean => hasLabel(patient, 'R');
export const isInvalidated = (patient: Patient): boolean => hasLabel(patient, 'REDACTED');

/**
 * The patient as `reader` may see it: when the record is restricted (judged by its current
 * version, so an older version from before the label does not give the details away), a copy
 * with only the identity elements.
 */
export function redactForReader(patient: Patient, reader: Reader, current: Patient = patient): Patient {
  if (reader.privileged || !(isRestricted(patient) || isRestricted(current))) return patient;
  const redacted: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(patient)) if (KEPT_ELEMENTS.has(key)) redacted[key] = value;
  const extensions = patient.extension?.filter((e) => KEPT_EXTENSIONS.has(e.url));
  if (extensions?.length) redacted.extension = extensions;
  return redacted as unknown as Patient;
}

/** Does this parameter (with any modifier or chain) search a locating element? */
export function isLocatingParameter(name: string): boolean {
  return LOCATING_PARAMETERS.has(name.split(/[:.]/)[0]);
}

/**
 * Criteria ANDed into every Patient search, and into every chain that reaches Patient:
 * invalidated records are never found, and restricted ones are not found (or sorted) by any
 * parameter over the elements they hide.
 */
export function restrictedPatientCriteria(params: [string, string][]): [string, string][] {
  const extra: [string, string][] = [['_security:not', `${CONFIDENTIALITY_SYSTEM}|REDACTED`]];
  const locating = params.some(([name, value]) => isLocatingParameter(name)
    || (name === '_sort' && value.split(',').some((key) => isLocatingParameter(key.replace(/^-/, '')))));
  if (locating) extra.push(['_security:not', `${CONFIDENTIALITY_SYSTEM}|R`]);
  return extra;
}
