import type { Bundle, BundleEntry, Composition, Patient, Resource } from 'fhir/r4.js';
import { spineError } from '../../fhir/spine-errors.js';
import { isValidNhsNumber, NHS_NUMBER_SYSTEM } from '../patient/nhs-number.js';
import { GP_SUMMARY, RFC4122_SYSTEM } from './codes.js';

/**
 * The SCR upload's document Bundle (nhs-spine.md §5.2): a `document` Bundle whose first entry is a
 * Composition of type General Practice Summary. Pure checks and the patient it is about.
 */
export interface ScrDocument {
  bundle: Bundle;
  composition: Composition;
  /** The SCR UUID (Composition.identifier). */
  uuid: string;
  nhsNumber: string;
  /** The SCR UUID this upload says it replaces (Composition.relatesTo replaces), if any. */
  replaces?: string;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** True when `body` is an SCR upload: a document Bundle led by a GP Summary Composition. */
export function isScrDocument(body: unknown): body is Bundle {
  const bundle = body as Bundle | null;
  if (typeof bundle !== 'object' || bundle === null || bundle.resourceType !== 'Bundle' || bundle.type !== 'document') return false;
  const first = Array.isArray(bundle.entry) ? bundle.entry[0]?.resource : undefined;
  return first?.resourceType === 'Composition' && isGpSummary(first as Composition);
}

export function isGpSummary(composition: Composition): boolean {
  return Array.isArray(composition.type?.coding) && composition.type.coding.some((c) => c.system === GP_SUMMARY.system && c.code === GP_SUMMARY.code);
}

const invalid = (diagnostics: string, expression: string) => spineError(422, 'INVALID_VALUE', diagnostics, [expression]);
const missing = (diagnostics: string, expression: string) => spineError(400, 'MISSING_VALUE', diagnostics, [expression]);

/** The NHS number of a Patient (its nhs-number identifier). */
function nhsNumberOf(patient: Patient | undefined): string | undefined {
  return patient?.identifier?.find((i) => i.system === NHS_NUMBER_SYSTEM)?.value;
}

/** The entry a reference names inside the Bundle: by fullUrl, or `Type/id` against the entries' ids. */
function resolveEntry(bundle: Bundle, reference: string): BundleEntry | undefined {
  const entries = bundle.entry ?? [];
  return entries.find((e) => e.fullUrl === reference)
    ?? entries.find((e) => e.resource && `${e.resource.resourceType}/${e.resource.id}` === reference)
    ?? entries.find((e) => e.fullUrl !== undefined && e.fullUrl.endsWith(`/${reference}`));
}

/**
 * Checks an upload (beyond R4 structure, which the store checks): identifier and timestamp of a
 * document (bdl-9, bdl-10), a final Composition with an RFC 4122 UUID identifier, and a subject
 * that names a patient by a valid NHS number (the Patient entry it references, or its identifier).
 */
export function readScrDocument(bundle: Bundle): ScrDocument {
  if (!bundle.identifier?.system || !bundle.identifier.value) throw missing('A document Bundle must have an identifier with a system and a value (bdl-9)', 'Bundle.identifier');
  if (!bundle.timestamp) throw missing('A document Bundle must have a timestamp (bdl-10)', 'Bundle.timestamp');
  const composition = bundle.entry![0].resource as Composition;
  const uuid = composition.identifier?.value;
  if (!uuid) throw missing('The Composition must carry the SCR UUID as its identifier', 'Bundle.entry[0].resource.identifier');
  if (composition.identifier!.system !== RFC4122_SYSTEM || !UUID.test(uuid)) {
    throw invalid(`Invalid value - the Composition identifier must be a UUID in ${RFC4122_SYSTEM}`, 'Bundle.entry[0].resource.identifier');
  }
  if (composition.status !== 'final') throw invalid(`Invalid value - '${composition.status}' in field 'status': an SCR upload is final`, 'Bundle.entry[0].resource.status');
  const subject = composition.subject;
  if (!subject?.reference && !subject?.identifier) throw missing('The Composition must name its patient', 'Bundle.entry[0].resource.subject');
  const entry = subject.reference ? resolveEntry(bundle, subject.reference) : undefined;
  if (entry && entry.resource?.resourceType !== 'Patient') throw invalid('The Composition subject must be a Patient', 'Bundle.entry[0].resource.subject');
  const nhsNumber = nhsNumberOf(entry?.resource as Patient | undefined)
    ?? (subject.identifier?.system === NHS_NUMBER_SYSTEM ? subject.identifier.value : undefined);
  if (!nhsNumber) throw missing('The patient of an SCR must be identified by an NHS number', 'Bundle.entry[0].resource.subject');
  if (!isValidNhsNumber(nhsNumber)) throw invalid(`Invalid value - '${nhsNumber}' is not a valid NHS number`, 'Bundle.entry[0].resource.subject');
  const replaces = composition.relatesTo?.find((r) => r.code === 'replaces')?.targetIdentifier?.value;
  return { bundle, composition, uuid: uuid.toLowerCase(), nhsNumber, ...(replaces ? { replaces: replaces.toLowerCase() } : {}) };
}

/**
 * The document as stored: the Patient entry takes the NHS number as its id (the PDS id), so that
 * what is read from the record names its patient for the audit trail; everything else is kept.
 */
export function normaliseDocument(doc: ScrDocument): Bundle {
  const entries = (doc.bundle.entry ?? []).map((entry) => {
    const resource = entry.resource as Resource | undefined;
    if (resource?.resourceType === 'Patient' && nhsNumberOf(resource as Patient) === doc.nhsNumber) {
      return { ...entry, resource: { ...resource, id: doc.nhsNumber } };
    }
    return entry;
  });
  return { ...doc.bundle, entry: entries };
}
