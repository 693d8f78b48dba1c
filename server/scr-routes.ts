import { Router, type Request, type Response } from 'express';
import type { Bundle, Parameters } from 'fhir/r4.js';
import { errors, FhirError, operationOutcome } from '../fhir/errors.js';
import { spineError } from '../fhir/spine-errors.js';
import { alertEvent } from '../resources/composition/alert.js';
import { ACS_PERMISSION_SYSTEM, GP_SUMMARY, isAcsPermission } from '../resources/composition/codes.js';
import { decideRead, parseAlert, readRefused, type Alert } from '../resources/composition/consent.js';
import { asScr, isScrId, SCR_ID_PREFIX } from '../resources/composition/context.js';
import { parseSubsetting } from '../resources/subsetting.js';
import { historyBundle, historyQuery } from './history.js';
import { isScrDocument, readScrDocument } from '../resources/composition/document.js';
import { absolutePointer, currentPointer, currentRecord, patientOfUuid, permissionOf, setPermission, upload } from '../resources/composition/records.js';
import type { InteractionEngine } from '../resources/engine.js';
import { isValidNhsNumber, NHS_NUMBER_SYSTEM } from '../resources/patient/nhs-number.js';
import { baseUrl } from './base-url.js';
import type { Config } from './config.js';
import { returnPreference } from './preconditions.js';
import { jsonBody, sendFhir } from './representation.js';
import { readerOrganization, requireScrAccess, userOf } from './scr-access.js';
import type { AccessRequest } from '../auth/access.js';

/**
 * The Summary Care Record API (nhs-spine.md §5) over the records of resources/composition:
 *   POST /Bundle                      upload (a document Bundle led by a GP Summary Composition)
 *   GET  /DocumentReference?patient=  the pointer to the current SCR, with the permission as securityLabel
 *   GET  /Bundle?composition.identifier=<SCR UUID>   the record's resources (searchset)
 *   GET  /Composition/{id}/$document  the record's document Bundle
 *   GET  /Composition/{id}/_history  the record's earlier Compositions (each upload replaces the record)
 *   POST /$setPermission              the patient's permission (SCR-ACSPermission Yes/No/Ask)
 * Requests of the same paths that are not SCR requests (another Bundle, another search) fall
 * through to the generic routes. Reading the record asks the consent decision
 * (resources/composition/consent.ts) with what the reader asserts in these headers:
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
  roleId: 'NHSD-Session-URID',
} as const;

const READ_RECORD: AccessRequest = { interaction: 'read', resourceTypes: ['Composition'] };

/** The query pairs of a request, in order. */
function queryPairs(req: Request): [string, string][] {
  const q = req.originalUrl.indexOf('?');
  return q < 0 ? [] : [...new URLSearchParams(req.originalUrl.slice(q + 1))];
}

/** Parameters every read accepts and the SCR search ignores (representation only). */
const REPRESENTATION = new Set(['_format', '_pretty']);

function flag(req: Request, name: string): boolean {
  const value = req.get(name);
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

export function scrRoutes(engine: InteractionEngine, config: Config): Router {
  const router = Router({ caseSensitive: true });

  /** The consent decision for reading `nhsNumber`'s record: the alert to record, if one was declared; else throws. */
  async function authoriseRead(req: Request, nhsNumber: string): Promise<Alert | undefined> {
    const decision = decideRead(await permissionOf(engine, nhsNumber), {
      permissionToView: flag(req, HEADERS.permissionToView),
      legitimateRelationship: flag(req, HEADERS.legitimateRelationship),
      alert: parseAlert(req.get(HEADERS.alertType)?.trim(), req.get(HEADERS.alertReason)?.trim(), req.get(HEADERS.alertMessage)),
    });
    if (!decision.allow) throw readRefused(decision.reason);
    return decision.alert;
  }

  /** Records a declared alert durably, before any of the record leaves; no organisation: 403, no store: 503. */
  async function recordAlert(req: Request, res: Response, alert: Alert, nhsNumber: string, uuid: string | undefined): Promise<void> {
    const user = userOf(res);
    const organization = await readerOrganization(engine, user, req.get(HEADERS.roleId));
    if (organization === undefined) {
      throw readRefused(`Emergency access is recorded for the reader's organisation's privacy officer: name the reader's role (${HEADERS.roleId}, or a PractitionerRole fhirUser)`);
    }
    const principal = res.locals.principal as { clientId?: string } | undefined;
    const event = alertEvent({
      alert, nhsNumber, uuid, organization, recorded: new Date().toISOString(),
      ...(principal?.clientId ? { clientId: principal.clientId } : {}),
      ...(user ? { user } : {}),
      ...(res.locals.requestId ? { requestId: res.locals.requestId as string } : {}),
    });
    try {
      await engine.transaction((session) => session.create('AuditEvent', event), { origin: 'server' });
    } catch {
      throw errors.unavailable('The access alert could not be recorded: the record was not sent');
    }
  }

  // Upload. Anything but an SCR document is a plain create of a Bundle (the generic route).
  router.post('/Bundle', async (req, res, next) => {
    const body = jsonBody(req);
    if (!isScrDocument(body)) return next();
    requireScrAccess(res, { interaction: 'create', resourceTypes: ['Composition'] }, { interaction: 'create', resourceTypes: ['DocumentReference'] });
    const doc = readScrDocument(body);
    const { pointer } = await upload(engine, doc);
    if (returnPreference(req) === 'minimal') return sendFhir(req, res, 201, undefined);
    sendFhir(req, res, 201, absolutePointer(pointer, baseUrl(req, config)));
  });

  // The pointer: `patient` given as an NHS number identifier makes it the SCR search.
  router.get('/DocumentReference', async (req, res, next) => {
    const pairs = queryPairs(req);
    const patient = pairs.filter(([k]) => k === 'patient');
    if (patient.length !== 1 || !patient[0][1].startsWith(`${NHS_NUMBER_SYSTEM}|`)) return next();
    for (const [name, value] of pairs) {
      const allowed = name === 'patient' || REPRESENTATION.has(name) || (name === 'type')
        || (name === '_sort' && value === 'date') || (name === '_count' && value === '1');
      if (!allowed) throw spineError(400, 'INVALID_SEARCH_DATA', `Invalid search data provided - '${name}=${value}' is not supported (patient, type, _sort=date, _count=1)`);
    }
    const nhsNumber = nhsNumberParam(patient[0][1], 'patient');
    const types = pairs.filter(([k]) => k === 'type').map(([, v]) => v);
    if (types.some((t) => t !== `${GP_SUMMARY.system}|${GP_SUMMARY.code}`)) {
      throw spineError(400, 'INVALID_SEARCH_DATA', `Invalid search data provided - 'type' must be ${GP_SUMMARY.system}|${GP_SUMMARY.code}`);
    }
    const permission = await permissionOf(engine, nhsNumber);
    if (permission === 'No') throw readRefused('The patient has opted out of the Summary Care Record (permission No)');
    const base = baseUrl(req, config);
    const pointer = await currentPointer(engine, nhsNumber);
    const entries = pointer ? [{ fullUrl: `${base}/DocumentReference/${pointer.id}`, resource: absolutePointer(pointer, base), search: { mode: 'match' } }] : [];
    sendFhir(req, res, 200, searchset(base, 'DocumentReference', pairs, entries));
  });

  // The record's resources by the SCR UUID (a replaced UUID finds nothing).
  router.get('/Bundle', async (req, res, next) => {
    const pairs = queryPairs(req);
    const byUuid = pairs.filter(([k]) => k === 'composition.identifier');
    if (byUuid.length === 0) return next();
    requireScrAccess(res, READ_RECORD);
    const bySubject = pairs.filter(([k]) => k === 'composition.subject:Patient.identifier');
    for (const [name] of pairs) {
      if (name !== 'composition.identifier' && name !== 'composition.subject:Patient.identifier' && !REPRESENTATION.has(name)) {
        throw spineError(400, 'INVALID_SEARCH_DATA', `Invalid search data provided - '${name}' is not supported with composition.identifier`);
      }
    }
    if (byUuid.length > 1 || bySubject.length > 1) throw spineError(400, 'INVALID_SEARCH_DATA', 'Invalid search data provided - each parameter may be given once');
    const uuid = byUuid[0][1].trim().toLowerCase();
    const base = baseUrl(req, config);
    const nhsNumber = bySubject.length ? nhsNumberParam(bySubject[0][1], 'composition.subject:Patient.identifier') : await patientOfUuid(engine, uuid);
    if (nhsNumber === undefined) return sendFhir(req, res, 200, searchset(base, 'Bundle', pairs, []));
    const alert = await authoriseRead(req, nhsNumber);
    const record = await currentRecord(engine, nhsNumber);
    if (!record || record.composition.identifier?.value !== uuid) return sendFhir(req, res, 200, searchset(base, 'Bundle', pairs, []));
    if (alert) await recordAlert(req, res, alert, nhsNumber, uuid);
    const entries = (record.document.entry ?? []).map((e) => ({ ...(e.fullUrl ? { fullUrl: e.fullUrl } : {}), resource: e.resource, search: { mode: 'match' } }));
    sendFhir(req, res, 200, searchset(base, 'Bundle', pairs, entries));
  });

  // The document of an SCR Composition (R4 Composition/$document, GET form).
  router.route('/Composition/:id/$document')
    .get(async (req, res) => {
      const { id } = req.params as { id: string };
      const nhsNumber = id.slice(SCR_ID_PREFIX.length);
      if (!isScrId(id) || !isValidNhsNumber(nhsNumber)) throw errors.notFound('$document is supported for Summary Care Record Compositions only');
      const alert = await authoriseRead(req, nhsNumber);
      const record = await currentRecord(engine, nhsNumber);
      if (!record) throw spineError(404, 'RESOURCE_NOT_FOUND', `Composition/${id} is not known`);
      if (alert) await recordAlert(req, res, alert, nhsNumber, record.composition.identifier?.value);
      sendFhir(req, res, 200, record.document);
    })
    .all((req) => { throw errors.methodNotAllowed(`${req.method} is not supported on Composition/$document`, ['GET']); });

  // The record's history: every Composition uploaded for the patient, newest first (same consent rules).
  router.get('/Composition/:id/_history', async (req, res, next) => {
    const { id } = req.params as { id: string };
    if (!isScrId(id)) return next();
    const nhsNumber = id.slice(SCR_ID_PREFIX.length);
    if (!isValidNhsNumber(nhsNumber)) throw spineError(404, 'RESOURCE_NOT_FOUND', `Composition/${id} is not known`);
    const alert = await authoriseRead(req, nhsNumber);
    const page = await asScr(() => engine.history(historyQuery(req, config, { resourceType: 'Composition', id })));
    if (alert) await recordAlert(req, res, alert, nhsNumber, undefined);
    sendFhir(req, res, 200, asScr(() => historyBundle(engine, page, baseUrl(req, config), req, parseSubsetting(req.query))));
  });

  router.route('/$setPermission')
    .post(async (req, res) => {
      if ((res.locals.access as object | undefined) && !userOf(res)) {
        throw new FhirError(403, [{ severity: 'error', code: 'forbidden', diagnostics: '$setPermission needs a user-restricted token (a staff user, fhirUser)' }]);
      }
      const { nhsNumber, permission } = permissionParameters(jsonBody(req));
      await setPermission(engine, nhsNumber, permission);
      sendFhir(req, res, 200, operationOutcome([{ severity: 'information', code: 'informational', diagnostics: `The SCR permission is now ${permission}` }]));
    })
    .all((req) => { throw errors.methodNotAllowed(`${req.method} is not supported on $setPermission`, ['POST']); });

  return router;
}

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
