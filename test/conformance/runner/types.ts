/** Loose shapes of the TestScript parts the runner reads (the fhir/r4 typings are too narrow for codes). */

export interface Coding {
  system?: string;
  code?: string;
}

export interface RequestHeader {
  field: string;
  value: string;
}

export interface Operation {
  type?: Coding;
  resource?: string;
  label?: string;
  description?: string;
  accept?: string;
  contentType?: string;
  destination?: number;
  encodeRequestUrl?: boolean;
  method?: string;
  origin?: number;
  params?: string;
  requestHeader?: RequestHeader[];
  requestId?: string;
  responseId?: string;
  sourceId?: string;
  targetId?: string;
  url?: string;
}

export interface Assert {
  label?: string;
  description?: string;
  direction?: 'request' | 'response';
  compareToSourceId?: string;
  compareToSourceExpression?: string;
  compareToSourcePath?: string;
  contentType?: string;
  expression?: string;
  headerField?: string;
  minimumId?: string;
  navigationLinks?: boolean;
  operator?: string;
  path?: string;
  requestMethod?: string;
  requestURL?: string;
  resource?: string;
  response?: string;
  responseCode?: string;
  sourceId?: string;
  validateProfileId?: string;
  value?: string;
  warningOnly?: boolean;
}

export interface Action {
  operation?: Operation;
  assert?: Assert;
}

export interface Fixture {
  id?: string;
  autocreate?: boolean;
  autodelete?: boolean;
  resource?: { reference?: string };
}

export interface Variable {
  name: string;
  defaultValue?: string;
  description?: string;
  expression?: string;
  headerField?: string;
  hint?: string;
  path?: string;
  sourceId?: string;
}

export interface ScriptShape {
  resourceType: 'TestScript';
  id?: string;
  url?: string;
  name?: string;
  title?: string;
  contained?: Array<Record<string, unknown>>;
  fixture?: Fixture[];
  profile?: Array<{ id?: string; reference?: string }>;
  variable?: Variable[];
  setup?: { action?: Action[] };
  test?: Array<{ id?: string; name?: string; description?: string; action?: Action[] }>;
  teardown?: { action?: Array<{ operation?: Operation }> };
}

export type Outcome = 'pass' | 'fail' | 'skip';

export interface AssertResult {
  label: string;
  /** 'warning': failed, but the assert is warningOnly. */
  status: 'pass' | 'fail' | 'skip' | 'warning';
  message: string;
}

export interface ActionLog {
  kind: 'operation' | 'assert';
  label: string;
  status: 'pass' | 'fail' | 'skip' | 'warning';
  message: string;
}

export interface PhaseResult {
  status: Outcome;
  reason?: string;
  actions: ActionLog[];
}

export interface TestResult {
  name: string;
  status: Outcome;
  /** Why it failed or was skipped. */
  reason?: string;
  warnings: string[];
  actions: ActionLog[];
}

export interface ScriptReport {
  name: string;
  setup: PhaseResult;
  tests: TestResult[];
  teardown: PhaseResult;
  passed: number;
  failed: number;
  skipped: number;
  /** `N passed, N failed, N skipped` */
  summary: string;
}

export interface RunOptions {
  /** FHIR base URL (no trailing slash needed). */
  base: string;
  /** Bearer token sent on every request. */
  token?: string;
  /** Directory that file fixture references are relative to. */
  fixtureDir?: string;
  fetch?: typeof fetch;
}
