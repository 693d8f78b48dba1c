import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The SCR keeps its records as ordinary resources (Bundle, Composition, DocumentReference and
 * Consent with ids `scr-<NHS number>`), but they may be reached only through the SCR API, whose
 * consent rules the generic FHIR paths know nothing of. The SCR operations run inside this
 * context; the types' hooks (hooks.ts) refuse the `scr-` ids and hide the records everywhere else.
 */
const context = new AsyncLocalStorage<true>();

/** Runs `fn` (and all it starts) as an SCR operation, which may reach the SCR's records. */
export function asScr<T>(fn: () => T): T {
  return context.run(true, fn);
}

export function inScr(): boolean {
  return context.getStore() === true;
}

/** The id prefix of the SCR's own records. */
export const SCR_ID_PREFIX = 'scr-';

/** The id of a patient's SCR record of any of the four types. */
export function scrId(nhsNumber: string): string {
  return `${SCR_ID_PREFIX}${nhsNumber}`;
}

export function isScrId(id: string): boolean {
  return id.startsWith(SCR_ID_PREFIX);
}

/** meta.tag on every SCR record: searches outside the SCR API exclude it. */
export const SCR_TAG = { system: 'https://vertebra.dev/CodeSystem/record-owner', code: 'scr', display: 'Held by the Summary Care Record API' } as const;
