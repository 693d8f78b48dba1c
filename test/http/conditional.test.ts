import { expect } from 'chai';
import { samplePatient, startTestServer, type TestServer } from '../support/server.js';

const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const withNhs = (nhs: string, extra: Record<string, unknown> = {}) =>
  samplePatient({ identifier: [{ system: NHS, value: nhs }], ...extra });

describe('HTTP: conditional create, update and delete', () => {
  let server: TestServer;
  beforeEach(async () => { server = await startTestServer(); });
  afterEach(async () => { await server.stop(); });

  const count = async (query: string) => (await server.fhir(`/Patient?${query}&_summary=count`)).json.total;

  it('If-None-Exist: creates once, then answers 200 with the existing resource; two matches are a 412', async () => {
    const headers = { 'If-None-Exist': `identifier=${NHS}|9000000009` };
    const first = await server.fhir('/Patient', { method: 'POST', body: withNhs('9000000009'), headers });
    expect(first.status).to.equal(201);
    const again = await server.fhir('/Patient', { method: 'POST', body: withNhs('9000000009', { gender: 'male' }), headers });
    expect(again.status).to.equal(200);
    expect(again.json.id).to.equal(first.json.id);
    expect(again.json.gender, 'nothing was written').to.equal('female');
    expect(await count(`identifier=${NHS}|9000000009`)).to.equal(1);

    await server.fhir('/Patient', { method: 'POST', body: withNhs('9000000017') });
    await server.fhir('/Patient', { method: 'POST', body: withNhs('9000000017') });
    const ambiguous = await server.fhir('/Patient', {
      method: 'POST', body: withNhs('9000000017'), headers: { 'If-None-Exist': `identifier=${NHS}|9000000017` },
    });
    expect(ambiguous.status).to.equal(412);
    expect(ambiguous.json.resourceType).to.equal('OperationOutcome');
    expect(await count(`identifier=${NHS}|9000000017`)).to.equal(2);
  });

  it('concurrent conditional creates with the same identifier produce exactly one resource', async () => {
    const headers = { 'If-None-Exist': `Patient?identifier=${NHS}|9000000025` };
    const results = await Promise.all(Array.from({ length: 12 }, () =>
      server.fhir('/Patient', { method: 'POST', body: withNhs('9000000025'), headers })));
    expect(results.map((r) => r.status).sort()).to.deep.equal([200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.json.id)).size).to.equal(1);
    expect(await count(`identifier=${NHS}|9000000025`)).to.equal(1);
  });

  it('criteria that are unknown or empty are refused rather than matching everything', async () => {
    await server.fhir('/Patient', { method: 'POST', body: withNhs('9000000009') });
    const unknown = await server.fhir('/Patient', {
      method: 'POST', body: withNhs('9000000009'), headers: { 'If-None-Exist': 'shoe-size=9' },
    });
    expect(unknown.status).to.equal(400);
    expect((await server.fhir('/Patient', { method: 'PUT', body: withNhs('9000000009') })).status).to.equal(400);
    expect((await server.fhir('/Patient?_count=5', { method: 'DELETE' })).status).to.equal(400);
    expect((await server.fhir('/Patient?_summary=count')).json.total, 'nothing was created or deleted').to.equal(1);
  });

  it('conditional update: creates on no match, updates the one match, 400 on a foreign id, 412 on several', async () => {
    const created = await server.fhir(`/Patient?identifier=${NHS}|9000000009`, { method: 'PUT', body: withNhs('9000000009') });
    expect(created.status).to.equal(201);
    const id = created.json.id;
    const updated = await server.fhir(`/Patient?identifier=${NHS}|9000000009`, { method: 'PUT', body: withNhs('9000000009', { gender: 'other' }) });
    expect(updated.status).to.equal(200);
    expect(updated.json.id).to.equal(id);
    expect(updated.json.meta.versionId).to.equal('2');
    expect(updated.headers.get('etag')).to.equal('W/"2"');

    const foreign = await server.fhir(`/Patient?identifier=${NHS}|9000000009`, { method: 'PUT', body: withNhs('9000000009', { id: 'someone-else' }) });
    expect(foreign.status).to.equal(400);

    const withId = await server.fhir(`/Patient?identifier=${NHS}|9000000033`, { method: 'PUT', body: withNhs('9000000033', { id: 'chosen-id' }) });
    expect(withId.status, 'no match with an id: update as create').to.equal(201);
    expect(withId.json.id).to.equal('chosen-id');

    const hijack = await server.fhir(`/Patient?identifier=${NHS}|9000000068`, { method: 'PUT', body: withNhs('9000000068', { id: id, gender: 'male' }) });
    expect(hijack.status, 'an existing resource that does not match the criteria is not overwritten').to.equal(409);

    const several = await server.fhir(`/Patient?identifier=${NHS}|9000000009,${NHS}|9000000033`, { method: 'PUT', body: withNhs('9000000041') });
    expect(several.status).to.equal(412);
    expect((await server.fhir(`/Patient/${id}`)).json.meta.versionId, 'a failed request changes nothing').to.equal('2');
  });

  it('conditional delete: one match is deleted; several are a 412; no match deletes nothing', async () => {
    const a = (await server.fhir('/Patient', { method: 'POST', body: withNhs('9000000009') })).json.id;
    await server.fhir('/Patient', { method: 'POST', body: withNhs('9000000017', { gender: 'male' }) });
    await server.fhir('/Patient', { method: 'POST', body: withNhs('9000000025', { gender: 'male' }) });

    const one = await server.fhir(`/Patient?identifier=${NHS}|9000000009`, { method: 'DELETE' });
    expect(one.status).to.equal(200);
    expect(one.headers.get('etag')).to.equal('W/"2"');
    expect((await server.fhir(`/Patient/${a}`)).status).to.equal(410);

    const several = await server.fhir('/Patient?gender=male', { method: 'DELETE' });
    expect(several.status).to.equal(412);
    expect(await count('gender=male')).to.equal(2);

    const none = await server.fhir('/Patient?gender=unknown', { method: 'DELETE' });
    expect(none.status).to.equal(200);
    expect(none.json.issue[0].diagnostics).to.contain('nothing was deleted');
  });

  it('conditional delete of several matches when the server allows it', async () => {
    const multi = await startTestServer({ conditionalDeleteMultiple: true });
    try {
      for (const nhs of ['9000000009', '9000000017', '9000000025']) await multi.fhir('/Patient', { method: 'POST', body: withNhs(nhs) });
      const res = await multi.fhir('/Patient?gender=female', { method: 'DELETE' });
      expect(res.status).to.equal(200);
      expect((await multi.fhir('/Patient?_summary=count')).json.total).to.equal(0);
      const capability = (await multi.fhir('/metadata')).json.rest[0].resource.find((r: any) => r.type === 'Patient');
      expect(capability.conditionalDelete).to.equal('multiple');
    } finally {
      await multi.stop();
    }
  });
});
