import type { Coding, Patient } from 'fhir/r4.js';
import type { Reader } from '../hooks.js';

/**
 * Information-governance rules for sensitive patients (nhs-spine.md §1.8). A patient labelled
 * v3-Confidentiality `R` keeps its identity (name, gender, birth, death) but loses every detail
 * that would locate them, for every reader without a privileged role; a `REDACTED` record is an
 * invalidated one and is never returned.
 */
export const CONFIDENTIALITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';

/** Extensions that locate a patient (their pharmacies, suppliers and birthplace). */
const LOCATING_EXTENSIONS = new Set([
  'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy',
  'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-PreferredDispenserOrganization',
  'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-MedicalApplianceSupplier',
  'http://hl7.org/fhir/StructureDefinition/patient-birthPlace',
]);

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

/** The patient as `reader` may see it: a copy without the locating elements when restricted. */
export function redactForReader(patient: Patient, reader: Reader): Patient {
  if (reader.privileged || !isRestricted(patient)) return patient;
  const { address: _a, telecom: _t, contact: _c, generalPractitioner: _g, ...rest } = patient;
  const redacted: Patient = rest;
  if (patient.extension) {
    const kept = patient.extension.filter((e) => !LOCATING_EXTENSIONS.has(e.url));
    if (kept.length) redacted.extension = kept;
    else delete redacted.extension;
  }
  return redacted;
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
