import type { Bundle, BundleEntry, MessageHeader, Reference, Resource } from 'fhir/r4.js';
import { spineError } from '../../fhir/spine-errors.js';
import { MESSAGE_EVENT, ODS_CODE } from './eps.js';

/**
 * An EPS message Bundle (nhs-spine.md §2.2): `type: message`, a MessageHeader first whose
 * `eventCoding` (https://fhir.nhs.uk/CodeSystem/message-event) names the message, and entries that
 * refer to each other by `urn:uuid:` fullUrls.
 */
export const EVENTS = ['prescription-order', 'prescription-order-update', 'dispense-notification'] as const;
export type MessageEvent = (typeof EVENTS)[number];

export interface Message {
  bundle: Bundle;
  header: MessageHeader;
  event: MessageEvent;
  /** The Bundle.identifier value (the message id). */
  id: string;
  entries: BundleEntry[];
}

/** A 400 with an EPS/Spine code, the way EPS answers a message it cannot accept. */
export const invalid = (diagnostics: string, expression?: string[]) => spineError(400, 'INVALID_VALUE', diagnostics, expression);
export const missing = (diagnostics: string, expression?: string[]) => spineError(400, 'MISSING_VALUE', diagnostics, expression);

/** The message event of a body, without checking more (for the access decision). */
export function eventOf(body: unknown): string | undefined {
  const entry = (body as { entry?: { resource?: MessageHeader }[] } | null)?.entry;
  const header = Array.isArray(entry) ? entry[0]?.resource : undefined;
  const coding = header?.resourceType === 'MessageHeader' ? header.eventCoding : undefined;
  return coding?.system === MESSAGE_EVENT ? coding.code : undefined;
}

/** The ODS code of the message's sender (MessageHeader.sender.identifier), when it names one. */
export function senderOds(body: unknown): string | undefined {
  const entry = (body as { entry?: { resource?: MessageHeader }[] } | null)?.entry;
  const header = Array.isArray(entry) ? entry[0]?.resource : undefined;
  const sender = header?.resourceType === 'MessageHeader' ? header.sender?.identifier : undefined;
  return sender && sender.system === ODS_CODE && typeof sender.value === 'string' ? sender.value : undefined;
}

export function parseMessage(body: unknown): Message {
  const bundle = body as Bundle;
  if (typeof body !== 'object' || body === null || bundle.resourceType !== 'Bundle') throw invalid('$process-message takes a Bundle', ['Bundle']);
  if (bundle.type !== 'message') throw invalid(`The Bundle type must be 'message', not '${String(bundle.type)}'`, ['Bundle.type']);
  const id = bundle.identifier?.value;
  if (typeof id !== 'string' || id === '') throw missing('The message Bundle needs an identifier (its message id)', ['Bundle.identifier.value']);
  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  const header = entries[0]?.resource as MessageHeader | undefined;
  if (header?.resourceType !== 'MessageHeader') throw missing('The first entry of a message Bundle must be its MessageHeader', ['Bundle.entry[0].resource']);
  const coding = header.eventCoding;
  if (coding?.system !== MESSAGE_EVENT || !(EVENTS as readonly string[]).includes(coding.code ?? '')) {
    throw invalid(`MessageHeader.eventCoding must be one of ${EVENTS.join(', ')} in ${MESSAGE_EVENT}`, ['Bundle.entry[0].resource.eventCoding']);
  }
  entries.forEach((e, i) => {
    if (typeof e?.resource?.resourceType !== 'string') throw missing(`Bundle.entry[${i}] has no resource`, [`Bundle.entry[${i}].resource`]);
  });
  return { bundle, header, event: coding.code as MessageEvent, id, entries };
}

/** The resources of one type in a message, with their entry index (for expressions). */
export function resourcesOf<T extends Resource>(message: Message, type: T['resourceType']): { resource: T; index: number }[] {
  return message.entries.flatMap((e, index) => (e.resource!.resourceType === type ? [{ resource: e.resource as T, index }] : []));
}

/** The entry a reference inside the message points at (by fullUrl, or `Type/id`), if any. */
export function resolve(message: Message, ref: Reference | undefined): Resource | undefined {
  const target = ref?.reference;
  if (!target) return undefined;
  for (const e of message.entries) {
    if (e.fullUrl === target) return e.resource;
    const r = e.resource!;
    if (r.id !== undefined && `${r.resourceType}/${r.id}` === target) return r;
  }
  return undefined;
}
