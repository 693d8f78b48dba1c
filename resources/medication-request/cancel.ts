import type { MedicationRequest, OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { spineIssue, spineError, type SpineCode } from '../../fhir/spine-errors.js';
import {
  CANCEL_RESPONSE_SYSTEM, LINE_ITEM_NUMBER, lineStatusOf, PRESCRIPTION_ORDER_NUMBER, prescriptionStatusOf, STATUS_REASON,
  withLineStatus, withPrescriptionStatus,
} from './eps.js';
import { invalid, missing, resourcesOf, type Message } from './message.js';
import { shortIdProblem } from './prescription-id.js';
import { findPrescription, savePrescription } from './prescriptions.js';
import type { OperationSession } from '../hooks.js';

/**
 * prescription-order-update (nhs-spine.md §2.2 item 4): cancels one line item, with a status
 * reason (medicationrequest-status-reason 0001-0009). Only an item still waiting on the Spine (the
 * prescription 0001 To Be Dispensed, the item 0007) is cancelled; every other state is answered
 * with its EPS cancellation outcome code (R-0002 …) and changes nothing. When the last live item
 * is cancelled the prescription becomes 0005 Cancelled.
 *
 * Not modelled: R-0002's "marked for cancellation" (a cancel pending until the dispenser returns
 * the prescription is refused instead), R-0007 (another prescriber's pending cancellation).
 */

const REASONS = new Set(['0001', '0002', '0003', '0004', '0005', '0006', '0007', '0008', '0009']);

const OUTCOMES = {
  'R-0002': 'Prescription/item was not cancelled. With dispenser. Marked for cancellation',
  'R-0003': 'Prescription/item was not cancelled. With dispenser active',
  'R-0004': 'Prescription/item was not cancelled. Prescription has been dispensed',
  'R-0005': 'Prescription/item had expired',
  'R-0006': 'Prescription/item had already been cancelled',
  'R-0008': 'Prescription/item not found',
  'R-0010': 'Prescription/item was not cancelled. Prescription has been not dispensed',
} as const;
type Outcome = keyof typeof OUTCOMES;

/** A refused cancellation: the Spine code, and the R-code in a second coding. */
function refused(status: number, spine: SpineCode, outcome: Outcome, diagnostics: string): FhirError {
  const issue: OperationOutcomeIssue = spineIssue(spine, diagnostics);
  issue.details!.coding!.push({ system: CANCEL_RESPONSE_SYSTEM, code: outcome, display: OUTCOMES[outcome] });
  return new FhirError(status, [issue]);
}

export async function cancelLineItem(session: OperationSession, message: Message): Promise<OperationOutcome> {
  const requests = resourcesOf<MedicationRequest>(message, 'MedicationRequest');
  if (requests.length !== 1) throw spineError(400, requests.length ? 'TOO_MANY_VALUES_SUBMITTED' : 'MISSING_VALUE', 'A prescription-order-update cancels exactly one MedicationRequest');
  const { resource: mr, index } = requests[0];
  const at = (path: string) => [`Bundle.entry[${index}].resource.${path}`];
  if (mr.status !== 'cancelled') throw invalid(`A cancellation's MedicationRequest.status is 'cancelled', not '${String(mr.status)}'`, at('status'));
  const reason = mr.statusReason?.coding?.find((c) => c.system === STATUS_REASON);
  if (!reason) throw missing(`A cancellation needs MedicationRequest.statusReason (${STATUS_REASON})`, at('statusReason'));
  if (!REASONS.has(reason.code ?? '')) throw invalid(`'${String(reason.code)}' is not a cancellation reason (0001-0009)`, at('statusReason'));
  const shortId = mr.groupIdentifier?.system === PRESCRIPTION_ORDER_NUMBER ? mr.groupIdentifier.value : undefined;
  if (!shortId) throw missing('The cancellation names the prescription by its short id (groupIdentifier)', at('groupIdentifier'));
  const problem = shortIdProblem(shortId);
  if (problem === 'check') throw spineError(400, 'FAILURE_TO_PROCESS_MESSAGE', `Invalid prescription checksum: '${shortId}'`, at('groupIdentifier.value'));
  if (problem) throw invalid(`'${shortId}' is not a short prescription id`, at('groupIdentifier.value'));
  const lineId = mr.identifier?.find((i) => i.system === LINE_ITEM_NUMBER)?.value?.toLowerCase();
  if (!lineId) throw missing('The cancellation names the line item (prescription-order-item-number)', at('identifier'));

  const prescription = await findPrescription(session, shortId);
  if (!prescription) throw refused(404, 'PRESCRIPTION_NOT_FOUND', 'R-0008', `Prescription ${shortId} was not found`);
  const item = prescription.items.find((i) => i.request.id === lineId);
  if (!item) throw refused(404, 'ITEM_NOT_FOUND', 'R-0008', `Prescription ${shortId} has no line item ${lineId}`);

  const status = prescriptionStatusOf(prescription.task);
  const line = lineStatusOf(item.request);
  const state = (outcome: Outcome) => refused(400, 'PRESCRIPTION_INVALID_STATE_TRANSITION', outcome, `${OUTCOMES[outcome]} (prescription ${status}, item ${line})`);
  if (line === '0005') throw state('R-0006');
  if (status === '0002') throw state('R-0002');
  if (status === '0003') throw state('R-0003');
  if (line === '0001' || line === '0003' || status === '0006') throw state('R-0004');
  if (status === '0004' || line === '0006') throw state('R-0005');
  if (line === '0002' || status === '0007') throw state('R-0010');
  if (status !== '0001' || line !== '0007') throw state('R-0004');

  const cancelled = { ...withLineStatus(item.request, '0005'), statusReason: { coding: [reason] } };
  const items = prescription.items.map((i) => (i.request.id === lineId ? cancelled : i.request));
  const allCancelled = items.every((i) => lineStatusOf(i) === '0005');
  const task = allCancelled ? withPrescriptionStatus(prescription.task, '0005') : prescription.task;
  await savePrescription(session, prescription, task, items);
  return {
    resourceType: 'OperationOutcome',
    issue: [{
      severity: 'information', code: 'informational',
      diagnostics: `Line item ${lineId} of prescription ${shortId} cancelled${allCancelled ? '; the prescription is cancelled' : ''}`,
    }],
  };
}
