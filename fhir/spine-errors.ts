import type { OperationOutcomeIssue } from 'fhir/r4.js';
import { FhirError } from './errors.js';

/**
 * Errors in the NHS Spine form (nhs-spine.md §1.7): the FHIR issue code plus a coding from the
 * Spine-ErrorOrWarningCode CodeSystem, so clients written for the PDS, ODS and EPS APIs can branch
 * on `details.coding[0].code` exactly as they do against the Spine.
 */
export const SPINE_ERROR_SYSTEM = 'https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode';

type IssueCode = OperationOutcomeIssue['code'];
type Severity = OperationOutcomeIssue['severity'];

/** Spine code → the FHIR issue code, severity and display the Spine itself sends. */
const SPINE_CODES = {
  ACCESS_DENIED: ['forbidden', 'error', 'Access denied'],
  ADDITIONAL_PROPERTIES: ['invariant', 'error', 'Additional properties should not be included'],
  FORBIDDEN_UPDATE: ['forbidden', 'information', 'Update is forbidden'],
  INVALIDATED_RESOURCE: ['processing', 'error', 'Resource that has been marked as invalid was requested - invalid resources cannot be retrieved'],
  INVALID_CREATE: ['value', 'error', 'Patient create data is invalid'],
  INVALID_METHOD: ['forbidden', 'error', 'Method not allowed'],
  INVALID_RESOURCE_ID: ['value', 'error', 'Resource Id is invalid'],
  INVALID_SEARCH_DATA: ['value', 'error', 'Search data is invalid'],
  INVALID_UPDATE: ['structure', 'error', 'Update is invalid'],
  INVALID_VALUE: ['value', 'error', 'Provided value is invalid'],
  MISSING_VALUE: ['required', 'error', 'Required value is missing'],
  PRECONDITION_FAILED: ['structure', 'error', 'Required condition was not fulfilled'],
  RESOURCE_NOT_FOUND: ['not-found', 'information', 'Resource not found'],
  RESOURCE_VERSION_MISMATCH: ['conflict', 'error', 'Resource version supplied does not match actual version'],
  TOO_FEW_VALUES_SUBMITTED: ['value', 'error', 'Too few values submitted'],
  TOO_MANY_VALUES_SUBMITTED: ['value', 'error', 'Too many values submitted'],
  UNSUPPORTED_SERVICE: ['processing', 'error', 'Unsupported Service'],
  UNSUPPORTED_VALUE: ['value', 'error', 'Unsupported value'],
  VALIDATION_ERROR: ['value', 'error', 'Validation error'],
  TOO_MANY_MATCHES: ['multiple-matches', 'information', 'Too Many Matches'],
  SINGLE_MATCH: ['informational', 'information', 'Single Match'],
  MULTIPLE_MATCHES: ['multiple-matches', 'information', 'Multiple Matches'],
  // EPS (nhs-spine.md §2.2): prescribing and dispensing errors.
  DUPLICATE_PRESCRIPTION_ID: ['duplicate', 'error', 'Duplicate prescription ID'],
  FAILURE_TO_PROCESS_MESSAGE: ['value', 'error', 'Failed to process message'],
  MISSING_DIGITAL_SIGNATURE: ['value', 'error', 'Digital signature not found'],
  INVALID_MESSAGE: ['value', 'error', 'Invalid message'],
  PRESCRIPTION_NOT_FOUND: ['not-found', 'error', 'Prescription not found'],
  ITEM_NOT_FOUND: ['not-found', 'error', 'Item not found'],
  PRESCRIPTION_WITH_ANOTHER_DISPENSER: ['business-rule', 'error', 'Prescription is with another dispenser'],
  PRESCRIPTION_INVALID_STATE_TRANSITION: ['business-rule', 'error', 'Prescription is not in a state that allows this action'],
  PRESCRIPTION_INVALID_LINE_STATE_TRANSITION: ['business-rule', 'error', 'A line item is not in a state that allows this action'],
  DISPENSE_AMEND_IDENTIFIER_MISMATCH: ['business-rule', 'error', 'Only the latest dispense notification can be amended or withdrawn'],
  NO_MORE_PRESCRIPTIONS: ['informational', 'information', 'No more prescriptions'],
} as const satisfies Record<string, readonly [IssueCode, Severity, string]>;

export type SpineCode = keyof typeof SPINE_CODES;

/** The OperationOutcome issue for a Spine code. */
export function spineIssue(code: SpineCode, diagnostics?: string, expression?: string[]): OperationOutcomeIssue {
  const [issueCode, severity, display] = SPINE_CODES[code];
  const issue: OperationOutcomeIssue = {
    severity, code: issueCode,
    details: { coding: [{ system: SPINE_ERROR_SYSTEM, version: '1', code, display }] },
  };
  if (diagnostics !== undefined) issue.diagnostics = diagnostics;
  if (expression !== undefined) issue.expression = expression;
  return issue;
}

/** A FhirError with one Spine-coded issue, answered with `status`. */
export function spineError(status: number, code: SpineCode, diagnostics?: string, expression?: string[]): FhirError {
  return new FhirError(status, [spineIssue(code, diagnostics, expression)]);
}
