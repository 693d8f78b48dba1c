import { randomBytes, randomUUID } from 'node:crypto';

/**
 * EPS prescription identifiers (nhs-spine.md §2.3).
 *
 * Short form, `MedicationRequest.groupIdentifier` in https://fhir.nhs.uk/Id/prescription-order-number:
 * `XXXXXX-XXXXXX-XXXXXC` = 6 random hex, the prescriber's ODS code zero-padded to 6, 5 hex, and a
 * check character: ISO/IEC 7064 MOD 37-2 over the 17 characters before it (dashes left out), with
 * `+` standing for the 37th symbol where the standard has `*`.
 * Long form: a UUID, in the Extension-DM-PrescriptionId of the groupIdentifier. Line items: a UUID
 * each, in https://fhir.nhs.uk/Id/prescription-order-item-number.
 */

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+';
const SHORT_ID = /^[0-9A-F]{6}-[0-9A-Z]{6}-[0-9A-F]{5}[0-9A-Z+]$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The MOD 37-2 running total over the characters (0-9, A-Z). */
function total(chars: string): number {
  let t = 0;
  for (const c of chars) t = ((t + parseInt(c, 36)) * 2) % 37;
  return t;
}

/** The check character for the 17 characters of a short id before it (dashes allowed). */
export function checkCharacter(body: string): string {
  const chars = body.replace(/-/g, '');
  if (!/^[0-9A-Z]{17}$/.test(chars)) throw new RangeError(`a short prescription id body is 17 characters 0-9 A-Z, not '${body}'`);
  return ALPHABET[(38 - total(chars)) % 37];
}

export type ShortIdProblem = 'format' | 'check';

/** Why `value` is not a valid short-form prescription id, or undefined when it is one. */
export function shortIdProblem(value: string): ShortIdProblem | undefined {
  if (!SHORT_ID.test(value)) return 'format';
  const chars = value.replace(/-/g, '');
  return (total(chars.slice(0, 17)) + ALPHABET.indexOf(chars[17])) % 37 === 1 ? undefined : 'check';
}

export function isValidShortId(value: string): boolean {
  return shortIdProblem(value) === undefined;
}

const hex = (n: number) => randomBytes(Math.ceil(n / 2)).toString('hex').slice(0, n).toUpperCase();

/** A new short-form id for a prescriber organisation (its ODS code, at most 6 characters). */
export function generateShortId(prescriberOds: string): string {
  const ods = prescriberOds.toUpperCase();
  if (!/^[0-9A-Z]{1,6}$/.test(ods)) throw new RangeError(`a prescriber ODS code in a short prescription id is 1 to 6 letters and digits, not '${prescriberOds}'`);
  const body = `${hex(6)}-${ods.padStart(6, '0')}-${hex(5)}`;
  return body + checkCharacter(body);
}

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** A new long-form prescription id or line item id (a UUID). */
export function generateLongId(): string {
  return randomUUID();
}
