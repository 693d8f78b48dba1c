import { expect } from 'chai';
import { samplePatient, startTestServer, type TestServer } from '../support/server.js';

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';

const transaction = (entry: unknown[], type = 'transaction') => ({ resourceType: 'Bundle', type, entry });

describe('HTTP: batch and transaction Bundles', () => {
  let server: TestServer;
  beforeEach(async () => { server = await startTestServer(); });
  afterEach(async () => { await server.stop(); });

  const total = async (path: string) => (await server.fhir(`${path}${path.includes('?') ? '&' : '?'}_summary=count`)).json.total;
  const systemHistoryTotal = async () => (await server.fhir('/_history?_summary=count')).json.total;

  it('resolves urn:uuid fullUrls in every reference (extensions and contained too) and answers a transaction-response', async () => {
    const patientUrl = 'urn:uuid:1c7b1a2e-0d55-4c07-9a55-2d8e9e2b3f10';
    const orgUrl = 'urn:oid:1.2.826.0.1285.0.1.10';
    const res = await server.fhir('/', {
      method: 'POST',
      body: transaction([
        {
          fullUrl: 'urn:uuid:0f3b7c8e-2a41-4d8e-9e57-5b0c4a1d2e33',
          resource: {
            resourceType: 'Observation', status: 'final', code: { text: 'weight' },
            subject: { reference: patientUrl },
            performer: [{ reference: '#p1' }],
            contained: [{ resourceType: 'Practitioner', id: 'p1', extension: [{ url: 'https://vertebra.test/employer', valueReference: { reference: orgUrl } }] }],
            extension: [{ url: 'https://vertebra.test/registered-at', valueReference: { reference: orgUrl } }],
          },
          request: { method: 'POST', url: 'Observation' },
        },
        { fullUrl: patientUrl, resource: samplePatient({ managingOrganization: { reference: orgUrl } }), request: { method: 'POST', url: 'Patient' } },
        { fullUrl: orgUrl, resource: { resourceType: 'Organization', name: 'Leeds GP' }, request: { method: 'POST', url: 'Organization' } },
      ]),
    });
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    expect(res.json.type).to.equal('transaction-response');
    const [obsEntry, patientEntry, orgEntry] = res.json.entry;
    for (const e of res.json.entry) {
      expect(e.response.status).to.equal('201 Created');
      expect(e.response.etag).to.equal('W/"1"');
      expect(e.response.location).to.match(/^(Observation|Patient|Organization)\/[^/]+\/_history\/1$/);
      expect(e.response.lastModified).to.be.a('string');
    }
    const patientId = patientEntry.resource.id;
    const orgId = orgEntry.resource.id;
    const obs = (await server.fhir(`/Observation/${obsEntry.resource.id}`)).json;
    expect(obs.subject.reference).to.equal(`Patient/${patientId}`);
    expect(obs.extension[0].valueReference.reference).to.equal(`Organization/${orgId}`);
    expect(obs.contained[0].extension[0].valueReference.reference).to.equal(`Organization/${orgId}`);
    expect(obs.performer[0].reference, 'contained references stay as they are').to.equal('#p1');
    expect((await server.fhir(`/Patient/${patientId}`)).json.managingOrganization.reference).to.equal(`Organization/${orgId}`);
    // The rewritten references are indexed: search follows them.
    expect(await total(`/Observation?subject=Patient/${patientId}`)).to.equal(1);
  });

  it('a transaction that fails at its last entry leaves no trace and names the entry', async () => {
    await server.fhir('/Patient/keep', { method: 'PUT', body: samplePatient({ id: 'keep' }) });
    const before = await systemHistoryTotal();
    const res = await server.fhir('/', {
      method: 'POST',
      body: transaction([
        { resource: samplePatient(), request: { method: 'POST', url: 'Patient' } },
        { resource: samplePatient({ id: 'keep', gender: 'male' }), request: { method: 'PUT', url: 'Patient/keep' } },
        // Last in the Bundle and last in processing order (PUTs follow POSTs): invalid.
        { resource: samplePatient({ id: 'late', gender: 'robot' }), request: { method: 'PUT', url: 'Patient/late' } },
      ]),
    });
    expect(res.status).to.equal(400);
    expect(res.json.resourceType).to.equal('OperationOutcome');
    expect(res.json.issue[0].diagnostics).to.contain('Bundle.entry[2]');
    expect(res.json.issue[0].expression).to.include('Bundle.entry[2]');
    expect(await systemHistoryTotal(), 'no version was written').to.equal(before);
    expect((await server.fhir('/Patient/keep')).json.gender).to.equal('female');
  });

  it('processes DELETE, POST, PUT/PATCH, then GET, whatever the order of the entries', async () => {
    await server.fhir('/Patient/old', { method: 'PUT', body: samplePatient({ id: 'old' }) });
    await server.fhir('/Patient/edit', { method: 'PUT', body: samplePatient({ id: 'edit' }) });
    const res = await server.fhir('/', {
      method: 'POST',
      body: transaction([
        { request: { method: 'GET', url: 'Patient?_id=old,edit,new1' } },
        { resource: samplePatient({ id: 'new1' }), request: { method: 'PUT', url: 'Patient/new1' } },
        {
          resource: { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify([{ op: 'replace', path: '/gender', value: 'male' }])).toString('base64') },
          request: { method: 'PATCH', url: 'Patient/edit' },
        },
        { request: { method: 'DELETE', url: 'Patient/old' } },
        { request: { method: 'GET', url: 'Patient/edit' } },
      ]),
    });
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    const [search, put, patch, del, read] = res.json.entry;
    expect(put.response.status).to.equal('201 Created');
    expect(patch.response.status).to.equal('200 OK');
    expect(patch.response.etag).to.equal('W/"2"');
    expect(del.response.status).to.equal('204 No Content');
    expect(search.resource.type).to.equal('searchset');
    expect(search.resource.entry.map((e: any) => e.resource.id).sort(), 'GET sees the deletes and writes').to.deep.equal(['edit', 'new1']);
    expect(read.resource.gender).to.equal('male');
    expect(read.response.etag).to.equal('W/"2"');
  });

  it('conditional references resolve to their one match; none or several fail the transaction', async () => {
    await server.fhir('/Patient', { method: 'POST', body: samplePatient({ identifier: [{ system: NHS, value: '9000000009' }] }) });
    const obs = (subject: string) => transaction([{
      resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: subject } },
      request: { method: 'POST', url: 'Observation' },
    }]);
    const ok = await server.fhir('/', { method: 'POST', body: obs(`Patient?identifier=${NHS}|9000000009`) });
    expect(ok.status, JSON.stringify(ok.json)).to.equal(200);
    const stored = (await server.fhir(`/${ok.json.entry[0].response.location.split('/_history')[0]}`)).json;
    expect(stored.subject.reference).to.match(/^Patient\/[0-9a-f-]{36}$/);

    const none = await server.fhir('/', { method: 'POST', body: obs(`Patient?identifier=${NHS}|9999999999`) });
    expect(none.status).to.equal(412);
    expect(await total('/Observation')).to.equal(1);
    const dangling = await server.fhir('/', { method: 'POST', body: obs('urn:uuid:7d0c3c1e-0000-4000-8000-000000000000') });
    expect(dangling.status).to.equal(400);
  });

  it('conditional create inside a transaction: If-None-Exist reuses the match, and references follow it', async () => {
    const existing = (await server.fhir('/Patient', { method: 'POST', body: samplePatient({ identifier: [{ system: NHS, value: '9000000009' }] }) })).json.id;
    const res = await server.fhir('/', {
      method: 'POST',
      body: transaction([
        {
          fullUrl: 'urn:uuid:5e0f2c54-6f6f-4f2e-8a0a-3b4c5d6e7f80', resource: samplePatient({ identifier: [{ system: NHS, value: '9000000009' }] }),
          request: { method: 'POST', url: 'Patient', ifNoneExist: `identifier=${NHS}|9000000009` },
        },
        {
          resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'urn:uuid:5e0f2c54-6f6f-4f2e-8a0a-3b4c5d6e7f80' } },
          request: { method: 'POST', url: 'Observation' },
        },
      ]),
    });
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    expect(res.json.entry[0].response.status).to.equal('200 OK');
    expect(res.json.entry[1].resource.subject.reference).to.equal(`Patient/${existing}`);
    expect(await total('/Patient')).to.equal(1);
  });

  it('a batch reports each entry on its own; the good ones are kept', async () => {
    const res = await server.fhir('/', {
      method: 'POST',
      body: transaction([
        { resource: samplePatient(), request: { method: 'POST', url: 'Patient' } },
        { resource: samplePatient({ gender: 'robot' }), request: { method: 'POST', url: 'Patient' } },
        { request: { method: 'GET', url: 'Patient/nope' } },
        { request: { method: 'DELETE', url: 'Nonsense/1' } },
      ], 'batch'),
    });
    expect(res.status).to.equal(200);
    expect(res.json.type).to.equal('batch-response');
    expect(res.json.entry.map((e: any) => e.response.status)).to.deep.equal(['201 Created', '400', '404', '400']);
    expect(res.json.entry[1].response.outcome.resourceType).to.equal('OperationOutcome');
    expect(await total('/Patient')).to.equal(1);
  });

  it('Prefer: return=minimal leaves the resources out of the response entries', async () => {
    const res = await server.fhir('/', {
      method: 'POST', headers: { Prefer: 'return=minimal' },
      body: transaction([{ resource: samplePatient(), request: { method: 'POST', url: 'Patient' } }]),
    });
    expect(res.json.entry[0]).to.not.have.property('resource');
    expect(res.json.entry[0].response.location).to.match(/^Patient\//);
  });

  it('rejects what is not a batch or transaction, and entries without a request', async () => {
    expect((await server.fhir('/', { method: 'POST', body: { resourceType: 'Bundle', type: 'collection' } })).status).to.equal(400);
    expect((await server.fhir('/', { method: 'POST', body: samplePatient() })).status).to.equal(400);
    const noRequest = await server.fhir('/', { method: 'POST', body: transaction([{ resource: samplePatient() }]) });
    expect(noRequest.status).to.equal(400);
    const twice = await server.fhir('/', {
      method: 'POST',
      body: transaction([
        { resource: samplePatient({ id: 'a' }), request: { method: 'PUT', url: 'Patient/a' } },
        { request: { method: 'DELETE', url: 'Patient/a' } },
      ]),
    });
    expect(twice.status, 'two entries on one resource').to.equal(400);
  });

  it('two entries that would create or touch the same resource fail the transaction, leaving nothing', async () => {
    const criteria = `identifier=${NHS}|9000000009`;
    const sameCreate = await server.fhir('/', {
      method: 'POST',
      body: transaction([0, 1].map(() => ({
        resource: samplePatient({ identifier: [{ system: NHS, value: '9000000009' }] }), request: { method: 'POST', url: 'Patient', ifNoneExist: criteria },
      }))),
    });
    expect(sameCreate.status).to.equal(412);
    expect(await total('/Patient')).to.equal(0);

    await server.fhir('/Patient/victim', { method: 'PUT', body: samplePatient({ id: 'victim' }) });
    const overlap = await server.fhir('/', {
      method: 'POST',
      body: transaction([
        { resource: samplePatient({ id: 'victim', gender: 'male' }), request: { method: 'PUT', url: 'Patient/victim' } },
        { resource: samplePatient({ gender: 'other' }), request: { method: 'PUT', url: 'Patient?_id=victim' } },
      ]),
    });
    expect(overlap.status).to.equal(400);
    expect((await server.fhir('/Patient/victim')).json.meta.versionId).to.equal('1');
  });

  it('entries are checked like requests: PUT body id, conditional update onto another resource, malformed request fields', async () => {
    await server.fhir('/Patient/victim', { method: 'PUT', body: samplePatient({ id: 'victim' }) });
    const mismatch = await server.fhir('/', {
      method: 'POST', body: transaction([{ resource: samplePatient({ id: 'other' }), request: { method: 'PUT', url: 'Patient/m1' } }]),
    });
    expect(mismatch.status).to.equal(400);
    const hijack = await server.fhir('/', {
      method: 'POST', body: transaction([{ resource: samplePatient({ id: 'victim', gender: 'male' }), request: { method: 'PUT', url: `Patient?identifier=${NHS}|nomatch` } }]),
    });
    expect(hijack.status).to.equal(409);
    expect((await server.fhir('/Patient/victim')).json.gender).to.equal('female');
    for (const request of [{ method: 'POST', url: 'Patient', ifNoneExist: 5 }, { method: 'PUT', url: 'Patient/victim', ifMatch: 'garbage' }]) {
      const res = await server.fhir('/', { method: 'POST', body: transaction([{ resource: samplePatient({ id: 'victim' }), request }]) });
      expect(res.status, JSON.stringify(request)).to.equal(400);
    }
    const badBinary = await server.fhir('/', {
      method: 'POST',
      body: transaction([
        { resource: samplePatient(), request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Binary', contentType: 5, data: 'W10=' }, request: { method: 'PATCH', url: 'Patient/victim' } },
      ], 'batch'),
    });
    expect(badBinary.status).to.equal(200);
    expect(badBinary.json.entry.map((e: any) => e.response.status)).to.deep.equal(['201 Created', '400']);
  });

  it('a relative reference to an entry whose fullUrl is absolute under this base is rewritten', async () => {
    const res = await server.fhir('/', {
      method: 'POST',
      body: transaction([
        { fullUrl: `${server.url}/Patient/tmp1`, resource: samplePatient(), request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/tmp1' } }, request: { method: 'POST', url: 'Observation' } },
      ]),
    });
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    expect(res.json.entry[1].resource.subject.reference).to.equal(`Patient/${res.json.entry[0].resource.id}`);
  });

  it('a Bundle over the configured size is refused with 413 before any work', async () => {
    const small = await startTestServer({ maxBundleEntries: 3 });
    try {
      const entries = Array.from({ length: 4 }, () => ({ resource: samplePatient(), request: { method: 'POST', url: 'Patient' } }));
      const res = await small.fhir('/', { method: 'POST', body: transaction(entries) });
      expect(res.status).to.equal(413);
      expect(res.json.resourceType).to.equal('OperationOutcome');
      expect((await small.fhir('/Patient?_summary=count')).json.total).to.equal(0);
    } finally {
      await small.stop();
    }
  });

  it('a 2,000-entry transaction does not stall concurrent reads', async function () {
    this.timeout(120_000);
    // The store's property, without the audit trail: with AUDIT=on every read also writes its
    // AuditEvent, which queues behind the 2,000-entry transaction in the single writer (a known
    // limitation of the audit trail, see server/audit.ts).
    await server.stop();
    server = await startTestServer({ audit: false });
    await server.fhir('/Patient/probe', { method: 'PUT', body: samplePatient({ id: 'probe' }) });
    const entries = Array.from({ length: 2000 }, (_, i) => ({
      fullUrl: `urn:uuid:00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      resource: i % 2 === 0
        ? samplePatient()
        : { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: `urn:uuid:00000000-0000-4000-8000-${String(i - 1).padStart(12, '0')}` } },
      request: { method: 'POST', url: i % 2 === 0 ? 'Patient' : 'Observation' },
    }));
    let running = true;
    const latencies: number[] = [];
    const reader = (async () => {
      while (running) {
        const started = performance.now();
        expect((await server.fhir('/Patient/probe')).status).to.equal(200);
        latencies.push(performance.now() - started);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const res = await server.fhir('/', { method: 'POST', body: transaction(entries) });
    running = false;
    await reader;
    expect(res.status).to.equal(200);
    expect(await total('/Observation')).to.equal(1000);
    expect(latencies.length, 'reads were served while the transaction ran').to.be.greaterThan(3);
    expect(Math.max(...latencies), `worst read latency ${Math.max(...latencies).toFixed(0)} ms`).to.be.lessThan(1000);
  });
});

describe('HTTP: PATCH', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server.stop(); });

  const jsonPatch = (ops: unknown, headers: Record<string, string> = {}) => ({
    method: 'PATCH', body: JSON.stringify(ops), headers: { 'Content-Type': 'application/json-patch+json', ...headers },
  });

  it('JSON Patch with If-Match makes a new version; a stale If-Match is a 412', async () => {
    await server.fhir('/Patient/jp', { method: 'PUT', body: samplePatient({ id: 'jp' }) });
    const res = await server.fhir('/Patient/jp', jsonPatch([{ op: 'replace', path: '/birthDate', value: '1970-02-03' }], { 'If-Match': 'W/"1"' }));
    expect(res.status).to.equal(200);
    expect(res.json.birthDate).to.equal('1970-02-03');
    expect(res.headers.get('etag')).to.equal('W/"2"');
    const stale = await server.fhir('/Patient/jp', jsonPatch([{ op: 'replace', path: '/gender', value: 'male' }], { 'If-Match': 'W/"1"' }));
    expect(stale.status).to.equal(412);
    expect((await server.fhir('/Patient/jp/_history?_summary=count')).json.total).to.equal(2);
  });

  it('a failed test op is a 422; a patch that makes the resource invalid is a 400; neither changes anything', async () => {
    await server.fhir('/Patient/bad', { method: 'PUT', body: samplePatient({ id: 'bad' }) });
    const failedTest = await server.fhir('/Patient/bad', jsonPatch([{ op: 'test', path: '/gender', value: 'male' }, { op: 'remove', path: '/name' }]));
    expect(failedTest.status).to.equal(422);
    const invalid = await server.fhir('/Patient/bad', jsonPatch([{ op: 'replace', path: '/gender', value: 'robot' }]));
    expect(invalid.status).to.equal(400);
    const renamed = await server.fhir('/Patient/bad', jsonPatch([{ op: 'replace', path: '/id', value: 'other' }]));
    expect(renamed.status).to.equal(422);
    const current = (await server.fhir('/Patient/bad')).json;
    expect(current.meta.versionId).to.equal('1');
    expect(current.gender).to.equal('female');
  });

  it('FHIRPath Patch (a Parameters resource) and conditional patch', async () => {
    await server.fhir('/Patient/fp', { method: 'PUT', body: samplePatient({ id: 'fp', identifier: [{ system: NHS, value: '9000000017' }] }) });
    const parameters = {
      resourceType: 'Parameters',
      parameter: [{ name: 'operation', part: [
        { name: 'type', valueCode: 'replace' }, { name: 'path', valueString: 'Patient.birthDate' }, { name: 'value', valueDate: '1955-05-05' },
      ] }],
    };
    const res = await server.fhir(`/Patient?identifier=${NHS}|9000000017`, { method: 'PATCH', body: parameters });
    expect(res.status, JSON.stringify(res.json)).to.equal(200);
    expect(res.json.id).to.equal('fp');
    expect(res.json.birthDate).to.equal('1955-05-05');
    expect((await server.fhir('/Patient?identifier=nobody', { method: 'PATCH', body: parameters })).status).to.equal(404);
  });

  it('PATCH of an unknown or deleted resource, or with an unsupported media type', async () => {
    expect((await server.fhir('/Patient/none', jsonPatch([]))).status).to.equal(404);
    await server.fhir('/Patient/gone', { method: 'PUT', body: samplePatient({ id: 'gone' }) });
    await server.fhir('/Patient/gone', { method: 'DELETE' });
    expect((await server.fhir('/Patient/gone', jsonPatch([]))).status).to.equal(410);
    const xml = await server.fhir('/Patient/fp', { method: 'PATCH', body: '<diff/>', headers: { 'Content-Type': 'application/xml-patch+xml' } });
    expect(xml.status).to.equal(415);
    expect(xml.json.resourceType).to.equal('OperationOutcome');
  });
});
