import type { Bundle, Composition, Consent, DocumentReference, Resource } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { spineError } from '../../fhir/spine-errors.js';
import type { ResourceVersion } from '../../store/port.js';
import type { InteractionEngine } from '../engine.js';
import { NHS_NUMBER_SYSTEM } from '../patient/nhs-number.js';
import type { WriteSession } from '../write-session.js';
import { ACS_PERMISSION_SYSTEM, ACS_PERMISSIONS, GP_SUMMARY, isAcsPermission, RFC4122_SYSTEM, SCR_UUID_SYSTEM, type AcsPermission } from './codes.js';
import { asScr, scrId, SCR_TAG } from './context.js';
import { normaliseDocument, type ScrDocument } from './document.js';

/**
 * A patient's Summary Care Record as vertebra keeps it, all under the id `scr-<NHS number>`:
 * - Bundle: the uploaded document (each upload a new version: the history is the SCR's history);
 * - Composition: the document's Composition, subject `Patient/<NHS number>` (the SCR UUID is its identifier);
 * - DocumentReference: the pointer the SCR API's `GET /DocumentReference` answers;
 * - Consent: the patient's SCR permission (ACS Yes/No/Ask), set by $setPermission; absent = Ask.
 * Every function runs as an SCR operation (context.ts) and writes in one client transaction, so
 * the audit trail records each write with it.
 */

/** The default when no permission was ever set: core SCR is shared, permission to view is asked. */
export const DEFAULT_PERMISSION: AcsPermission = 'Ask';

const subjectOf = (nhsNumber: string) => ({ reference: `Patient/${nhsNumber}`, identifier: { system: NHS_NUMBER_SYSTEM, value: nhsNumber } });
const tagged = <T extends Resource>(resource: T): T => ({ ...resource, meta: { ...(resource.meta ?? {}), tag: [...(resource.meta?.tag ?? []).filter((t) => t.system !== SCR_TAG.system), { ...SCR_TAG }] } });

/** What a session or the engine can read the records with. */
type Reader = (type: string, id: string) => Promise<ResourceVersion | undefined>;

const sessionReader = (session: WriteSession): Reader => async (type, id) => (await session.matches(type, [['_id', id]], 1))[0];
const engineReader = (engine: InteractionEngine): Reader => async (type, id) => {
  try {
    return await engine.read(type, id);
  } catch (e) {
    if (e instanceof FhirError && (e.status === 404 || e.status === 410)) return undefined; // never uploaded (or deleted)
    throw e;
  }
};

async function load<T extends Resource>(read: Reader, type: string, nhsNumber: string): Promise<T | undefined> {
  const version = await read(type, scrId(nhsNumber));
  return version?.json ? (JSON.parse(version.json) as T) : undefined;
}

function permissionIn(consent: Consent | undefined): AcsPermission {
  const code = consent?.category?.flatMap((c) => c.coding ?? []).find((c) => c.system === ACS_PERMISSION_SYSTEM)?.code;
  return code !== undefined && isAcsPermission(code) ? code : DEFAULT_PERMISSION;
}

function pointer(nhsNumber: string, uuid: string, permission: AcsPermission, date: string): DocumentReference {
  return tagged({
    resourceType: 'DocumentReference',
    id: scrId(nhsNumber),
    masterIdentifier: { system: SCR_UUID_SYSTEM, value: uuid },
    status: 'current',
    type: { coding: [{ ...GP_SUMMARY }] },
    subject: subjectOf(nhsNumber),
    date,
    securityLabel: [{ coding: [{ system: ACS_PERMISSION_SYSTEM, code: permission, display: ACS_PERMISSIONS[permission] }] }],
    content: [{
      attachment: {
        contentType: 'application/fhir+json',
        // Relative to the FHIR base; made absolute when the pointer is read (absolutePointer).
        url: `Bundle?composition.identifier=${encodeURIComponent(uuid)}&composition.subject:Patient.identifier=${encodeURIComponent(`${NHS_NUMBER_SYSTEM}|${nhsNumber}`)}`,
      },
    }],
  });
}

/** The patient's SCR permission (Ask when none was ever set). */
export function permissionOf(engine: InteractionEngine, nhsNumber: string): Promise<AcsPermission> {
  return asScr(async () => permissionIn(await load<Consent>(engineReader(engine), 'Consent', nhsNumber)));
}

/**
 * Stores an upload: refused (403) when the patient opted out; 409 when it repeats the current
 * record's UUID or says it replaces another record than the current one. The previous record
 * stays in the history of the three resources.
 */
export function upload(engine: InteractionEngine, doc: ScrDocument, now: () => Date = () => new Date()): Promise<{ pointer: DocumentReference; created: boolean }> {
  return asScr(() => engine.transaction(async (session) => {
    const read = sessionReader(session);
    const permission = permissionIn(await load<Consent>(read, 'Consent', doc.nhsNumber));
    if (permission === 'No') {
      throw spineError(403, 'ACCESS_DENIED', 'The patient has opted out of the Summary Care Record (permission No): nothing was stored');
    }
    const current = await load<Composition>(read, 'Composition', doc.nhsNumber);
    const currentUuid = current?.identifier?.value;
    if (currentUuid === doc.uuid) throw spineError(409, 'RESOURCE_VERSION_MISMATCH', '[PSIS-30134] - Duplicate event: this SCR UUID is already the current record');
    if (doc.replaces !== undefined && currentUuid !== undefined && doc.replaces !== currentUuid) {
      throw spineError(409, 'RESOURCE_VERSION_MISMATCH', 'The upload replaces an SCR that is not the current record of this patient');
    }
    const id = scrId(doc.nhsNumber);
    const composition: Composition = tagged({
      ...doc.composition, id,
      identifier: { system: RFC4122_SYSTEM, value: doc.uuid },
      subject: subjectOf(doc.nhsNumber),
    });
    await session.update('Bundle', id, tagged({ ...normaliseDocument(doc), id }));
    await session.update('Composition', id, composition);
    const written = await session.update('DocumentReference', id, pointer(doc.nhsNumber, doc.uuid, permission, now().toISOString()));
    return { pointer: written.resource as DocumentReference, created: current === undefined };
  }));
}

/** $setPermission: the patient's permission, and the current pointer's securityLabel, in one commit. */
export function setPermission(engine: InteractionEngine, nhsNumber: string, permission: AcsPermission, now: () => Date = () => new Date()): Promise<void> {
  return asScr(() => engine.transaction(async (session) => {
    const id = scrId(nhsNumber);
    const consent: Consent = tagged({
      resourceType: 'Consent', id, status: 'active',
      scope: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy', display: 'Privacy Consent' }] },
      category: [{ coding: [{ system: ACS_PERMISSION_SYSTEM, code: permission, display: ACS_PERMISSIONS[permission] }] }],
      patient: subjectOf(nhsNumber),
      dateTime: now().toISOString(),
      policyRule: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: permission === 'No' ? 'OPTOUT' : 'OPTIN' }] },
      provision: { type: permission === 'No' ? 'deny' : 'permit' },
    });
    await session.update('Consent', id, consent);
    const current = await load<DocumentReference>(sessionReader(session), 'DocumentReference', nhsNumber);
    if (current) {
      const label = pointer(nhsNumber, current.masterIdentifier!.value!, permission, current.date!).securityLabel;
      await session.update('DocumentReference', id, { ...current, securityLabel: label });
    }
  }));
}

/** The current pointer of a patient's SCR (none when no SCR was uploaded). */
export function currentPointer(engine: InteractionEngine, nhsNumber: string): Promise<DocumentReference | undefined> {
  return asScr(() => load<DocumentReference>(engineReader(engine), 'DocumentReference', nhsNumber));
}

/** The pointer as a client reads it: the attachment URL absolute under `base`. */
export function absolutePointer(pointer: DocumentReference, base: string): DocumentReference {
  return {
    ...pointer,
    content: pointer.content.map((c) => ({ ...c, attachment: { ...c.attachment, url: c.attachment.url && !/^[a-z]+:/i.test(c.attachment.url) ? `${base}/${c.attachment.url}` : c.attachment.url } })),
  };
}

/** The NHS number whose current SCR has this UUID, if any (a replaced UUID finds nothing). */
export function patientOfUuid(engine: InteractionEngine, uuid: string): Promise<string | undefined> {
  return asScr(async () => {
    const { result } = await engine.search(['Composition'], [['identifier', `${RFC4122_SYSTEM}|${uuid.toLowerCase()}`], ['_tag', `${SCR_TAG.system}|${SCR_TAG.code}`]], { strict: true, defaultCount: 2, maxCount: 2 });
    const composition = result.matches[0]?.json ? (JSON.parse(result.matches[0].json) as Composition) : undefined;
    return composition?.subject?.identifier?.value;
  });
}

/** The current SCR of a patient: its document Bundle and Composition (none when no SCR was uploaded). */
export function currentRecord(engine: InteractionEngine, nhsNumber: string): Promise<{ document: Bundle; composition: Composition } | undefined> {
  return asScr(async () => {
    const read = engineReader(engine);
    const composition = await load<Composition>(read, 'Composition', nhsNumber);
    const document = await load<Bundle>(read, 'Bundle', nhsNumber);
    return composition && document ? { composition, document } : undefined;
  });
}
