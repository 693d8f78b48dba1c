import type { Coding, Extension, MedicationDispense, MedicationRequest, Resource, Task } from 'fhir/r4.js';
import { ODS_ORGANIZATION_CODE_SYSTEM } from '../organization/ods.js';
import { NHS_NUMBER_SYSTEM } from '../patient/nhs-number.js';

/** The EPS identifier systems, code systems and extensions (nhs-spine.md §2), named once. */
export const PRESCRIPTION_ORDER_NUMBER = 'https://fhir.nhs.uk/Id/prescription-order-number';
export const PRESCRIPTION_LONG_ID = 'https://fhir.nhs.uk/Id/prescription';
export const PRESCRIPTION_ID_EXTENSION = 'https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionId';
export const LINE_ITEM_NUMBER = 'https://fhir.nhs.uk/Id/prescription-order-item-number';
/** The ODS organisation code system, as the ODS mapping defines it. */
export const ODS_CODE = ODS_ORGANIZATION_CODE_SYSTEM;
/** The NHS number identifier system, as the PDS mapping defines it. */
export const NHS_NUMBER = NHS_NUMBER_SYSTEM;
export const SDS_ROLE_PROFILE_ID = 'https://fhir.nhs.uk/Id/sds-role-profile-id';
export const MESSAGE_EVENT = 'https://fhir.nhs.uk/CodeSystem/message-event';
export const TASK_BUSINESS_STATUS = 'https://fhir.nhs.uk/CodeSystem/EPS-task-business-status';
/** Line-item statuses: the dispense types of https://fhir.nhs.uk/CodeSystem/medicationdispense-type. */
export const LINE_ITEM_STATUS = 'https://fhir.nhs.uk/CodeSystem/medicationdispense-type';
export const STATUS_REASON = 'https://fhir.nhs.uk/CodeSystem/medicationrequest-status-reason';
export const RETURN_REASON = 'https://fhir.nhs.uk/CodeSystem/EPS-task-dispense-return-status-reason';
export const WITHDRAW_REASON = 'https://fhir.nhs.uk/CodeSystem/EPS-task-dispense-withdraw-reason';
export const TASK_CODE = 'http://hl7.org/fhir/CodeSystem/task-code';
export const TASK_BUSINESS_STATUS_EXTENSION = 'https://fhir.nhs.uk/StructureDefinition/Extension-EPS-TaskBusinessStatus';
export const REPLACEMENT_OF_EXTENSION = 'https://fhir.nhs.uk/StructureDefinition/Extension-replacementOf';
/**
 * Where a stored MedicationRequest carries its line-item status (sub-extension `dispenseStatus`).
 * The name follows EPS's dispensing-information extension; its exact shape is vertebra's.
 */
export const DISPENSING_INFORMATION_EXTENSION = 'https://fhir.nhs.uk/StructureDefinition/Extension-EPS-DispensingInformation';
/**
 * The cancellation outcome codes (R-0002 …) in OperationOutcome.issue.details. EPS carries them
 * from the HL7v3 cancel response; the code system URI here is vertebra's own.
 */
export const CANCEL_RESPONSE_SYSTEM = 'urn:vertebra:eps:cancel-response';
/** Stored MedicationDispenses carry the id of the dispense notification that brought them in this identifier system. */
export const DISPENSE_NOTIFICATION_ID = 'urn:vertebra:eps:dispense-notification-id';
/** The dispense notifications (message Bundle identifiers) in force on a prescription, in order (Task.output). */
export const DISPENSE_NOTIFICATION_OUTPUT = 'urn:vertebra:eps:dispense-notification';

/** Prescription statuses (§2.5): business status → Task.status and display. */
export const PRESCRIPTION_STATUS = {
  '0001': ['requested', 'To Be Dispensed'],
  '0002': ['accepted', 'With Dispenser'],
  '0003': ['in-progress', 'With Dispenser - Active'],
  '0004': ['failed', 'Expired'],
  '0005': ['cancelled', 'Cancelled'],
  '0006': ['completed', 'Dispensed'],
  '0007': ['completed', 'Not Dispensed'],
  '0008': ['completed', 'Claimed'],
  '0009': ['completed', 'No-Claimed'],
} as const satisfies Record<string, readonly [Task['status'], string]>;
export type PrescriptionStatus = keyof typeof PRESCRIPTION_STATUS;

/** Line-item statuses (§2.5). */
export const LINE_STATUS = {
  '0001': 'Item fully dispensed',
  '0002': 'Item not dispensed',
  '0003': 'Item dispensed - partial',
  '0004': 'Item not dispensed owing',
  '0005': 'Item cancelled',
  '0006': 'Expired',
  '0007': 'Item to be dispensed',
  '0008': 'Item with dispenser',
} as const;
export type LineStatus = keyof typeof LINE_STATUS;

export function businessStatusCoding(status: PrescriptionStatus): Coding {
  return { system: TASK_BUSINESS_STATUS, code: status, display: PRESCRIPTION_STATUS[status][1] };
}

export function lineStatusCoding(status: LineStatus): Coding {
  return { system: LINE_ITEM_STATUS, code: status, display: LINE_STATUS[status] };
}

/** The prescription status a tracking Task holds. */
export function prescriptionStatusOf(task: Task): PrescriptionStatus {
  return task.businessStatus?.coding?.find((c) => c.system === TASK_BUSINESS_STATUS)?.code as PrescriptionStatus;
}

/** Sets a Task's businessStatus and the Task.status that goes with it. */
export function withPrescriptionStatus(task: Task, status: PrescriptionStatus): Task {
  return { ...task, status: PRESCRIPTION_STATUS[status][0], businessStatus: { coding: [businessStatusCoding(status)] } };
}

export function lineStatusOf(request: MedicationRequest): LineStatus {
  const info = request.extension?.find((e) => e.url === DISPENSING_INFORMATION_EXTENSION);
  return info?.extension?.find((e) => e.url === 'dispenseStatus')?.valueCoding?.code as LineStatus;
}

/** Sets a line item's status (and MedicationRequest.status: cancelled, completed or active). */
export function withLineStatus(request: MedicationRequest, status: LineStatus): MedicationRequest {
  const info: Extension = { url: DISPENSING_INFORMATION_EXTENSION, extension: [{ url: 'dispenseStatus', valueCoding: lineStatusCoding(status) }] };
  const extension = [...(request.extension ?? []).filter((e) => e.url !== DISPENSING_INFORMATION_EXTENSION), info];
  const fhirStatus: MedicationRequest['status'] = status === '0005' ? 'cancelled'
    : status === '0001' || status === '0002' || status === '0006' ? 'completed' : 'active';
  return { ...request, extension, status: fhirStatus };
}

/** The line item id (a UUID) of a MedicationRequest. */
export function lineItemId(request: MedicationRequest): string | undefined {
  return request.identifier?.find((i) => i.system === LINE_ITEM_NUMBER)?.value;
}

/** The ODS code in an identifier-carrying reference, if any. */
export function odsOf(ref: { identifier?: { system?: string; value?: string }; reference?: string } | undefined): string | undefined {
  if (ref?.identifier?.system === ODS_CODE && ref.identifier.value) return ref.identifier.value;
  const m = /^Organization\/([A-Z0-9]{3,12})$/.exec(ref?.reference ?? '');
  return m?.[1];
}

/**
 * True for the records EPS keeps (its status rules hold only if nothing else writes them): a line
 * item or prescription Task carrying a short prescription id, a dispense record of a notification.
 */
export function isEpsRecord(resource: Resource): boolean {
  switch (resource.resourceType) {
    case 'MedicationRequest':
    case 'Task':
      return (resource as MedicationRequest | Task).groupIdentifier?.system === PRESCRIPTION_ORDER_NUMBER;
    case 'MedicationDispense':
      return ((resource as MedicationDispense).identifier ?? []).some((i) => i.system === DISPENSE_NOTIFICATION_ID);
    default:
      return false;
  }
}
