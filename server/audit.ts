import type { Request, Response } from 'express';
import type { AuditEvent, Resource } from 'fhir/r4.js';
import type { Logger } from 'pino';
import { errors, operationOutcome } from '../fhir/errors.js';
import type { InteractionEngine, WriteObserver } from '../resources/engine.js';
import type { AuditInput, RestInteraction } from '../resources/module.js';
import type { Spine } from '../resources/spine.js';
import type { WriteSession } from '../resources/write-session.js';
import { RefusedRequest } from '../fhir/request.js';
import { isPublic } from './access.js';
import type { RequestContext } from './context.js';
import type { Resolved } from './route-table.js';

/**
 * The audit trail of patient-data access (ARCHITECTURE "Security and audit", issue 5). The
 * pipeline (server/pipeline.ts) starts it before the access decision, so that it also sees the
 * decision's denials; who asked (the request context's requester: client, user, roles, purpose of
 * use) is read when the response is about to leave. The events themselves are the audit module's
 * (resources/module.ts AuditRecords); the types whose reads are not audited are the modules' too.
 *
 * It holds back the one-shot body sendFhir produces (res.end), works out whose data it carries,
 * writes one AuditEvent per patient in one engine transaction on the trusted path
 * (`origin: 'server'`, the only way an AuditEvent is written) and only then sends. The store's
 * group commit lets concurrent requests share one durable commit. If the audit cannot be written
 * the response is replaced by a 503 OperationOutcome and no data leaves (fail closed).
 *
 * Writes are audited inside their own store transaction: the middleware runs the request under an
 * engine write observer (engine.observeWrites), which, just before a client transaction commits,
 * adds one AuditEvent per patient of the versions written and replaced (an update may move a
 * resource between patients; a conditional delete names every deleted resource's patient). A write
 * and its audit are thus one commit: neither can exist without the other. The response path then
 * skips the patients already audited that way.
 *
 * Which patients at response time: a single resource → its Patient compartment (a Patient →
 * itself); a Bundle (search, history, $match, batch/transaction responses) → one AuditEvent per
 * distinct patient of its entries (hits and includes); a HEAD read → the current resource, read
 * back; a 401/403 → one AuditEvent with outcome 4 naming the requested path's patient when the
 * path is Patient/x; other failures on a Patient/x path → outcome 4 or 8 with that patient.
 * Nothing is written for requests that touch no patient data (metadata, Organization, …), and
 * reading AuditEvents is not itself audited (an AuditEvent in a response contributes no patient),
 * which would otherwise make every look at the trail grow it.
 *
 * Known limitation: a read's audit write shares the store's single writer, so a read waits behind
 * a long write transaction (a 2,000-entry Bundle) to commit its AuditEvent.
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

/** What the request was, as the audit records it: from the parsed request and its route. */
function targetOf(ctx: RequestContext, resolved: Resolved | undefined, unroutable: unknown): Target {
  const request = ctx.request;
  const target: Target = { query: request?.query ?? '', isPublic: isPublic(ctx, resolved) };
  if (!request && unroutable instanceof RefusedRequest) return { ...target, ...unroutable.target }; // what the refused path names
  const access = resolved?.access;
  if (access === 'bundle') target.interaction = 'transaction'; // refined from the response Bundle's type
  else if (access === 'by-body') target.interaction = 'operation';
  else if (resolved?.need) target.interaction = resolved.need.interaction as RestInteraction;
  if (request?.type !== undefined && request.compartment === undefined) {
    target.type = request.type;
    if (request.id !== undefined) {
      target.id = request.id;
      if (request.version !== undefined) target.version = request.version;
    }
  } else if (request?.compartment) {
    target.type = request.compartment.type; // `Patient/x/Observation`: the path names the patient
    target.id = request.compartment.id;
  }
  return target;
}

function bodyText(chunk: unknown, encoding: unknown): string | undefined {
  if (typeof chunk === 'string') return chunk;
  if (Buffer.isBuffer(chunk)) return chunk.toString(typeof encoding === 'string' ? encoding as BufferEncoding : 'utf8');
  return undefined;
}

export function auditTrail(engine: InteractionEngine, spine: Spine, logger: Logger, auth: boolean, options: AuditOptions = {}) {
  const auditEvent = (input: AuditInput) => spine.audit.access(input);
  const unaudited = (type: string | undefined) => type !== undefined && spine.unaudited.has(type);
  /** The durable write of `events` through `session` (the seam may wrap it). */
  const persist = (session: WriteSession) => async (events: AuditEvent[]): Promise<void> => {
    for (const event of events) await session.create('AuditEvent', event);
  };
  const writeThrough = (session: WriteSession, events: AuditEvent[]): Promise<void> =>
    options.writer ? options.writer(events, persist(session)) : persist(session)(events);
  /** The response-time audit: its own transaction on the trusted path. */
  const writeAlone = (events: AuditEvent[]): Promise<void> =>
    engine.transaction((session) => writeThrough(session, events), { origin: 'server' });

  /** The patients a current resource belongs to, read from the store (empty when it is gone or unreadable). */
  const patientsOfCurrent = async (type: string, id: string): Promise<string[]> => {
    if (unaudited(type)) return [];
    try {
      const version = await engine.read(type, id);
      return version.json ? engine.compartmentsOf(JSON.parse(version.json) as Resource, 'Patient') : [];
    } catch {
      return [];
    }
  };
  const patientsOf = (resource: Resource | undefined): string[] =>
    resource && !unaudited(resource.resourceType) && resource.resourceType !== 'OperationOutcome' ? engine.compartmentsOf(resource, 'Patient') : [];

  /** Who asked, as the access decision found it (read when the events are built). */
  function requestor(ctx: RequestContext, status: number): Omit<AuditInput, 'interaction'> {
    const { who } = ctx;
    const base: Omit<AuditInput, 'interaction'> = { recorded: new Date().toISOString(), status, requestId: ctx.requestId };
    if (ctx.authenticated && who.clientId !== undefined) {
      base.clientId = who.clientId;
      if (who.user) base.user = who.user;
      if (who.purposeOfUse) base.purposeOfUse = who.purposeOfUse;
    } else {
      base.anonymous = auth ? 'unauthenticated' : 'anonymous (AUTH=off)';
    }
    return base;
  }

  /**
   * The observer that audits a request's writes inside their transactions: one AuditEvent per
   * patient of what each transaction wrote or replaced. `audited` collects the patients once their
   * transaction committed, for the response path to skip.
   */
  function writeAudit(ctx: RequestContext, target: Target, audited: Set<string>): WriteObserver {
    let pending: string[] = [];
    return {
      async beforeCommit(changes, server, { bundle }) {
        pending = []; // a transaction that did not commit leaves nothing to claim
        const patients = new Set<string>();
        for (const { version, resource, previous } of changes) {
          if (unaudited(version.resourceType)) continue;
          for (const p of patientsOf(resource)) patients.add(p);
          if (previous?.json && !previous.deleted) for (const p of patientsOf(JSON.parse(previous.json) as Resource)) patients.add(p);
        }
        if (!patients.size) return;
        const interaction: RestInteraction = bundle ?? target.interaction ?? 'operation';
        const only = changes.length === 1 && bundle !== 'transaction' ? `${changes[0].version.resourceType}/${changes[0].version.id}` : undefined;
        const base = requestor(ctx, 200);
        const events = [...patients].map((patient) => auditEvent({ ...base, interaction, patient, resource: only }));
        try {
          await writeThrough(server, events);
        } catch (err) {
          // Fail closed: the write rolls back with its audit.
          logger.error({ reqId: ctx.requestId, err }, 'audit could not be recorded: write refused');
          throw errors.unavailable('The audit could not be recorded: nothing was written');
        }
        pending = [...patients];
      },
      committed() {
        for (const p of pending) audited.add(p);
        pending = [];
      },
    };
  }

  /** The AuditEvents a finished request still calls for (none when it touched no patient data). */
  async function eventsFor(res: Response, ctx: RequestContext, target: Target, audited: Set<string>, text: string | undefined): Promise<AuditEvent[]> {
    const status = res.statusCode;
    let body: Resource | undefined;
    if (text && text.length > 0 && /json/.test(String(res.getHeader('content-type') ?? ''))) {
      try { body = JSON.parse(text) as Resource; } catch { body = undefined; }
    }
    const base = requestor(ctx, status);
    const instance = target.type && target.id ? `${target.type}/${target.id}${target.version ? `/_history/${target.version}` : ''}` : undefined;
    const pathPatient = target.type === 'Patient' ? target.id : undefined;
    const isSearch = target.interaction?.startsWith('search') ?? false;
    const query = isSearch || target.interaction?.startsWith('history') ? target.query : undefined;
    const one = (interaction: RestInteraction, patient: string | undefined, resource: string | undefined): AuditEvent => auditEvent({
      ...base, interaction, patient, resource, ...(query ? { query } : {}),
    });
    const notYetAudited = (patients: Iterable<string>) => [...new Set(patients)].filter((p) => !audited.has(p));

    if (status === 401 || status === 403) { // denials: always recorded, with the path's patient when it names one
      const diagnostics = (body as { issue?: { diagnostics?: string }[] } | undefined)?.issue?.[0]?.diagnostics;
      return [auditEvent({
        ...base, interaction: target.interaction ?? 'operation', patient: pathPatient, resource: instance,
        ...(query ? { query } : {}), ...(diagnostics ? { outcomeDesc: diagnostics } : {}),
      })];
    }
    // A failed request on a patient's path is recorded against that patient, whatever refused it
    // (a path no route serves included: what it tried still names the patient).
    if (status >= 400 && pathPatient !== undefined) return audited.has(pathPatient) ? [] : [one(target.interaction ?? 'operation', pathPatient, instance)];
    if (!target.interaction || unaudited(target.type) || status >= 400) return [];

    if (body?.resourceType === 'Bundle') {
      // Entries without a resource (a write answered with Prefer: return=minimal) disclose nothing;
      // the writes themselves were audited in their transactions.
      const bundle = body as { type?: string; entry?: { resource?: Resource }[] };
      const interaction: RestInteraction = target.interaction === 'transaction' && bundle.type === 'batch-response' ? 'batch' : target.interaction;
      const patients = notYetAudited((bundle.entry ?? []).flatMap((entry) => patientsOf(entry.resource)));
      return patients.map((p) => one(interaction, p, target.interaction === 'history-instance' ? instance : undefined));
    }
    let resource = instance;
    let patients: string[] = [];
    if (body && body.resourceType !== 'OperationOutcome') {
      patients = patientsOf(body);
      if (body.id) resource = `${body.resourceType}/${body.id}${target.version ? `/_history/${target.version}` : ''}`;
    } else if (target.type && target.id && (target.interaction === 'read' || target.interaction === 'vread')) {
      // A HEAD read sends no body but tells that the resource exists: its patients, read back.
      patients = await patientsOfCurrent(target.type, target.id);
    }
    return notYetAudited(patients).map((p) => one(target.interaction!, p, resource));
  }

  /**
   * Starts the audit of one request: holds back its one-shot body until the events it calls for
   * are durable, and runs `next` under the write observer that audits its writes in their
   * transactions. Public requests (the CapabilityStatement) and AUDIT=off run `next` as they are.
   */
  return <T>(req: Request, res: Response, ctx: RequestContext, resolved: Resolved | undefined, unroutable: unknown, next: () => T): T => {
    if (options.enabled === false) return next();
    const target = targetOf(ctx, resolved, unroutable);
    if (target.isPublic) return next();
    /** Patients whose AuditEvents committed with this request's writes. */
    const audited = new Set<string>();

    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    let held = false;
    res.end = function (this: Response, ...args: unknown[]): Response {
      if (held) return end(...args);
      held = true;
      const [chunk, encoding] = typeof args[0] === 'function' ? [undefined, undefined] : args;
      eventsFor(res, ctx, target, audited, bodyText(chunk, encoding))
        .then(async (events) => { if (events.length) await writeAlone(events); })
        .then(() => end(...args), (err: unknown) => {
          // Fail closed: the data never leaves when its audit is not durable.
          logger.error({ reqId: ctx.requestId, err }, 'audit could not be recorded: response withheld');
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
    return engine.observeWrites(writeAudit(ctx, target, audited), next);
  };
}
