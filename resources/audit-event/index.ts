import type { AuditEvent, AuditEventAgent, AuditEventEntity, CodeableConcept, Coding } from 'fhir/r4.js';
import { errors } from '../../fhir/errors.js';
import type { ResourceHooks } from '../hooks.js';
import type { AuditInput, RestInteraction } from '../module.js';

/**
 * The audit trail (ARCHITECTURE "Security and audit", issue 5): AuditEvents in the IHE Basic Audit
 * Log Patterns (BALP) style, one per patient whose data a request touched.
 *
 * Through the FHIR API AuditEvent is read and search only: every client write (create, update,
 * patch, delete, their conditional forms, and the same inside batch/transaction Bundles) is a
 * 405. The server writes its own AuditEvents through the engine's trusted path,
 * `engine.transaction(fn, { origin: 'server' })` (server/audit.ts), which the guard lets through.
 */
export const auditEventHooks: ResourceHooks = {
  documentation: 'The audit trail (IHE BALP style): written by the server for every access to patient data; read and search only through the API.',
  readOnlyApi: true,
  guardWrite(interaction, origin) {
    if (origin === 'server') return;
    throw errors.methodNotAllowed(`AuditEvents are written by the server only: ${interaction} is not allowed through the API`, ['GET']);
  },
};

export type { AuditInput, RestInteraction } from '../module.js';

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
/** The identifier system of OAuth client ids in agent.who.identifier. */
export const CLIENT_ID_SYSTEM = 'urn:ietf:params:oauth:client-id';
/** NHS national RBAC job role codes (UK Core). */
export const JOB_ROLE_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode';

const ACTIONS: Record<RestInteraction, AuditEvent['action']> = {
  create: 'C', read: 'R', vread: 'R', 'history-instance': 'R',
  update: 'U', patch: 'U', delete: 'D',
  history: 'E', 'history-type': 'E', 'history-system': 'E', search: 'E', 'search-type': 'E', 'search-system': 'E',
  capabilities: 'E', transaction: 'E', batch: 'E', operation: 'E',
};

/** 0 success, 4 minor failure (4xx, denials included), 8 serious failure (5xx). */
export function auditOutcome(status: number): AuditEvent['outcome'] {
  return status >= 500 ? '8' : status >= 400 ? '4' : '0';
}

function coding(system: string, code: string, display?: string): Coding {
  return display ? { system, code, display } : { system, code };
}

function purpose(code: string): CodeableConcept {
  const bar = code.indexOf('|');
  return bar < 0
    ? { coding: [coding('http://terminology.hl7.org/CodeSystem/v3-ActReason', code)] }
    : { coding: [coding(code.slice(0, bar), code.slice(bar + 1))] };
}

/** A pure builder: the AuditEvent of one access, as server/audit.ts writes it. */
export function auditEvent(input: AuditInput): AuditEvent {
  const agent: AuditEventAgent[] = [];
  if (input.clientId !== undefined) {
    agent.push({
      type: { coding: [coding(DCM, '110150', 'Application')] },
      who: { identifier: { system: CLIENT_ID_SYSTEM, value: input.clientId } },
      requestor: true,
    });
  }
  if (input.user) {
    const user: AuditEventAgent = {
      type: { coding: [coding('http://terminology.hl7.org/CodeSystem/extra-security-role-type', 'humanuser', 'human user')] },
      requestor: true,
    };
    if (input.user.fhirUser) user.who = { reference: input.user.fhirUser };
    if (input.user.roles.length) user.role = input.user.roles.map((r) => ({ coding: [coding(JOB_ROLE_SYSTEM, r)] }));
    agent.push(user);
  }
  if (!agent.length) {
    agent.push({ type: { coding: [coding(DCM, '110150', 'Application')] }, who: { display: input.anonymous ?? 'anonymous' }, requestor: true });
  }
  const entity: AuditEventEntity[] = [];
  if (input.patient !== undefined) {
    entity.push({
      what: { reference: `Patient/${input.patient}` },
      type: coding(ENTITY_TYPE, '1', 'Person'),
      role: coding(OBJECT_ROLE, '1', 'Patient'),
    });
  }
  if (input.resource !== undefined && input.resource !== `Patient/${input.patient}`) {
    entity.push({
      what: { reference: input.resource },
      type: coding(ENTITY_TYPE, '2', 'System Object'),
      role: coding(OBJECT_ROLE, '4', 'Domain Resource'),
    });
  }
  if (input.query !== undefined) {
    entity.push({
      type: coding(ENTITY_TYPE, '2', 'System Object'),
      role: coding(OBJECT_ROLE, '24', 'Query'),
      query: Buffer.from(input.query, 'utf8').toString('base64'),
    });
  }
  if (input.requestId !== undefined) {
    entity.push({
      what: { identifier: { value: input.requestId } },
      type: coding('https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType', 'XrequestId', 'X-Request-Id'),
    });
  }
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    type: coding('http://terminology.hl7.org/CodeSystem/audit-event-type', 'rest', 'Restful Operation'),
    subtype: [coding('http://hl7.org/fhir/restful-interaction', input.interaction)],
    action: ACTIONS[input.interaction],
    recorded: input.recorded,
    outcome: auditOutcome(input.status),
    agent,
    source: {
      observer: { display: 'vertebra' },
      type: [coding('http://terminology.hl7.org/CodeSystem/security-source-type', '4', 'Application Server')],
    },
  };
  if (input.outcomeDesc !== undefined && event.outcome !== '0') event.outcomeDesc = input.outcomeDesc;
  if (input.purposeOfUse?.length) event.purposeOfEvent = input.purposeOfUse.map(purpose);
  if (entity.length) event.entity = entity;
  return event;
}
