import type { Patient } from 'fhir/r4.js';
import { spineError } from '../../fhir/spine-errors.js';
import type { ResourceHooks } from '../hooks.js';
import { allocateNhsNumber, type NhsNumberRange } from './allocation.js';
import { patientMatch } from './match-operation.js';
import { isValidNhsNumber, NHS_NUMBER_SYSTEM } from './nhs-number.js';
import { pdsPatchRules } from './pds-patch.js';
import { pdsSearch } from './pds-match.js';
import { isPdsSearch, parsePdsQuery } from './pds-query.js';
import { isInvalidated, redactForReader, restrictedPatientCriteria } from './restricted.js';

export interface PatientOptions {
  /** The PDS rules (NHS number ids, allocation, PDS search and PATCH); off leaves Patient generic. */
  pds: boolean;
  nhsNumberRange: NhsNumberRange;
}

/** How many merges a read follows to the surviving record before giving up. */
const MAX_SUPERSESSIONS = 5;

/**
 * The PDS mapping of Patient (nhs-spine.md §1). The information-governance rules (restricted and
 * invalidated records) hold whatever the mode; the PDS interaction rules only with `pds`.
 */
export function patientHooks(options: PatientOptions): ResourceHooks {
  const governance: ResourceHooks = {
    afterRead: (resource, reader, current) => redactForReader(resource as Patient, reader, current as Patient | undefined),
    assertVisible(current) {
      if (isInvalidated(current as Patient)) throw spineError(404, 'INVALIDATED_RESOURCE', `Patient/${current.id} has been invalidated`);
    },
    searchCriteria: restrictedPatientCriteria,
    async resolveRead(version, load) {
      let current = version;
      for (let hops = 0; hops <= MAX_SUPERSESSIONS; hops++) {
        const patient = JSON.parse(current.json!) as Patient;
        if (!isInvalidated(patient)) return current;
        // An invalidated record that was merged answers with the record that superseded it.
        const survivor = patient.link?.find((l) => l.type === 'replaced-by')?.other?.reference?.match(/^Patient\/([^/]+)$/)?.[1];
        const next = survivor === undefined ? undefined : await load(survivor);
        if (!next || next.deleted) break;
        current = next;
      }
      throw spineError(404, 'INVALIDATED_RESOURCE', `Patient/${version.id} has been invalidated`);
    },
  };
  if (!options.pds) return governance;
  return {
    ...governance,
    documentation: 'PDS rules: the id is the NHS number (allocated on create); a search using only the PDS parameters '
      + '(family, given, gender, birthdate, death-date, address-postalcode, general-practitioner, email, phone, _fuzzy-match, '
      + '_exact-match, _history, _max-results) follows the PDS FHIR API (minimum criteria, scored entries, TOO_MANY_MATCHES); any '
      + 'other parameter makes it a generic FHIR search. PATCH needs If-Match and follows the PDS list rules.',
    notFound: (id) => spineError(404, 'RESOURCE_NOT_FOUND', `Patient/${id} is not known`),
    validateId(id) {
      if (!isValidNhsNumber(id)) throw spineError(400, 'INVALID_RESOURCE_ID', `Invalid resource ID - '${id}' is not a valid NHS number`);
    },
    assignId: (_resource, isTaken) => allocateNhsNumber(options.nhsNumberRange, isTaken),
    retiredIds: true,
    validate(resource) {
      const patient = resource as Patient;
      patient.identifier?.forEach((identifier, i) => {
        if (identifier.system !== NHS_NUMBER_SYSTEM) return;
        const where = [`Patient.identifier[${i}].value`];
        if (!identifier.value || !isValidNhsNumber(identifier.value)) throw spineError(422, 'INVALID_VALUE', `Invalid value - '${identifier.value ?? ''}' in field 'identifier' is not a valid NHS number`, where);
        if (patient.id !== undefined && identifier.value !== patient.id) throw spineError(422, 'INVALID_VALUE', `The NHS number identifier '${identifier.value}' is not the resource id '${patient.id}'`, where);
      });
    },
    async search(params, reader, engine) {
      return isPdsSearch(params) ? pdsSearch(parsePdsQuery(params), reader, engine) : undefined;
    },
    match: patientMatch,
    patch: pdsPatchRules,
  };
}
