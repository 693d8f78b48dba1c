import type { Resource } from 'fhir/r4.js';
import { spineError } from '../../fhir/spine-errors.js';
import type { HookRegistry, ResourceHooks } from '../hooks.js';
import { inScr, isScrId, SCR_TAG } from './context.js';

/** The types the SCR keeps its records in (context.ts). */
export const SCR_RECORD_TYPES = ['Bundle', 'Composition', 'DocumentReference', 'Consent'] as const;

function refused(): never {
  throw spineError(403, 'ACCESS_DENIED', 'Summary Care Records are read and written through the SCR API only (see the CapabilityStatement)');
}

/**
 * Outside an SCR operation the SCR's records do not exist for the generic FHIR paths: their ids
 * are refused (reads, vreads, writes, transaction entries), searches and _includes never find them
 * and type/system history leaves them out. Other resources of these types are untouched.
 */
export const scrRecordHooks: ResourceHooks = {
  validateId(id) {
    if (isScrId(id) && !inScr()) refused();
  },
  assertVisible(current: Resource) {
    if (current.id !== undefined && isScrId(current.id) && !inScr()) refused();
  },
  searchCriteria: () => (inScr() ? [] : [['_tag:not', `${SCR_TAG.system}|${SCR_TAG.code}`]]),
};

export function registerScr(hooks: HookRegistry): void {
  hooks.register('Composition', {
    ...scrRecordHooks,
    documentation: 'Summary Care Record (SCR API): a GP summary is uploaded as a document Bundle to POST /Bundle; read with '
      + 'GET /DocumentReference?patient=<nhs-number system>|<NHS number>, GET /Bundle?composition.identifier=<SCR UUID> and '
      + 'Composition/{id}/$document under the patient\'s SCR permission (POST /$setPermission); see the README.',
  });
  for (const type of SCR_RECORD_TYPES) if (type !== 'Composition') hooks.register(type, scrRecordHooks);
}
