import { expect } from 'chai';
import { SPINE_ERROR_SYSTEM } from '../../fhir/spine-errors.js';
import { samplePatient, startTestServer, type FhirResponse, type TestServer } from '../support/server.js';

/**
 * PDS-style PATCH of Patient through a real server (nhs-spine.md §1.5): resources/patient's
 * `pdsPatchRules` registered as Patient's `patch` hook (resources/patient/index.ts via
 * resources/spine.ts).
 */

const JSON_PATCH = 'application/json-patch+json';

function pdsPatient(id: string): Record<string, unknown> {
  return samplePatient({
    id,
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: id }],
    name: [
      { id: 'N1', use: 'usual', family: 'Smith', given: ['Jane'] },
      { id: 'N2', use: 'nickname', given: ['Janey'] },
    ],
    telecom: [{ id: 'T1', system: 'phone', use: 'home', value: '01632960587' }],
  });
}

function spineCode(res: FhirResponse): string | undefined {
  expect(res.json?.resourceType, res.text).to.equal('OperationOutcome');
  const coding = res.json.issue[0].details?.coding?.[0];
  expect(coding?.system, res.text).to.equal(SPINE_ERROR_SYSTEM);
  return coding?.code;
}

describe('HTTP: PDS-style PATCH of Patient', () => {
  let server: TestServer;
  const patch = (id: string, body: unknown, headers: Record<string, string> = {}) =>
    server.fhir(`/Patient/${id}`, { method: 'PATCH', body: JSON.stringify(body), headers: { 'Content-Type': JSON_PATCH, ...headers } });

  before(async () => {
    server = await startTestServer({ pds: true });
    for (const id of ['9000000009', '9000000017', '9000000025', '9000000033']) {
      const res = await server.fhir(`/Patient/${id}`, { method: 'PUT', body: pdsPatient(id) });
      expect(res.status, res.text).to.equal(201);
    }
  });
  after(async () => { await server.stop(); });

  it('applies the PDS form {"patches": [...]}: 200, the patched Patient and ETag W/"2"; then a bare array: W/"3"', async () => {
    const res = await patch('9000000009', { patches: [{ op: 'replace', path: '/gender', value: 'male' }] }, { 'If-Match': 'W/"1"' });
    expect(res.status, res.text).to.equal(200);
    expect(res.headers.get('etag')).to.equal('W/"2"');
    expect(res.json.meta.versionId).to.equal('2');
    expect(res.json.gender).to.equal('male');

    const bare = await patch('9000000009', [{ op: 'replace', path: '/birthDate', value: '1981-03-04' }], { 'If-Match': res.headers.get('etag')! });
    expect(bare.status, bare.text).to.equal(200);
    expect(bare.headers.get('etag')).to.equal('W/"3"');
    const read = await server.fhir('/Patient/9000000009');
    expect(read.json.birthDate).to.equal('1981-03-04');
    expect(read.json.gender).to.equal('male');
  });

  it('without If-Match: 412 PRECONDITION_FAILED', async () => {
    const res = await patch('9000000017', { patches: [{ op: 'replace', path: '/gender', value: 'male' }] });
    expect(res.status, res.text).to.equal(412);
    expect(spineCode(res)).to.equal('PRECONDITION_FAILED');
    expect(res.json.issue[0].diagnostics).to.equal('Invalid request with error - If-Match header must be supplied to update this resource');
  });

  it('with a malformed If-Match (not W/"<version>"): 412 PRECONDITION_FAILED', async () => {
    const res = await patch('9000000017', { patches: [{ op: 'replace', path: '/gender', value: 'male' }] }, { 'If-Match': '1' });
    expect(res.status, res.text).to.equal(412);
    expect(spineCode(res)).to.equal('PRECONDITION_FAILED');
  });

  it('with a stale If-Match: 409 RESOURCE_VERSION_MISMATCH', async () => {
    const res = await patch('9000000017', { patches: [{ op: 'replace', path: '/gender', value: 'male' }] }, { 'If-Match': 'W/"7"' });
    expect(res.status, res.text).to.equal(409);
    expect(spineCode(res)).to.equal('RESOURCE_VERSION_MISMATCH');
  });

  it('with no patches: 400 INVALID_UPDATE', async () => {
    const res = await patch('9000000017', {}, { 'If-Match': 'W/"1"' });
    expect(res.status, res.text).to.equal(400);
    expect(spineCode(res)).to.equal('INVALID_UPDATE');
    expect(res.json.issue[0].diagnostics).to.equal('Invalid update with error - No patches found');
  });

  it('refuses an add to a list by index: 400 INVALID_UPDATE', async () => {
    const res = await patch('9000000017', { patches: [{ op: 'add', path: '/name/0', value: { use: 'maiden', family: 'Jones' } }] }, { 'If-Match': 'W/"1"' });
    expect(res.status, res.text).to.equal(400);
    expect(spineCode(res)).to.equal('INVALID_UPDATE');
  });

  it('refuses a removal not preceded by a test: 400 INVALID_UPDATE, and nothing changes (all or nothing)', async () => {
    const res = await patch('9000000017', { patches: [
      { op: 'replace', path: '/gender', value: 'male' },
      { op: 'remove', path: '/name/1' },
    ] }, { 'If-Match': 'W/"1"' });
    expect(res.status, res.text).to.equal(400);
    expect(spineCode(res)).to.equal('INVALID_UPDATE');
    const read = await server.fhir('/Patient/9000000017');
    expect(read.headers.get('etag')).to.equal('W/"1"');
    expect(read.json.meta.versionId).to.equal('1');
    expect(read.json.gender).to.equal('female');
    expect(read.json.name).to.have.length(2);
  });

  it('gives a new name a server id, and removes it again after a test of that id', async () => {
    const added = await patch('9000000025', { patches: [{ op: 'add', path: '/name/-', value: { use: 'maiden', family: 'Jones' } }] }, { 'If-Match': 'W/"1"' });
    expect(added.status, added.text).to.equal(200);
    const names = added.json.name as { id?: string; family?: string }[];
    expect(names).to.have.length(3);
    expect(names[2].family).to.equal('Jones');
    expect(names[2].id).to.match(/^[0-9A-F]{8}$/);
    expect(names.slice(0, 2).map((n) => n.id)).to.deep.equal(['N1', 'N2']);
    expect((await server.fhir('/Patient/9000000025')).json.name[2].id).to.equal(names[2].id);

    const removed = await patch('9000000025', { patches: [
      { op: 'test', path: '/name/2/id', value: names[2].id },
      { op: 'remove', path: '/name/2' },
    ] }, { 'If-Match': added.headers.get('etag')! });
    expect(removed.status, removed.text).to.equal(200);
    expect(removed.headers.get('etag')).to.equal('W/"3"');
    expect(removed.json.name).to.have.length(2);
  });

  it('keeps FHIRPath Patch (Parameters) working, but with If-Match required', async () => {
    const parameters = {
      resourceType: 'Parameters',
      parameter: [{ name: 'operation', part: [
        { name: 'type', valueCode: 'replace' }, { name: 'path', valueString: 'Patient.gender' }, { name: 'value', valueCode: 'male' },
      ] }],
    };
    const fhirPatch = (headers: Record<string, string>) =>
      server.fhir('/Patient/9000000033', { method: 'PATCH', body: parameters, headers: { 'Content-Type': 'application/fhir+json', ...headers } });
    const missing = await fhirPatch({});
    expect(missing.status, missing.text).to.equal(412);
    expect(spineCode(missing)).to.equal('PRECONDITION_FAILED');
    const ok = await fhirPatch({ 'If-Match': 'W/"1"' });
    expect(ok.status, ok.text).to.equal(200);
    expect(ok.json.gender).to.equal('male');
    expect(ok.headers.get('etag')).to.equal('W/"2"');
  });
});
