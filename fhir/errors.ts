import type { OperationOutcome, OperationOutcomeIssue } from 'fhir/r4.js';

/**
 * The one error type every layer throws. It carries the HTTP status and the OperationOutcome
 * issues; server/ maps it to a response once (ARCHITECTURE rule 5). Keeping the outcome on the
 * error means a store or a hook can say precisely what went wrong without knowing about HTTP.
 */
export class FhirError extends Error {
  readonly status: number;
  readonly issues: OperationOutcomeIssue[];
  /** Extra response headers the error needs (e.g. Allow on 405). */
  readonly headers: Record<string, string>;

  constructor(status: number, issues: OperationOutcomeIssue[], headers: Record<string, string> = {}) {
    super(issues.map((i) => i.diagnostics ?? i.code).join('; '));
    this.name = 'FhirError';
    this.status = status;
    this.issues = issues;
    this.headers = headers;
  }

  toOperationOutcome(): OperationOutcome {
    return operationOutcome(this.issues);
  }
}

type IssueCode = OperationOutcomeIssue['code'];

function fail(status: number, code: IssueCode, diagnostics: string, expression?: string[]): FhirError {
  const issue: OperationOutcomeIssue = { severity: 'error', code, diagnostics };
  if (expression) issue.expression = expression;
  return new FhirError(status, [issue]);
}

export function operationOutcome(issues: OperationOutcomeIssue[]): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: issues };
}

export const errors = {
  badRequest: (msg: string, expression?: string[]) => fail(400, 'invalid', msg, expression),
  invalidStructure: (issues: OperationOutcomeIssue[]) => new FhirError(400, issues),
  notFound: (msg: string) => fail(404, 'not-found', msg),
  gone: (msg: string) => fail(410, 'deleted', msg),
  methodNotAllowed: (msg: string, allow: string[]) => {
    const e = fail(405, 'not-supported', msg);
    e.headers['Allow'] = allow.join(', ');
    return e;
  },
  notAcceptable: (msg: string) => fail(406, 'not-supported', msg),
  conflict: (msg: string) => fail(409, 'conflict', msg),
  preconditionFailed: (msg: string) => fail(412, 'conflict', msg),
  payloadTooLarge: (msg: string) => fail(413, 'too-costly', msg),
  unsupportedMediaType: (msg: string) => fail(415, 'not-supported', msg),
  unprocessable: (msg: string, expression?: string[]) => fail(422, 'processing', msg, expression),
  /** The server cannot do this now (e.g. its audit trail cannot be written): try again later. */
  unavailable: (msg: string) => fail(503, 'transient', msg),
  internal: () => fail(500, 'exception', 'An unexpected error occurred; it has been logged with the request id'),
};
