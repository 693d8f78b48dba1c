import { request } from 'node:http';
import { expect } from 'chai';
import { samplePatient, startTestServer, type TestServer } from '../support/server.js';

function expectOutcome(res: { status: number; json: any; headers: Headers }, status: number): any {
  expect(res.status).to.equal(status);
  expect(res.headers.get('content-type')).to.match(/^application\/fhir\+json/);
  expect(res.json.resourceType).to.equal('OperationOutcome');
  expect(res.json.issue).to.be.an('array').that.is.not.empty;
  return res.json;
}

describe('HTTP: every error is an OperationOutcome with the right status', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer({ maxBodyBytes: 64 * 1024 }); });
  after(async () => { await server.stop(); });

  it('unknown resource type: 404 for read, create and history', async () => {
    expectOutcome(await server.fhir('/Spaceship/1'), 404);
    expectOutcome(await server.fhir('/Spaceship', { method: 'POST', body: { resourceType: 'Spaceship' } }), 404);
    expectOutcome(await server.fhir('/Spaceship/_history'), 404);
  });

  it('unknown id: 404 with code not-found', async () => {
    const oo = expectOutcome(await server.fhir('/Patient/does-not-exist'), 404);
    expect(oo.issue[0].code).to.equal('not-found');
    expectOutcome(await server.fhir('/Patient/does-not-exist/_history'), 404);
  });

  it('paths outside the FHIR API: 404', async () => {
    expectOutcome(await server.fhir('/Patient/1/extra/segments/here'), 404);
    const res = await fetch(`http://127.0.0.1:${server.port}/elsewhere`);
    expect(res.status).to.equal(404);
    expect((await res.json()).resourceType).to.equal('OperationOutcome');
  });

  it('an absolute-form request target (RFC 9112 §3.2.2, as proxies send it) is served like its origin form', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: server.port, path: `http://127.0.0.1:${server.port}/fhir/Patient?_count=1&_format=json` }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).to.equal(200);
  });

  it('an unknown operation: 404 naming the operation, at every level', async () => {
    for (const path of ['/Patient/p1/$everything', '/Patient/$everything', '/$everything']) {
      const oo = expectOutcome(await server.fhir(path), 404);
      expect(oo.issue[0].diagnostics, path).to.contain('Unknown operation $everything');
    }
    // A known operation with a method it does not answer: 405 with its methods.
    const get = expectOutcome(await server.fhir('/Patient/$match'), 405);
    expect(get.issue[0].diagnostics).to.contain('$match');
  });

  it('wrong method: 405 with an Allow header', async () => {
    const post = expectOutcome(await server.fhir('/Patient/123', { method: 'POST', body: samplePatient() }), 405);
    expect(post.issue[0].code).to.equal('not-supported');
    expect((await server.fhir('/Patient/123', { method: 'POST', body: samplePatient() })).headers.get('allow')).to.equal('GET, PUT, PATCH, DELETE');
    expectOutcome(await server.fhir('/metadata', { method: 'DELETE' }), 405);
    expectOutcome(await server.fhir('/Patient/_history', { method: 'POST', body: {} }), 405);
    expectOutcome(await server.fhir('/Patient/1/_history/1', { method: 'PUT', body: samplePatient() }), 405);
  });

  it('unsupported media type: 415 for XML, form data or no Content-Type', async () => {
    expectOutcome(await server.fhir('/Patient', { method: 'POST', headers: { 'Content-Type': 'application/fhir+xml' }, body: '<Patient xmlns="http://hl7.org/fhir"/>' }), 415);
    expectOutcome(await server.fhir('/Patient', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: '{}' }), 415);
    const res = await fetch(`${server.url}/Patient`, { method: 'POST', body: new Uint8Array(Buffer.from(JSON.stringify(samplePatient()))) });
    expect(res.status).to.equal(415);
  });

  it('invalid JSON: 400', async () => {
    const oo = expectOutcome(await server.fhir('/Patient', { method: 'POST', body: '{"resourceType": "Patient",' }), 400);
    expect(oo.issue[0].diagnostics).to.match(/not valid JSON/);
    expectOutcome(await server.fhir('/Patient', { method: 'POST', body: '[1,2]' }), 400);
    expectOutcome(await server.fhir('/Patient', { method: 'POST', body: '' , headers: { 'Content-Type': 'application/fhir+json' } }), 400);
  });

  it('body over the configured limit: 413, before anything is stored', async () => {
    const huge = samplePatient({ name: [{ family: 'x'.repeat(100 * 1024) }] });
    const oo = expectOutcome(await server.fhir('/Patient', { method: 'POST', body: huge }), 413);
    expect(oo.issue[0].code).to.equal('too-costly');
    expect((await server.fhir('/Patient/_history')).json.total).to.equal(0);
  });

  describe('structural validation against the R4 JSON schema: 400 with expression paths', () => {
    it('resourceType that does not match the URL', async () => {
      const oo = expectOutcome(await server.fhir('/Patient', { method: 'POST', body: { resourceType: 'Observation' } }), 400);
      expect(oo.issue[0].expression).to.deep.equal(['resourceType']);
    });

    it('unknown element', async () => {
      const oo = expectOutcome(await server.fhir('/Patient', { method: 'POST', body: samplePatient({ favouriteColour: 'blue' }) }), 400);
      expect(oo.issue.map((i: any) => i.expression[0])).to.include('Patient.favouriteColour');
    });

    it('unknown element deep inside', async () => {
      const oo = expectOutcome(await server.fhir('/Patient', { method: 'POST', body: samplePatient({ name: [{ family: 'A', nickname: 'B' }] }) }), 400);
      expect(oo.issue.map((i: any) => i.expression[0])).to.include('Patient.name[0].nickname');
    });

    it('wrong primitive format (date) and wrong JSON type', async () => {
      const oo = expectOutcome(await server.fhir('/Patient', { method: 'POST', body: samplePatient({ birthDate: '1980-13-45', active: 'yes' }) }), 400);
      const paths = oo.issue.map((i: any) => i.expression[0]);
      expect(paths).to.include('Patient.birthDate');
      expect(paths).to.include('Patient.active');
    });

    it('wrong code in a required binding enumerated by the schema', async () => {
      const oo = expectOutcome(await server.fhir('/Patient', { method: 'POST', body: samplePatient({ gender: 'robot' }) }), 400);
      expect(oo.issue[0].expression).to.deep.equal(['Patient.gender']);
    });

    it('missing required element', async () => {
      const oo = expectOutcome(await server.fhir('/Observation', { method: 'POST', body: { resourceType: 'Observation', code: { text: 'x' } } }), 400);
      expect(oo.issue[0].code).to.equal('required');
      expect(oo.issue[0].expression).to.deep.equal(['Observation.status']);
    });

    it('invalid contained resource is reported against its own type', async () => {
      const oo = expectOutcome(await server.fhir('/Patient', { method: 'POST', body: samplePatient({ contained: [{ resourceType: 'Organization', id: 'o1', name: 7 }] }) }), 400);
      expect(oo.issue).to.have.length(1);
      expect(oo.issue[0].expression).to.deep.equal(['Patient.contained[0].name']);
    });

    it('null values, empty arrays and empty objects', async () => {
      const oo = expectOutcome(await server.fhir('/Patient', { method: 'POST', body: samplePatient({ gender: null, identifier: [], maritalStatus: {} }) }), 400);
      const paths = oo.issue.map((i: any) => i.expression[0]);
      expect(paths).to.include.members(['Patient.gender', 'Patient.identifier', 'Patient.maritalStatus']);
    });

    it('a failed update changes nothing', async () => {
      await server.fhir('/Patient/valid-one', { method: 'PUT', body: samplePatient({ id: 'valid-one' }) });
      expectOutcome(await server.fhir('/Patient/valid-one', { method: 'PUT', body: samplePatient({ id: 'valid-one', birthDate: 'yesterday' }) }), 400);
      const current = await server.fhir('/Patient/valid-one');
      expect(current.json.meta.versionId).to.equal('1');
      expect(current.json.birthDate).to.equal('1980-01-02');
    });
  });

  it('an unexpected internal error is a 500 OperationOutcome without internals, and the server keeps serving', async () => {
    const original = server.engine.read.bind(server.engine);
    server.engine.read = async () => { throw new Error('secret internal detail'); };
    try {
      const oo = expectOutcome(await server.fhir('/Patient/anything'), 500);
      expect(JSON.stringify(oo)).to.not.include('secret internal detail');
      expect(oo.issue[0].code).to.equal('exception');
    } finally {
      server.engine.read = original;
    }
    expect((await server.fhir('/metadata')).status).to.equal(200);
  });
});
