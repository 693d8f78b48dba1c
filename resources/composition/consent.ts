import { spineError } from '../../fhir/spine-errors.js';
import { ACF_REFUSAL, ALERT_REASONS, ALERT_TYPES, PERMITTED_ALERT_PAIRS, type AcsPermission } from './codes.js';

/**
 * The SCR consent decision for a read of the record (pure): the patient's ACS permission against
 * what the reader asserts (nhs-spine.md §4 "Legitimate Relationship and break-glass", §5.3, §5.4).
 *
 * - `No` (opted out): no read, whatever is asserted, emergency included.
 * - `Ask` (and legacy `Yes`, treated as Ask): the reader asserts the patient's permission to view
 *   or a legitimate relationship; otherwise it may proceed only by declaring an alert (a permitted
 *   SCR-AlertType/SCR-AlertReason pair), which the caller records as an alert AuditEvent.
 * A declared alert is recorded whenever it is given, even alongside an assertion.
 */
export interface Alert {
  /** SCR-AlertType code: 1 Create LR (Self Claimed), 2 Access Alert. */
  type: string;
  /** SCR-AlertReason code 1..6. */
  reason: string;
  /** Free text for the privacy officer (Extension-SCR-NotificationMessage). */
  message?: string;
}

export interface ReadAssertions {
  permissionToView: boolean;
  legitimateRelationship: boolean;
  alert?: Alert;
}

export type ReadDecision = { allow: true; alert?: Alert } | { allow: false; reason: string };

export function decideRead(permission: AcsPermission, assertions: ReadAssertions): ReadDecision {
  if (permission === 'No') return { allow: false, reason: 'The patient has opted out of the Summary Care Record (permission No)' };
  if (assertions.alert) return { allow: true, alert: assertions.alert };
  if (assertions.permissionToView || assertions.legitimateRelationship) return { allow: true };
  return {
    allow: false,
    reason: 'The patient\'s permission is Ask: assert permission to view or a legitimate relationship, or declare an emergency access reason',
  };
}

/** The refusal a read answers: 403 ACCESS_DENIED with the PSIS text SCR uses. */
export function readRefused(reason: string) {
  const error = spineError(403, 'ACCESS_DENIED', reason);
  error.issues[0].details!.text = ACF_REFUSAL;
  return error;
}

/**
 * A declared alert from its parts (type, reason, optional message): both codes must be known and
 * their pair permitted, else 400 INVALID_VALUE. Undefined when nothing was declared.
 */
export function parseAlert(type: string | undefined, reason: string | undefined, message?: string): Alert | undefined {
  if (type === undefined && reason === undefined) return undefined;
  if (type === undefined || reason === undefined) {
    throw spineError(400, 'MISSING_VALUE', 'An emergency access declaration needs both an alert type and an alert reason');
  }
  if (!Object.hasOwn(ALERT_TYPES, type)) throw spineError(400, 'INVALID_VALUE', `Invalid value - '${type}' is not an SCR-AlertType code`);
  if (!Object.hasOwn(ALERT_REASONS, reason)) throw spineError(400, 'INVALID_VALUE', `Invalid value - '${reason}' is not an SCR-AlertReason code`);
  if (!PERMITTED_ALERT_PAIRS[type].includes(reason)) {
    throw spineError(400, 'INVALID_VALUE', `Invalid value - alert type ${type} (${ALERT_TYPES[type]}) does not permit reason ${reason} (${ALERT_REASONS[reason]})`);
  }
  const alert: Alert = { type, reason };
  if (message !== undefined && message.trim() !== '') alert.message = message.trim().slice(0, 1000);
  return alert;
}
