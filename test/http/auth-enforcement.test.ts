import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { SignJWT } from 'jose';
import { startTestServer, type FhirResponse, type TestServer } from '../support/server.js';

/**
 * Every FHIR request passes the access decision (issue 5): a token is required, scopes decide
 * each interaction, patient-context tokens see only their patient's compartment, v2 query
 * constraints narrow searches, and no denial leaks data. Tokens are signed with the server's own
 * key, as the token endpoint signs them (test/http/auth-tokens.test.ts drives that endpoint).
 */
const SECRET = 'a-long-enough-client-secret-for-tests-0123';

describe('HTTP: access decision on every FHIR request (AUTH=smart)', function () {
  this.timeout(30_000);
  let server: TestServer;

  const token = async (scope: string, extra: Record<string, unknown> = {}, overrides: { exp?: number; aud?: string } = {}) => {
    const key = server.auth!.keys.signingKey();
    const endpoints = server.auth!.endpoints(server.url)!;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ client_id: 'test-app', scope, ...extra })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(endpoints.issuer).setAudience(overrides.aud ?? server.url).setSubject('test-app')
      .setIssuedAt(now).setExpirationTime(overrides.exp ?? now + 300).setJti(randomUUID())
      .sign(key.privateKey);
  };
  const as = async (scope: string, path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}, extra: Record<string, unknown> = {}): Promise<FhirResponse> =>
    server.fhir(path, { ...init, headers: { ...(init.headers ?? {}), Authorization: `Bearer ${await token(scope, extra)}` } });
  const ids = (res: FhirResponse) => (res.json.entry ?? []).map((e: any) => `${e.resource.resourceType}/${e.resource.id}`);
  const admin = 'system/*.cruds';

  before(async () => {
    const clientsFile = join(mkdtempSync(join(tmpdir(), 'vertebra-clients-')), 'clients.json');
    writeFileSync(clientsFile, JSON.stringify([{
      client_id: 'test-app', client_secret: SECRET, token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'], scope: 'system/*.cruds',
    }]));
    server = await startTestServer({ auth: 'smart', smartClients: clientsFile });
    const seed = async (path: string, body: object) => {
      const res = await as(admin, path, { method: 'PUT', body });
      expect(res.status, res.text).to.be.oneOf([200, 201]);
    };
    await seed('/Patient/pa', { resourceType: 'Patient', id: 'pa', name: [{ family: 'Alpha' }] });
    await seed('/Patient/pb', { resourceType: 'Patient', id: 'pb', name: [{ family: 'Beta' }] });
    await seed('/Practitioner/dr', { resourceType: 'Practitioner', id: 'dr', name: [{ family: 'Doctor' }] });
    for (const [id, patient, category] of [['oa1', 'pa', 'laboratory'], ['oa2', 'pa', 'vital-signs'], ['ob1', 'pb', 'laboratory']]) {
      await seed(`/Observation/${id}`, {
        resourceType: 'Observation', id, status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${patient}` },
        performer: [{ reference: 'Practitioner/dr' }],
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: category }] }],
      });
    }
  });
  after(async () => { await server.stop(); });

  it('without a valid token every FHIR request is 401 with a Bearer challenge; /metadata stays public', async () => {
    for (const path of ['/Patient', '/Patient/pa', '/_history', '/Observation?_count=1']) {
      const res = await server.fhir(path);
      expect(res.status, path).to.equal(401);
      expect(res.headers.get('www-authenticate')).to.match(/^Bearer /);
      expect(res.json.resourceType).to.equal('OperationOutcome');
      expect(res.text).to.not.contain('Alpha');
    }
    const expired = await server.fhir('/Patient/pa', { headers: { Authorization: `Bearer ${await token(admin, {}, { exp: Math.floor(Date.now() / 1000) - 10 })}` } });
    expect(expired.status).to.equal(401);
    expect(expired.headers.get('www-authenticate')).to.contain('invalid_token');
    // A token used once (and so cached as verified) stops working the moment it is revoked.
    const once = await token('system/Patient.read');
    expect((await server.fhir('/Patient/pa', { headers: { Authorization: `Bearer ${once}` } })).status).to.equal(200);
    const jti = JSON.parse(Buffer.from(once.split('.')[1], 'base64url').toString()).jti;
    expect(jti).to.be.a('string');
    const revoke = await fetch(`${server.url.replace(/\/fhir$/, '')}/auth/revoke`, {
      method: 'POST', body: new URLSearchParams({ token: once }).toString(),
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${Buffer.from(`test-app:${SECRET}`).toString('base64')}` },
    });
    expect(revoke.status).to.equal(200);
    expect((await server.fhir('/Patient/pa', { headers: { Authorization: `Bearer ${once}` } })).status).to.equal(401);
    const wrongAudience = await server.fhir('/Patient/pa', { headers: { Authorization: `Bearer ${await token(admin, {}, { aud: 'https://elsewhere.example/fhir' })}` } });
    expect(wrongAudience.status).to.equal(401);
    const tampered = (await token('system/Patient.read')).replace(/\.([^.]+)\./, (_m, p: string) => `.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), scope: admin })).toString('base64url')}.`);
    expect((await server.fhir('/Observation/oa1', { headers: { Authorization: `Bearer ${tampered}` } })).status).to.equal(401);
    const malformed = await server.fhir('/Patient/%E0%A4%A');
    expect(malformed.status).to.be.oneOf([400, 401, 404]); // never a 500
    const metadata = await server.fhir('/metadata');
    expect(metadata.status).to.equal(200);
    expect(metadata.json.rest[0].security.service[0].coding[0].code).to.equal('SMART-on-FHIR');
  });

  it('scopes decide each interaction: allowed or 403, and a 403 carries no data', async () => {
    const matrix: [string, string, string, number][] = [
      ['system/Patient.read', 'GET', '/Patient/pa', 200],
      ['system/Patient.read', 'GET', '/Patient?family=alpha', 200],
      ['system/Patient.read', 'GET', '/Observation/oa1', 403],
      ['system/Patient.read', 'PUT', '/Patient/pa', 403],
      ['system/Patient.read', 'DELETE', '/Patient/pa', 403],
      ['system/Patient.rs', 'GET', '/Patient/pa/_history', 200],
      ['system/Patient.r', 'GET', '/Patient?family=alpha', 403], // v2: r without s cannot search
      ['system/Patient.s', 'GET', '/Patient/pa', 403],
      ['system/Observation.cud', 'GET', '/Observation/oa1', 403],
      ['system/*.read', 'GET', '/_history', 200],
      ['system/Patient.read', 'GET', '/_history', 403],
      ['system/Patient.read', 'GET', '/?_type=Patient,Observation', 403],
      ['system/Patient.read system/Observation.read', 'GET', '/?_type=Patient,Observation', 200],
      ['system/*.read', 'POST', '/$reindex', 403],
      ['user/*.read', 'GET', '/Patient/pa', 200],
      ['patient/*.read', 'GET', '/Patient/pa', 403], // a patient scope without a launch patient grants nothing
    ];
    for (const [scope, method, path, status] of matrix) {
      const body = method === 'PUT' ? { resourceType: 'Patient', id: 'pa', name: [{ family: 'Changed' }] } : undefined;
      const res = await as(scope, path, { method, body });
      expect(res.status, `${scope}: ${method} ${path} ${res.text.slice(0, 200)}`).to.equal(status);
      if (status === 403) {
        expect(res.json.resourceType).to.equal('OperationOutcome');
        expect(res.text).to.not.match(/Alpha|Beta|Doctor/);
      }
    }
    expect((await as(admin, '/Patient/pa')).json.name[0].family).to.equal('Alpha'); // the refused PUT changed nothing
  });

  it('a patient-context token sees only its patient\'s compartment, in read, search, compartment, _include and _revinclude', async () => {
    const pa = { patient: 'pa' };
    expect((await as('patient/*.read', '/Patient/pa', {}, pa)).status).to.equal(200);
    expect((await as('patient/*.read', '/Patient/pb', {}, pa)).status).to.equal(403);
    expect((await as('patient/*.read', '/Observation/ob1', {}, pa)).status).to.equal(403);
    expect((await as('patient/*.read', '/Observation/ob1/_history/1', {}, pa)).status).to.equal(403);
    expect(ids(await as('patient/*.read', '/Observation', {}, pa)).sort()).to.deep.equal(['Observation/oa1', 'Observation/oa2']);
    expect(ids(await as('patient/*.read', '/Patient', {}, pa))).to.deep.equal(['Patient/pa']);
    expect((await as('patient/*.read', '/Observation?subject:Patient.family=beta', {}, pa)).status).to.equal(403); // chains: not yet
    expect((await as('patient/*.read', '/Observation?performer.name=doctor', {}, pa)).status).to.equal(403);
    expect((await as('patient/*.read', '/Patient?_has:Observation:subject:code=x', {}, pa)).status).to.equal(403);
    expect((await as('patient/*.read', '/Patient/pb/Observation', {}, pa)).status).to.equal(403);
    expect((await as('patient/*.read', '/Patient/nobody/Observation', {}, pa)).status).to.equal(403); // same answer: no existence oracle
    expect(ids(await as('patient/*.read', '/Patient/pa/Observation', {}, pa)).sort()).to.deep.equal(['Observation/oa1', 'Observation/oa2']);
    expect((await as('patient/*.read', '/Observation/ob1/$validate', { method: 'POST', body: { resourceType: 'Parameters', parameter: [{ name: 'mode', valueCode: 'delete' }] } }, pa)).status).to.equal(403);
    const included = ids(await as('patient/Observation.read', '/Observation?_include=Observation:subject&_include=Observation:performer', {}, pa));
    expect(included.sort()).to.deep.equal(['Observation/oa1', 'Observation/oa2']); // no Patient or Practitioner scope: nothing included
    const withPatient = ids(await as('patient/Observation.read patient/Patient.read', '/Observation?_include=Observation:subject', {}, pa));
    expect(withPatient.sort()).to.deep.equal(['Observation/oa1', 'Observation/oa2', 'Patient/pa']);
    const revinclude = ids(await as('patient/*.read', '/Patient?_revinclude=Observation:subject', {}, pa));
    expect(revinclude.sort()).to.deep.equal(['Observation/oa1', 'Observation/oa2', 'Patient/pa']);
    expect((await as('patient/*.read', '/Observation/_history', {}, pa)).status).to.equal(403);
    expect((await as('patient/*.*', '/Observation/ob1', { method: 'DELETE' }, pa)).status).to.equal(403);
  });

  it('a patient-context token writes inside its patient\'s compartment only; a refused write commits nothing', async () => {
    const pa = { patient: 'pa' };
    const obs = (patient: string, id?: string) => ({
      resourceType: 'Observation', ...(id ? { id } : {}), status: 'final', code: { text: 'pw' }, subject: { reference: `Patient/${patient}` },
    });
    const jsonPatch = (path: string, value: unknown) => ({
      method: 'PATCH', body: [{ op: 'replace', path, value }], headers: { 'Content-Type': 'application/json-patch+json' },
    });
    const created = await as('patient/Observation.c', '/Observation', { method: 'POST', body: obs('pa') }, pa);
    expect(created.status, created.text).to.equal(201);
    const id = created.json.id as string;
    const count = async () => (await as(admin, '/Observation?_summary=count')).json.total as number;
    const before = await count();

    const elsewhere = await as('patient/Observation.c', '/Observation', { method: 'POST', body: obs('pb') }, pa);
    expect(elsewhere.status).to.equal(403);
    expect(elsewhere.text).to.not.contain('Beta');
    // Moving its own resource to another patient, by PUT or PATCH: refused inside the transaction.
    expect((await as('patient/Observation.u', `/Observation/${id}`, { method: 'PUT', body: obs('pb', id) }, pa)).status).to.equal(403);
    expect((await as('patient/Observation.u', `/Observation/${id}`, jsonPatch('/subject/reference', 'Patient/pb'), pa)).status).to.equal(403);
    // Another patient's resource: refused even when the write would bring it into the compartment.
    expect((await as('patient/Observation.u', '/Observation/ob1', { method: 'PUT', body: obs('pa', 'ob1') }, pa)).status).to.equal(403);
    expect((await as('patient/Observation.u', '/Observation/ob1', jsonPatch('/status', 'amended'), pa)).status).to.equal(403);
    expect((await as('patient/Observation.d', '/Observation/ob1', { method: 'DELETE' }, pa)).status).to.equal(403);
    // Conditional forms match across all patients: refused.
    expect((await as('patient/Observation.d', '/Observation?code:text=pw', { method: 'DELETE' }, pa)).status).to.equal(403);
    expect((await as('patient/Observation.c', '/Observation', { method: 'POST', body: obs('pa'), headers: { 'If-None-Exist': 'code:text=x' } }, pa)).status).to.equal(403);
    expect(await count()).to.equal(before);
    const ob1 = (await as(admin, '/Observation/ob1')).json;
    expect([ob1.subject.reference, ob1.status, ob1.meta.versionId]).to.deep.equal(['Patient/pb', 'final', '1']);
    expect((await as(admin, `/Observation/${id}`)).json.subject.reference).to.equal('Patient/pa');

    // Inside the compartment: update, update as create, patch and delete all work.
    expect((await as('patient/Observation.u', `/Observation/${id}`, { method: 'PUT', body: { ...obs('pa', id), status: 'preliminary' } }, pa)).status).to.equal(200);
    expect((await as('patient/Observation.cu', '/Observation/pw-new', { method: 'PUT', body: obs('pa', 'pw-new') }, pa)).status).to.equal(201);
    const patched = await as('patient/Observation.u', `/Observation/${id}`, jsonPatch('/status', 'amended'), pa);
    expect(patched.status, patched.text).to.equal(200);
    expect(patched.json.status).to.equal('amended');
    expect((await as('patient/Observation.d', `/Observation/${id}`, { method: 'DELETE' }, pa)).status).to.be.oneOf([200, 204]);
    expect((await as(admin, `/Observation/${id}`)).status).to.equal(410);
  });

  it('a patient-context token reads the versions of its own patient\'s records, never a version that lay in another patient\'s compartment', async () => {
    const pa = { patient: 'pa' };
    const history = await as('patient/*.read', '/Observation/oa1/_history', {}, pa);
    expect(history.status, history.text).to.equal(200);
    expect(history.json.entry.length).to.be.greaterThan(0);
    expect((await as('patient/*.read', '/Observation/oa1/_history/1', {}, pa)).status).to.equal(200);
    expect((await as('patient/*.read', '/Observation/ob1/_history', {}, pa)).status).to.equal(403);
    // A record moved from pb to pa: its current version is pa's, its first was pb's.
    const obs = (patient: string) => ({ resourceType: 'Observation', id: 'moved', status: 'final', code: { text: 'mv' }, subject: { reference: `Patient/${patient}` } });
    expect((await as(admin, '/Observation/moved', { method: 'PUT', body: obs('pb') })).status).to.equal(201);
    expect((await as(admin, '/Observation/moved', { method: 'PUT', body: obs('pa') })).status).to.equal(200);
    expect((await as('patient/*.read', '/Observation/moved', {}, pa)).status).to.equal(200);
    expect((await as('patient/*.read', '/Observation/moved/_history/2', {}, pa)).status).to.equal(200);
    const old = await as('patient/*.read', '/Observation/moved/_history/1', {}, pa);
    expect(old.status).to.equal(403);
    expect(old.text).to.not.contain('Patient/pb');
    expect((await as('patient/*.read', '/Observation/moved/_history', {}, pa)).status).to.equal(403);
    // Under v2 query constraints old versions cannot be judged: refused.
    expect((await as('system/Observation.rs?category=laboratory', '/Observation/oa1/_history')).status).to.equal(403);
    expect((await as(admin, '/Observation/moved', { method: 'DELETE' })).status).to.be.oneOf([200, 204]); // leaves the shared data as it was
  });

  it('a query-constrained scope writes only what matches its constraint', async () => {
    const lab = 'system/Observation.cruds?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory';
    const obs = (category: string) => ({
      resourceType: 'Observation', status: 'final', code: { text: 'qc' }, subject: { reference: 'Patient/pb' },
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: category }] }],
    });
    const ok = await as(lab, '/Observation', { method: 'POST', body: obs('laboratory') });
    expect(ok.status, ok.text).to.equal(201);
    const refused = await as(lab, '/Observation', { method: 'POST', body: obs('vital-signs') });
    expect(refused.status).to.equal(403);
    expect((await as(admin, '/Observation?code:text=qc')).json.entry).to.have.length(1);
    // Changing the category out of the constraint is refused; oa2 (vital signs) cannot be touched.
    const id = ok.json.id as string;
    expect((await as(lab, `/Observation/${id}`, { method: 'PUT', body: { ...obs('vital-signs'), id } })).status).to.equal(403);
    expect((await as(lab, '/Observation/oa2', { method: 'DELETE' })).status).to.equal(403);
    expect((await as(admin, '/Observation/oa2')).status).to.equal(200);
    expect((await as(lab, `/Observation/${id}`, { method: 'DELETE' })).status).to.be.oneOf([200, 204]); // leaves the shared data as it was
  });

  it('a staff user also needs a clinical RBAC job role for clinical resources', async () => {
    const clerk = { fhirUser: `${server.url}/Practitioner/dr`, roles: ['R8010'] };
    const clinician = { fhirUser: `${server.url}/Practitioner/dr`, roles: ['R8000'] };
    expect((await as('user/*.read', '/Patient/pa', {}, clerk)).status).to.equal(200);
    const refused = await as('user/*.read', '/Observation/oa1', {}, clerk);
    expect(refused.status).to.equal(403);
    expect(refused.text).to.not.contain('Doctor');
    expect((await as('user/*.read', '/Observation/oa1', {}, clinician)).status).to.equal(200);
  });

  it('v2 query constraints narrow searches and reads; one that is not a search parameter of the type is refused, never ignored', async () => {
    const lab = 'system/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory';
    expect(ids(await as(lab, '/Observation')).sort()).to.deep.equal(['Observation/oa1', 'Observation/ob1']);
    expect((await as(lab, '/Observation/oa1')).status).to.equal(200);
    expect((await as(lab, '/Observation/oa2')).status).to.equal(403);
    expect((await as('system/*.rs?category=laboratory', '/Practitioner')).status).to.equal(403);
    expect((await as('system/Observation.rs?nosuchparam=1', '/Observation')).status).to.equal(403);
    expect((await as('system/Observation.rs?_count=1', '/Observation')).status).to.equal(403);
  });

  it('an unknown operation is a 404 naming it, but only after the token: without one it is a 401 like every other path', async () => {
    const anonymous = await server.fhir('/Patient/pa/$everything');
    expect(anonymous.status).to.equal(401);
    const known = await as(admin, '/Patient/pa/$everything');
    expect(known.status).to.equal(404);
    expect(known.json.resourceType).to.equal('OperationOutcome');
    expect(known.json.issue[0].diagnostics).to.contain('$everything');
    // The CapabilityStatement's path is public whatever the method: its 405 needs no token.
    const put = await server.fhir('/metadata', { method: 'PUT', body: {} });
    expect(put.status).to.equal(405);
    expect(put.headers.get('allow')).to.equal('GET');
  });

  it('Bundle entries are read by the same parser as requests: an entry the route table cannot serve is refused before any entry runs', async () => {
    const res = await as(admin, '/', { method: 'POST', body: {
      resourceType: 'Bundle', type: 'transaction', entry: [
        { request: { method: 'PUT', url: 'Patient/pz' }, resource: { resourceType: 'Patient', id: 'pz' } },
        { request: { method: 'GET', url: 'Patient/pa/$everything' } },
      ],
    } });
    expect(res.status).to.equal(403);
    expect(res.json.issue[0].diagnostics).to.contain('Bundle.entry[1]');
    expect((await as(admin, '/Patient/pz')).status).to.equal(404); // nothing ran
  });

  it('paths are case-sensitive: a case variant is no route and never skips the token', async () => {
    for (const [method, path] of [['GET', '/_HISTORY'], ['GET', '/Observation/oa1/_History/1'], ['POST', '/_SEARCH'], ['POST', '/$REINDEX'], ['POST', '/Patient/$MATCH']]) {
      const anonymous = await server.fhir(path, { method });
      expect(anonymous.status, `${method} ${path}`).to.equal(401);
      const withToken = await as(admin, path, { method });
      expect(withToken.status, `${method} ${path} with a token`).to.equal(404);
      expect(withToken.text).to.not.match(/Alpha|Beta/);
    }
  });

  it('included resources are limited to what the token may read in system searches and batch entries too', async () => {
    const system = await as('system/Practitioner.rs', '/?_type=Practitioner&_revinclude=Observation:performer');
    expect(system.status, system.text).to.equal(200);
    expect(ids(system)).to.deep.equal(['Practitioner/dr']);
    const batch = await as('system/Practitioner.rs', '/', { method: 'POST', body: {
      resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: 'Practitioner?_revinclude=Observation:performer' } }],
    } });
    expect(batch.status, batch.text).to.equal(200);
    expect(batch.json.entry[0].resource.entry.map((e: any) => e.resource.resourceType)).to.deep.equal(['Practitioner']);
  });

  it('batch and transaction entries are each decided before any runs', async () => {
    const bundle = (type: string) => ({
      resourceType: 'Bundle', type, entry: [
        { request: { method: 'GET', url: 'Patient/pa' } },
        { resource: { resourceType: 'Observation', status: 'final', code: { text: 'y' } }, request: { method: 'POST', url: 'Observation' } },
      ],
    });
    expect((await as('system/Patient.read', '/', { method: 'POST', body: bundle('transaction') })).status).to.equal(403);
    expect((await as('system/Patient.read', '/', { method: 'POST', body: bundle('batch') })).status).to.equal(403);
    const ok = await as('system/Patient.read system/Observation.write', '/', { method: 'POST', body: bundle('transaction') });
    expect(ok.status, ok.text).to.equal(200);
    expect((await as('patient/*.*', '/', { method: 'POST', body: bundle('batch') }, { patient: 'pa' })).status).to.equal(403);
    const lowercase = { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'get', url: 'Observation/ob1' } }] };
    const sneaky = await as('openid', '/', { method: 'POST', body: lowercase });
    expect(sneaky.status).to.equal(403);
    expect(sneaky.text).to.not.contain('laboratory');
  });
});
