import type { Coding, MedicationRequest, OperationOutcome, Patient, PractitionerRole, Provenance, Reference, Task } from 'fhir/r4.js';
import { spineError } from '../../fhir/spine-errors.js';
import { isValidNhsNumber } from '../patient/nhs-number.js';
import type { OperationSession } from '../hooks.js';
import {
  businessStatusCoding, LINE_ITEM_NUMBER, NHS_NUMBER, ODS_CODE, PRESCRIPTION_ID_EXTENSION, PRESCRIPTION_LONG_ID,
  PRESCRIPTION_ORDER_NUMBER, PRESCRIPTION_STATUS, SDS_ROLE_PROFILE_ID, TASK_CODE, withLineStatus,
} from './eps.js';
import { invalid, missing, resolve, resourcesOf, type Message } from './message.js';
import { isUuid, shortIdProblem } from './prescription-id.js';
import { findPrescription } from './prescriptions.js';

/**
 * prescription-order (nhs-spine.md §2.2, §2.4): 1 to 4 MedicationRequests of one prescription,
 * checked against the EPS constraints, stored one per line item (id = the line item UUID, status
 * 0007 To be dispensed) with a tracking Task (id = the long-form prescription id, status 0001 To
 * Be Dispensed, owner = the nominated pharmacy). References into the message (urn:uuid) become
 * references the server can follow: the patient by NHS number (`Patient/<nhs-number>`, the PDS
 * id), the nominated pharmacy by ODS code (`Organization/<ods>`, the ODS id); the prescriber is
 * kept by its SDS role profile identifier.
 */

const INTENTS = new Set(['order', 'original-order', 'instance-order']);
const CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/medicationrequest-category';
const CATEGORIES = new Set(['community', 'inpatient', 'outpatient', 'discharge']);
const COURSE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy';
const COURSES = new Set(['acute', 'continuous', 'continuous-repeat-dispensing']);
const SNOMED = 'http://snomed.info/sct';

const hasCoding = (codings: Coding[] | undefined, system: string, allowed: Set<string>) =>
  (codings ?? []).some((c) => c.system === system && allowed.has(c.code ?? ''));

interface Parsed {
  shortId: string;
  longId: string;
  patient: { nhsNumber: string; reference: Reference };
  requester: Reference;
  nominated?: string;
  items: MedicationRequest[];
}

/** Checks a prescription-order message; the first problem found is the answer (EPS does likewise). */
export function checkPrescriptionOrder(message: Message): Parsed {
  const requests = resourcesOf<MedicationRequest>(message, 'MedicationRequest');
  if (requests.length === 0) throw missing('A prescription-order carries at least one MedicationRequest', ['Bundle.entry']);
  if (requests.length > 4) throw spineError(400, 'TOO_MANY_VALUES_SUBMITTED', `A prescription has at most 4 items, not ${requests.length}`, ['Bundle.entry']);
  const signatures = resourcesOf<Provenance>(message, 'Provenance').filter(({ resource }) => (resource.signature ?? []).some((s) => s.data));
  if (!signatures.length) throw spineError(400, 'MISSING_DIGITAL_SIGNATURE', 'A prescription-order must carry a Provenance with the prescriber\'s signature');

  let shortId: string | undefined;
  let longId: string | undefined;
  let patient: Parsed['patient'] | undefined;
  let requester: Reference | undefined;
  let nominated: string | undefined;
  const lineIds = new Set<string>();
  requests.forEach(({ resource: mr, index }, n) => {
    const at = (path: string) => [`Bundle.entry[${index}].resource.${path}`];
    const lineId = mr.identifier?.find((i) => i.system === LINE_ITEM_NUMBER)?.value;
    if (!lineId) throw missing('Each MedicationRequest needs a line item identifier', at('identifier'));
    if (!isUuid(lineId)) throw invalid(`The line item identifier '${lineId}' is not a UUID`, at('identifier'));
    if (lineIds.has(lineId.toLowerCase())) throw invalid(`The line item identifier '${lineId}' is used twice`, at('identifier'));
    lineIds.add(lineId.toLowerCase());
    if (mr.status !== 'active') throw invalid(`A new prescription's items must be 'active', not '${String(mr.status)}'`, at('status'));
    if (!INTENTS.has(mr.intent)) throw invalid(`MedicationRequest.intent must be order, original-order or instance-order, not '${String(mr.intent)}'`, at('intent'));
    if (!(mr.category ?? []).some((c) => hasCoding(c.coding, CATEGORY_SYSTEM, CATEGORIES))) {
      throw invalid(`MedicationRequest.category needs a code of ${CATEGORY_SYSTEM} (community, inpatient, outpatient, discharge)`, at('category'));
    }
    if (!hasCoding(mr.courseOfTherapyType?.coding, COURSE_SYSTEM, COURSES)) {
      throw invalid(`MedicationRequest.courseOfTherapyType needs acute, continuous or continuous-repeat-dispensing (${COURSE_SYSTEM})`, at('courseOfTherapyType'));
    }
    if (mr.medicationReference && mr.medicationCodeableConcept) {
      throw spineError(400, 'INVALID_VALUE', 'Send medicationCodeableConcept or medicationReference, not both', at('medication[x]'));
    }
    if (!(mr.medicationCodeableConcept?.coding ?? []).some((c) => c.system === SNOMED && c.code)) {
      throw missing('MedicationRequest.medicationCodeableConcept needs a dm+d (SNOMED CT) code', at('medicationCodeableConcept'));
    }
    if (!mr.dosageInstruction?.length) throw missing('MedicationRequest.dosageInstruction is required', at('dosageInstruction'));
    if (!mr.dispenseRequest) throw missing('MedicationRequest.dispenseRequest is required', at('dispenseRequest'));
    if (mr.substitution?.allowedBoolean !== false) throw invalid('MedicationRequest.substitution.allowedBoolean must be false', at('substitution'));
    const course = mr.courseOfTherapyType!.coding!.find((c) => c.system === COURSE_SYSTEM)!.code;
    if (course === 'continuous-repeat-dispensing' && mr.dispenseRequest.numberOfRepeatsAllowed === undefined) {
      throw missing('A repeat dispensing item needs dispenseRequest.numberOfRepeatsAllowed', at('dispenseRequest.numberOfRepeatsAllowed'));
    }

    // One prescription: the same short and long id on every item.
    const group = mr.groupIdentifier;
    if (group?.system !== PRESCRIPTION_ORDER_NUMBER || !group.value) throw missing(`MedicationRequest.groupIdentifier needs the short prescription id (${PRESCRIPTION_ORDER_NUMBER})`, at('groupIdentifier'));
    const problem = shortIdProblem(group.value);
    if (problem === 'check') throw spineError(400, 'FAILURE_TO_PROCESS_MESSAGE', `Invalid prescription checksum: '${group.value}'`, at('groupIdentifier.value'));
    if (problem === 'format') throw invalid(`'${group.value}' is not a short prescription id (XXXXXX-XXXXXX-XXXXXC)`, at('groupIdentifier.value'));
    const long = group.extension?.find((e) => e.url === PRESCRIPTION_ID_EXTENSION)?.valueIdentifier;
    if (long?.system !== PRESCRIPTION_LONG_ID || !long.value) throw missing('The groupIdentifier needs the long-form prescription id (Extension-DM-PrescriptionId)', at('groupIdentifier.extension'));
    if (!isUuid(long.value)) throw invalid(`The long-form prescription id '${long.value}' is not a UUID`, at('groupIdentifier.extension'));
    if (n === 0) { shortId = group.value; longId = long.value.toLowerCase(); }
    else if (group.value !== shortId || long.value.toLowerCase() !== longId) throw invalid('Every item of a prescription carries the same prescription id', at('groupIdentifier'));

    // The patient and the prescriber, in the message.
    const subject = resolve(message, mr.subject) as Patient | undefined;
    if (subject?.resourceType !== 'Patient') throw missing('MedicationRequest.subject must reference the Patient in the message', at('subject'));
    const nhs = subject.identifier?.find((i) => i.system === NHS_NUMBER)?.value;
    if (!nhs || !isValidNhsNumber(nhs)) throw spineError(400, 'FAILURE_TO_PROCESS_MESSAGE', 'The patient has no valid NHS number', at('subject'));
    if (patient && patient.nhsNumber !== nhs) throw invalid('Every item of a prescription is for the same patient', at('subject'));
    patient = { nhsNumber: nhs, reference: { reference: `Patient/${nhs}`, identifier: { system: NHS_NUMBER, value: nhs } } };
    const role = resolve(message, mr.requester) as PractitionerRole | undefined;
    if (role?.resourceType !== 'PractitionerRole') throw missing('MedicationRequest.requester must reference the PractitionerRole in the message', at('requester'));
    const profile = role.identifier?.find((i) => i.system === SDS_ROLE_PROFILE_ID)?.value;
    if (!profile) throw missing('The prescriber\'s PractitionerRole needs an SDS role profile id', at('requester'));
    requester = { identifier: { system: SDS_ROLE_PROFILE_ID, value: profile } };

    // The nominated pharmacy, if any, is the same for every item.
    const performer = mr.dispenseRequest.performer;
    const ods = performer?.identifier?.system === ODS_CODE ? performer.identifier.value : undefined;
    if (performer && !ods) throw invalid('dispenseRequest.performer names the nominated pharmacy by its ODS code', at('dispenseRequest.performer'));
    if (n > 0 && ods !== nominated) throw invalid('The nominated pharmacy must be the same on every item', at('dispenseRequest.performer'));
    nominated = ods;
  });
  return { shortId: shortId!, longId: longId!, patient: patient!, requester: requester!, nominated, items: requests.map((r) => r.resource) };
}

/** Stores the prescription in `session`; refuses a prescription id (short or long) seen before. */
export async function storePrescriptionOrder(session: OperationSession, message: Message): Promise<OperationOutcome> {
  const p = checkPrescriptionOrder(message);
  const duplicate = () => spineError(400, 'DUPLICATE_PRESCRIPTION_ID', `Prescription ${p.shortId} has been sent before`);
  if (await findPrescription(session, p.shortId) || await session.exists('Task', p.longId)) throw duplicate();
  const performer = p.nominated ? { reference: `Organization/${p.nominated}`, identifier: { system: ODS_CODE, value: p.nominated } } : undefined;
  const basedOn: Reference[] = [];
  for (const item of p.items) {
    const id = item.identifier!.find((i) => i.system === LINE_ITEM_NUMBER)!.value!.toLowerCase();
    if (await session.exists('MedicationRequest', id)) throw duplicate();
    const { id: _local, ...rest } = item;
    const stored = withLineStatus({
      ...rest, subject: p.patient.reference, requester: p.requester,
      dispenseRequest: { ...item.dispenseRequest, ...(performer ? { performer } : {}) },
    }, '0007');
    await session.update('MedicationRequest', id, { ...stored, id });
    basedOn.push({ reference: `MedicationRequest/${id}` });
  }
  const task: Task = {
    resourceType: 'Task', id: p.longId,
    identifier: [{ system: PRESCRIPTION_LONG_ID, value: p.longId }],
    groupIdentifier: { system: PRESCRIPTION_ORDER_NUMBER, value: p.shortId },
    basedOn,
    status: PRESCRIPTION_STATUS['0001'][0], businessStatus: { coding: [businessStatusCoding('0001')] },
    intent: 'order', code: { coding: [{ system: TASK_CODE, code: 'fulfill' }] },
    for: p.patient.reference, requester: p.requester,
    authoredOn: new Date().toISOString(),
    ...(performer ? { owner: performer } : {}),
  };
  await session.update('Task', p.longId, task);
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'information', code: 'informational', diagnostics: `Prescription ${p.shortId} accepted: ${p.items.length} item(s) to be dispensed` }],
  };
}
