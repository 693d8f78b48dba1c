import { randomUUID } from 'node:crypto';
import { generateShortId } from '../../resources/medication-request/prescription-id.js';

/**
 * EPS message Bundles built from the shapes nhs-spine.md §2 describes (MessageHeader with the
 * message-event coding, MedicationRequests with the short and long prescription ids, a Patient by
 * NHS number, the prescriber's PractitionerRole and a signing Provenance). Synthetic data only.
 */
export const MESSAGE_EVENT = 'https://fhir.nhs.uk/CodeSystem/message-event';

export interface Prescription {
  bundle: any;
  shortId: string;
  longId: string;
  lineIds: string[];
  nhsNumber: string;
}

const urn = () => `urn:uuid:${randomUUID()}`;

function header(event: string, focus: string[], sender = 'A83008'): any {
  return {
    resourceType: 'MessageHeader',
    eventCoding: { system: MESSAGE_EVENT, code: event },
    sender: { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: sender } },
    source: { endpoint: 'https://example.org/prescribing-system' },
    focus: focus.map((reference) => ({ reference })),
  };
}

export function messageBundle(event: string, entries: { fullUrl: string; resource: any }[], focus: string[] = []): any {
  return {
    resourceType: 'Bundle',
    identifier: { system: 'https://tools.ietf.org/html/rfc4122', value: randomUUID() },
    type: 'message',
    timestamp: new Date().toISOString(),
    entry: [{ fullUrl: urn(), resource: header(event, focus) }, ...entries],
  };
}

export interface OrderOptions {
  items?: number;
  nhsNumber?: string;
  nominated?: string | null;
  shortId?: string;
  longId?: string;
  rolePofile?: string;
  /** Changes each MedicationRequest before the Bundle is built. */
  item?: (mr: any, index: number) => void;
}

export function medicationRequest(o: { lineId: string; shortId: string; longId: string; patient: string; requester: string; nominated?: string | null; status?: string }): any {
  return {
    resourceType: 'MedicationRequest',
    extension: [{
      url: 'https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionType',
      valueCoding: { system: 'https://fhir.nhs.uk/CodeSystem/prescription-type', code: '0101', display: 'Primary Care Prescriber - Medical Prescriber' },
    }],
    identifier: [{ system: 'https://fhir.nhs.uk/Id/prescription-order-item-number', value: o.lineId }],
    status: o.status ?? 'active',
    intent: 'order',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/medicationrequest-category', code: 'community', display: 'Community' }] }],
    medicationCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '322236009', display: 'Paracetamol 500mg tablets' }] },
    subject: { reference: o.patient },
    requester: { reference: o.requester },
    groupIdentifier: {
      extension: [{
        url: 'https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionId',
        valueIdentifier: { system: 'https://fhir.nhs.uk/Id/prescription', value: o.longId },
      }],
      system: 'https://fhir.nhs.uk/Id/prescription-order-number', value: o.shortId,
    },
    courseOfTherapyType: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy', code: 'acute', display: 'Short course (acute) therapy' }] },
    dosageInstruction: [{ text: 'One tablet four times a day' }],
    dispenseRequest: {
      quantity: { value: 100, unit: 'tablet', system: 'http://snomed.info/sct', code: '428673006' },
      ...(o.nominated ? { performer: { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: o.nominated } } } : {}),
    },
    substitution: { allowedBoolean: false },
  };
}

function people(nhsNumber: string, roleProfile: string) {
  const patient = { fullUrl: urn(), resource: {
    resourceType: 'Patient', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhsNumber }],
    name: [{ family: 'Testpatient', given: ['Alex'] }], gender: 'unknown', birthDate: '1970-01-01',
  } };
  const practitioner = { fullUrl: urn(), resource: {
    resourceType: 'Practitioner', identifier: [{ system: 'https://fhir.nhs.uk/Id/sds-user-id', value: '555086689106' }], name: [{ family: 'Prescriber' }],
  } };
  const role = { fullUrl: urn(), resource: {
    resourceType: 'PractitionerRole', identifier: [{ system: 'https://fhir.nhs.uk/Id/sds-role-profile-id', value: roleProfile }],
    practitioner: { reference: practitioner.fullUrl }, organization: { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'A83008' } },
    code: [{ coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode', code: 'R8000' }] }],
  } };
  return { patient, practitioner, role };
}

function provenance(targets: string[], who: string): any {
  return { fullUrl: urn(), resource: {
    resourceType: 'Provenance', target: targets.map((reference) => ({ reference })), recorded: new Date().toISOString(),
    agent: [{ who: { reference: who } }],
    signature: [{
      type: [{ system: 'urn:iso-astm:E1762-95:2013', code: '1.2.840.10065.1.12.1.1' }], when: new Date().toISOString(),
      who: { reference: who }, data: Buffer.from('<Signature>synthetic</Signature>').toString('base64'),
    }],
  } };
}

/** A prescription-order message: `items` line items (default 2), nominated to FCG71 unless told otherwise. */
export function prescriptionOrder(options: OrderOptions = {}): Prescription {
  const shortId = options.shortId ?? generateShortId('A83008');
  const longId = options.longId ?? randomUUID();
  const nhsNumber = options.nhsNumber ?? '9990000018';
  const { patient, practitioner, role } = people(nhsNumber, options.rolePofile ?? '555086415105');
  const lineIds: string[] = [];
  const items = Array.from({ length: options.items ?? 2 }, (_, i) => {
    const lineId = randomUUID();
    lineIds.push(lineId);
    const mr = medicationRequest({ lineId, shortId, longId, patient: patient.fullUrl, requester: role.fullUrl, nominated: options.nominated === undefined ? 'FCG71' : options.nominated });
    options.item?.(mr, i);
    return { fullUrl: urn(), resource: mr };
  });
  const bundle = messageBundle('prescription-order', [
    ...items, patient, role, practitioner, provenance(items.map((i) => i.fullUrl), role.fullUrl),
  ], items.map((i) => i.fullUrl));
  return { bundle, shortId, longId, lineIds, nhsNumber };
}

/** A prescription-order-update cancelling one line item, with a status reason (default 0001 Prescribing error). */
export function cancellation(p: Prescription, lineIndex = 0, reason = '0001'): any {
  const { patient, practitioner, role } = people(p.nhsNumber, '555086415105');
  const mr = medicationRequest({ lineId: p.lineIds[lineIndex], shortId: p.shortId, longId: p.longId, patient: patient.fullUrl, requester: role.fullUrl, status: 'cancelled' });
  mr.statusReason = { coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/medicationrequest-status-reason', code: reason }] };
  const item = { fullUrl: urn(), resource: mr };
  return messageBundle('prescription-order-update', [item, patient, role, practitioner], [item.fullUrl]);
}

/** Parameters of Task/$release for a pharmacy: its nominated prescriptions, or one by short id. */
export function releaseRequest(ods: string, shortId?: string): any {
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'owner', resource: {
        resourceType: 'Organization', identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: ods }],
        type: [{ coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/organisation-role', code: '182', display: 'PHARMACY' }] }], name: `Pharmacy ${ods}`,
      } },
      { name: 'status', valueCode: 'accepted' },
      ...(shortId ? [{ name: 'group-identifier', valueIdentifier: { system: 'https://fhir.nhs.uk/Id/prescription-order-number', value: shortId } }] : []),
    ],
  };
}

/** An EPS return Task (status rejected, code fulfill) from pharmacy `ods`. */
export function returnTask(shortId: string, ods: string, nhsNumber = '9990000018'): any {
  return {
    resourceType: 'Task', status: 'rejected', intent: 'order',
    code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'fulfill', display: 'Fulfill the focal request' }] },
    groupIdentifier: { system: 'https://fhir.nhs.uk/Id/prescription-order-number', value: shortId },
    statusReason: { coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/EPS-task-dispense-return-status-reason', code: '0003', display: 'Patient requested release' }] },
    for: { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhsNumber } },
    owner: { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: ods } },
    authoredOn: new Date().toISOString(),
  };
}

/**
 * A dispense-notification from pharmacy `ods`: one MedicationDispense per listed item, its type the
 * item's new status (medicationdispense-type) and the declared prescription status
 * (Extension-EPS-TaskBusinessStatus); `replaces` makes it an amendment of that notification.
 */
export function dispenseNotification(p: Prescription, ods: string, items: { line: number; type: string }[], declared: string, replaces?: string): any {
  const pharmacy = { fullUrl: urn(), resource: {
    resourceType: 'Organization', identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: ods }], name: `Pharmacy ${ods}`,
  } };
  const dispenses = items.map(({ line, type }) => {
    const request = medicationRequest({ lineId: p.lineIds[line], shortId: p.shortId, longId: p.longId, patient: 'urn:uuid:unused', requester: 'urn:uuid:unused' });
    request.id = 'm1';
    delete request.subject;
    delete request.requester;
    request.subject = { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: p.nhsNumber } };
    request.requester = { identifier: { system: 'https://fhir.nhs.uk/Id/sds-role-profile-id', value: '555086415105' } };
    return { fullUrl: urn(), resource: {
      resourceType: 'MedicationDispense',
      contained: [request],
      extension: [{
        url: 'https://fhir.nhs.uk/StructureDefinition/Extension-EPS-TaskBusinessStatus',
        valueCoding: { system: 'https://fhir.nhs.uk/CodeSystem/EPS-task-business-status', code: declared },
      }],
      identifier: [{ system: 'https://fhir.nhs.uk/Id/prescription-dispense-item-number', value: randomUUID() }],
      status: type === '0002' || type === '0004' ? 'in-progress' : 'completed',
      medicationCodeableConcept: request.medicationCodeableConcept,
      subject: { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: p.nhsNumber } },
      performer: [{ actor: { reference: pharmacy.fullUrl } }],
      authorizingPrescription: [{ reference: '#m1' }],
      type: { coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/medicationdispense-type', code: type }] },
      quantity: { value: 100, unit: 'tablet', system: 'http://snomed.info/sct', code: '428673006' },
      whenHandedOver: new Date().toISOString(),
    } };
  });
  const bundle = messageBundle('dispense-notification', [...dispenses, pharmacy], dispenses.map((d) => d.fullUrl));
  bundle.entry[0].resource.sender = { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: ods } };
  if (replaces) bundle.entry[0].resource.extension = [{ url: 'https://fhir.nhs.uk/StructureDefinition/Extension-replacementOf', valueIdentifier: { system: 'https://tools.ietf.org/html/rfc4122', value: replaces } }];
  return bundle;
}

/** An EPS withdraw Task (status in-progress, code abort) taking back dispense notification `dnId`. */
export function withdrawTask(shortId: string, ods: string, dnId: string): any {
  return {
    resourceType: 'Task', status: 'in-progress', intent: 'order',
    code: { coding: [{ system: 'http://hl7.org/fhir/CodeSystem/task-code', code: 'abort', display: 'Mark the focal resource as no longer active' }] },
    groupIdentifier: { system: 'https://fhir.nhs.uk/Id/prescription-order-number', value: shortId },
    statusReason: { coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/EPS-task-dispense-withdraw-reason', code: 'MU', display: 'Medication Update' }] },
    focus: { identifier: { system: 'https://tools.ietf.org/html/rfc4122', value: dnId } },
    owner: { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: ods } },
    authoredOn: new Date().toISOString(),
  };
}
