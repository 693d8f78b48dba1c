import type { NextFunction, Request, Response } from 'express';
import type { AuditEvent, Resource } from 'fhir/r4.js';
import type { Logger } from 'pino';
import { isResourceType } from '../fhir/definitions.js';
import { operationOutcome } from '../fhir/errors.js';
import { auditEvent, type AuditInput, type RestInteraction } from '../resources/audit-event/index.js';
import type { InteractionEngine } from '../resources/engine.js';
import { accessRequestFor, pathSegments, type Principal } from './access.js';

/**
 * The audit trail of patient-data access (ARCHITECTURE "Security and audit", issue 5). Mounted on
 * /fhir in front of the access decision, so that it also sees the decision's denials; what the
 * decision found (the token's client, user, roles, purpose of use: `res.locals.principal`) is read
 * when the response is about to leave.
 *
 * It holds back the one-shot body sendFhir produces (res.end), works out whose data it carries,
 * writes one AuditEvent per patient in one engine transaction on the trusted path
 * (`origin: 'server'`, the only way an AuditEvent is written) and only then sends. The store's
 * group commit lets concurrent requests share one durable commit. If the audit cannot be written
 * the response is replaced by a 503 OperationOutcome and no data leaves (fail closed).
 *
 * Which patients: a single resource → its Patient compartment (a Patient → itself); a Bundle
 * (search, history, $match, batch/transaction responses) → one AuditEvent per distinct patient of
 * its entries (hits and includes); a write → the patients of the written resource, before and
 * after (an update may move a resource between patients), read back when the response carries no
 * body; a 401/403 → one AuditEvent with outcome 4 naming the requested path's patient when the
 * path is Patient/x; other failures on a Patient/x path → outcome 4 or 8 with that patient.
 * Nothing is written for requests that touch no patient data (metadata, Organization, …), and
 * reading AuditEvents is not itself audited (an AuditEvent in a response contributes no patient),
 * which would otherwise make every look at the trail grow it.
 *
 * Known limitations: (1) an audit write shares the store's single writer, so a read waits behind a
 * long write transaction (a 2,000-entry Bundle) to commit its AuditEvent; (2) a write's data is
 * committed before its AuditEvent (two transactions): if the audit then fails the client gets the
 * 503 but the write stands; (3) batch/transaction Bundles are audited by what their response shows
 * (entries with a resource), conditional deletes by nothing of the deleted resources.
 */
export interface AuditOptions {
  /** AUDIT=off: no audit trail at all (benchmarks and local trials only). Default on. */
  enabled?: boolean;
  /**
   * Test seam: wraps the durable write of one request's AuditEvents (e.g. to make it fail). It
   * receives the events and the real writer.
   */
  writer?: (events: AuditEvent[], write: (events: AuditEvent[]) => Promise<void>) => Promise<void>;
}

interface Target {
  interaction?: RestInteraction;
  type?: string;
  id?: string;
  /** vread: the version in the path. */
  version?: string;
  query: string;
  /** /metadata and the like: never patient data, never denied. */
  isPublic: boolean;
}

const NOT_AUDITED = 'AuditEvent';


function targetOf(req: Request): Target {
  const q = req.originalUrl.indexOf('?');
  const query = q < 0 ? '' : req.originalUrl.slice(q + 1);
  const segments = pathSegments(req.path) ?? [];
  const what = accessRequestFor(req.method, req.path, new URLSearchParams(query));
  const target: Target = { query, isPublic: what === 'public' };
  if (what === 'bundle') target.interaction = 'transaction'; // refined from the response Bundle's type
  else if (typeof what === 'object') target.interaction = what.interaction;
  const [type, id, c, version] = segments;
  if (type !== undefined && isResourceType(type)) {
    target.type = type;
    if (id !== undefined && !id.startsWith('_') && !id.startsWith('$')) {
      target.id = id;
      if (c === '_history' && version !== undefined) target.version = version;
    }
  }
  return target;
}

function bodyText(chunk: unknown, encoding: unknown): string | undefined {
  if (typeof chunk === 'string') return chunk;
  if (Buffer.isBuffer(chunk)) return chunk.toString(typeof encoding === 'string' ? encoding as BufferEncoding : 'utf8');
  return undefined;
}

export function auditTrail(engine: InteractionEngine, logger: Logger, auth: boolean, options: AuditOptions = {}) {
  const write = async (events: AuditEvent[]): Promise<void> => {
    await engine.transaction(async (session) => {
      for (const event of events) await session.create('AuditEvent', event);
    }, { origin: 'server' });
  };
  const writer = options.writer ? (events: AuditEvent[]) => options.writer!(events, write) : write;

  /** The patients a current resource belongs to, read from the store (empty when it is gone or unreadable). */
  const patientsOfCurrent = async (type: string, id: string): Promise<string[]> => {
    if (type === NOT_AUDITED) return [];
    try {
      const version = await engine.read(type, id);
      return version.json ? engine.compartmentsOf(JSON.parse(version.json) as Resource, 'Patient') : [];
    } catch {
      return [];
    }
  };
  const patientsOf = (resource: Resource | undefined): string[] =>
    resource && resource.resourceType !== NOT_AUDITED && resource.resourceType !== 'OperationOutcome' ? engine.compartmentsOf(resource, 'Patient') : [];

  /** The AuditEvents a finished request calls for (none when it touched no patient data). */
  async function eventsFor(req: Request, res: Response, target: Target, before: string[], text: string | undefined): Promise<AuditEvent[]> {
    const status = res.statusCode;
    const principal = res.locals.principal as Principal | undefined;
    let body: Resource | undefined;
    if (text && text.length > 0 && /json/.test(String(res.getHeader('content-type') ?? ''))) {
      try { body = JSON.parse(text) as Resource; } catch { body = undefined; }
    }
    const base: Omit<AuditInput, 'interaction'> = {
      recorded: new Date().toISOString(), status, requestId: res.locals.requestId as string | undefined,
    };
    if (principal) {
      base.clientId = principal.clientId;
      if (principal.user) base.user = principal.user;
      if (principal.purposeOfUse) base.purposeOfUse = principal.purposeOfUse;
    } else {
      base.anonymous = auth ? 'unauthenticated' : 'anonymous (AUTH=off)';
    }
    const instance = target.type && target.id ? `${target.type}/${target.id}${target.version ? `/_history/${target.version}` : ''}` : undefined;
    const pathPatient = target.type === 'Patient' ? target.id : undefined;
    const isSearch = target.interaction?.startsWith('search') ?? false;
    const query = isSearch || target.interaction?.startsWith('history') ? target.query : undefined;
    const one = (interaction: RestInteraction, patient: string | undefined, resource: string | undefined): AuditEvent => auditEvent({
      ...base, interaction, patient, resource, ...(query ? { query } : {}),
    });

    if (status === 401 || status === 403) { // denials: always recorded, with the path's patient when it names one
      const diagnostics = (body as { issue?: { diagnostics?: string }[] } | undefined)?.issue?.[0]?.diagnostics;
      return [auditEvent({
        ...base, interaction: target.interaction ?? 'operation', patient: pathPatient, resource: instance,
        ...(query ? { query } : {}), ...(diagnostics ? { outcomeDesc: diagnostics } : {}),
      })];
    }
    if (!target.interaction || target.type === NOT_AUDITED) return [];
    if (status >= 400) return pathPatient ? [one(target.interaction, pathPatient, instance)] : [];

    if (body?.resourceType === 'Bundle') {
      const bundle = body as { type?: string; entry?: { resource?: Resource; response?: { location?: string } }[] };
      const interaction: RestInteraction = target.interaction === 'transaction' && bundle.type === 'batch-response' ? 'batch' : target.interaction;
      const patients = new Set<string>(before);
      for (const entry of bundle.entry ?? []) {
        if (entry.resource) {
          for (const p of patientsOf(entry.resource)) patients.add(p);
          continue;
        }
        // A batch/transaction entry answered without its resource (Prefer: return=minimal): read it back.
        const location = /(?:^|\/)([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})\/_history\/[^/]+$/.exec(entry.response?.location ?? '');
        if (location && isResourceType(location[1])) for (const p of await patientsOfCurrent(location[1], location[2])) patients.add(p);
      }
      return [...patients].map((p) => one(interaction, p, target.interaction === 'history-instance' ? instance : undefined));
    }
    const patients = new Set<string>(before);
    let resource = instance;
    if (body && body.resourceType !== 'OperationOutcome') {
      for (const p of patientsOf(body)) patients.add(p);
      if (body.id) resource = `${body.resourceType}/${body.id}${target.version ? `/_history/${target.version}` : ''}`;
    } else {
      // No resource in the response (HEAD, Prefer: return=minimal, a delete): read the current one.
      const location = /\/([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})\/_history\/[^/]+$/.exec(String(res.getHeader('location') ?? ''));
      const [type, id] = location ? [location[1], location[2]] : [target.type, target.id];
      if (type && id) {
        for (const p of await patientsOfCurrent(type, id)) patients.add(p);
        resource = `${type}/${id}`;
      }
    }
    return [...patients].map((p) => one(target.interaction!, p, resource));
  }

  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    if (options.enabled === false) return next();
    const target = targetOf(req);
    if (target.isPublic) return next();
    // An update, patch or delete may take a resource away from a patient: its patients before.
    const before = target.type && target.id && !target.version && ['PUT', 'PATCH', 'DELETE'].includes(req.method)
      ? await patientsOfCurrent(target.type, target.id) : [];

    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    let held = false;
    res.end = function (this: Response, ...args: unknown[]): Response {
      if (held) return end(...args);
      held = true;
      const [chunk, encoding] = typeof args[0] === 'function' ? [undefined, undefined] : args;
      eventsFor(req, res, target, before, bodyText(chunk, encoding))
        .then(async (events) => { if (events.length) await writer(events); })
        .then(() => end(...args), (err: unknown) => {
          // Fail closed: the data never leaves when its audit is not durable.
          logger.error({ reqId: res.locals.requestId, err }, 'audit could not be recorded: response withheld');
          for (const h of res.getHeaderNames()) if (h !== 'x-request-id' && h !== 'x-correlation-id') res.removeHeader(h);
          const text = JSON.stringify(operationOutcome([{ severity: 'error', code: 'transient', diagnostics: 'The audit could not be recorded: the request was not answered with data' }]));
          res.statusCode = 503;
          res.setHeader('Content-Type', 'application/fhir+json; charset=utf-8');
          res.setHeader('Cache-Control', 'no-store');
          res.setHeader('Content-Length', Buffer.byteLength(text));
          end(req.method === 'HEAD' ? undefined : text);
        });
      return res;
    } as Response['end'];
    next();
  };
}
