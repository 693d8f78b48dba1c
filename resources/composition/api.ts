import type { Bundle, Parameters } from 'fhir/r4.js';
import { errors, FhirError, operationOutcome } from '../../fhir/errors.js';
import { spineError } from '../../fhir/spine-errors.js';
import type { AccessNeed, ModuleCall, ModuleRoute } from '../module.js';
import { isValidNhsNumber, NHS_NUMBER_SYSTEM } from '../patient/nhs-number.js';
import { readerOrganization, SESSION_URID_HEADER } from '../practitioner/reader-organization.js';
import { alertEvent } from './alert.js';
import { ACS_PERMISSION_SYSTEM, GP_SUMMARY, isAcsPermission } from './codes.js';
import { decideRead, parseAlert, readRefused, type Alert } from './consent.js';
import { asScr, isScrId, SCR_ID_PREFIX } from './context.js';
import { isScrDocument, readScrDocument } from './document.js';
import { absolutePointer, currentPointer, currentRecord, patientOfUuid, permissionOf, setPermission, upload } from './records.js';

/**
 * The Summary Care Record API (nhs-spine.md §5) over the records of records.ts, as routes of the
 * SCR module (resources/module.ts):
 *   POST /Bundle                      upload (a document Bundle led by a GP Summary Composition)
 *   GET  /DocumentReference?patient=  the pointer to the current SCR, with the permission as securityLabel
 *   GET  /Bundle?composition.identifier=<SCR UUID>   the record's resources (searchset)
 *   GET  /Composition/{id}/$document  the record's document Bundle
 *   GET  /Composition/{id}/_history  the record's earlier Compositions (each upload replaces the record)
 *   POST /$setPermission              the patient's permission (SCR-ACSPermission Yes/No/Ask)
 * Requests of the same paths that are not SCR requests (another Bundle, another search) pass on
 * to the generic interactions. Reading the record asks the consent decision (consent.ts) with
 * what the reader asserts in these headers:
 *   NHSD-SCR-Permission-To-View: true        the patient gave permission to view, at the point of care
 *   NHSD-SCR-Legitimate-Relationship: true   the reader has a legitimate relationship with the patient
 *   NHSD-SCR-Alert-Type / NHSD-SCR-Alert-Reason [/ NHSD-SCR-Alert-Message]   emergency access: an
 *     SCR-AlertType and SCR-AlertReason code (permitted pairs only); recorded as an alert AuditEvent
 *     naming the reader's organisation (NHSD-Session-URID or a PractitionerRole fhirUser) before
 *     the record is sent.
 */
const HEADERS = {
  permissionToView: 'NHSD-SCR-Permission-To-View',
  legitimateRelationship: 'NHSD-SCR-Legitimate-Relationship',
  alertType: 'NHSD-SCR-Alert-Type',
  alertReason: 'NHSD-SCR-Alert-Reason',
  alertMessage: 'NHSD-SCR-Alert-Message',
} as const;

const READ_RECORD: AccessNeed = { interaction: 'read', resourceTypes: ['Composition'] };

/** Parameters every read accepts and the SCR search ignores (representation only). */
const REPRESENTATION = new Set(['_format', '_pretty']);

function flag(call: ModuleCall, name: string): boolean {
  const value = call.header(name);
  if (value === undefined) return false;
  if (/^true$/i.test(value.trim())) return true;
  if (/^false$/i.test(value.trim())) return false;
  throw spineError(400, 'INVALID_VALUE', `Invalid value - in header '${name}': 'true' or 'false'`);
}

/** An NHS number from `https://fhir.nhs.uk/Id/nhs-number|<n>`; 400 when it is not one. */
function nhsNumberParam(value: string, name: string): string {
  const bar = value.indexOf('|');
  const nhs = bar < 0 ? '' : value.slice(bar + 1);
  if (value.slice(0, bar) !== NHS_NUMBER_SYSTEM || !isValidNhsNumber(nhs)) {
    throw spineError(400, 'INVALID_SEARCH_DATA', `Invalid search data provided - '${name}' must be ${NHS_NUMBER_SYSTEM}|<a valid NHS number>`);
  }
  return nhs;
}

function searchset(base: string, path: string, pairs: [string, string][], entries: unknown[]): Bundle {
  const query = new URLSearchParams(pairs).toString();
  return {
    resourceType: 'Bundle', type: 'searchset', timestamp: new Date().toISOString(), total: entries.length,
    link: [{ relation: 'self', url: `${base}/${path}${query ? `?${query}` : ''}` }],
    entry: entries as Bundle['entry'],
  };
}

/**
 * What an SCR call needs beyond its path's own decision (an upload also creates a Composition and
 * a DocumentReference; reading the record through `GET /Bundle` reads the Composition). The SCR
 * API is a staff API: patient-context and query-constrained tokens are refused.
 */
function requireScrAccess(call: ModuleCall, ...needs: AccessNeed[]): void {
  if (call.authorize(...needs).restricted) {
    throw new FhirError(403, [{ severity: 'error', code: 'forbidden', diagnostics: 'The Summary Care Record API is not available to patient-context or query-constrained tokens' }]);
  }
}

/** The consent decision for reading `nhsNumber`'s record: the alert to record, if one was declared; else throws. */
async function authoriseRead(call: ModuleCall, nhsNumber: string): Promise<Alert | undefined> {
  const decision = decideRead(await permissionOf(call.engine, nhsNumber), {
    permissionToView: flag(call, HEADERS.permissionToView),
    legitimateRelationship: flag(call, HEADERS.legitimateRelationship),
    alert: parseAlert(call.header(HEADERS.alertType)?.trim(), call.header(HEADERS.alertReason)?.trim(), call.header(HEADERS.alertMessage)),
  });
  if (!decision.allow) throw readRefused(decision.reason);
  return decision.alert;
}

/** Records a declared alert durably, before any of the record leaves; no organisation: 403, no store: 503. */
async function recordAlert(call: ModuleCall, alert: Alert, nhsNumber: string, uuid: string | undefined): Promise<void> {
  const { user, clientId } = call.who;
  const organization = await readerOrganization(call.engine, user, call.header(SESSION_URID_HEADER));
  if (organization === undefined) {
    throw readRefused(`Emergency access is recorded for the reader's organisation's privacy officer: name the reader's role (${SESSION_URID_HEADER}, or a PractitionerRole fhirUser)`);
  }
  const event = alertEvent({
    alert, nhsNumber, uuid, organization, recorded: new Date().toISOString(), requestId: call.requestId,
    ...(call.authenticated && clientId ? { clientId } : {}),
    ...(user ? { user } : {}),
  });
  try {
    await call.engine.transaction((session) => session.create('AuditEvent', event), { origin: 'server' });
  } catch {
    throw errors.unavailable('The access alert could not be recorded: the record was not sent');
  }
}

/** An SCR Composition's NHS number, or undefined when the id is not an SCR record's. */
function scrNhsNumber(id: string | undefined): string | undefined {
  return id !== undefined && isScrId(id) ? id.slice(SCR_ID_PREFIX.length) : undefined;
}

export const scrRoutes: ModuleRoute[] = [
  // Upload. Anything but an SCR document is a plain create of a Bundle (the generic interaction).
  {
    interaction: 'create', type: 'Bundle',
    when: (call) => isScrDocument(call.body()),
    async handle(call) {
      requireScrAccess(call, { interaction: 'create', resourceTypes: ['Composition'] }, { interaction: 'create', resourceTypes: ['DocumentReference'] });
      const body = call.body();
      if (!isScrDocument(body)) throw errors.badRequest('The body is not a Summary Care Record document');
      const { pointer } = await upload(call.engine, readScrDocument(body));
      return call.returnMinimal ? { status: 201 } : { status: 201, resource: absolutePointer(pointer, call.baseUrl) };
    },
  },
  // The pointer: `patient` given as an NHS number identifier makes it the SCR search.
  {
    interaction: 'search-type', type: 'DocumentReference', methods: ['GET'], // POST _search stays the generic search
    when: (call) => {
      const patient = call.params.filter(([k]) => k === 'patient');
      return patient.length === 1 && patient[0][1].startsWith(`${NHS_NUMBER_SYSTEM}|`);
    },
    async handle(call) {
      const pairs = call.params;
      for (const [name, value] of pairs) {
        const allowed = name === 'patient' || REPRESENTATION.has(name) || (name === 'type')
          || (name === '_sort' && value === 'date') || (name === '_count' && value === '1');
        if (!allowed) throw spineError(400, 'INVALID_SEARCH_DATA', `Invalid search data provided - '${name}=${value}' is not supported (patient, type, _sort=date, _count=1)`);
      }
      const nhsNumber = nhsNumberParam(pairs.find(([k]) => k === 'patient')![1], 'patient');
      const types = pairs.filter(([k]) => k === 'type').map(([, v]) => v);
      if (types.some((t) => t !== `${GP_SUMMARY.system}|${GP_SUMMARY.code}`)) {
        throw spineError(400, 'INVALID_SEARCH_DATA', `Invalid search data provided - 'type' must be ${GP_SUMMARY.system}|${GP_SUMMARY.code}`);
      }
      const permission = await permissionOf(call.engine, nhsNumber);
      if (permission === 'No') throw readRefused('The patient has opted out of the Summary Care Record (permission No)');
      const base = call.baseUrl;
      const pointer = await currentPointer(call.engine, nhsNumber);
      const entries = pointer ? [{ fullUrl: `${base}/DocumentReference/${pointer.id}`, resource: absolutePointer(pointer, base), search: { mode: 'match' } }] : [];
      return { status: 200, resource: searchset(base, 'DocumentReference', pairs, entries) };
    },
  },
  // The record's resources by the SCR UUID (a replaced UUID finds nothing).
  {
    interaction: 'search-type', type: 'Bundle', methods: ['GET'],
    when: (call) => call.params.some(([k]) => k === 'composition.identifier'),
    async handle(call) {
      const pairs = call.params;
      const byUuid = pairs.filter(([k]) => k === 'composition.identifier');
      requireScrAccess(call, READ_RECORD);
      const bySubject = pairs.filter(([k]) => k === 'composition.subject:Patient.identifier');
      for (const [name] of pairs) {
        if (name !== 'composition.identifier' && name !== 'composition.subject:Patient.identifier' && !REPRESENTATION.has(name)) {
          throw spineError(400, 'INVALID_SEARCH_DATA', `Invalid search data provided - '${name}' is not supported with composition.identifier`);
        }
      }
      if (byUuid.length > 1 || bySubject.length > 1) throw spineError(400, 'INVALID_SEARCH_DATA', 'Invalid search data provided - each parameter may be given once');
      const uuid = byUuid[0][1].trim().toLowerCase();
      const base = call.baseUrl;
      const none = { status: 200, resource: searchset(base, 'Bundle', pairs, []) };
      const nhsNumber = bySubject.length ? nhsNumberParam(bySubject[0][1], 'composition.subject:Patient.identifier') : await patientOfUuid(call.engine, uuid);
      if (nhsNumber === undefined) return none;
      const alert = await authoriseRead(call, nhsNumber);
      const record = await currentRecord(call.engine, nhsNumber);
      if (!record || record.composition.identifier?.value !== uuid) return none;
      if (alert) await recordAlert(call, alert, nhsNumber, uuid);
      const entries = (record.document.entry ?? []).map((e) => ({ ...(e.fullUrl ? { fullUrl: e.fullUrl } : {}), resource: e.resource, search: { mode: 'match' } }));
      return { status: 200, resource: searchset(base, 'Bundle', pairs, entries) };
    },
  },
  // The document of an SCR Composition (R4 Composition/$document, GET form).
  {
    interaction: 'operation', type: 'Composition', operation: 'document', level: 'instance', methods: ['GET'],
    access: READ_RECORD,
    documentation: 'The Summary Care Record document Bundle of an SCR Composition (GET; the SCR consent rules apply).',
    async handle(call) {
      const { id } = call.request;
      const nhsNumber = scrNhsNumber(id);
      if (nhsNumber === undefined || !isValidNhsNumber(nhsNumber)) throw errors.notFound('$document is supported for Summary Care Record Compositions only');
      const alert = await authoriseRead(call, nhsNumber);
      const record = await currentRecord(call.engine, nhsNumber);
      if (!record) throw spineError(404, 'RESOURCE_NOT_FOUND', `Composition/${id} is not known`);
      if (alert) await recordAlert(call, alert, nhsNumber, record.composition.identifier?.value);
      return { status: 200, resource: record.document };
    },
  },
  // The record's history: every Composition uploaded for the patient, newest first (same consent rules).
  {
    interaction: 'history-instance', type: 'Composition',
    when: (call) => scrNhsNumber(call.request.id) !== undefined,
    async handle(call) {
      const id = call.request.id!;
      const nhsNumber = scrNhsNumber(id)!;
      if (!isValidNhsNumber(nhsNumber)) throw spineError(404, 'RESOURCE_NOT_FOUND', `Composition/${id} is not known`);
      const alert = await authoriseRead(call, nhsNumber);
      const history = await asScr(() => call.instanceHistory('Composition', id));
      if (alert) await recordAlert(call, alert, nhsNumber, undefined);
      return { status: 200, resource: history };
    },
  },
  {
    interaction: 'operation', operation: 'setPermission', level: 'system', methods: ['POST'],
    // $setPermission writes the patient's SCR permission, kept as a Consent (created or replaced).
    access: { interaction: 'update', resourceTypes: ['Consent'], creates: true },
    documentation: 'Sets a patient\'s Summary Care Record permission (SCR-ACSPermission Yes, No or Ask); a staff user\'s token only.',
    async handle(call) {
      if (call.authenticated && !call.who.user) {
        throw new FhirError(403, [{ severity: 'error', code: 'forbidden', diagnostics: '$setPermission needs a user-restricted token (a staff user, fhirUser)' }]);
      }
      const { nhsNumber, permission } = permissionParameters(call.body());
      await setPermission(call.engine, nhsNumber, permission);
      return { status: 200, resource: operationOutcome([{ severity: 'information', code: 'informational', diagnostics: `The SCR permission is now ${permission}` }]) };
    },
  },
];

/** `Parameters {setPermissions: part[nhsNumber (valueString), permissionCode (valueCoding SCR-ACSPermission)]}` (§5.1). */
function permissionParameters(body: unknown): { nhsNumber: string; permission: 'Yes' | 'No' | 'Ask' } {
  const parameters = body as Parameters | null;
  if (typeof parameters !== 'object' || parameters === null || parameters.resourceType !== 'Parameters') {
    throw spineError(400, 'INVALID_VALUE', 'The body of $setPermission must be a Parameters resource');
  }
  const sets = (parameters.parameter ?? []).filter((p) => p.name === 'setPermissions');
  if (sets.length !== 1) throw spineError(400, sets.length ? 'TOO_MANY_VALUES_SUBMITTED' : 'MISSING_VALUE', 'Exactly one setPermissions parameter is required', ['Parameters.parameter']);
  const part = (name: string) => (sets[0].part ?? []).filter((p) => p.name === name);
  const [nhs, ...moreNhs] = part('nhsNumber');
  const [code, ...moreCodes] = part('permissionCode');
  if (!nhs?.valueString || !code?.valueCoding) throw spineError(400, 'MISSING_VALUE', 'setPermissions needs nhsNumber (valueString) and permissionCode (valueCoding)');
  if (moreNhs.length || moreCodes.length) throw spineError(400, 'TOO_MANY_VALUES_SUBMITTED', 'setPermissions takes one nhsNumber and one permissionCode');
  if (!isValidNhsNumber(nhs.valueString)) throw spineError(400, 'INVALID_VALUE', `Invalid value - '${nhs.valueString}' in field 'nhsNumber' is not a valid NHS number`);
  const { system, code: permission } = code.valueCoding;
  if (system !== ACS_PERMISSION_SYSTEM || permission === undefined || !isAcsPermission(permission)) {
    throw spineError(400, 'INVALID_VALUE', `Invalid value - permissionCode must be ${ACS_PERMISSION_SYSTEM} Yes, No or Ask`);
  }
  return { nhsNumber: nhs.valueString, permission };
}
