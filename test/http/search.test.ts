import { expect } from 'chai';
import { rmSync } from 'node:fs';
import { samplePatient, startTestServer, type TestServer } from '../support/server.js';

/**
 * The HTTP side of search: the Bundle, links and paging, POST _search, system and compartment
 * search, lenient/strict handling, _summary/_elements, custom SearchParameters and $reindex.
 * What each parameter means is the conformance suite's business (test/search).
 */
describe('HTTP: search interactions', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    for (const [id, family, gender] of [['p1', 'Able', 'female'], ['p2', 'Baker', 'male'], ['p3', 'Carter', 'female'], ['p4', 'Dyer', 'female']]) {
      const res = await server.fhir(`/Patient/${id}`, { method: 'PUT', body: samplePatient({ id, name: [{ family }], gender }) });
      expect(res.status).to.equal(201);
    }
    await server.fhir('/Organization/ORG01', { method: 'PUT', body: { resourceType: 'Organization', id: 'ORG01', name: 'Able Surgery' } });
    await server.fhir('/Observation/ob1', {
      method: 'PUT',
      body: { resourceType: 'Observation', id: 'ob1', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } },
    });
  });
  after(async () => { await server.stop(); });

  const ids = (bundle: any, mode = 'match') =>
    (bundle.entry ?? []).filter((e: any) => e.search?.mode === mode).map((e: any) => `${e.resource.resourceType}/${e.resource.id}`);

  it('GET /Patient answers a searchset Bundle with total, self link, fullUrl and search.mode', async () => {
    const { status, json } = await server.fhir('/Patient?gender=female&_sort=family');
    expect(status).to.equal(200);
    expect(json.resourceType).to.equal('Bundle');
    expect(json.type).to.equal('searchset');
    expect(json.total).to.equal(3);
    expect(json.link.find((l: any) => l.relation === 'self').url).to.equal(`${server.url}/Patient?gender=female&_sort=family`);
    expect(ids(json)).to.deep.equal(['Patient/p1', 'Patient/p3', 'Patient/p4']);
    expect(json.entry[0].fullUrl).to.equal(`${server.url}/Patient/p1`);
  });

  it('an empty result is a Bundle with total 0 and no entry array', async () => {
    const { json } = await server.fhir('/Patient?family=Nobody');
    expect(json.total).to.equal(0);
    expect(json).to.not.have.property('entry');
  });

  it('pages with next and previous links that never repeat or skip', async () => {
    const seen: string[] = [];
    let url: string | undefined = `${server.url}/Patient?_count=1&_sort=family`;
    let pages = 0;
    let last: any;
    while (url) {
      const res = await fetch(url);
      last = await res.json();
      seen.push(...ids(last));
      url = last.link.find((l: any) => l.relation === 'next')?.url;
      pages++;
    }
    expect(pages).to.equal(4);
    expect(seen).to.deep.equal(['Patient/p1', 'Patient/p2', 'Patient/p3', 'Patient/p4']);
    const previous = last.link.find((l: any) => l.relation === 'previous')?.url;
    expect(previous, 'the last page links back').to.be.a('string');
    expect(ids(await (await fetch(previous)).json())).to.deep.equal(['Patient/p3']);
  });

  it('POST /Patient/_search takes a form body, combined with the URL query', async () => {
    const res = await server.fhir('/Patient/_search?gender=female', {
      method: 'POST', body: 'family=Carter', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect(res.status).to.equal(200);
    expect(ids(res.json)).to.deep.equal(['Patient/p3']);
    const wrong = await server.fhir('/Patient/_search', { method: 'POST', body: { family: 'Carter' } });
    expect(wrong.status).to.equal(415);
    expect(wrong.json.resourceType).to.equal('OperationOutcome');
  });

  it('system search over _type, and POST /_search', async () => {
    const { json } = await server.fhir('/?_type=Patient,Organization&_id=p2,ORG01');
    expect(ids(json).sort()).to.deep.equal(['Organization/ORG01', 'Patient/p2']);
    const post = await server.fhir('/_search', {
      method: 'POST', body: '_type=Organization&name=able', headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    expect(ids(post.json)).to.deep.equal(['Organization/ORG01']);
  });

  it('compartment search: /Patient/{id}/Observation', async () => {
    expect(ids((await server.fhir('/Patient/p1/Observation')).json)).to.deep.equal(['Observation/ob1']);
    expect((await server.fhir('/Patient/p2/Observation')).json.total).to.equal(0);
  });

  it('_summary=count answers only the total; _elements subsets each entry and marks it SUBSETTED', async () => {
    const count = (await server.fhir('/Patient?gender=female&_summary=count')).json;
    expect(count.total).to.equal(3);
    expect(count).to.not.have.property('entry');
    const subsetted = (await server.fhir('/Patient?_id=p1&_elements=gender')).json.entry[0].resource;
    expect(subsetted).to.not.have.property('name');
    expect(subsetted.gender).to.equal('female');
    expect(subsetted.meta.tag.map((t: any) => t.code)).to.include('SUBSETTED');
  });

  it('unknown parameters: ignored with a warning by default, 400 under Prefer: handling=strict', async () => {
    const lenient = await server.fhir('/Patient?gender=male&shoe-size=9');
    expect(lenient.status).to.equal(200);
    expect(ids(lenient.json)).to.deep.equal(['Patient/p2']);
    const outcome = lenient.json.entry.find((e: any) => e.search.mode === 'outcome').resource;
    expect(outcome.resourceType).to.equal('OperationOutcome');
    expect(outcome.issue[0].severity).to.equal('warning');
    expect(outcome.issue[0].diagnostics).to.contain('shoe-size');
    const strict = await server.fhir('/Patient?gender=male&shoe-size=9', { headers: { Prefer: 'handling=strict' } });
    expect(strict.status).to.equal(400);
    expect(strict.json.resourceType).to.equal('OperationOutcome');
  });

  it('malformed values are a 400 naming the parameter; a foreign cursor is a 400', async () => {
    const bad = await server.fhir('/Patient?birthdate=1980-13');
    expect(bad.status).to.equal(400);
    expect(JSON.stringify(bad.json.issue)).to.contain('birthdate');
    const first = (await server.fhir('/Patient?_count=1&_sort=family')).json;
    const cursor = new URL(first.link.find((l: any) => l.relation === 'next').url).searchParams.get('_cursor')!;
    const foreign = await server.fhir(`/Organization?_cursor=${encodeURIComponent(cursor)}`);
    expect(foreign.status).to.equal(400);
  });

  it('unknown types are 404 and other methods 405, as OperationOutcomes', async () => {
    expect((await server.fhir('/Nonsense?x=1')).status).to.equal(404);
    const res = await server.fhir('/Patient/_search');
    expect(res.status).to.equal(405);
    expect(res.headers.get('allow')).to.equal('POST');
    expect(res.json.resourceType).to.equal('OperationOutcome');
  });

  it('the CapabilityStatement lists search-type and the search parameters of each type', async () => {
    const { json } = await server.fhir('/metadata');
    const patient = json.rest[0].resource.find((r: any) => r.type === 'Patient');
    expect(patient.interaction.map((i: any) => i.code)).to.include('search-type');
    const names = patient.searchParam.map((p: any) => p.name);
    expect(names).to.include.members(['family', 'birthdate', 'identifier', 'general-practitioner', '_id', '_lastUpdated']);
    expect(json.rest[0].interaction.map((i: any) => i.code)).to.include('search-system');
  });

  it('a reference to another server is never taken for a local resource (compartments, chains, includes)', async () => {
    await server.fhir('/Observation/foreign', {
      method: 'PUT',
      body: { resourceType: 'Observation', id: 'foreign', status: 'final', code: { text: 'x' }, subject: { reference: 'https://elsewhere.example/fhir/Patient/p1' } },
    });
    expect(ids((await server.fhir('/Patient/p1/Observation')).json)).to.deep.equal(['Observation/ob1']);
    expect(ids((await server.fhir('/Observation?subject=Patient/p1')).json)).to.deep.equal(['Observation/ob1']);
    expect(ids((await server.fhir('/Observation?subject:Patient.family=Able')).json)).to.deep.equal(['Observation/ob1']);
    expect(ids((await server.fhir('/Observation?_id=foreign&_include=Observation:subject')).json, 'include')).to.deep.equal([]);
    expect(ids((await server.fhir('/Observation?subject=https://elsewhere.example/fhir/Patient/p1')).json)).to.deep.equal(['Observation/foreign']);
    // A reference written with this server's own base is a local one.
    expect(ids((await server.fhir(`/Observation?subject=${server.url}/Patient/p1`)).json)).to.deep.equal(['Observation/ob1']);
  });

  it('paging an ap (approximate) date search follows its next links', async () => {
    const first = (await server.fhir('/Patient?birthdate=ap1980-01-02&_count=2&_sort=_id')).json;
    const next = first.link.find((l: any) => l.relation === 'next').url;
    const second = await fetch(next);
    expect(second.status).to.equal(200);
    expect(ids(await second.json())).to.deep.equal(['Patient/p3', 'Patient/p4']);
  });

  it('a system search with a parameter some types lack is a 400, not a search of everything', async () => {
    const res = await server.fhir('/?_type=Patient,Organization&gender=male');
    expect(res.status).to.equal(400);
    expect(JSON.stringify(res.json.issue)).to.contain('gender');
  });

  it(':in works against R4 base ValueSets the server ships (administrative-gender)', async () => {
    const { json } = await server.fhir('/Patient?gender:in=http://hl7.org/fhir/ValueSet/administrative-gender');
    expect(json.total).to.equal(4);
  });
});

describe('HTTP: custom SearchParameters and $reindex', () => {
  const nickname = {
    resourceType: 'SearchParameter', id: 'patient-nickname', url: 'https://vertebra.test/SearchParameter/patient-nickname',
    name: 'nickname', status: 'active', description: 'Names used as nicknames', code: 'nickname', base: ['Patient'], type: 'string',
    expression: "Patient.name.where(use = 'nickname').given",
  };
  const withNickname = (id: string, nick: string) =>
    samplePatient({ id, name: [{ family: 'Official' }, { use: 'nickname', given: [nick] }] });

  it('a SearchParameter created through the API indexes new writes at once; $reindex covers the old ones; it survives a restart', async () => {
    const first = await startTestServer();
    try {
      expect((await first.fhir('/Patient/old1', { method: 'PUT', body: withNickname('old1', 'Sparky') })).status).to.equal(201);
      expect((await first.fhir('/SearchParameter/patient-nickname', { method: 'PUT', body: nickname })).status).to.equal(201);
      expect((await first.fhir('/Patient/new1', { method: 'PUT', body: withNickname('new1', 'Sparrow') })).status).to.equal(201);

      const before = await first.fhir('/Patient?nickname=spar', { headers: { Prefer: 'handling=strict' } });
      expect(before.status, 'the new parameter is known at once').to.equal(200);
      expect(ids(before.json)).to.deep.equal(['Patient/new1']);

      const reindex = await first.fhir('/Patient/$reindex', { method: 'POST' });
      expect(reindex.status).to.equal(200);
      expect(reindex.json.parameter.find((p: any) => p.name === 'count').valueInteger).to.equal(2);
      expect(reindex.json.parameter.some((p: any) => p.name === 'progress')).to.equal(true);
      expect(ids((await first.fhir('/Patient?nickname=spar&_sort=_id')).json)).to.deep.equal(['Patient/new1', 'Patient/old1']);
    } finally {
      await first.close();
    }
    const second = await startTestServer({ dataDir: first.dataDir });
    try {
      const after = await second.fhir('/Patient?nickname=sparr', { headers: { Prefer: 'handling=strict' } });
      expect(after.status, 'the parameter is loaded again at start-up').to.equal(200);
      expect(ids(after.json)).to.deep.equal(['Patient/new1']);

      expect((await second.fhir('/SearchParameter/patient-nickname', { method: 'DELETE' })).status).to.equal(200);
      const gone = await second.fhir('/Patient?nickname=spar', { headers: { Prefer: 'handling=strict' } });
      expect(gone.status, 'a deleted SearchParameter is no longer in force').to.equal(400);
    } finally {
      await second.stop();
      rmSync(first.dataDir, { recursive: true, force: true });
    }
  });

  it('a SearchParameter whose expression cannot be compiled is refused and changes nothing', async () => {
    const server = await startTestServer();
    try {
      const res = await server.fhir('/SearchParameter', { method: 'POST', body: { ...nickname, id: undefined, expression: 'Patient.name.where(' } });
      expect(res.status).to.equal(422);
      expect(res.json.issue[0].expression).to.deep.equal(['SearchParameter.expression']);
      expect((await server.fhir('/SearchParameter')).json.total).to.equal(0);
    } finally {
      await server.stop();
    }
  });

  const ids = (bundle: any) => (bundle.entry ?? []).filter((e: any) => e.search?.mode === 'match').map((e: any) => `${e.resource.resourceType}/${e.resource.id}`);
});
