import type { Bundle, Organization, OperationOutcome, Parameters, Reference, Task } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { spineError, spineIssue } from '../../fhir/spine-errors.js';
import type { OperationEngine, OperationResult, OperationSession } from '../hooks.js';
import {
  lineStatusOf, ODS_CODE, odsOf, PRESCRIPTION_ORDER_NUMBER, prescriptionStatusOf, RETURN_REASON, TASK_CODE,
  withLineStatus, withPrescriptionStatus,
} from './eps.js';
import { invalid, missing } from './message.js';
import { shortIdProblem } from './prescription-id.js';
import { loadPrescription, requirePrescription, savePrescription, type Prescription } from './prescriptions.js';

/**
 * Dispensing (nhs-spine.md §2.2): `Task/$release` hands prescriptions to a pharmacy, a return
 * Task hands one back. The check of a prescription's state and the claim that changes it happen
 * in one engine transaction; the store runs write transactions one at a time, so of several
 * pharmacies releasing the same prescription at once exactly one gets it and the others find it
 * with that dispenser.
 */

/** At most this many nominated prescriptions per release request (EPS's limit). */
export const RELEASE_LIMIT = 25;

const pharmacyRef = (ods: string): Reference => ({ reference: `Organization/${ods}`, identifier: { system: ODS_CODE, value: ods } });

function checkShortId(shortId: string, expression: string): void {
  const problem = shortIdProblem(shortId);
  if (problem === 'check') throw spineError(400, 'FAILURE_TO_PROCESS_MESSAGE', `Invalid prescription checksum: '${shortId}'`, [expression]);
  if (problem) throw invalid(`'${shortId}' is not a short prescription id`, [expression]);
}

/** PRESCRIPTION_WITH_ANOTHER_DISPENSER, naming the dispenser in OperationOutcome.contained as EPS does. */
export function withAnotherDispenser(p: Prescription): FhirError {
  const ods = odsOf(p.task.owner);
  const error = new FhirError(400, [spineIssue('PRESCRIPTION_WITH_ANOTHER_DISPENSER', `Prescription ${p.task.groupIdentifier?.value} is with another dispenser`)]);
  if (ods) {
    const org: Organization = { resourceType: 'Organization', id: 'dispenser', identifier: [{ system: ODS_CODE, value: ods }] };
    const toOutcome = error.toOperationOutcome.bind(error);
    error.toOperationOutcome = () => ({ ...toOutcome(), contained: [org] });
  }
  return error;
}

export function invalidState(p: Prescription, action: string): FhirError {
  return spineError(400, 'PRESCRIPTION_INVALID_STATE_TRANSITION',
    `Prescription ${p.task.groupIdentifier?.value} is ${prescriptionStatusOf(p.task)}: it cannot be ${action}`);
}

/** 0001 To Be Dispensed → 0002 With Dispenser; items 0007 → 0008 (cancelled items stay cancelled). */
async function claim(session: OperationSession, p: Prescription, ods: string): Promise<Prescription> {
  const task: Task = { ...withPrescriptionStatus(p.task, '0002'), owner: pharmacyRef(ods) };
  const items = p.items.map(({ request }) => (lineStatusOf(request) === '0007' ? withLineStatus(request, '0008') : request));
  await savePrescription(session, p, task, items);
  return { task, taskVersion: p.taskVersion + 1, items: items.map((request) => ({ request, version: 0 })) };
}

interface ReleaseRequest { ods: string; shortId?: string }

export function parseRelease(body: unknown): ReleaseRequest {
  const params = body as Parameters;
  if (params?.resourceType !== 'Parameters') throw invalid('Task/$release takes a Parameters resource', ['Parameters']);
  const parameter = Array.isArray(params.parameter) ? params.parameter : [];
  const owner = parameter.find((p) => p.name === 'owner')?.resource as Organization | undefined;
  const ods = owner?.identifier?.find((i) => i.system === ODS_CODE)?.value;
  if (!ods) throw missing('Task/$release needs an owner: the releasing pharmacy as an Organization with its ODS code', ['Parameters.parameter.where(name=\'owner\')']);
  const status = parameter.find((p) => p.name === 'status');
  if (status && status.valueCode !== 'accepted') throw invalid('The release status is \'accepted\'', ['Parameters.parameter.where(name=\'status\')']);
  const group = parameter.find((p) => p.name === 'group-identifier')?.valueIdentifier;
  if (group && group.system !== PRESCRIPTION_ORDER_NUMBER) throw invalid(`group-identifier is a short prescription id (${PRESCRIPTION_ORDER_NUMBER})`);
  if (group?.value) checkShortId(group.value, 'Parameters.parameter.where(name=\'group-identifier\')');
  return { ods, shortId: group?.value };
}

/** The released prescriptions as EPS answers them: passedPrescriptions / failedPrescriptions. */
function releaseResponse(released: Prescription[]): Parameters {
  const prescriptionBundle = (p: Prescription): Bundle => ({
    resourceType: 'Bundle', type: 'collection', identifier: { system: PRESCRIPTION_ORDER_NUMBER, value: p.task.groupIdentifier?.value },
    entry: [p.task, ...p.items.map((i) => i.request)].map((resource) => ({ fullUrl: `${resource.resourceType}/${resource.id}`, resource })),
  });
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'passedPrescriptions', resource: { resourceType: 'Bundle', type: 'searchset', total: released.length, entry: released.map((p) => ({ resource: prescriptionBundle(p) })) } as Bundle },
      { name: 'failedPrescriptions', resource: { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] } as Bundle },
    ],
  };
}

export async function release(body: unknown, engine: OperationEngine): Promise<OperationResult> {
  const request = parseRelease(body);
  const released = await engine.transaction(async (session) => {
    if (request.shortId !== undefined) {
      const p = await requirePrescription(session, request.shortId);
      const status = prescriptionStatusOf(p.task);
      if (status === '0002' || status === '0003') {
        if (odsOf(p.task.owner) !== request.ods) throw withAnotherDispenser(p);
        throw invalidState(p, 'released again: it is already with this dispenser');
      }
      if (status !== '0001') throw invalidState(p, 'released');
      return [await claim(session, p, request.ods)];
    }
    // Nominated download: what waits for this pharmacy, at most RELEASE_LIMIT per request.
    const waiting = await session.matches('Task', [['owner', `Organization/${request.ods}`], ['business-status', '0001']], RELEASE_LIMIT);
    const out: Prescription[] = [];
    for (const version of waiting) out.push(await claim(session, await loadPrescription(session, version), request.ods));
    return out;
  }, { origin: 'operation' });
  if (!released.length) {
    const none: OperationOutcome = { resourceType: 'OperationOutcome', issue: [spineIssue('NO_MORE_PRESCRIPTIONS', `No more prescriptions nominated to ${request.ods}`)] };
    return { status: 200, resource: none };
  }
  return { status: 200, resource: releaseResponse(released) };
}

/** Which EPS request a posted Task is (nhs-spine.md §2.2: Task#return, Task#withdraw), if either. */
export function taskRequestKind(body: unknown): 'return' | 'withdraw' | undefined {
  const task = body as Task;
  if (task?.resourceType !== 'Task' || task.groupIdentifier?.system !== PRESCRIPTION_ORDER_NUMBER) return undefined;
  const code = task.code?.coding?.find((c) => c.system === TASK_CODE)?.code;
  if (code === 'fulfill' && task.status === 'rejected') return 'return';
  if (code === 'abort' && task.status === 'in-progress') return 'withdraw';
  return undefined;
}

/** The pharmacy a return or withdraw Task speaks for: its owner (or requester) ODS code. */
export function actingPharmacy(task: Task): string {
  const ods = odsOf(task.owner) ?? odsOf(task.requester as Reference | undefined);
  if (!ods) throw missing('The Task names the dispensing pharmacy by its ODS code (owner)', ['Task.owner']);
  return ods;
}

/** Task#return: the dispenser hands a released prescription back; 0002 → 0001, items 0008 → 0007. */
export async function returnPrescription(session: OperationSession, body: unknown): Promise<OperationOutcome> {
  const task = body as Task;
  const shortId = task.groupIdentifier!.value;
  if (!shortId) throw missing('The return Task names the prescription (groupIdentifier)', ['Task.groupIdentifier.value']);
  checkShortId(shortId, 'Task.groupIdentifier.value');
  if (!task.statusReason?.coding?.some((c) => c.system === RETURN_REASON && c.code)) {
    throw missing(`A return needs Task.statusReason (${RETURN_REASON})`, ['Task.statusReason']);
  }
  const ods = actingPharmacy(task);
  const p = await requirePrescription(session, shortId);
  const status = prescriptionStatusOf(p.task);
  if ((status === '0002' || status === '0003') && odsOf(p.task.owner) !== ods) throw withAnotherDispenser(p);
  if (status !== '0002') throw invalidState(p, status === '0003' ? 'returned while a dispense notification stands (withdraw it first)' : 'returned');
  const nominated = odsOf(p.items[0]?.request.dispenseRequest?.performer);
  const { owner: _released, ...rest } = withPrescriptionStatus(p.task, '0001');
  const back: Task = nominated ? { ...rest, owner: pharmacyRef(nominated) } : rest;
  const items = p.items.map(({ request }) => (lineStatusOf(request) === '0008' ? withLineStatus(request, '0007') : request));
  await savePrescription(session, p, back, items);
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: `Prescription ${shortId} returned to the Spine: to be dispensed` }] };
}
