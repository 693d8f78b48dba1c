import { mediaType, type Context, type Exchange } from './context.js';
import { asText, evaluatePath } from './fhirpath.js';
import type { Assert, AssertResult } from './types.js';

/** The HTTP response codes the `response` assert names. */
export const RESPONSE_CODES: Record<string, number> = {
  okay: 200,
  created: 201,
  noContent: 204,
  notModified: 304,
  bad: 400,
  forbidden: 403,
  notFound: 404,
  methodNotAllowed: 405,
  conflict: 409,
  gone: 410,
  preconditionFailed: 412,
  unprocessable: 422,
};

/** What an assert looks at: a response (or, direction=request, the request), or a bare fixture. */
interface Subject {
  what: string;
  status?: number;
  headers?: Headers;
  body: any;
  exchange?: Exchange;
}

type Check = { ok: true } | { ok: false; message: string } | { skip: string };

const OK: Check = { ok: true };
const bad = (message: string): Check => ({ ok: false, message });

function parseBody(text: string | undefined): any {
  if (!text) return undefined;
  try { return JSON.parse(text); } catch { return undefined; }
}

function subjectOf(ctx: Context, a: Assert): Subject {
  const request = a.direction === 'request';
  let ex: Exchange | undefined;
  if (a.sourceId) {
    const f = ctx.fixture(a.sourceId);
    if (!f.exchange) {
      if (request) throw new Error(`sourceId '${a.sourceId}' is a fixture, not an exchange: it has no request`);
      return { what: `fixture '${a.sourceId}'`, body: ctx.fixtureBody(a.sourceId) };
    }
    ex = f.exchange;
  } else {
    ex = ctx.last;
  }
  if (!ex) throw new Error('no operation has been performed yet');
  if (request) {
    return { what: 'the request', headers: new Headers(ex.request.headers), body: parseBody(ex.request.body), exchange: ex };
  }
  return { what: `${a.sourceId ? `response '${a.sourceId}'` : 'the response'}`, status: ex.status, headers: ex.headers, body: ex.body, exchange: ex };
}

function compareNumbersOrText(a: string, b: string): number {
  const x = Number(a);
  const y = Number(b);
  if (a.trim() !== '' && b.trim() !== '' && !Number.isNaN(x) && !Number.isNaN(y)) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Applies an operator to the values found (as text) and the expected `value`. Collections: equals,
 * contains, in, greaterThan and lessThan hold when some (equals/contains) or every (in, greater,
 * less) value satisfies them; the negations are their complements.
 */
export function compareValues(operator: string, actual: string[], expected: string | undefined, subject: string): Check {
  const shown = `[${actual.map((v) => `'${v}'`).join(', ')}]`;
  const need = (): Check | undefined => (expected === undefined ? bad(`operator '${operator}' needs a value`) : undefined);
  switch (operator) {
    case 'empty':
      return actual.length === 0 ? OK : bad(`expected ${subject} to be empty, got ${shown}`);
    case 'notEmpty':
      return actual.length > 0 ? OK : bad(`expected ${subject} not to be empty`);
    case 'equals':
      return need() ?? (actual.some((v) => v === expected) ? OK : bad(`expected ${subject} to equal '${expected}', got ${shown}`));
    case 'notEquals':
      return need() ?? (!actual.some((v) => v === expected) ? OK : bad(`expected ${subject} not to equal '${expected}', got ${shown}`));
    case 'in': case 'notIn': {
      const missing = need();
      if (missing) return missing;
      const list = expected!.split(',').map((s) => s.trim());
      const inside = actual.length > 0 && actual.every((v) => list.includes(v));
      const outside = actual.every((v) => !list.includes(v));
      if (operator === 'in') return inside ? OK : bad(`expected ${subject} in (${list.join(', ')}), got ${shown}`);
      return outside ? OK : bad(`expected ${subject} not in (${list.join(', ')}), got ${shown}`);
    }
    case 'greaterThan': case 'lessThan': {
      const missing = need();
      if (missing) return missing;
      const sign = operator === 'greaterThan' ? 1 : -1;
      const ok = actual.length > 0 && actual.every((v) => compareNumbersOrText(v, expected!) * sign > 0);
      return ok ? OK : bad(`expected ${subject} ${operator} '${expected}', got ${shown}`);
    }
    case 'contains':
      return need() ?? (actual.some((v) => v.includes(expected!)) ? OK : bad(`expected ${subject} to contain '${expected}', got ${shown}`));
    case 'notContains':
      return need() ?? (!actual.some((v) => v.includes(expected!)) ? OK : bad(`expected ${subject} not to contain '${expected}', got ${shown}`));
    default:
      return bad(`unsupported operator '${operator}'`);
  }
}

/** Whether `actual` holds at least everything in `minimum` (objects: every key; arrays: every item somewhere). */
export function containsMinimum(actual: unknown, minimum: unknown, path = ''): string | undefined {
  if (minimum === null || typeof minimum !== 'object') {
    return actual === minimum ? undefined : `${path || '(root)'}: expected ${JSON.stringify(minimum)}, got ${JSON.stringify(actual)}`;
  }
  if (Array.isArray(minimum)) {
    if (!Array.isArray(actual)) return `${path}: expected an array, got ${JSON.stringify(actual)}`;
    for (const [i, item] of minimum.entries()) {
      if (!actual.some((a) => containsMinimum(a, item) === undefined)) return `${path}[${i}]: no matching element for ${JSON.stringify(item)}`;
    }
    return undefined;
  }
  if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return `${path}: expected an object, got ${JSON.stringify(actual)}`;
  for (const [k, v] of Object.entries(minimum)) {
    // The server assigns id and meta: a minimum-content fixture does not constrain them.
    if (path === '' && (k === 'id' || k === 'meta')) continue;
    const problem = containsMinimum((actual as Record<string, unknown>)[k], v, path ? `${path}.${k}` : k);
    if (problem) return problem;
  }
  return undefined;
}

function defaultLabel(a: Assert): string {
  if (a.label) return a.label;
  if (a.description) return a.description;
  if (a.response) return `response ${a.response}`;
  if (a.responseCode) return `responseCode ${a.operator ?? 'equals'} ${a.responseCode}`;
  if (a.contentType) return `contentType ${a.contentType}`;
  if (a.headerField) return `header ${a.headerField}`;
  if (a.minimumId) return `minimumId ${a.minimumId}`;
  if (a.navigationLinks !== undefined) return 'navigationLinks';
  if (a.resource) return `resource ${a.resource}`;
  if (a.validateProfileId) return `validateProfileId ${a.validateProfileId}`;
  if (a.expression ?? a.path) return `${a.expression ?? a.path} ${a.operator ?? ''} ${a.value ?? ''}`.trim();
  return 'assert';
}

/** Evaluates one assert against the current state. Throws only for malformed asserts/fixtures. */
export async function evaluateAssert(ctx: Context, a: Assert): Promise<AssertResult> {
  const label = defaultLabel(a);
  const s = subjectOf(ctx, a);
  const checks: Check[] = [];
  const operator = a.operator;

  if (a.response !== undefined) {
    const code = RESPONSE_CODES[a.response];
    if (code === undefined) checks.push(bad(`unknown response code '${a.response}'`));
    else if (s.status === undefined) checks.push(bad(`${s.what} has no HTTP status`));
    else {
      const names = (operator === 'in' || operator === 'notIn') ? a.response.split(',').map((n) => n.trim()) : [a.response];
      const codes = names.map((n) => String(RESPONSE_CODES[n]));
      const op = operator === 'notEquals' || operator === 'notIn' ? 'notIn' : 'in';
      const r = compareValues(op, [String(s.status)], codes.join(','), 'the response status');
      checks.push('ok' in r && !r.ok ? bad(`expected response ${op === 'notIn' ? 'not ' : ''}${a.response} (${codes.join(',')}), got ${s.status}`) : r);
    }
  }
  if (a.responseCode !== undefined) {
    if (s.status === undefined) checks.push(bad(`${s.what} has no HTTP status`));
    else checks.push(compareValues(operator ?? 'equals', [String(s.status)], a.responseCode, 'the response code'));
  }
  if (a.contentType !== undefined) {
    const raw = s.headers?.get('content-type') ?? '';
    const actual = raw.split(';')[0]!.trim().toLowerCase();
    const expected = (mediaType(a.contentType) ?? '').toLowerCase();
    const shorthand = a.contentType === 'json' || a.contentType === 'xml';
    let same = shorthand ? actual.includes(a.contentType) : actual === expected;
    if (a.contentType === 'none') same = actual === '';
    const negate = operator === 'notEquals' || operator === 'notContains';
    checks.push(same !== negate ? OK : bad(`expected Content-Type ${negate ? 'not ' : ''}${expected || a.contentType}, got '${raw}'`));
  }
  if (a.headerField !== undefined) {
    if (!s.headers) checks.push(bad(`${s.what} has no headers`));
    else {
      const v = s.headers.get(a.headerField);
      const values = v === null ? [] : [v];
      const op = operator ?? (a.value === undefined ? 'notEmpty' : 'equals');
      const valueResult = compareValues(op, values, a.value === undefined ? undefined : ctx.substitute(a.value), `header ${a.headerField}`);
      checks.push(valueResult);
    }
  }
  if (a.minimumId !== undefined) {
    const minimum = ctx.fixtureBody(a.minimumId);
    const problem = containsMinimum(s.body, minimum);
    checks.push(problem === undefined ? OK : bad(`${s.what} lacks minimum content of '${a.minimumId}': ${problem}`));
  }
  if (a.navigationLinks === true) {
    // Bundle.link 'self' always; when the matches run past this page (total > entries) a 'next' too.
    // first/last/previous are optional in FHIR and not demanded.
    const body = s.body;
    if (body?.resourceType !== 'Bundle') checks.push(bad(`expected a Bundle, got ${body?.resourceType ?? 'no resource'}`));
    else {
      const rels = new Set<string>((body.link ?? []).map((l: { relation?: string }) => l.relation));
      const matches = (body.entry ?? []).filter((e: any) => (e.search?.mode ?? 'match') === 'match').length;
      const needed = ['self'];
      if (typeof body.total === 'number' && body.total > matches) needed.push('next');
      const missing = needed.filter((r) => !rels.has(r));
      checks.push(missing.length === 0 ? OK : bad(`Bundle lacks navigation link(s) ${missing.join(', ')} (has ${[...rels].join(', ') || 'none'})`));
    }
  }
  if (a.resource !== undefined) {
    const actual = s.body?.resourceType as string | undefined;
    const op = operator === 'notEquals' ? 'notEquals' : 'equals';
    checks.push(compareValues(op, actual ? [actual] : [], a.resource, 'the resource type'));
  }
  if (a.requestMethod !== undefined) {
    const m = s.exchange?.request.method;
    checks.push(compareValues(operator === 'notEquals' ? 'notEquals' : 'equals', m ? [m.toLowerCase()] : [], a.requestMethod.toLowerCase(), 'the request method'));
  }
  if (a.requestURL !== undefined) {
    const u = s.exchange?.request.url ?? '';
    const expected = ctx.substitute(a.requestURL);
    const candidates = [u, u.startsWith(ctx.base) ? u.slice(ctx.base.length) : u, u.startsWith(ctx.base) ? u.slice(ctx.base.length + 1) : u];
    const op = operator ?? 'equals';
    if (op === 'contains' || op === 'notContains') checks.push(compareValues(op, [u], expected, 'the request URL'));
    else {
      const same = candidates.includes(expected);
      checks.push(same !== (op === 'notEquals') ? OK : bad(`expected request URL ${op} '${expected}', got '${u}'`));
    }
  }
  if (a.validateProfileId !== undefined) checks.push(await validateProfile(ctx, a.validateProfileId, s));

  const expr = a.expression ?? a.path;
  if (a.compareToSourceId !== undefined) {
    const otherExpr = a.compareToSourceExpression ?? a.compareToSourcePath ?? expr;
    if (!expr || !otherExpr) checks.push(bad('compareToSourceId needs expression/path and compareToSourceExpression/compareToSourcePath'));
    else {
      const left = evaluatePath(s.body, expr).map(asText);
      const right = evaluatePath(ctx.fixtureBody(a.compareToSourceId), otherExpr).map(asText);
      checks.push(compareSources(operator ?? 'equals', left, right, expr, `${a.compareToSourceId}.${otherExpr}`));
    }
  } else if (expr) {
    const values = evaluatePath(s.body, expr);
    if (operator === 'eval' || (operator === undefined && a.value === undefined)) {
      const truthy = values.length > 0 && values.every((v) => v !== false);
      checks.push(truthy ? OK : bad(`expected ${expr} to be true, got ${JSON.stringify(values)}`));
    } else {
      checks.push(compareValues(operator ?? 'equals', values.map(asText), a.value === undefined ? undefined : ctx.substitute(a.value), expr));
    }
  }

  if (checks.length === 0) return { label, status: 'fail', message: 'the assert has nothing to check' };
  const failures = checks.filter((c): c is { ok: false; message: string } => 'ok' in c && !c.ok);
  if (failures.length > 0) return { label, status: 'fail', message: failures.map((f) => f.message).join('; ') };
  const skips = checks.filter((c): c is { skip: string } => 'skip' in c);
  if (skips.length > 0) return { label, status: 'skip', message: skips.map((c) => c.skip).join('; ') };
  return { label, status: 'pass', message: 'ok' };
}

function compareSources(operator: string, left: string[], right: string[], leftName: string, rightName: string): Check {
  const show = (v: string[]) => `[${v.map((x) => `'${x}'`).join(', ')}]`;
  const same = left.length === right.length && left.every((v, i) => v === right[i]);
  switch (operator) {
    case 'equals': return same ? OK : bad(`${leftName} ${show(left)} does not equal ${rightName} ${show(right)}`);
    case 'notEquals': return !same ? OK : bad(`${leftName} ${show(left)} equals ${rightName}`);
    case 'in': case 'contains': case 'notIn': case 'notContains': {
      // in: every left value appears on the right; contains: every right value appears on the left.
      const [sub, sup] = operator === 'in' || operator === 'notIn' ? [left, right] : [right, left];
      const holds = sub.length > 0 && sub.every((v) => sup.includes(v));
      const want = operator === 'in' || operator === 'contains';
      return holds === want ? OK : bad(`expected ${leftName} ${show(left)} ${operator} ${rightName} ${show(right)}`);
    }
    case 'greaterThan': case 'lessThan': {
      const sign = operator === 'greaterThan' ? 1 : -1;
      const ok = left.length > 0 && right.length > 0 && compareNumbersOrText(left[0]!, right[0]!) * sign > 0;
      return ok ? OK : bad(`expected ${leftName} ${show(left)} ${operator} ${rightName} ${show(right)}`);
    }
    case 'empty': return left.length === 0 ? OK : bad(`expected ${leftName} empty, got ${show(left)}`);
    case 'notEmpty': return left.length > 0 ? OK : bad(`expected ${leftName} not empty`);
    default: return bad(`operator '${operator}' is not supported with compareToSourceId`);
  }
}

/**
 * validateProfileId: profile validation proper is beyond the runner. When the server advertises
 * `$validate`, the body is posted to it (with the profile) and must come back without errors;
 * otherwise the assert is skipped with the reason.
 */
async function validateProfile(ctx: Context, profileId: string, s: Subject): Promise<Check> {
  const profile = (ctx.script.profile ?? []).find((p) => p.id === profileId)?.reference;
  if (!profile) return bad(`no profile with id '${profileId}' in the TestScript`);
  if (!s.body?.resourceType) return bad(`${s.what} has no resource to validate`);
  if (!(await ctx.supportsValidate())) return { skip: `profile validation against ${profile} not performed: the server does not advertise $validate` };
  const url = `${ctx.base}/${s.body.resourceType}/$validate?profile=${encodeURIComponent(profile)}`;
  const ex = await ctx.send('POST', url, { 'Content-Type': 'application/fhir+json', Accept: 'application/fhir+json' }, JSON.stringify(s.body));
  const issues: Array<{ severity?: string; diagnostics?: string; details?: { text?: string } }> = ex.body?.issue ?? [];
  const errors = issues.filter((i) => i.severity === 'error' || i.severity === 'fatal');
  if (ex.status >= 300 || errors.length > 0) {
    const why = errors.map((e) => e.diagnostics ?? e.details?.text ?? 'error').join('; ') || `HTTP ${ex.status}`;
    return bad(`$validate against ${profile} failed: ${why}`);
  }
  return OK;
}
