import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { SignJWT } from 'jose';
import { startTestServer, type FhirResponse, type TestServer } from '../support/server.js';

/**
 * The audit trail (issue 5, ARCHITECTURE "Security and audit"): every access to patient data
 * leaves AuditEvents (one per patient) written before the response; denials too; AuditEvent is
 * read/search only through the API; a failed audit write answers 503 with no data.
 */
describe('HTTP: audit of patient-data access (AUDIT=on, AUTH=smart)', function () {
  this.timeout(60_000);
  let server: TestServer;
  let failAudit = false;

  const token = async (scope: string, extra: Record<string, unknown> = {}) => {
    const key = server.auth!.keys.signingKey();
    const endpoints = server.auth!.endpoints(server.url)!;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ client_id: 'test-app', scope, ...extra })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(endpoints.issuer).setAudience(server.url).setSubject('test-app')
      .setIssuedAt(now).setExpirationTime(now + 300).setJti(randomUUID())
      .sign(key.privateKey);
  };
  const admin = 'system/*.cruds';
  /** A request with its own X-Request-ID, so that its AuditEvents can be told from the others'. */
  const as = async (scope: string, path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}, extra: Record<string, unknown> = {}) => {
    const requestId = randomUUID();
    const res = await server.fhir(path, { ...init, headers: { ...(init.headers ?? {}), 'X-Request-ID': requestId, Authorization: `Bearer ${await token(scope, extra)}` } });
    return Object.assign(res, { requestId });
  };
  const ofRequest = (e: any, requestId: string) => e.entity?.some((x: any) => x.what?.identifier?.value === requestId);
  /** The AuditEvents of one request, read back with an admin token. */
  const audits = async (res: FhirResponse & { requestId: string }, query = ''): Promise<any[]> => {
    const found = await as(admin, `/AuditEvent?_count=1000${query}`);
    expect(found.status, found.text).to.equal(200);
    return (found.json.entry ?? []).map((x: any) => x.resource).filter((e: any) => ofRequest(e, res.requestId));
  };
  const patientOf = (e: any) => e.entity?.find((x: any) => x.role?.code === '1')?.what?.reference;
  const subtype = (e: any) => e.subtype[0].code;
  const total = async () => (await as(admin, '/AuditEvent?_summary=count')).json.total as number;

  before(async () => {
    server = await startTestServer({ auth: 'smart' }, {
      audit: { writer: async (events, write) => { if (failAudit) throw new Error('audit store down (test)'); await write(events); } },
    });
    const seed = async (path: string, body: object) => {
      const res = await as(admin, path, { method: 'PUT', body });
      expect(res.status, res.text).to.be.oneOf([200, 201]);
    };
    await seed('/Patient/pa', { resourceType: 'Patient', id: 'pa', name: [{ family: 'Alpha' }] });
    await seed('/Patient/pb', { resourceType: 'Patient', id: 'pb', name: [{ family: 'Beta' }] });
    await seed('/Organization/ORG1', { resourceType: 'Organization', id: 'ORG1', name: 'Surgery' });
    for (const [id, patient] of [['oa1', 'pa'], ['oa2', 'pa'], ['ob1', 'pb']]) {
      await seed(`/Observation/${id}`, { resourceType: 'Observation', id, status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${patient}` } });
    }
  });
  after(async () => { await server.stop(); });

  it('a read leaves one AuditEvent (rest/read, R, outcome 0) naming the patient, the resource and the client', async () => {
    const res = await as(admin, '/Observation/oa1', {}, { fhirUser: 'Practitioner/dr', roles: ['R8000'], purpose_of_use: 'TREAT' });
    expect(res.status).to.equal(200);
    const [event, ...rest] = await audits(res, '&patient=Patient/pa');
    expect(rest).to.deep.equal([]);
    expect(event.type.code).to.equal('rest');
    expect(subtype(event)).to.equal('read');
    expect(event.action).to.equal('R');
    expect(event.outcome).to.equal('0');
    expect(patientOf(event)).to.equal('Patient/pa');
    expect(event.entity.some((x: any) => x.what?.reference === 'Observation/oa1')).to.equal(true);
    expect(event.agent[0].who.identifier.value).to.equal('test-app');
    expect(event.agent[1].who.reference).to.equal('Practitioner/dr');
    expect(event.agent[1].role[0].coding[0].code).to.equal('R8000');
    expect(event.purposeOfEvent[0].coding[0].code).to.equal('TREAT');
    expect(event.source.observer.display).to.equal('vertebra');
    // A Patient read names the Patient itself; the entity search finds it too.
    const patientRead = await as(admin, '/Patient/pb');
    expect((await audits(patientRead, '&entity=Patient/pb')).map(patientOf)).to.deep.equal(['Patient/pb']);
  });

  it('a search leaves one AuditEvent per patient in the results (hits and includes), with the query', async () => {
    const res = await as(admin, '/Observation?code:text=x&_include=Observation:subject');
    expect(res.json.entry).to.have.length(5);
    const events = await audits(res);
    expect(events.map(patientOf).sort()).to.deep.equal(['Patient/pa', 'Patient/pb']);
    for (const e of events) {
      expect(subtype(e)).to.equal('search-type');
      expect(e.action).to.equal('E');
      const query = e.entity.find((x: any) => x.role?.code === '24');
      expect(Buffer.from(query.query, 'base64').toString()).to.equal('code:text=x&_include=Observation:subject');
    }
    const onlyA = await as(admin, '/Patient/pa/Observation');
    expect((await audits(onlyA)).map(patientOf)).to.deep.equal(['Patient/pa']);
    const history = await as(admin, '/Observation/oa1/_history');
    expect((await audits(history)).map((e) => [subtype(e), patientOf(e)])).to.deep.equal([['history-instance', 'Patient/pa']]);
  });

  it('create, update (moving a resource between patients), patch and delete leave C/U/D AuditEvents for the patients written', async () => {
    const created = await as(admin, '/Observation', { method: 'POST', body: { resourceType: 'Observation', status: 'final', code: { text: 'new' }, subject: { reference: 'Patient/pb' } } });
    expect(created.status).to.equal(201);
    const id = created.json.id as string;
    expect((await audits(created)).map((e) => [subtype(e), e.action, patientOf(e)])).to.deep.equal([['create', 'C', 'Patient/pb']]);

    const moved = await as(admin, `/Observation/${id}`, { method: 'PUT', body: { resourceType: 'Observation', id, status: 'final', code: { text: 'new' }, subject: { reference: 'Patient/pa' } }, headers: { Prefer: 'return=minimal' } });
    expect(moved.status).to.equal(200);
    expect((await audits(moved)).map((e) => [subtype(e), e.action, patientOf(e)]).sort()).to.deep.equal([['update', 'U', 'Patient/pa'], ['update', 'U', 'Patient/pb']]);

    const patched = await as(admin, `/Observation/${id}`, {
      method: 'PATCH', body: [{ op: 'replace', path: '/status', value: 'amended' }], headers: { 'Content-Type': 'application/json-patch+json' },
    });
    expect(patched.status, patched.text).to.equal(200);
    expect((await audits(patched)).map((e) => [subtype(e), e.action, patientOf(e)])).to.deep.equal([['patch', 'U', 'Patient/pa']]);

    const deleted = await as(admin, `/Observation/${id}`, { method: 'DELETE' });
    expect(deleted.status).to.be.oneOf([200, 204]);
    const [del] = await audits(deleted);
    expect([subtype(del), del.action, patientOf(del)]).to.deep.equal(['delete', 'D', 'Patient/pa']);
    expect(del.entity.some((x: any) => x.what?.reference === `Observation/${id}`)).to.equal(true);
  });

  it('batch and transaction Bundles leave one AuditEvent per patient written or read, also with return=minimal', async () => {
    const obs = (patient: string) => ({ resourceType: 'Observation', status: 'final', code: { text: 'tx' }, subject: { reference: `Patient/${patient}` } });
    const tx = await as(admin, '', { method: 'POST', body: { resourceType: 'Bundle', type: 'transaction', entry: [
      { resource: obs('pa'), request: { method: 'POST', url: 'Observation' } },
      { resource: obs('pb'), request: { method: 'POST', url: 'Observation' } },
    ] } });
    expect(tx.status, tx.text).to.equal(200);
    expect((await audits(tx)).map((e) => [subtype(e), patientOf(e)]).sort()).to.deep.equal([['transaction', 'Patient/pa'], ['transaction', 'Patient/pb']]);
    const minimal = await as(admin, '', { method: 'POST', headers: { Prefer: 'return=minimal' }, body: { resourceType: 'Bundle', type: 'batch', entry: [
      { resource: obs('pb'), request: { method: 'POST', url: 'Observation' } },
    ] } });
    expect(minimal.status, minimal.text).to.equal(200);
    expect(minimal.json.entry[0].resource).to.equal(undefined);
    expect((await audits(minimal)).map((e) => [subtype(e), patientOf(e)])).to.deep.equal([['batch', 'Patient/pb']]);
  });

  it('a denial leaves an AuditEvent with outcome 4, naming the requested patient when the path names one', async () => {
    const denied = await as('patient/*.read', '/Patient/pb', {}, { patient: 'pa' });
    expect(denied.status).to.equal(403);
    expect(denied.text).to.not.contain('Beta');
    const [event, ...rest] = await audits(denied, '&outcome=4');
    expect(rest).to.deep.equal([]);
    expect([subtype(event), event.outcome, patientOf(event)]).to.deep.equal(['read', '4', 'Patient/pb']);
    expect(event.outcomeDesc).to.be.a('string');

    const wrongType = await as('system/Patient.read', '/Observation/oa1');
    expect(wrongType.status).to.equal(403);
    const [other] = await audits(wrongType, '&outcome=4');
    expect(other.outcome).to.equal('4');
    expect(patientOf(other)).to.equal(undefined);
    expect(other.entity.some((x: any) => x.what?.reference === 'Observation/oa1')).to.equal(true);

    const noToken = await server.fhir('/Patient/pa', { headers: { 'X-Request-ID': randomUUID() } });
    expect(noToken.status).to.equal(401);
    const anonymous = (await as(admin, '/AuditEvent?patient=Patient/pa&outcome=4&_count=1000')).json.entry.map((x: any) => x.resource)
      .filter((e: any) => ofRequest(e, noToken.headers.get('x-request-id')!));
    expect(anonymous).to.have.length(1);
    expect(anonymous[0].agent[0].who.display).to.equal('unauthenticated');
  });

  it('a request refused for its path or method (no route serves it) is still recorded against the patient the path names', async () => {
    // 405: a method the path does not answer; 404: more segments than any FHIR path; both name Patient/pa.
    const wrongMethod = await as(admin, '/Patient/pa/_history', { method: 'POST', body: {} });
    expect(wrongMethod.status).to.equal(405);
    const tooLong = await as(admin, '/Patient/pa/_history/1/extra');
    expect(tooLong.status).to.equal(404);
    for (const res of [wrongMethod, tooLong]) {
      const [event, ...rest] = await audits(res, '&patient=Patient/pa');
      expect(rest).to.deep.equal([]);
      expect([event.outcome, patientOf(event)]).to.deep.equal(['4', 'Patient/pa']);
    }
    // Without a token the 401 comes first, and names the patient too.
    const requestId = randomUUID();
    const noToken = await server.fhir('/Patient/pa', { method: 'POST', body: {}, headers: { 'X-Request-ID': requestId } });
    expect(noToken.status).to.equal(401);
    const events = (await as(admin, '/AuditEvent?patient=Patient/pa&outcome=4&_count=1000')).json.entry.map((x: any) => x.resource)
      .filter((e: any) => ofRequest(e, requestId));
    expect(events).to.have.length(1);
  });

  it('requests that touch no patient data write nothing; reading AuditEvents is not itself audited', async () => {
    const before = await total();
    expect((await as(admin, '/Organization/ORG1')).status).to.equal(200);
    expect((await as(admin, '/Organization?name=surgery')).status).to.equal(200);
    expect((await server.fhir('/metadata')).status).to.equal(200);
    expect((await as(admin, '/Observation?code:text=nothing-matches')).status).to.equal(200);
    expect((await as(admin, '/AuditEvent?patient=Patient/pa')).status).to.equal(200);
    expect(await total()).to.equal(before);
  });

  it('AuditEvent cannot be created, updated, patched or deleted through the API, not even in a transaction', async () => {
    const metadata = (await server.fhir('/metadata')).json.rest[0].resource.find((r: any) => r.type === 'AuditEvent');
    expect(metadata.interaction.map((i: any) => i.code).sort()).to.deep.equal(['history-instance', 'history-type', 'read', 'search-type', 'vread']);
    expect(metadata.conditionalDelete).to.equal('not-supported');
    const [some] = (await as(admin, '/AuditEvent?patient=Patient/pa&_count=1')).json.entry.map((x: any) => x.resource);
    const before = await total();
    const body = { ...some, id: undefined, meta: undefined };
    expect((await as(admin, '/AuditEvent', { method: 'POST', body })).status).to.equal(405);
    expect((await as(admin, `/AuditEvent/${some.id}`, { method: 'PUT', body: { ...some, outcome: '0' } })).status).to.equal(405);
    expect((await as(admin, `/AuditEvent/${some.id}`, {
      method: 'PATCH', body: [{ op: 'replace', path: '/outcome', value: '8' }], headers: { 'Content-Type': 'application/json-patch+json' },
    })).status).to.equal(405);
    expect((await as(admin, `/AuditEvent/${some.id}`, { method: 'DELETE' })).status).to.equal(405);
    expect((await as(admin, '/AuditEvent?patient=Patient/pa', { method: 'DELETE' })).status).to.equal(405);
    const tx = await as(admin, '', { method: 'POST', body: { resourceType: 'Bundle', type: 'transaction', entry: [{ resource: body, request: { method: 'POST', url: 'AuditEvent' } }] } });
    expect(tx.status).to.equal(405);
    const read = await as(admin, `/AuditEvent/${some.id}`);
    expect(read.status).to.equal(200);
    expect(read.json.meta.versionId).to.equal('1');
    expect(await total()).to.equal(before);
  });

  it('a patient-context token searches the AuditEvents about its own patient only ("who looked at my record")', async () => {
    const mine = await as('patient/AuditEvent.rs', '/AuditEvent?_count=1000', {}, { patient: 'pa' });
    expect(mine.status, mine.text).to.equal(200);
    const events = mine.json.entry.map((x: any) => x.resource);
    expect(events.length).to.be.greaterThan(3);
    for (const e of events) expect(patientOf(e)).to.equal('Patient/pa');
    const theirs = await as('patient/AuditEvent.rs', '/AuditEvent?patient=Patient/pb', {}, { patient: 'pa' });
    expect(theirs.status).to.equal(200);
    expect(theirs.json.entry ?? []).to.deep.equal([]);
    expect((await as('patient/AuditEvent.rs', '/AuditEvent', { method: 'POST', body: events[0] }, { patient: 'pa' })).status).to.be.oneOf([403, 405]);
  });

  it('when the audit cannot be written the request fails closed: 503 OperationOutcome and no data', async () => {
    failAudit = true;
    try {
      const read = await as(admin, '/Patient/pa');
      expect(read.status).to.equal(503);
      expect(read.json.resourceType).to.equal('OperationOutcome');
      expect(read.text).to.not.contain('Alpha');
      expect(read.headers.get('etag')).to.equal(null);
      const search = await as(admin, '/Observation?_include=Observation:subject');
      expect(search.status).to.equal(503);
      expect(search.text).to.not.match(/Alpha|Beta|oa1/);
      // Nothing about patients: nothing to write, nothing withheld.
      expect((await as(admin, '/Organization/ORG1')).status).to.equal(200);
    } finally {
      failAudit = false;
    }
    expect((await as(admin, '/Patient/pa')).status).to.equal(200);
  });

  it('a write and its AuditEvent commit together: when the audit cannot be written, nothing is written (503)', async () => {
    const observation = (id: string, text: string) => ({ resourceType: 'Observation', id, status: 'final', code: { text }, subject: { reference: 'Patient/pa' } });
    const before = await total();
    failAudit = true;
    try {
      const put = await as(admin, '/Observation/lost', { method: 'PUT', body: observation('lost', 'never') });
      expect(put.status, put.text).to.equal(503);
      expect(put.json.resourceType).to.equal('OperationOutcome');
      const update = await as(admin, '/Observation/oa2', { method: 'PUT', body: observation('oa2', 'changed') });
      expect(update.status).to.equal(503);
      const del = await as(admin, '/Observation/oa2', { method: 'DELETE' });
      expect(del.status).to.equal(503);
      const tx = await as(admin, '', { method: 'POST', body: { resourceType: 'Bundle', type: 'transaction', entry: [
        { resource: observation('lost2', 'never'), request: { method: 'PUT', url: 'Observation/lost2' } },
      ] } });
      expect(tx.status).to.equal(503);
      expect(tx.text).to.not.contain('lost2');
    } finally {
      failAudit = false;
    }
    expect((await as(admin, '/Observation/lost')).status).to.equal(404);
    expect((await as(admin, '/Observation/lost2')).status).to.equal(404);
    const oa2 = await as(admin, '/Observation/oa2');
    expect(oa2.json.code.text).to.equal('x');
    expect(oa2.json.meta.versionId).to.equal('1');
    // Only the read of oa2 was audited (the 404s name no patient): the refused writes left no AuditEvent either.
    expect(await total()).to.equal(before + 1);
  });

  it('a conditional delete leaves a D AuditEvent for the patient of every resource it deleted', async () => {
    for (const [id, patient] of [['cd1', 'pa'], ['cd2', 'pb']]) {
      const res = await as(admin, `/Observation/${id}`, { method: 'PUT', body: { resourceType: 'Observation', id, status: 'final', code: { text: 'to-go' }, subject: { reference: `Patient/${patient}` } } });
      expect(res.status).to.equal(201);
    }
    const del = await as(admin, '/Observation?code:text=to-go&_id=cd1', { method: 'DELETE' });
    expect(del.status).to.be.oneOf([200, 204]);
    expect((await as(admin, '/Observation/cd1')).status).to.equal(410);
    expect((await audits(del)).map((e) => [subtype(e), e.action, patientOf(e)])).to.deep.equal([['delete', 'D', 'Patient/pa']]);
  });
});

describe('HTTP: audit with AUTH=off (the anonymous system user)', function () {
  this.timeout(120_000);
  let server: TestServer;
  before(async () => { server = await startTestServer({ auth: 'off' }); });
  after(async () => { await server.stop(); });

  it('requests are still audited, with the anonymous agent', async () => {
    expect((await server.fhir('/Patient/px', { method: 'PUT', body: { resourceType: 'Patient', id: 'px' } })).status).to.equal(201);
    const requestId = randomUUID();
    expect((await server.fhir('/Patient/px', { headers: { 'X-Request-ID': requestId } })).status).to.equal(200);
    const events = (await server.fhir('/AuditEvent?patient=Patient/px')).json.entry.map((x: any) => x.resource);
    expect(events.map((e: any) => e.subtype[0].code).sort()).to.deep.equal(['read', 'update']);
    const read = events.find((e: any) => e.entity.some((x: any) => x.what?.identifier?.value === requestId));
    expect(read.agent).to.have.length(1);
    expect(read.agent[0].who.display).to.equal('anonymous (AUTH=off)');
  });

  // Throughput of sequential reads, audit on vs off: AUDIT_BENCH=1 to run (prints the numbers).
  (process.env.AUDIT_BENCH ? it : it.skip)('read throughput: 2,000 sequential GET /Patient/x, audit on vs off', async () => {
    const off = await startTestServer({ auth: 'off', audit: false });
    try {
      const rate = async (s: TestServer) => {
        await s.fhir('/Patient/pz', { method: 'PUT', body: { resourceType: 'Patient', id: 'pz', name: [{ family: 'Zed' }] } });
        for (let i = 0; i < 100; i++) await s.fhir('/Patient/pz'); // warm-up
        const started = process.hrtime.bigint();
        for (let i = 0; i < 2000; i++) {
          const res = await s.fhir('/Patient/pz');
          if (res.status !== 200) throw new Error(`status ${res.status}`);
        }
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        // And 8 clients at once (250 reads each): the store's group commit shares the audit commits.
        const t8 = process.hrtime.bigint();
        await Promise.all(Array.from({ length: 8 }, async () => {
          for (let i = 0; i < 250; i++) if ((await s.fhir('/Patient/pz')).status !== 200) throw new Error('not 200');
        }));
        const ms8 = Number(process.hrtime.bigint() - t8) / 1e6;
        return { rps: Math.round(2000 / (ms / 1000)), msPerRequest: +(ms / 2000).toFixed(3), rps8Clients: Math.round(2000 / (ms8 / 1000)) };
      };
      const auditOff = await rate(off);
      const auditOn = await rate(server);
      console.log(JSON.stringify({ bench: 'sequential GET /Patient/x x2000', auditOff, auditOn }));
    } finally {
      await off.stop();
    }
  });
});
