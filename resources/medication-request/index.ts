import type { SearchParameter, Task } from 'fhir/r4.js';
import { spineError } from '../../fhir/spine-errors.js';
import type { SearchParameterRegistry } from '../../search/registry.js';
import type { Resource } from 'fhir/r4.js';
import type { HookRegistry, Operation, OperationAccess, WriteOrigin } from '../hooks.js';
import { DISPENSING_INFORMATION_EXTENSION, isEpsRecord } from './eps.js';
import { eventOf, parseMessage, senderOds } from './message.js';
import { storePrescriptionOrder } from './prescription-order.js';
import { cancelLineItem } from './cancel.js';
import { actingPharmacy, parseRelease, release, returnPrescription, taskRequestKind } from './dispensing.js';
import { dispenseNotification, withdrawNotification } from './dispense.js';

/**
 * EPS, the Electronic Prescription Service (nhs-spine.md §2), on MedicationRequest (one per line
 * item), Task (one per prescription: its status and dispenser) and MedicationDispense:
 * `POST /$process-message` takes the three EPS messages; `POST /Task/$release` hands prescriptions
 * to a pharmacy; `POST /Task` with an EPS return or withdraw Task undoes a release or a dispense.
 */

const SP_BASE = 'urn:vertebra:SearchParameter:';

/** EPS writes are an operation's on the caller's behalf: audited and access-checked, and told from plain writes by the guards below. */
export const EPS = { origin: 'operation' } as const;

/** A plain FHIR write of an EPS record would bypass the prescription's status rules. */
function epsOnly(what: string): (resource: Resource, origin?: WriteOrigin) => void {
  return (resource, origin) => {
    if (origin !== 'operation' && isEpsRecord(resource)) {
      throw spineError(422, 'INVALID_UPDATE', `EPS ${what} change only through $process-message and the Task operations`);
    }
  };
}

/** Search parameters EPS clients need that R4 lacks on MedicationRequest. */
export const EPS_SEARCH_PARAMETERS: SearchParameter[] = [
  {
    resourceType: 'SearchParameter', url: `${SP_BASE}MedicationRequest-group-identifier`, name: 'group-identifier', status: 'active',
    description: 'The prescription a line item belongs to: its short-form prescription id (https://fhir.nhs.uk/Id/prescription-order-number)',
    code: 'group-identifier', base: ['MedicationRequest'], type: 'token', expression: 'MedicationRequest.groupIdentifier',
  },
  {
    resourceType: 'SearchParameter', url: `${SP_BASE}MedicationRequest-line-item-status`, name: 'line-item-status', status: 'active',
    description: 'The EPS line-item status (https://fhir.nhs.uk/CodeSystem/medicationdispense-type: 0007 to be dispensed, 0008 with dispenser, …)',
    code: 'line-item-status', base: ['MedicationRequest'], type: 'token',
    expression: `MedicationRequest.extension.where(url='${DISPENSING_INFORMATION_EXTENSION}').extension.where(url='dispenseStatus').value`,
  },
];

const MESSAGE_ACCESS: Record<string, OperationAccess[]> = {
  'prescription-order': [{ interaction: 'create', resourceType: 'MedicationRequest' }],
  'prescription-order-update': [{ interaction: 'update', resourceType: 'MedicationRequest' }],
  'dispense-notification': [{ interaction: 'create', resourceType: 'MedicationDispense' }],
};

/** `POST /$process-message`: one EPS message, processed in one transaction, answered with an OperationOutcome. */
export const processMessage: Operation = {
  documentation: 'EPS messages (a Bundle of type message; MessageHeader.eventCoding in https://fhir.nhs.uk/CodeSystem/message-event): '
    + 'prescription-order, prescription-order-update (cancel one item), dispense-notification (and its amendment). Answers an OperationOutcome.',
  access: (body) => MESSAGE_ACCESS[eventOf(body) ?? ''] ?? [],
  // A dispense notification speaks for the pharmacy that sends it.
  actsFor: (body) => (eventOf(body) === 'dispense-notification' ? senderOds(body) : undefined),
  async run(body, engine) {
    const message = parseMessage(body);
    switch (message.event) {
      case 'prescription-order':
        return { status: 200, resource: await engine.transaction((s) => storePrescriptionOrder(s, message), EPS) };
      case 'prescription-order-update':
        return { status: 200, resource: await engine.transaction((s) => cancelLineItem(s, message), EPS) };
      case 'dispense-notification':
        return { status: 200, resource: await engine.transaction((s) => dispenseNotification(s, message), EPS) };
    }
  },
};

export function registerEps(hooks: HookRegistry, registry: SearchParameterRegistry): void {
  for (const sp of EPS_SEARCH_PARAMETERS) registry.register(sp);
  hooks.registerOperation('process-message', processMessage);
  hooks.register('Task', {
    documentation: 'EPS prescriptions: one Task per prescription (id = the long-form prescription id) holds its status '
      + '(businessStatus in EPS-task-business-status) and its dispenser (owner). POST /Task/$release releases prescriptions '
      + 'to a pharmacy; POST /Task with an EPS return (status rejected, code fulfill) or withdraw (status in-progress, code abort) Task '
      + 'returns a prescription or withdraws a dispense notification.',
    operations: {
      release: {
        documentation: 'A pharmacy (owner: its ODS code) downloads up to 25 prescriptions nominated to it, or one by group-identifier (short prescription id).',
        access: () => [{ interaction: 'update', resourceType: 'Task' }, { interaction: 'read', resourceType: 'MedicationRequest' }],
        actsFor: (body) => parseRelease(body).ods,
        run: release },
      return: {
        documentation: 'The EPS return Task (also accepted as POST /Task): the dispenser hands a released prescription back.',
        access: () => [{ interaction: 'update', resourceType: 'Task' }],
        actsFor: (body) => actingPharmacy(body as Task),
        run: async (body, engine) => ({ status: 200, resource: await engine.transaction((s) => returnPrescription(s, body), EPS) }),
      },
      withdraw: {
        documentation: 'The EPS withdraw Task (also accepted as POST /Task): takes back the latest dispense notification.',
        access: () => [{ interaction: 'update', resourceType: 'Task' }],
        actsFor: (body) => actingPharmacy(body as Task),
        run: async (body, engine) => ({ status: 200, resource: await engine.transaction((s) => withdrawNotification(s, body), EPS) }),
      },
    },
    createOperation: (body) => taskRequestKind(body),
    validate: (resource, origin) => {
      // A return or withdraw Task is a request, never a record: stored through a Bundle it would do nothing.
      const kind = taskRequestKind(resource);
      if (kind) throw spineError(400, 'INVALID_VALUE', `An EPS ${kind} Task is a request: POST it to /Task on its own`);
      epsOnly('prescription Tasks')(resource, origin);
    },
    guardChange: epsOnly('prescription Tasks'),
  });
  hooks.register('MedicationDispense', {
    documentation: 'EPS dispense notifications: written by POST /$process-message (dispense-notification), one per item dispensed.',
    validate: epsOnly('dispense records'),
    guardChange: epsOnly('dispense records'),
  });
  hooks.register('MedicationRequest', {
    documentation: 'EPS prescriptions: one MedicationRequest per line item, written by POST /$process-message '
      + '(prescription-order, prescription-order-update); search by patient, status, group-identifier (short prescription id), '
      + 'line-item-status, intended-dispenser (nominated pharmacy), requester.',
    validate: epsOnly('prescriptions'),
    guardChange: epsOnly('prescriptions'),
  });
}
