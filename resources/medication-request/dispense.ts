import type { MedicationDispense, MedicationRequest, OperationOutcome, Reference, Task, TaskOutput } from 'fhir/r4.js';
import { spineError } from '../../fhir/spine-errors.js';
import type { OperationSession } from '../hooks.js';
import {
  DISPENSE_NOTIFICATION_ID, DISPENSE_NOTIFICATION_OUTPUT, LINE_ITEM_NUMBER, LINE_ITEM_STATUS, lineStatusOf, ODS_CODE, odsOf, PRESCRIPTION_ORDER_NUMBER,
  prescriptionStatusOf, REPLACEMENT_OF_EXTENSION, TASK_BUSINESS_STATUS, TASK_BUSINESS_STATUS_EXTENSION, WITHDRAW_REASON,
  withLineStatus, withPrescriptionStatus, type LineStatus, type PrescriptionStatus,
} from './eps.js';
import { actingPharmacy, invalidState, withAnotherDispenser } from './dispensing.js';
import { invalid, missing, resolve, resourcesOf, type Message } from './message.js';
import { shortIdProblem } from './prescription-id.js';
import { requirePrescription, savePrescription, type Prescription } from './prescriptions.js';

/**
 * dispense-notification and its amendment and withdrawal (nhs-spine.md §2.2, §2.5).
 *
 * A prescription's dispensing state is a function of the dispense notifications (DNs) in force on
 * it, kept in order in its Task's `output` (one per DN, the message id): starting from the
 * released state (items 0008, cancelled ones 0005), each DN sets the status of the items it
 * names (its MedicationDispense.type) and the prescription status it declares (the
 * Extension-EPS-TaskBusinessStatus, 0003, 0006 or 0007, which must agree with the items). An
 * amendment (MessageHeader extension replacementOf) replaces the latest DN; a withdraw Task removes
 * it; both recompute the state from the DNs that remain, so nothing drifts apart. Only the latest
 * DN can be amended or withdrawn (DISPENSE_AMEND_IDENTIFIER_MISMATCH).
 */


const DISPENSED_LINE = new Set<LineStatus>(['0001', '0002', '0003', '0004']);
const DECLARABLE = new Set<PrescriptionStatus>(['0003', '0006', '0007']);

interface DispensedLine { lineId: string; status: LineStatus; dispense: MedicationDispense; index: number }

/** The DN message ids in force on a prescription, oldest first. */
function notificationsOf(task: Task): string[] {
  return (task.output ?? []).filter((o) => o.type.coding?.some((c) => c.system === DISPENSE_NOTIFICATION_OUTPUT)).map((o) => o.valueIdentifier!.value!);
}

function withNotifications(task: Task, ids: string[]): Task {
  const others = (task.output ?? []).filter((o) => !o.type.coding?.some((c) => c.system === DISPENSE_NOTIFICATION_OUTPUT));
  const output: TaskOutput[] = ids.map((value) => ({
    type: { coding: [{ system: DISPENSE_NOTIFICATION_OUTPUT, code: 'dispense-notification' }] },
    valueIdentifier: { system: 'https://tools.ietf.org/html/rfc4122', value },
  }));
  const { output: _old, ...rest } = task;
  return others.length + output.length ? { ...rest, output: [...others, ...output] } : rest;
}

async function dispensesOf(session: OperationSession, dnId: string): Promise<{ dispense: MedicationDispense; version: number }[]> {
  const found = await session.matches('MedicationDispense', [['identifier', `${DISPENSE_NOTIFICATION_ID}|${dnId}`]], 50);
  return found.map((v) => ({ dispense: JSON.parse(v.json!) as MedicationDispense, version: v.versionId }));
}

const lineOf = (d: MedicationDispense) => d.authorizingPrescription?.[0]?.reference?.replace(/^MedicationRequest\//, '');
const typeOf = (d: MedicationDispense) => d.type?.coding?.find((c) => c.system === LINE_ITEM_STATUS)?.code as LineStatus | undefined;
const declaredOf = (d: MedicationDispense) =>
  d.extension?.find((e) => e.url === TASK_BUSINESS_STATUS_EXTENSION)?.valueCoding?.code as PrescriptionStatus | undefined;

/** Item statuses and prescription status after the given DNs (released state when there are none). */
async function stateAfter(session: OperationSession, p: Prescription, dnIds: string[]): Promise<{ lines: Map<string, LineStatus>; status: PrescriptionStatus }> {
  const lines = new Map(p.items.map(({ request }) => [request.id!, lineStatusOf(request) === '0005' ? '0005' as LineStatus : '0008' as LineStatus]));
  let status: PrescriptionStatus = '0002';
  for (const id of dnIds) {
    for (const { dispense } of await dispensesOf(session, id)) {
      const line = lineOf(dispense);
      const type = typeOf(dispense);
      if (line && type) lines.set(line, type);
      status = declaredOf(dispense) ?? status;
    }
  }
  return { lines, status };
}

/** The prescription status the item statuses call for (cancelled items left out). */
function derivedStatus(lines: Iterable<LineStatus>): PrescriptionStatus {
  const live = [...lines].filter((s) => s !== '0005');
  if (live.length && live.every((s) => s === '0001' || s === '0002')) return live.some((s) => s === '0001') ? '0006' : '0007';
  return '0003';
}

/** Writes the items and the Task for a new list of DNs in force. */
async function applyState(session: OperationSession, p: Prescription, lines: Map<string, LineStatus>, status: PrescriptionStatus, dnIds: string[]): Promise<void> {
  const items = p.items.map(({ request }) => {
    const s = lines.get(request.id!)!;
    return lineStatusOf(request) === s ? request : withLineStatus(request, s);
  });
  await savePrescription(session, p, withNotifications(withPrescriptionStatus(p.task, status), dnIds), items);
}

async function retire(session: OperationSession, dnId: string): Promise<void> {
  for (const { dispense, version } of await dispensesOf(session, dnId)) {
    await session.update('MedicationDispense', dispense.id!, { ...dispense, status: 'entered-in-error' }, { ifMatch: version });
  }
}

/** The item a MedicationDispense is for: its authorizingPrescription, a MedicationRequest contained or in the message. */
function prescribedItem(message: Message, d: MedicationDispense, at: (path: string) => string[]): { shortId: string; lineId: string } {
  const ref = d.authorizingPrescription?.[0];
  let mr: MedicationRequest | undefined;
  if (ref?.reference?.startsWith('#')) mr = d.contained?.find((c) => c.resourceType === 'MedicationRequest' && c.id === ref.reference!.slice(1)) as MedicationRequest | undefined;
  else mr = resolve(message, ref) as MedicationRequest | undefined;
  if (mr?.resourceType !== 'MedicationRequest') throw missing('MedicationDispense.authorizingPrescription must reference the prescribed MedicationRequest', at('authorizingPrescription'));
  const lineId = mr.identifier?.find((i) => i.system === LINE_ITEM_NUMBER)?.value?.toLowerCase();
  const shortId = mr.groupIdentifier?.system === PRESCRIPTION_ORDER_NUMBER ? mr.groupIdentifier.value : undefined;
  if (!lineId || !shortId) throw missing('The authorizing MedicationRequest needs its line item id and short prescription id', at('authorizingPrescription'));
  const problem = shortIdProblem(shortId);
  if (problem === 'check') throw spineError(400, 'FAILURE_TO_PROCESS_MESSAGE', `Invalid prescription checksum: '${shortId}'`, at('authorizingPrescription'));
  if (problem) throw invalid(`'${shortId}' is not a short prescription id`, at('authorizingPrescription'));
  return { shortId, lineId };
}

export async function dispenseNotification(session: OperationSession, message: Message): Promise<OperationOutcome> {
  const dispenses = resourcesOf<MedicationDispense>(message, 'MedicationDispense');
  if (!dispenses.length) throw missing('A dispense-notification carries at least one MedicationDispense', ['Bundle.entry']);
  const sender = message.header.sender?.identifier;
  const ods = sender?.system === ODS_CODE ? sender.value : undefined;
  if (!ods) throw missing('MessageHeader.sender names the dispensing pharmacy by its ODS code', ['Bundle.entry[0].resource.sender']);
  const replaces = message.header.extension?.find((e) => e.url === REPLACEMENT_OF_EXTENSION)?.valueIdentifier?.value;

  let shortId: string | undefined;
  let declared: PrescriptionStatus | undefined;
  const dispensed: DispensedLine[] = [];
  for (const { resource: d, index } of dispenses) {
    const at = (path: string) => [`Bundle.entry[${index}].resource.${path}`];
    const item = prescribedItem(message, d, at);
    if (shortId !== undefined && item.shortId !== shortId) throw invalid('A dispense-notification is about one prescription', at('authorizingPrescription'));
    shortId = item.shortId;
    const type = typeOf(d);
    if (!type || !DISPENSED_LINE.has(type)) throw invalid(`MedicationDispense.type must be 0001-0004 of ${LINE_ITEM_STATUS}`, at('type'));
    const status = declaredOf(d);
    if (!status) throw missing(`Each MedicationDispense declares the prescription status (${TASK_BUSINESS_STATUS_EXTENSION})`, at('extension'));
    if (!DECLARABLE.has(status)) throw invalid(`A dispense notification declares the prescription status 0003, 0006 or 0007, not '${status}'`, at('extension'));
    if (declared !== undefined && status !== declared) throw invalid('Every MedicationDispense of a notification declares the same prescription status', at('extension'));
    declared = status;
    if (dispensed.some((x) => x.lineId === item.lineId)) throw invalid(`Line item ${item.lineId} is dispensed twice in one notification`, at('authorizingPrescription'));
    dispensed.push({ lineId: item.lineId, status: type, dispense: d, index });
  }

  const p = await requirePrescription(session, shortId!);
  const status = prescriptionStatusOf(p.task);
  if (!['0002', '0003', '0006', '0007'].includes(status)) throw invalidState(p, 'dispensed');
  if (odsOf(p.task.owner) !== ods) throw withAnotherDispenser(p);
  const inForce = notificationsOf(p.task);
  if (inForce.includes(message.id)) throw invalid(`Dispense notification ${message.id} was processed before`, ['Bundle.identifier']);
  if (replaces !== undefined && replaces !== inForce[inForce.length - 1]) {
    throw spineError(400, 'DISPENSE_AMEND_IDENTIFIER_MISMATCH', `Only the latest dispense notification of prescription ${shortId} can be amended, not ${replaces}`);
  }
  if (replaces === undefined && status !== '0002' && status !== '0003') throw invalidState(p, 'dispensed again (amend the latest notification instead)');
  const base = replaces === undefined ? inForce : inForce.slice(0, -1);
  const { lines } = await stateAfter(session, p, base);
  for (const { lineId, status: to, index } of dispensed) {
    const from = lines.get(lineId);
    if (from === undefined) throw spineError(404, 'ITEM_NOT_FOUND', `Prescription ${shortId} has no line item ${lineId}`, [`Bundle.entry[${index}].resource.authorizingPrescription`]);
    if (from !== '0008' && from !== '0003' && from !== '0004') {
      throw spineError(400, 'PRESCRIPTION_INVALID_LINE_STATE_TRANSITION', `Line item ${lineId} is ${from}: it cannot become ${to}`, [`Bundle.entry[${index}].resource.type`]);
    }
    lines.set(lineId, to);
  }
  const expected = derivedStatus(lines.values());
  if (declared !== expected) {
    throw spineError(400, 'PRESCRIPTION_INVALID_STATE_TRANSITION', `The items call for prescription status ${expected}, the notification declares ${declared}`);
  }

  if (replaces !== undefined) await retire(session, replaces);
  const subject = p.task.for as Reference;
  for (const { lineId, dispense } of dispensed) {
    const { id: _local, contained: _contained, ...rest } = dispense;
    const stored: MedicationDispense = {
      ...rest,
      identifier: [...(dispense.identifier ?? []), { system: DISPENSE_NOTIFICATION_ID, value: message.id }],
      subject, performer: [{ actor: { reference: `Organization/${ods}`, identifier: { system: ODS_CODE, value: ods } } }],
      authorizingPrescription: [{ reference: `MedicationRequest/${lineId}` }],
    };
    await session.create('MedicationDispense', stored);
  }
  await applyState(session, p, lines, declared!, [...base, message.id]);
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'information', code: 'informational', diagnostics: `Dispense notification ${replaces ? 'amended' : 'recorded'}: prescription ${shortId} is ${declared}` }],
  };
}

/** Task#withdraw: takes back the latest dispense notification (Task.focus names its message id). */
export async function withdrawNotification(session: OperationSession, body: unknown): Promise<OperationOutcome> {
  const task = body as Task;
  const shortId = task.groupIdentifier?.value;
  if (!shortId) throw missing('The withdraw Task names the prescription (groupIdentifier)', ['Task.groupIdentifier.value']);
  if (shortIdProblem(shortId) === 'check') throw spineError(400, 'FAILURE_TO_PROCESS_MESSAGE', `Invalid prescription checksum: '${shortId}'`, ['Task.groupIdentifier.value']);
  if (!task.statusReason?.coding?.some((c) => c.system === WITHDRAW_REASON && c.code)) {
    throw missing(`A withdraw needs Task.statusReason (${WITHDRAW_REASON})`, ['Task.statusReason']);
  }
  const dnId = task.focus?.identifier?.value;
  if (!dnId) throw missing('Task.focus.identifier names the dispense notification to withdraw', ['Task.focus']);
  const ods = actingPharmacy(task);
  const p = await requirePrescription(session, shortId);
  const status = prescriptionStatusOf(p.task);
  if (status !== '0003' && status !== '0006' && status !== '0007') throw invalidState(p, 'withdrawn (no dispense notification stands)');
  if (odsOf(p.task.owner) !== ods) throw withAnotherDispenser(p);
  const inForce = notificationsOf(p.task);
  if (inForce[inForce.length - 1] !== dnId) {
    throw spineError(400, 'DISPENSE_AMEND_IDENTIFIER_MISMATCH', `Only the latest dispense notification of prescription ${shortId} can be withdrawn, not ${dnId}`);
  }
  const remaining = inForce.slice(0, -1);
  const { lines, status: back } = await stateAfter(session, p, remaining);
  await retire(session, dnId);
  await applyState(session, p, lines, back, remaining);
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: `Dispense notification withdrawn: prescription ${shortId} is ${back}` }] };
}
