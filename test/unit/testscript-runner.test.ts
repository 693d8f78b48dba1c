import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTestScript, type ScriptReport, type TestResult } from '../conformance/runner/runner.js';
import type { Action, Assert, Operation, ScriptShape } from '../conformance/runner/types.js';

const BASE = 'http://fake.test/fhir';

interface Seen { method: string; url: string; headers: Record<string, string>; body?: string }

/** A tiny in-memory FHIR server behind a fetch function: enough of the REST API for the runner. */
function fakeServer(opts: { validate?: boolean } = {}) {
  const seen: Seen[] = [];
  const store = new Map<string, any[]>(); // "Type/id" -> versions (null = deleted)
  let next = 1;
  const json = (status: number, body?: unknown, headers: Record<string, string> = {}): Response =>
    new Response(body === undefined ? null : JSON.stringify(body), {
      status,
      headers: body === undefined ? headers : { 'Content-Type': 'application/fhir+json; charset=utf-8', ...headers },
    });
  const outcome = (status: number, text: string) => json(status, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', diagnostics: text }] });
  const save = (type: string, id: string, resource: any): any => {
    const versions = store.get(`${type}/${id}`) ?? [];
    const stored = { ...resource, resourceType: type, id, meta: { versionId: String(versions.length + 1) } };
    versions.push(stored);
    store.set(`${type}/${id}`, versions);
    return stored;
  };
  const written = (status: number, r: any) => json(status, r, { Location: `${BASE}/${r.resourceType}/${r.id}/_history/${r.meta.versionId}`, ETag: `W/"${r.meta.versionId}"` });

  const fetchFn = (async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = String(input);
    const method = (init?.method ?? 'GET').toUpperCase();
    const headers = { ...(init?.headers as Record<string, string> | undefined) };
    const bodyText = init?.body as string | undefined;
    seen.push({ method, url, headers, body: bodyText });
    const u = new URL(url);
    const path = u.pathname.replace(/^\/fhir\/?/, '').split('/').filter((p) => p !== '');
    const body = bodyText ? JSON.parse(bodyText) : undefined;
    const [type, id, third, fourth] = path;
    if (path.length === 0) {
      if (method !== 'POST') return outcome(405, 'no');
      const kind = body.type === 'transaction' ? 'transaction-response' : 'batch-response';
      return json(200, { resourceType: 'Bundle', type: kind, entry: (body.entry ?? []).map(() => ({ response: { status: '201 Created' } })) });
    }
    if (type === 'metadata') {
      const op = opts.validate ? [{ name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate' }] : [];
      return json(200, { resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1', format: ['json'], rest: [{ mode: 'server', operation: op }] });
    }
    if (id === '$validate') {
      if (!opts.validate) return outcome(404, 'unknown operation');
      return body?.name ? json(200, { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational' }] })
        : json(200, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'required', diagnostics: 'Patient.name: minimum required = 1' }] });
    }
    if (id === '_history' || third === '_history' && fourth === undefined) {
      return json(200, { resourceType: 'Bundle', type: 'history', total: 0, entry: [] });
    }
    if (id === undefined) {
      if (method === 'POST') return written(201, save(type!, String(next++), body));
      if (method === 'DELETE') return json(204);
      // search: ?name matches family, ?_id matches id
      const matches = [...store.entries()].filter(([k]) => k.startsWith(`${type}/`)).map(([, v]) => v[v.length - 1]).filter((r) => r !== null)
        .filter((r) => (!u.searchParams.has('name') || r.name?.[0]?.family === u.searchParams.get('name')) && (!u.searchParams.has('_id') || r.id === u.searchParams.get('_id')));
      return json(200, {
        resourceType: 'Bundle', type: 'searchset', total: matches.length,
        link: [{ relation: 'self', url }, { relation: 'first', url }, { relation: 'last', url }],
        entry: (u.searchParams.get('_count') === '0' ? [] : matches).map((r) => ({ fullUrl: `${BASE}/${type}/${r.id}`, resource: r, search: { mode: 'match' } })),
      });
    }
    if (third === '$everything') return json(200, { resourceType: 'Bundle', type: 'searchset', entry: [] });
    const versions = store.get(`${type}/${id}`);
    if (method === 'PUT') return written(versions ? 200 : 201, save(type!, id, body));
    if (!versions) return outcome(404, 'not found');
    const current = versions[versions.length - 1];
    if (method === 'DELETE') { versions.push(null); return json(204); }
    if (current === null) return outcome(410, 'gone');
    if (method === 'PATCH') return written(200, save(type!, id, { ...current, gender: 'other' }));
    if (third === '_history') {
      const v = versions[Number(fourth) - 1];
      return v ? json(200, v, { ETag: `W/"${v.meta.versionId}"` }) : outcome(404, 'no such version');
    }
    return json(200, current, { ETag: `W/"${current.meta.versionId}"` });
  }) as typeof fetch;
  return { fetch: fetchFn, seen, store };
}

const patient = { resourceType: 'Patient', id: 'p', name: [{ family: 'Smith', given: ['Jane', 'Ann'] }], gender: 'female', birthDate: '1980-01-02' };
const other = { resourceType: 'Patient', id: 'q', name: [{ family: 'Jones' }] };
const nameless = { resourceType: 'Patient', id: 'n', gender: 'male' };

const op = (code: string, extra: Partial<Operation> = {}): Action => ({ operation: { type: { system: 'http://terminology.hl7.org/CodeSystem/testscript-operation-codes', code }, ...extra } });
const check = (a: Assert): Action => ({ assert: a });

/** A script whose setup creates fixture p; the single test reads it back, then runs `actions`. */
function script(actions: Action[], extra: Partial<ScriptShape> = {}): ScriptShape {
  return {
    resourceType: 'TestScript',
    name: 'unit',
    contained: [patient, other, nameless],
    fixture: [{ id: 'p', resource: { reference: '#p' } }, { id: 'q', resource: { reference: '#q' } }, { id: 'n', resource: { reference: '#n' } }],
    profile: [{ id: 'ukcore', reference: 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient' }],
    setup: { action: [op('create', { resource: 'Patient', sourceId: 'p', responseId: 'created' })] },
    test: [{ name: 't', action: [op('read', { resource: 'Patient', targetId: 'p', responseId: 'readback' }), ...actions] }],
    ...extra,
  };
}

async function run(s: ScriptShape, fake = fakeServer(), more: { token?: string; fixtureDir?: string } = {}): Promise<{ report: ScriptReport; test: TestResult; fake: ReturnType<typeof fakeServer> }> {
  const report = await runTestScript(s, { base: BASE, fetch: fake.fetch, ...more });
  return { report, test: report.tests[0]!, fake };
}

async function expectAssert(a: Assert, outcome: 'pass' | 'fail' | 'skip', pre: Action[] = [], fake = fakeServer()): Promise<TestResult> {
  const { test } = await run(script([...pre, check(a)]), fake);
  expect(test.status, `${JSON.stringify(a)}: ${test.reason ?? ''}`).to.equal(outcome);
  if (outcome !== 'pass') expect(test.reason).to.be.a('string').and.not.equal('');
  return test;
}

describe('TestScript runner', () => {
  describe('asserts', () => {
    it('response: passes on the matching status and fails otherwise', async () => {
      await expectAssert({ response: 'okay' }, 'pass');
      const t = await expectAssert({ response: 'notFound' }, 'fail');
      expect(t.reason).to.contain('got 200');
      await expectAssert({ response: 'created' }, 'pass', [op('create', { resource: 'Patient', sourceId: 'q' })]);
      await expectAssert({ response: 'gone' }, 'pass', [op('delete', { targetId: 'p' }), op('read', { targetId: 'p' })]);
      await expectAssert({ response: 'okay', operator: 'notEquals' }, 'fail');
    });

    it('responseCode: equals, in and notIn', async () => {
      await expectAssert({ responseCode: '200' }, 'pass');
      await expectAssert({ responseCode: '201' }, 'fail');
      await expectAssert({ responseCode: '200,201', operator: 'in' }, 'pass');
      await expectAssert({ responseCode: '200,201', operator: 'notIn' }, 'fail');
      await expectAssert({ responseCode: '300', operator: 'lessThan' }, 'pass');
    });

    it('contentType: compares the media type without parameters', async () => {
      await expectAssert({ contentType: 'application/fhir+json' }, 'pass');
      await expectAssert({ contentType: 'json' }, 'pass');
      await expectAssert({ contentType: 'application/fhir+xml' }, 'fail');
    });

    it('headerField: presence by default, then operator/value', async () => {
      await expectAssert({ headerField: 'ETag' }, 'pass');
      await expectAssert({ headerField: 'Location' }, 'fail');
      await expectAssert({ headerField: 'ETag', value: 'W/"1"' }, 'pass');
      await expectAssert({ headerField: 'ETag', value: 'W/"2"' }, 'fail');
      await expectAssert({ headerField: 'Location', operator: 'empty' }, 'pass');
      await expectAssert({ headerField: 'Location', sourceId: 'created', operator: 'contains', value: '/Patient/' }, 'pass');
    });

    it('minimumId: the response holds at least the fixture content', async () => {
      await expectAssert({ minimumId: 'p' }, 'pass');
      const t = await expectAssert({ minimumId: 'q' }, 'fail');
      expect(t.reason).to.contain('name');
    });

    it('navigationLinks: a search Bundle has self (and next when there are more pages)', async () => {
      await expectAssert({ navigationLinks: true }, 'pass', [op('search', { resource: 'Patient', params: '?name=Smith' })]);
      await expectAssert({ navigationLinks: true }, 'fail');
      const t = await expectAssert({ navigationLinks: true }, 'fail', [op('search', { resource: 'Patient', params: '?name=Smith&_count=0' })]);
      expect(t.reason).to.contain('next');
    });

    it('inline fixture ids are anchors: not sent on create or conditional update, kept when they address an update', async () => {
      const { test, fake } = await run(script([
        op('update', { resource: 'Patient', sourceId: 'q', params: '?name=Smith' }),
        op('update', { resource: 'Patient', sourceId: 'q' }),
      ]));
      expect(test.status, test.reason).to.equal('pass');
      expect(JSON.parse(fake.seen[0]!.body!)).to.not.have.property('id');
      expect(JSON.parse(fake.seen[2]!.body!)).to.not.have.property('id');
      expect(JSON.parse(fake.seen[3]!.body!).id).to.equal('q');
      expect(fake.seen[3]!.url).to.equal(`${BASE}/Patient/q`);
    });

    it('resource: the body has the resource type', async () => {
      await expectAssert({ resource: 'Patient' }, 'pass');
      await expectAssert({ resource: 'Bundle' }, 'fail');
    });

    const operators: Array<[string, string | undefined, string | undefined]> = [
      // operator, value that passes, value that fails (expression Patient.name.given)
      ['equals', 'Ann', 'Bob'],
      ['notEquals', 'Bob', 'Jane'],
      ['in', 'Jane,Ann,Bob', 'Jane,Bob'],
      ['notIn', 'Bob,Sue', 'Ann'],
      ['greaterThan', 'Aaa', 'Bob'],
      ['lessThan', 'Zed', 'Jane'],
      ['contains', 'nn', 'zz'],
      ['notContains', 'zz', 'an'],
    ];
    for (const [operator, good, badValue] of operators) {
      it(`operator ${operator}: passes and fails`, async () => {
        await expectAssert({ expression: 'Patient.name.given', operator, value: good }, 'pass');
        await expectAssert({ expression: 'Patient.name.given', operator, value: badValue }, 'fail');
      });
    }

    it('operator empty / notEmpty', async () => {
      await expectAssert({ expression: 'Patient.deceased', operator: 'empty' }, 'pass');
      await expectAssert({ expression: 'Patient.name', operator: 'empty' }, 'fail');
      await expectAssert({ expression: 'Patient.name', operator: 'notEmpty' }, 'pass');
      await expectAssert({ expression: 'Patient.deceased', operator: 'notEmpty' }, 'fail');
    });

    it('operator eval (and an expression without operator or value) is a boolean condition', async () => {
      await expectAssert({ expression: "Patient.gender = 'female'", operator: 'eval' }, 'pass');
      await expectAssert({ expression: "Patient.gender = 'male'", operator: 'eval' }, 'fail');
      await expectAssert({ expression: 'Patient.birthDate < @2000-01-01' }, 'pass');
      await expectAssert({ expression: 'Patient.birthDate > @2000-01-01' }, 'fail');
    });

    it('numbers compare as numbers', async () => {
      await expectAssert({ expression: 'Bundle.total', operator: 'greaterThan', value: '0' }, 'pass', [op('search', { resource: 'Patient', params: '?name=Smith' })]);
      await expectAssert({ expression: 'Bundle.total', operator: 'greaterThan', value: '10' }, 'fail', [op('search', { resource: 'Patient', params: '?name=Smith' })]);
    });

    it('path: treated as FHIRPath over the JSON; XPath is refused with a reason', async () => {
      await expectAssert({ path: 'Patient.name.family', value: 'Smith' }, 'pass');
      await expectAssert({ path: 'Patient.name.family', value: 'Jones' }, 'fail');
      const t = await expectAssert({ path: '/f:Patient/f:name', value: 'x' }, 'fail');
      expect(t.reason).to.contain('XPath');
    });

    it('an invalid expression fails with the parser message', async () => {
      const t = await expectAssert({ expression: 'Patient.name.(', value: 'x' }, 'fail');
      expect(t.reason).to.contain('cannot evaluate');
    });

    it('sourceId: evaluates against a named response or a fixture', async () => {
      await expectAssert({ sourceId: 'created', expression: 'Patient.name.family', value: 'Smith' }, 'pass');
      await expectAssert({ sourceId: 'q', expression: 'Patient.name.family', value: 'Smith' }, 'fail');
      await expectAssert({ sourceId: 'nope', response: 'okay' }, 'fail');
    });

    it('compareToSourceId with compareToSourceExpression / compareToSourcePath', async () => {
      await expectAssert({ expression: 'Patient.name.family', compareToSourceId: 'p', compareToSourceExpression: 'Patient.name.family' }, 'pass');
      await expectAssert({ expression: 'Patient.name.family', compareToSourceId: 'q', compareToSourceExpression: 'Patient.name.family' }, 'fail');
      await expectAssert({ path: 'Patient.gender', compareToSourceId: 'p', compareToSourcePath: 'Patient.gender' }, 'pass');
      await expectAssert({ expression: 'Patient.id', compareToSourceId: 'created', compareToSourceExpression: 'Patient.id', operator: 'equals' }, 'pass');
      await expectAssert({ expression: 'Patient.meta.versionId', compareToSourceId: 'created', operator: 'notEquals' }, 'fail');
      await expectAssert({ expression: 'Patient.name.given', compareToSourceId: 'p', compareToSourceExpression: "Patient.name.given.where($this = 'Jane')", operator: 'contains' }, 'pass');
    });

    it('validateProfileId: skips with a reason when the server has no $validate', async () => {
      const t = await expectAssert({ validateProfileId: 'ukcore' }, 'skip');
      expect(t.reason).to.contain('$validate');
    });

    it('validateProfileId: calls $validate when advertised, passing and failing', async () => {
      await expectAssert({ validateProfileId: 'ukcore' }, 'pass', [], fakeServer({ validate: true }));
      const t = await expectAssert({ validateProfileId: 'ukcore', sourceId: 'n' }, 'fail', [], fakeServer({ validate: true }));
      expect(t.reason).to.contain('minimum required');
      await expectAssert({ validateProfileId: 'nosuch' }, 'fail', [], fakeServer({ validate: true }));
    });

    it('warningOnly: a failure becomes a warning and the test passes', async () => {
      const t = await expectAssert({ response: 'notFound', warningOnly: true }, 'pass');
      expect(t.warnings).to.have.length(1);
      expect(t.warnings[0]).to.contain('got 200');
      await expectAssert({ response: 'okay', warningOnly: true }, 'pass');
    });

    it('direction request: asserts on the request that was sent', async () => {
      const create = op('create', { resource: 'Patient', sourceId: 'q' });
      await expectAssert({ direction: 'request', headerField: 'Content-Type', value: 'application/fhir+json' }, 'pass', [create]);
      await expectAssert({ direction: 'request', contentType: 'application/fhir+json' }, 'pass', [create]);
      await expectAssert({ direction: 'request', expression: 'Patient.name.family', value: 'Jones' }, 'pass', [create]);
      await expectAssert({ direction: 'request', headerField: 'Accept', value: 'application/fhir+xml' }, 'fail', [create]);
      await expectAssert({ direction: 'request', response: 'okay' }, 'fail', [create]);
    });

    it('requestMethod and requestURL', async () => {
      await expectAssert({ requestMethod: 'get' }, 'pass');
      await expectAssert({ requestMethod: 'post' }, 'fail');
      await expectAssert({ requestURL: '/Patient/1' }, 'pass');
      await expectAssert({ requestURL: '/Patient/2' }, 'fail');
    });

    it('an assert with nothing to check fails', async () => {
      await expectAssert({ label: 'empty' }, 'fail');
    });

    it('the first failing assert ends the test; later ones are not run', async () => {
      const { test } = await run(script([check({ response: 'bad', label: 'first' }), check({ response: 'notFound', label: 'second' })]));
      expect(test.status).to.equal('fail');
      expect(test.reason).to.contain("'first'");
      expect(test.actions.filter((a) => a.kind === 'assert')).to.have.length(1);
    });
  });

  describe('operations', () => {
    it('builds each interaction from type, resource, targetId and params', async () => {
      const actions: Action[] = [
        op('vread', { targetId: 'readback' }),
        check({ response: 'okay' }),
        op('update', { sourceId: 'q', targetId: 'p', responseId: 'updated' }),
        check({ response: 'okay' }),
        check({ expression: 'Patient.name.family', value: 'Jones' }),
        check({ expression: 'Patient.meta.versionId', value: '2' }),
        op('vread', { targetId: 'updated' }),
        check({ expression: 'Patient.meta.versionId', value: '2' }),
        op('patch', { targetId: 'p', sourceId: 'patchdoc' }),
        check({ expression: 'Patient.gender', value: 'other' }),
        op('history', { targetId: 'p' }),
        op('history', { resource: 'Patient' }),
        op('search', { resource: 'Patient', params: 'name=Jones' }),
        op('transaction', { sourceId: 'bundle' }),
        check({ expression: 'Bundle.type', value: 'transaction-response' }),
        op('batch', { sourceId: 'bundle' }),
        op('capabilities'),
        check({ resource: 'CapabilityStatement' }),
        op('everything', { resource: 'Patient', targetId: 'p' }),
        op('$everything', { resource: 'Patient', targetId: 'p', accept: 'xml' }),
        op('delete', { targetId: 'p' }),
        check({ response: 'noContent' }),
        op('read', { url: '/Patient/1' }),
        check({ response: 'gone' }),
        op('read', { url: `${BASE}/Patient/999` }),
        check({ response: 'notFound' }),
      ];
      const s = script(actions, {
        contained: [patient, other, nameless,
          { resourceType: 'Parameters', id: 'patchdoc', parameter: [] },
          { resourceType: 'Bundle', id: 'bundle', type: 'transaction', entry: [{ resource: { resourceType: 'Patient' }, request: { method: 'POST', url: 'Patient' } }] }],
        fixture: [{ id: 'p', resource: { reference: '#p' } }, { id: 'q', resource: { reference: '#q' } },
          { id: 'patchdoc', resource: { reference: '#patchdoc' } }, { id: 'bundle', resource: { reference: '#bundle' } }],
      });
      const { test, fake } = await run(s);
      expect(test.status, test.reason).to.equal('pass');
      const lines = fake.seen.map((r) => `${r.method} ${r.url.slice(BASE.length)}`);
      expect(lines).to.deep.equal([
        'POST /Patient', 'GET /Patient/1', 'GET /Patient/1/_history/1', 'PUT /Patient/1', 'GET /Patient/1/_history/2',
        'PATCH /Patient/1', 'GET /Patient/1/_history', 'GET /Patient/_history', 'GET /Patient?name=Jones', 'POST ', 'POST ',
        'GET /metadata', 'GET /Patient/1/$everything', 'GET /Patient/1/$everything', 'DELETE /Patient/1', 'GET /Patient/1', 'GET /Patient/999',
      ]);
      const put = fake.seen[3]!;
      expect(JSON.parse(put.body!).id).to.equal('1');
      expect(put.headers['Content-Type']).to.equal('application/fhir+json');
      expect(fake.seen[13]!.headers['Accept']).to.equal('application/fhir+xml');
    });

    it('sends requestHeader, contentType, method overrides and the bearer token', async () => {
      const { test, fake } = await run(script([
        op('create', { resource: 'Patient', sourceId: 'q', contentType: 'application/json', requestHeader: [{ field: 'If-None-Exist', value: 'name=Jones' }, { field: 'Prefer', value: 'return=minimal' }] }),
        op('search', { resource: 'Patient', method: 'post', params: '/_search' }),
      ]), fakeServer(), { token: 'secret' });
      expect(test.status, test.reason).to.equal('pass');
      const create = fake.seen[2]!;
      expect(create.headers['If-None-Exist']).to.equal('name=Jones');
      expect(create.headers['Prefer']).to.equal('return=minimal');
      expect(create.headers['Content-Type']).to.equal('application/json');
      expect(create.headers['Authorization']).to.equal('Bearer secret');
      expect(`${fake.seen[3]!.method} ${fake.seen[3]!.url}`).to.equal(`POST ${BASE}/Patient/_search`);
    });

    it('encodes query values unless encodeRequestUrl is false', async () => {
      const { fake } = await run(script([
        op('search', { resource: 'Patient', params: '?name=Smith Jones&identifier=a|b' }),
        op('search', { resource: 'Patient', params: '?identifier=a|b', encodeRequestUrl: false }),
      ]));
      expect(fake.seen[2]!.url).to.equal(`${BASE}/Patient?name=Smith%20Jones&identifier=a%7Cb`);
      expect(fake.seen[3]!.url).to.equal(`${BASE}/Patient?identifier=a|b`);
    });

    it('a failing operation (network error) fails the test with the reason', async () => {
      const fake = fakeServer();
      const broken = (async (input: string | URL | Request, init?: RequestInit) => {
        if (String(input).includes('broken')) throw new Error('connection refused');
        return fake.fetch(input, init);
      }) as typeof fetch;
      const report = await runTestScript(script([op('read', { url: '/broken' })]), { base: BASE, fetch: broken });
      expect(report.tests[0]!.status).to.equal('fail');
      expect(report.tests[0]!.reason).to.contain('connection refused');
    });

    it('a targetId without an id fails with a reason', async () => {
      const { test } = await run(script([op('read', { resource: 'Patient', targetId: 'noid' })], {
        contained: [patient, { resourceType: 'Patient', id: 'noid-src' }],
        fixture: [{ id: 'p', resource: { reference: '#p' } }, { id: 'noid' }],
      }));
      expect(test.status).to.equal('fail');
      expect(test.reason).to.contain("targetId 'noid'");
    });
  });

  describe('variables', () => {
    it('expression, path, headerField (+sourceId) and defaultValue substitute into params, url, headers and bodies', async () => {
      const s = script([
        op('search', { resource: 'Patient', params: '?_id=${createdId}&name=${family}' }),
        check({ expression: 'Bundle.total', value: '1' }),
        op('read', { url: '${location}' }),
        check({ response: 'okay' }),
        op('read', { resource: 'Patient', params: '/${missing}', requestHeader: [{ field: 'X-Family', value: '${family}' }] }),
        check({ response: 'notFound' }),
        op('update', { resource: 'Patient', sourceId: 'templated', params: '/${createdId}' }),
        check({ expression: 'Patient.name.family', value: 'Smith-2' }),
        check({ headerField: 'ETag', value: '${etag}' }),
      ], {
        contained: [patient, { resourceType: 'Patient', id: 'templated', name: [{ family: '${family}-2' }] }],
        fixture: [{ id: 'p', resource: { reference: '#p' } }, { id: 'templated', resource: { reference: '#templated' } }],
        variable: [
          { name: 'createdId', expression: 'Patient.id', sourceId: 'created' },
          { name: 'family', path: 'Patient.name.family', sourceId: 'p' },
          { name: 'location', headerField: 'Location', sourceId: 'created' },
          { name: 'missing', expression: 'Patient.nothing', sourceId: 'p', defaultValue: 'fallback-id' },
          { name: 'etag', headerField: 'ETag' },
        ],
      });
      const { test, fake } = await run(s);
      expect(test.status, test.reason).to.equal('pass');
      expect(fake.seen[2]!.url).to.equal(`${BASE}/Patient?_id=1&name=Smith`);
      expect(fake.seen[3]!.url).to.equal(`${BASE}/Patient/1/_history/1`);
      expect(fake.seen[4]!.url).to.equal(`${BASE}/Patient/fallback-id`);
      expect(fake.seen[4]!.headers['X-Family']).to.equal('Smith');
      expect(`${fake.seen[5]!.method} ${fake.seen[5]!.url}`).to.equal(`PUT ${BASE}/Patient/1`);
    });

    it('an unresolvable variable without defaultValue is left as written', async () => {
      const s = script([op('read', { resource: 'Patient', params: '/${nothing}' }), check({ response: 'notFound' })], {
        variable: [{ name: 'nothing', expression: 'Patient.nothing', sourceId: 'p' }],
      });
      const { test, fake } = await run(s);
      expect(test.status).to.equal('pass');
      expect(fake.seen[2]!.url).to.equal(`${BASE}/Patient/\${nothing}`);
    });
  });

  describe('fixtures and phases', () => {
    let dir: string;
    beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'testscript-')); });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('loads file fixtures relative to fixtureDir; autocreate and autodelete', async () => {
      writeFileSync(join(dir, 'org.json'), JSON.stringify({ resourceType: 'Organization', name: 'Test Surgery' }));
      const s: ScriptShape = {
        resourceType: 'TestScript', name: 'files',
        fixture: [{ id: 'org', autocreate: true, autodelete: true, resource: { reference: 'org.json' } }],
        test: [{ name: 'read org', action: [op('read', { targetId: 'org' }), check({ response: 'okay' }), check({ expression: 'Organization.name', value: 'Test Surgery' })] }],
      };
      const { report, fake } = await run(s, fakeServer(), { fixtureDir: dir });
      expect(report.tests[0]!.status, report.tests[0]!.reason).to.equal('pass');
      expect(fake.seen.map((r) => `${r.method} ${r.url.slice(BASE.length)}`)).to.deep.equal(['POST /Organization', 'GET /Organization/1', 'DELETE /Organization/1']);
      expect(report.summary).to.equal('1 passed, 0 failed, 0 skipped');
    });

    it('a missing fixture file fails setup and skips every test with the reason', async () => {
      const s: ScriptShape = {
        resourceType: 'TestScript', name: 'missing',
        fixture: [{ id: 'x', resource: { reference: 'nope.json' } }],
        test: [{ name: 'a', action: [op('capabilities')] }, { name: 'b', action: [op('capabilities')] }],
      };
      const { report } = await run(s, fakeServer(), { fixtureDir: dir });
      expect(report.setup.status).to.equal('fail');
      expect(report.tests.map((t) => t.status)).to.deep.equal(['skip', 'skip']);
      expect(report.tests[0]!.reason).to.contain('nope.json');
      expect(report.summary).to.equal('0 passed, 0 failed, 2 skipped');
    });

    it('an unknown contained reference fails setup', async () => {
      const { report } = await run(script([], { fixture: [{ id: 'p', resource: { reference: '#absent' } }] }));
      expect(report.setup.status).to.equal('fail');
      expect(report.setup.reason).to.contain('#absent');
    });

    it('a failing setup assert skips the tests; teardown still runs', async () => {
      const s = script([], {
        setup: { action: [op('create', { resource: 'Patient', sourceId: 'p' }), check({ response: 'bad' })] },
        teardown: { action: [op('delete', { targetId: 'p' })] },
      });
      const { report, fake } = await run(s);
      expect(report.tests[0]!.status).to.equal('skip');
      expect(report.tests[0]!.reason).to.contain('setup failed');
      expect(fake.seen.at(-1)!.method).to.equal('DELETE');
      expect(report.teardown.status).to.equal('pass');
    });

    it('teardown skips operations on responses that never happened or unresolved variables', async () => {
      const s = script([], {
        setup: { action: [op('create', { resource: 'Patient', sourceId: 'p' }), check({ response: 'bad' })] },
        variable: [{ name: 'never', expression: 'Patient.id', sourceId: 'neverResponse' }],
        teardown: { action: [op('delete', { targetId: 'neverResponse' }), op('delete', { resource: 'Patient', params: '/${never}' })] },
      });
      const { report, fake } = await run(s);
      expect(report.teardown.status).to.equal('pass');
      expect(report.teardown.actions.map((a) => a.status)).to.deep.equal(['skip', 'skip']);
      expect(fake.seen.map((r) => r.method)).to.deep.equal(['POST']);
    });

    it('reports several tests and the summary line', async () => {
      const s = script([], {
        test: [
          { name: 'ok', action: [op('read', { targetId: 'p' }), check({ response: 'okay' })] },
          { name: 'broken', action: [op('read', { targetId: 'p' }), check({ response: 'notFound' })] },
          { name: 'profile', action: [op('read', { targetId: 'p' }), check({ validateProfileId: 'ukcore' })] },
        ],
      });
      const { report } = await run(s);
      expect(report.tests.map((t) => t.status)).to.deep.equal(['pass', 'fail', 'skip']);
      expect(report.summary).to.equal('1 passed, 1 failed, 1 skipped');
    });
  });
});
