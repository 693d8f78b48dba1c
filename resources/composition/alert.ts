import type { AuditEvent, AuditEventAgent } from 'fhir/r4.js';
import { CLIENT_ID_SYSTEM, JOB_ROLE_SYSTEM } from '../audit-event/index.js';
import { ODS_ORGANIZATION_CODE_SYSTEM } from '../organization/ods.js';
import { NHS_NUMBER_SYSTEM } from '../patient/nhs-number.js';
import { ALERT_REASON_SYSTEM, ALERT_REASONS, ALERT_TYPE_SYSTEM, ALERT_TYPES, NOTIFICATION_MESSAGE_URL, SCR_UUID_SYSTEM } from './codes.js';
import type { Alert } from './consent.js';

/**
 * The SCR privacy alert (nhs-spine.md §5.4) recorded when a reader declares emergency access or a
 * self-claimed legitimate relationship: type SCR-AlertType, subtype SCR-AlertReason, agents for the
 * patient, the reader's organisation (ODS code, which the privacy officer's search keys on), the
 * user and the client; the entity is the SCR UUID read. Pure.
 */
export interface AlertInput {
  alert: Alert;
  nhsNumber: string;
  /** The SCR UUID read. */
  uuid?: string;
  /** The reader's organisation (ODS code). */
  organization: string;
  clientId?: string;
  user?: { fhirUser?: string; roles: string[] };
  recorded: string;
  requestId?: string;
}

/** The `agent` search value that finds an organisation's alerts. */
export const alertOrganizationReference = (odsCode: string) => `Organization/${odsCode}`;

export function alertEvent(input: AlertInput): AuditEvent {
  const { alert } = input;
  const agent: AuditEventAgent[] = [];
  if (input.user) {
    agent.push({
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type', code: 'humanuser', display: 'human user' }] },
      ...(input.user.fhirUser ? { who: { reference: input.user.fhirUser } } : {}),
      role: input.user.roles.map((r) => ({ coding: [{ system: JOB_ROLE_SYSTEM, code: r }], text: r })),
      requestor: true,
    });
  }
  if (input.clientId !== undefined) {
    agent.push({
      type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150', display: 'Application' }] },
      who: { identifier: { system: CLIENT_ID_SYSTEM, value: input.clientId } },
      requestor: !input.user,
    });
  }
  agent.push({
    who: { reference: alertOrganizationReference(input.organization), identifier: { system: ODS_ORGANIZATION_CODE_SYSTEM, value: input.organization } },
    requestor: false,
  });
  agent.push({
    who: { reference: `Patient/${input.nhsNumber}`, identifier: { system: NHS_NUMBER_SYSTEM, value: input.nhsNumber } },
    requestor: false,
  });
  const event: AuditEvent = {
    resourceType: 'AuditEvent',
    type: { system: ALERT_TYPE_SYSTEM, code: alert.type, display: ALERT_TYPES[alert.type] },
    subtype: [{ system: ALERT_REASON_SYSTEM, code: alert.reason, display: ALERT_REASONS[alert.reason] }],
    action: 'R',
    recorded: input.recorded,
    outcome: '0',
    agent,
    source: { observer: { display: 'vertebra' }, type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }] },
    entity: [
      { what: { reference: `Patient/${input.nhsNumber}` }, type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '1', display: 'Person' }, role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: '1', display: 'Patient' } },
    ],
  };
  if (input.uuid) event.entity!.push({ what: { identifier: { system: SCR_UUID_SYSTEM, value: input.uuid } } });
  if (input.requestId) {
    event.entity!.push({ what: { identifier: { value: input.requestId } }, type: { system: 'https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType', code: 'XrequestId', display: 'X-Request-Id' } });
  }
  if (alert.message) event.extension = [{ url: NOTIFICATION_MESSAGE_URL, valueString: alert.message }];
  return event;
}
