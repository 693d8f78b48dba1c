import type { TestScript } from 'fhir/r4.js';
import { evaluateAssert } from './asserts.js';
import type {
  ActionLog, Action, Operation, Outcome, PhaseResult, RunOptions, ScriptReport, ScriptShape, TestResult,
} from './types.js';

export type { ScriptReport, RunOptions, TestResult, PhaseResult } from './types.js';

/** One HTTP request and its response. */
import { Context, locate, mediaType, StepFailure, type Exchange } from './context.js';

export { Context, mediaType, locate, type Exchange, type ServerRef } from './context.js';

/** Operation type codes that are not FHIR operations ($name); everything else is. */
const INTERACTIONS = new Set([
  'read', 'vread', 'update', 'updateCreate', 'patch', 'delete', 'deleteCondSingle', 'deleteCondMultiple',
  'history', 'create', 'search', 'batch', 'transaction', 'capabilities',
]);

function defaultMethod(code: string, hasBody: boolean): string {
  switch (code) {
    case 'create': case 'batch': case 'transaction': return 'POST';
    case 'update': case 'updateCreate': return 'PUT';
    case 'patch': return 'PATCH';
    case 'delete': case 'deleteCondSingle': case 'deleteCondMultiple': return 'DELETE';
    case 'read': case 'vread': case 'search': case 'history': case 'capabilities': return 'GET';
    default: return hasBody ? 'POST' : 'GET';
  }
}

/** Encodes query parameter values (encodeRequestUrl, the default); already-encoded text is kept. */
function encodeQuery(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const parts = url.slice(q + 1).split('&').map((p) => {
    const eq = p.indexOf('=');
    if (eq < 0) return p;
    let value = p.slice(eq + 1);
    try { value = decodeURIComponent(value); } catch { /* keep as written */ }
    return `${p.slice(0, eq)}=${encodeURIComponent(value)}`;
  });
  return `${url.slice(0, q)}?${parts.join('&')}`;
}

function joinParams(prefix: string, params: string): string {
  if (params === '') return prefix;
  if (params.startsWith('?') || params.startsWith('/')) return prefix + params;
  const firstSlash = params.indexOf('/');
  const firstEq = params.indexOf('=');
  return firstEq >= 0 && (firstSlash < 0 || firstEq < firstSlash) ? `${prefix}?${params}` : `${prefix}/${params}`;
}

/** Performs one operation and records its exchange. */
export async function runOperation(ctx: Context, op: Operation): Promise<Exchange> {
  const code = (op.type?.code ?? '').replace(/^\$/, '');
  if (!code && !op.url && !op.method) throw new StepFailure('operation without type, url or method');

  // Request body: the source fixture, with variables substituted.
  let body: any;
  if (op.sourceId) body = ctx.fixtureBody(op.sourceId);
  const target = op.targetId ? ctx.target(op.targetId) : undefined;
  if (op.targetId && !target?.id && !op.params && !op.url) {
    throw new StepFailure(`targetId '${op.targetId}' does not name a resource with an id`);
  }
  const type = op.resource ?? target?.type ?? (body?.resourceType !== 'Bundle' && body?.resourceType !== 'Parameters' ? body?.resourceType : undefined);

  // An inline fixture's id is its anchor in the script: not sent, except when it is the only address
  // an update has (no targetId, url or params).
  const addressedByBody = (code === 'update' || code === 'updateCreate') && !target && !op.url && op.params === undefined;
  if (op.sourceId && ctx.fixtures.get(op.sourceId)?.inline && !addressedByBody && body && typeof body === 'object' && !Array.isArray(body) && 'id' in body) {
    body = { ...body };
    delete body.id;
  }
  // update/updateCreate: the body carries the target's id.
  if ((code === 'update' || code === 'updateCreate') && body && typeof body === 'object' && !Array.isArray(body) && target?.id) {
    body = { ...body, id: target.id };
  }

  const method = (op.method ?? defaultMethod(code, body !== undefined)).toUpperCase();
  const base = ctx.base;
  let url: string;
  if (op.url) {
    const u = ctx.substitute(op.url);
    url = /^https?:\/\//.test(u) ? u : `${base}${u.startsWith('/') ? '' : '/'}${u}`;
  } else {
    const params = op.params !== undefined ? ctx.substitute(op.params) : undefined;
    const typePath = type ? `${base}/${type}` : base;
    const id = target?.id ?? (code === 'update' || code === 'updateCreate' ? body?.id : undefined);
    switch (code) {
      case 'capabilities': url = joinParams(`${base}/metadata`, params ?? ''); break;
      case 'batch': case 'transaction': url = joinParams(base, params ?? ''); break;
      case 'create': case 'search': case 'deleteCondSingle': case 'deleteCondMultiple':
        url = joinParams(typePath, params ?? ''); break;
      case 'read': case 'update': case 'updateCreate': case 'patch': case 'delete':
        if (params !== undefined) url = joinParams(typePath, params);
        else if (id) url = `${typePath}/${id}`;
        else throw new StepFailure(`${code}: no targetId, params or id to address`);
        break;
      case 'vread':
        if (params !== undefined) url = joinParams(typePath, params);
        else if (id && target?.version) url = `${typePath}/${id}/_history/${target.version}`;
        else throw new StepFailure(`vread: targetId '${op.targetId ?? ''}' has no version`);
        break;
      case 'history':
        if (params !== undefined) url = joinParams(typePath, params);
        else if (id) url = `${typePath}/${id}/_history`;
        else url = `${typePath}/_history`;
        break;
      default: {
        // A FHIR operation: [base][/type][/id]/$code
        if (!code) { url = joinParams(typePath, params ?? ''); break; }
        const at = id ? `${typePath}/${id}` : typePath;
        url = joinParams(`${at}/$${code}`, params ?? '');
      }
    }
  }
  if (op.encodeRequestUrl !== false) url = encodeQuery(url);

  const headers: Record<string, string> = {};
  const accept = mediaType(op.accept ?? 'json');
  if (accept) headers['Accept'] = accept;
  let text: string | undefined;
  if (body !== undefined && method !== 'GET' && method !== 'HEAD' && method !== 'DELETE') {
    text = JSON.stringify(body);
    const ct = op.contentType ? mediaType(op.contentType)
      : Array.isArray(body) ? 'application/json-patch+json' : 'application/fhir+json';
    if (ct) headers['Content-Type'] = ct;
  }
  for (const h of op.requestHeader ?? []) {
    for (const k of Object.keys(headers)) if (k.toLowerCase() === h.field.toLowerCase()) delete headers[k];
    headers[h.field] = ctx.substitute(h.value);
  }

  const ex = await ctx.send(method, url, headers, text);
  ctx.last = ex;
  if (op.responseId) {
    const prior = ctx.fixtures.get(op.responseId);
    ctx.fixtures.set(op.responseId, { ...prior, exchange: ex, server: undefined });
  }
  // A created/updated source fixture now lives on the server: targetId can address it.
  if (op.sourceId && ex.status >= 200 && ex.status < 300 && (code === 'create' || code === 'update' || code === 'updateCreate')) {
    const where = locate(ex);
    const f = ctx.fixture(op.sourceId);
    f.server = { type: where.type ?? type, id: where.id ?? target?.id, version: where.version };
  }
  return ex;
}

function describeOperation(op: Operation): string {
  return op.label ?? op.description ?? `${op.type?.code ?? op.method ?? 'operation'}${op.resource ? ` ${op.resource}` : ''}`;
}

/** Runs a list of actions; the first failing operation or (non-warning) assert ends it. */
async function runActions(ctx: Context, actions: Action[], log: ActionLog[], warnings: string[]): Promise<{ status: Outcome; reason?: string }> {
  const skipped: string[] = [];
  for (const action of actions) {
    if (action.operation) {
      const label = describeOperation(action.operation);
      try {
        const ex = await runOperation(ctx, action.operation);
        log.push({ kind: 'operation', label, status: 'pass', message: `${ex.request.method} ${ex.request.url} -> ${ex.status}` });
      } catch (e) {
        const message = (e as Error).message;
        log.push({ kind: 'operation', label, status: 'fail', message });
        return { status: 'fail', reason: `operation '${label}': ${message}` };
      }
    } else if (action.assert) {
      let r;
      try {
        r = await evaluateAssert(ctx, action.assert);
      } catch (e) {
        r = { label: action.assert.label ?? 'assert', status: 'fail' as const, message: (e as Error).message };
      }
      if (r.status === 'fail' && action.assert.warningOnly) r = { ...r, status: 'warning' as const };
      log.push({ kind: 'assert', label: r.label, status: r.status, message: r.message });
      if (r.status === 'warning') warnings.push(`${r.label}: ${r.message}`);
      if (r.status === 'skip') skipped.push(`${r.label}: ${r.message}`);
      if (r.status === 'fail') return { status: 'fail', reason: `assert '${r.label}': ${r.message}` };
    }
  }
  if (skipped.length > 0) return { status: 'skip', reason: skipped.join('; ') };
  return { status: 'pass' };
}

/** Runs a TestScript against a FHIR server and reports each test. */
export async function runTestScript(script: TestScript | ScriptShape, options: RunOptions): Promise<ScriptReport> {
  const s = script as ScriptShape;
  const ctx = new Context(s, options);
  const name = s.name ?? s.title ?? s.id ?? 'TestScript';
  const setup: PhaseResult = { status: 'pass', actions: [] };
  const teardown: PhaseResult = { status: 'pass', actions: [] };
  const tests: TestResult[] = [];
  const setupWarnings: string[] = [];

  try {
    ctx.loadFixtures();
  } catch (e) {
    setup.status = 'fail';
    setup.reason = (e as Error).message;
  }

  // autocreate, then the setup actions.
  if (setup.status === 'pass') {
    for (const f of s.fixture ?? []) {
      if (!f.autocreate || !f.id) continue;
      try {
        const ex = await runOperation(ctx, { type: { code: 'create' }, sourceId: f.id });
        const ok = ex.status >= 200 && ex.status < 300;
        setup.actions.push({ kind: 'operation', label: `autocreate ${f.id}`, status: ok ? 'pass' : 'fail', message: `${ex.request.method} ${ex.request.url} -> ${ex.status}` });
        if (!ok) { setup.status = 'fail'; setup.reason = `autocreate ${f.id}: HTTP ${ex.status}`; break; }
      } catch (e) {
        setup.status = 'fail';
        setup.reason = `autocreate ${f.id}: ${(e as Error).message}`;
        break;
      }
    }
  }
  if (setup.status === 'pass' && s.setup?.action) {
    const r = await runActions(ctx, s.setup.action, setup.actions, setupWarnings);
    if (r.status === 'fail') { setup.status = 'fail'; setup.reason = r.reason; }
  }

  for (const [i, t] of (s.test ?? []).entries()) {
    const testName = t.name ?? t.id ?? `test ${i + 1}`;
    const result: TestResult = { name: testName, status: 'pass', warnings: [...setupWarnings], actions: [] };
    if (setup.status === 'fail') {
      result.status = 'skip';
      result.reason = `setup failed: ${setup.reason}`;
    } else {
      const r = await runActions(ctx, t.action ?? [], result.actions, result.warnings);
      result.status = r.status;
      if (r.reason) result.reason = r.reason;
    }
    tests.push(result);
  }

  // teardown operations, then autodelete (reverse order), even when setup or tests failed.
  for (const action of s.teardown?.action ?? []) {
    if (!action.operation) continue;
    const label = describeOperation(action.operation);
    const missing = teardownPrerequisite(ctx, action.operation);
    if (missing) {
      // Cleaning up after something that never happened (a failed setup or test) is not an error.
      teardown.actions.push({ kind: 'operation', label, status: 'skip', message: missing });
      continue;
    }
    try {
      const ex = await runOperation(ctx, action.operation);
      teardown.actions.push({ kind: 'operation', label, status: 'pass', message: `${ex.request.method} ${ex.request.url} -> ${ex.status}` });
    } catch (e) {
      teardown.actions.push({ kind: 'operation', label, status: 'fail', message: (e as Error).message });
      teardown.status = 'fail';
      teardown.reason ??= `${label}: ${(e as Error).message}`;
    }
  }
  for (const f of [...(s.fixture ?? [])].reverse()) {
    const state = f.id ? ctx.fixtures.get(f.id) : undefined;
    if (!f.autodelete || !state?.server?.id) continue;
    const { type, id } = state.server;
    try {
      const ex = await ctx.send('DELETE', `${ctx.base}/${type}/${id}`, { Accept: 'application/fhir+json' });
      const ok = ex.status < 300 || ex.status === 404 || ex.status === 410;
      teardown.actions.push({ kind: 'operation', label: `autodelete ${f.id}`, status: ok ? 'pass' : 'fail', message: `DELETE ${type}/${id} -> ${ex.status}` });
      if (!ok) { teardown.status = 'fail'; teardown.reason ??= `autodelete ${f.id}: HTTP ${ex.status}`; }
    } catch (e) {
      teardown.status = 'fail';
      teardown.reason ??= `autodelete ${f.id}: ${(e as Error).message}`;
    }
  }

  const passed = tests.filter((t) => t.status === 'pass').length;
  const failed = tests.filter((t) => t.status === 'fail').length;
  const skipped = tests.filter((t) => t.status === 'skip').length;
  return { name, setup, tests, teardown, passed, failed, skipped, summary: summaryLine(passed, failed, skipped) };
}

/** Why a teardown operation cannot run: a fixture/response it names is absent, or a variable is unresolved. */
function teardownPrerequisite(ctx: Context, op: Operation): string | undefined {
  for (const id of [op.sourceId, op.targetId]) {
    if (id === undefined) continue;
    const f = ctx.fixtures.get(id);
    if (!f) return `'${id}' was never produced`;
    if (id === op.targetId && !f.server && !f.exchange && !f.resource) return `'${id}' was never produced`;
  }
  for (const text of [op.url, op.params, ...(op.requestHeader ?? []).map((h) => h.value)]) {
    if (text === undefined) continue;
    const unresolved = /\$\{([^}]+)\}/.exec(ctx.substitute(text));
    if (unresolved) return `variable '${unresolved[1]}' has no value`;
  }
  return undefined;
}

export function summaryLine(passed: number, failed: number, skipped: number): string {
  return `${passed} passed, ${failed} failed, ${skipped} skipped`;
}

/** Human-readable lines for a report: setup/teardown trouble, one line per test, the summary. */
export function formatReport(report: ScriptReport): string[] {
  const lines: string[] = [];
  if (report.setup.status === 'fail') lines.push(`  SETUP FAILED  ${report.name}: ${report.setup.reason}`);
  for (const t of report.tests) {
    const tag = t.status === 'pass' ? 'PASS' : t.status === 'fail' ? 'FAIL' : 'SKIP';
    lines.push(`  ${tag}  ${report.name} :: ${t.name}${t.reason ? ` — ${t.reason}` : ''}`);
    for (const w of t.warnings) lines.push(`        warning: ${w}`);
  }
  if (report.teardown.status === 'fail') lines.push(`  TEARDOWN FAILED  ${report.name}: ${report.teardown.reason}`);
  lines.push(`  ${report.name}: ${report.summary}`);
  return lines;
}
