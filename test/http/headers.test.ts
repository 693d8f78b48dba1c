import { expect } from 'chai';
import { samplePatient, startTestServer, type TestServer } from '../support/server.js';

describe('HTTP: conditional headers, Prefer, _format, _pretty, _summary, _elements', () => {
  let server: TestServer;
  let id: string;
  let lastModified: string;
  before(async () => {
    server = await startTestServer();
    const created = await server.fhir('/Patient', { method: 'POST', body: samplePatient() });
    id = created.json.id;
    lastModified = created.headers.get('last-modified')!;
  });
  after(async () => { await server.stop(); });

  describe('If-Match on update and delete', () => {
    it('update with the current version succeeds; with a stale one is 412 and changes nothing', async () => {
      const { json } = await server.fhir('/Patient', { method: 'POST', body: samplePatient() });
      const ok = await server.fhir(`/Patient/${json.id}`, { method: 'PUT', headers: { 'If-Match': 'W/"1"' }, body: samplePatient({ id: json.id, gender: 'male' }) });
      expect(ok.status).to.equal(200);
      const stale = await server.fhir(`/Patient/${json.id}`, { method: 'PUT', headers: { 'If-Match': 'W/"1"' }, body: samplePatient({ id: json.id, gender: 'other' }) });
      expect(stale.status).to.equal(412);
      expect(stale.json.resourceType).to.equal('OperationOutcome');
      const current = await server.fhir(`/Patient/${json.id}`);
      expect(current.json.meta.versionId).to.equal('2');
      expect(current.json.gender).to.equal('male');
    });

    it('accepts the strong form "2" and refuses garbage tags (412)', async () => {
      const { json } = await server.fhir('/Patient', { method: 'POST', body: samplePatient() });
      expect((await server.fhir(`/Patient/${json.id}`, { method: 'PUT', headers: { 'If-Match': '"1"' }, body: samplePatient({ id: json.id }) })).status).to.equal(200);
      expect((await server.fhir(`/Patient/${json.id}`, { method: 'PUT', headers: { 'If-Match': 'nonsense' }, body: samplePatient({ id: json.id }) })).status).to.equal(412);
    });

    it('If-Match on update of a resource that does not exist is 412', async () => {
      const res = await server.fhir('/Patient/not-there-yet', { method: 'PUT', headers: { 'If-Match': 'W/"1"' }, body: samplePatient({ id: 'not-there-yet' }) });
      expect(res.status).to.equal(412);
      expect((await server.fhir('/Patient/not-there-yet')).status).to.equal(404);
    });

    it('delete with a stale If-Match is 412 and the resource survives; with the current one it is deleted', async () => {
      const { json } = await server.fhir('/Patient', { method: 'POST', body: samplePatient() });
      expect((await server.fhir(`/Patient/${json.id}`, { method: 'DELETE', headers: { 'If-Match': 'W/"7"' } })).status).to.equal(412);
      expect((await server.fhir(`/Patient/${json.id}`)).status).to.equal(200);
      expect((await server.fhir(`/Patient/${json.id}`, { method: 'DELETE', headers: { 'If-Match': 'W/"1"' } })).status).to.equal(200);
      expect((await server.fhir(`/Patient/${json.id}`)).status).to.equal(410);
    });
  });

  describe('conditional read', () => {
    it('If-None-Match with the current ETag is 304 with no body; with an old one is 200', async () => {
      const hit = await server.fhir(`/Patient/${id}`, { headers: { 'If-None-Match': 'W/"1"' } });
      expect(hit.status).to.equal(304);
      expect(hit.text).to.equal('');
      expect(hit.headers.get('etag')).to.equal('W/"1"');
      const star = await server.fhir(`/Patient/${id}`, { headers: { 'If-None-Match': '*' } });
      expect(star.status).to.equal(304);
      const miss = await server.fhir(`/Patient/${id}`, { headers: { 'If-None-Match': 'W/"0"' } });
      expect(miss.status).to.equal(200);
    });

    it('If-Modified-Since at or after Last-Modified is 304; before it is 200', async () => {
      expect((await server.fhir(`/Patient/${id}`, { headers: { 'If-Modified-Since': lastModified } })).status).to.equal(304);
      const later = new Date(Date.parse(lastModified) + 60_000).toUTCString();
      expect((await server.fhir(`/Patient/${id}`, { headers: { 'If-Modified-Since': later } })).status).to.equal(304);
      const earlier = new Date(Date.parse(lastModified) - 60_000).toUTCString();
      expect((await server.fhir(`/Patient/${id}`, { headers: { 'If-Modified-Since': earlier } })).status).to.equal(200);
    });

    it('If-None-Match wins over If-Modified-Since', async () => {
      const res = await server.fhir(`/Patient/${id}`, { headers: { 'If-None-Match': 'W/"0"', 'If-Modified-Since': lastModified } });
      expect(res.status).to.equal(200);
    });
  });

  describe('Prefer: return=', () => {
    it('minimal: 201 with headers and no body', async () => {
      const res = await server.fhir('/Patient', { method: 'POST', headers: { Prefer: 'return=minimal' }, body: samplePatient() });
      expect(res.status).to.equal(201);
      expect(res.text).to.equal('');
      expect(res.headers.get('location')).to.match(/\/Patient\/[0-9a-f-]{36}\/_history\/1$/);
      expect(res.headers.get('etag')).to.equal('W/"1"');
    });

    it('OperationOutcome: the outcome instead of the resource', async () => {
      const res = await server.fhir('/Patient', { method: 'POST', headers: { Prefer: 'return=OperationOutcome' }, body: samplePatient() });
      expect(res.status).to.equal(201);
      expect(res.json.resourceType).to.equal('OperationOutcome');
      expect(res.json.issue[0].severity).to.equal('information');
    });

    it('representation (and no header): the stored resource', async () => {
      const res = await server.fhir('/Patient', { method: 'POST', headers: { Prefer: 'return=representation' }, body: samplePatient() });
      expect(res.json.resourceType).to.equal('Patient');
      expect(res.json.meta.versionId).to.equal('1');
    });

    it('minimal on update and delete: no body (delete is 204)', async () => {
      const { json } = await server.fhir('/Patient', { method: 'POST', body: samplePatient() });
      const upd = await server.fhir(`/Patient/${json.id}`, { method: 'PUT', headers: { Prefer: 'return=minimal' }, body: samplePatient({ id: json.id }) });
      expect(upd.status).to.equal(200);
      expect(upd.text).to.equal('');
      const del = await server.fhir(`/Patient/${json.id}`, { method: 'DELETE', headers: { Prefer: 'return=minimal' } });
      expect(del.status).to.equal(204);
      expect(del.text).to.equal('');
    });
  });

  describe('_format, Accept and _pretty', () => {
    it('_format=json and application/fhir+json give FHIR JSON; application/json is echoed', async () => {
      expect((await server.fhir(`/Patient/${id}?_format=json`)).headers.get('content-type')).to.equal('application/fhir+json; charset=utf-8');
      expect((await server.fhir(`/Patient/${id}?_format=${encodeURIComponent('application/fhir+json')}`)).status).to.equal(200);
      const plain = await server.fhir(`/Patient/${id}`, { headers: { Accept: 'application/json' } });
      expect(plain.headers.get('content-type')).to.equal('application/json; charset=utf-8');
      expect(plain.json.id).to.equal(id);
    });

    it('XML is not served: _format=xml and an XML-only Accept are 406 with an OperationOutcome', async () => {
      const viaFormat = await server.fhir(`/Patient/${id}?_format=xml`);
      expect(viaFormat.status).to.equal(406);
      expect(viaFormat.json.resourceType).to.equal('OperationOutcome');
      expect((await server.fhir(`/Patient/${id}`, { headers: { Accept: 'application/fhir+xml' } })).status).to.equal(406);
      expect((await server.fhir(`/Patient/${id}`, { headers: { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } })).status).to.equal(200);
    });

    it('_pretty=true indents; otherwise compact', async () => {
      const pretty = await server.fhir(`/Patient/${id}?_pretty=true`);
      expect(pretty.text).to.include('\n  "resourceType": "Patient"');
      const compact = await server.fhir(`/Patient/${id}`);
      expect(compact.text).to.not.include('\n');
      expect(JSON.parse(pretty.text)).to.deep.equal(compact.json);
    });
  });

  describe('_summary and _elements on read', () => {
    const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

    it('_summary=true keeps summary elements only and tags the result SUBSETTED', async () => {
      const { json } = await server.fhir(`/Patient/${id}?_summary=true`);
      expect(json.name).to.deep.equal([{ use: 'official', family: 'Smith', given: ['Jane'] }]);
      expect(json.birthDate).to.equal('1980-01-02');
      expect(json.text).to.equal(undefined);
      expect(json.meta.tag).to.deep.include(SUBSETTED);
    });

    it('_summary=text keeps text, id, meta and mandatory elements', async () => {
      const { json } = await server.fhir(`/Patient/${id}?_summary=text`);
      expect(Object.keys(json).sort()).to.deep.equal(['id', 'meta', 'resourceType', 'text']);
    });

    it('_summary=data drops only the text', async () => {
      const { json } = await server.fhir(`/Patient/${id}?_summary=data`);
      expect(json.text).to.equal(undefined);
      expect(json.gender).to.equal('female');
      expect(json.identifier).to.have.length(1);
    });

    it('_summary=false is the whole resource, untagged', async () => {
      const { json } = await server.fhir(`/Patient/${id}?_summary=false`);
      expect(json.text).to.not.equal(undefined);
      expect(json.meta.tag).to.equal(undefined);
    });

    it('_summary=count is refused on a read (400); an unknown mode is 400', async () => {
      expect((await server.fhir(`/Patient/${id}?_summary=count`)).status).to.equal(400);
      expect((await server.fhir(`/Patient/${id}?_summary=maybe`)).status).to.equal(400);
    });

    it('_elements keeps the named elements plus id and meta, tagged SUBSETTED', async () => {
      const { json } = await server.fhir(`/Patient/${id}?_elements=gender,birthDate`);
      expect(Object.keys(json).sort()).to.deep.equal(['birthDate', 'gender', 'id', 'meta', 'resourceType']);
      expect(json.meta.tag).to.deep.include(SUBSETTED);
    });

    it('_elements keeps mandatory elements (Observation.status, code)', async () => {
      const obs = await server.fhir('/Observation', { method: 'POST', body: { resourceType: 'Observation', status: 'final', code: { text: 'pulse' }, valueQuantity: { value: 60 } } });
      const { json } = await server.fhir(`/Observation/${obs.json.id}?_elements=valueQuantity`);
      expect(json.status).to.equal('final');
      expect(json.code).to.deep.equal({ text: 'pulse' });
      expect(json.valueQuantity).to.deep.equal({ value: 60 });
    });

    it('_summary applies to vread too', async () => {
      const { json } = await server.fhir(`/Patient/${id}/_history/1?_elements=gender`);
      expect(json.gender).to.equal('female');
      expect(json.name).to.equal(undefined);
    });
  });

  describe('request and correlation ids', () => {
    it('echoes a UUID X-Request-ID and X-Correlation-ID', async () => {
      const rid = '3f2a4f4e-1b7e-4c5a-9b55-2f1d6f0f6a11';
      const res = await server.fhir('/metadata', { headers: { 'X-Request-ID': rid, 'X-Correlation-ID': 'corr-123' } });
      expect(res.headers.get('x-request-id')).to.equal(rid);
      expect(res.headers.get('x-correlation-id')).to.equal('corr-123');
    });

    it('replaces a non-UUID X-Request-ID with a fresh UUID and sets one on errors too', async () => {
      const res = await server.fhir('/Nope/1', { headers: { 'X-Request-ID': 'not-a-uuid' } });
      expect(res.status).to.equal(404);
      expect(res.headers.get('x-request-id')).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(res.headers.get('x-correlation-id')).to.equal(null);
    });
  });
});
