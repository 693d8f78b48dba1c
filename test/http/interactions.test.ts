import { expect } from 'chai';
import { samplePatient, startTestServer, type TestServer } from '../support/server.js';

describe('HTTP: read, vread, create, update, delete', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server.stop(); });

  it('create assigns an id and version 1, ignoring any id in the body, and returns Location, ETag, Last-Modified', async () => {
    const res = await server.fhir('/Patient', { method: 'POST', body: samplePatient({ id: 'client-chosen' }) });
    expect(res.status).to.equal(201);
    expect(res.json.resourceType).to.equal('Patient');
    expect(res.json.id).to.match(/^[0-9a-f-]{36}$/);
    expect(res.json.meta.versionId).to.equal('1');
    expect(Date.parse(res.json.meta.lastUpdated)).to.be.closeTo(Date.now(), 10_000);
    expect(res.headers.get('location')).to.equal(`${server.url}/Patient/${res.json.id}/_history/1`);
    expect(res.headers.get('etag')).to.equal('W/"1"');
    expect(res.headers.get('last-modified')).to.equal(new Date(res.json.meta.lastUpdated).toUTCString());
    expect(res.headers.get('content-type')).to.equal('application/fhir+json; charset=utf-8');
  });

  it('read returns the current version with ETag and Last-Modified', async () => {
    const created = await server.fhir('/Patient', { method: 'POST', body: samplePatient() });
    const res = await server.fhir(`/Patient/${created.json.id}`);
    expect(res.status).to.equal(200);
    expect(res.json).to.deep.equal(created.json);
    expect(res.headers.get('etag')).to.equal('W/"1"');
    expect(res.headers.get('last-modified')).to.equal(created.headers.get('last-modified'));
  });

  it('update replaces the resource, bumps the version and keeps every version readable by vread', async () => {
    const created = await server.fhir('/Patient', { method: 'POST', body: samplePatient() });
    const id = created.json.id;
    const updated = await server.fhir(`/Patient/${id}`, { method: 'PUT', body: samplePatient({ id, gender: 'other' }) });
    expect(updated.status).to.equal(200);
    expect(updated.json.meta.versionId).to.equal('2');
    expect(updated.headers.get('etag')).to.equal('W/"2"');
    expect(updated.headers.get('location')).to.equal(null);
    expect((await server.fhir(`/Patient/${id}`)).json.gender).to.equal('other');
    const v1 = await server.fhir(`/Patient/${id}/_history/1`);
    expect(v1.status).to.equal(200);
    expect(v1.json.gender).to.equal('female');
    expect(v1.headers.get('etag')).to.equal('W/"1"');
    expect((await server.fhir(`/Patient/${id}/_history/2`)).json.gender).to.equal('other');
    expect((await server.fhir(`/Patient/${id}/_history/3`)).status).to.equal(404);
    expect((await server.fhir(`/Patient/${id}/_history/abc`)).status).to.equal(404);
  });

  it('update of an unknown id creates it with the client id (update-as-create): 201 and Location', async () => {
    const res = await server.fhir('/Patient/pat-client-1', { method: 'PUT', body: samplePatient({ id: 'pat-client-1' }) });
    expect(res.status).to.equal(201);
    expect(res.json.id).to.equal('pat-client-1');
    expect(res.json.meta.versionId).to.equal('1');
    expect(res.headers.get('location')).to.equal(`${server.url}/Patient/pat-client-1/_history/1`);
    expect((await server.fhir('/Patient/pat-client-1')).status).to.equal(200);
  });

  it('update refuses a body without id, with another id, or of another type (400) and changes nothing', async () => {
    await server.fhir('/Patient/pat-guard', { method: 'PUT', body: samplePatient({ id: 'pat-guard' }) });
    const noId = await server.fhir('/Patient/pat-guard', { method: 'PUT', body: samplePatient({ gender: 'male' }) });
    expect(noId.status).to.equal(400);
    expect(noId.json.resourceType).to.equal('OperationOutcome');
    const otherId = await server.fhir('/Patient/pat-guard', { method: 'PUT', body: samplePatient({ id: 'other', gender: 'male' }) });
    expect(otherId.status).to.equal(400);
    expect(otherId.json.issue[0].expression).to.deep.equal(['Patient.id']);
    const otherType = await server.fhir('/Patient/pat-guard', { method: 'PUT', body: { resourceType: 'Organization', id: 'pat-guard' } });
    expect(otherType.status).to.equal(400);
    const current = await server.fhir('/Patient/pat-guard');
    expect(current.json.meta.versionId).to.equal('1');
    expect(current.json.gender).to.equal('female');
  });

  it('delete writes a versioned tombstone: read is 410, history keeps it, vread of the old version still works', async () => {
    const created = await server.fhir('/Patient', { method: 'POST', body: samplePatient() });
    const id = created.json.id;
    const del = await server.fhir(`/Patient/${id}`, { method: 'DELETE' });
    expect(del.status).to.equal(200);
    expect(del.json.resourceType).to.equal('OperationOutcome');
    expect(del.headers.get('etag')).to.equal('W/"2"');
    const read = await server.fhir(`/Patient/${id}`);
    expect(read.status).to.equal(410);
    expect(read.json.resourceType).to.equal('OperationOutcome');
    expect(read.json.issue[0].code).to.equal('deleted');
    expect((await server.fhir(`/Patient/${id}/_history/1`)).status).to.equal(200);
    expect((await server.fhir(`/Patient/${id}/_history/2`)).status).to.equal(410);
    const history = await server.fhir(`/Patient/${id}/_history`);
    expect(history.json.total).to.equal(2);
    expect(history.json.entry[0].request).to.deep.equal({ method: 'DELETE', url: `Patient/${id}` });
    expect(history.json.entry[0].resource).to.equal(undefined);
  });

  it('deleting again succeeds without a new version; deleting an unknown resource is 404', async () => {
    const created = await server.fhir('/Patient', { method: 'POST', body: samplePatient() });
    const id = created.json.id;
    await server.fhir(`/Patient/${id}`, { method: 'DELETE' });
    const again = await server.fhir(`/Patient/${id}`, { method: 'DELETE' });
    expect(again.status).to.equal(200);
    expect((await server.fhir(`/Patient/${id}/_history`)).json.total).to.equal(2);
    expect((await server.fhir('/Patient/never-existed', { method: 'DELETE' })).status).to.equal(404);
  });

  it('update after delete brings the resource back as a new version (201)', async () => {
    await server.fhir('/Patient/pat-revive', { method: 'PUT', body: samplePatient({ id: 'pat-revive' }) });
    await server.fhir('/Patient/pat-revive', { method: 'DELETE' });
    const revived = await server.fhir('/Patient/pat-revive', { method: 'PUT', body: samplePatient({ id: 'pat-revive' }) });
    expect(revived.status).to.equal(201);
    expect(revived.json.meta.versionId).to.equal('3');
    expect((await server.fhir('/Patient/pat-revive')).status).to.equal(200);
  });

  it('keeps client meta (profile, tag, security) but owns versionId and lastUpdated', async () => {
    const res = await server.fhir('/Patient', {
      method: 'POST',
      body: samplePatient({ meta: { versionId: '99', lastUpdated: '2001-01-01T00:00:00Z', profile: ['https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient'], tag: [{ system: 'urn:test', code: 't' }] } }),
    });
    expect(res.json.meta.versionId).to.equal('1');
    expect(res.json.meta.lastUpdated).to.not.equal('2001-01-01T00:00:00Z');
    expect(res.json.meta.profile).to.deep.equal(['https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient']);
    expect(res.json.meta.tag).to.deep.equal([{ system: 'urn:test', code: 't' }]);
  });

  it('concurrent updates never lose a version', async () => {
    await server.fhir('/Patient/pat-race', { method: 'PUT', body: samplePatient({ id: 'pat-race' }) });
    const n = 20;
    const results = await Promise.all(Array.from({ length: n }, (_, i) =>
      server.fhir('/Patient/pat-race', { method: 'PUT', body: samplePatient({ id: 'pat-race', name: [{ family: `Race${i}` }] }) })));
    expect(results.map((r) => r.status)).to.deep.equal(Array(n).fill(200));
    const versions = results.map((r) => Number(r.json.meta.versionId)).sort((a, b) => a - b);
    expect(versions).to.deep.equal(Array.from({ length: n }, (_, i) => i + 2));
    const history = await server.fhir('/Patient/pat-race/_history?_count=100');
    expect(history.json.total).to.equal(n + 1);
  });

  it('accepts a client id with letters, digits, - and . up to 64 characters, and refuses others (400)', async () => {
    const long = 'a'.repeat(64);
    expect((await server.fhir(`/Basic/${long}`, { method: 'PUT', body: { resourceType: 'Basic', id: long, code: { text: 'x' } } })).status).to.equal(201);
    const tooLong = 'a'.repeat(65);
    const bad = await server.fhir(`/Basic/${tooLong}`, { method: 'PUT', body: { resourceType: 'Basic', id: tooLong, code: { text: 'x' } } });
    expect(bad.status).to.equal(400);
    expect((await server.fhir('/Basic/has_underscore')).status).to.equal(400);
  });
});
