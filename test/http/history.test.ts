import { expect } from 'chai';
import { samplePatient, startTestServer, type TestServer } from '../support/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('HTTP: history (instance, type, system) with _count, _since, _at and paging', () => {
  let server: TestServer;
  const stamps: string[] = [];
  before(async () => {
    // System history counts every version on the server: the audit trail's own AuditEvents
    // (test/http/audit.test.ts) would be counted too.
    server = await startTestServer({ audit: false });
    // Patient/h1: three versions, a second apart so _since/_at can tell them apart.
    for (let i = 1; i <= 3; i++) {
      const res = await server.fhir('/Patient/h1', { method: 'PUT', body: samplePatient({ id: 'h1', name: [{ family: `Version${i}` }] }) });
      stamps.push(res.json.meta.lastUpdated);
      await sleep(1100);
    }
    await server.fhir('/Organization/ORG01', { method: 'PUT', body: { resourceType: 'Organization', id: 'ORG01', name: 'Practice' } });
    await server.fhir('/Patient/h2', { method: 'PUT', body: samplePatient({ id: 'h2' }) });
    await server.fhir('/Patient/h2', { method: 'DELETE' });
  });
  after(async () => { await server.stop(); });

  it('instance history: every version newest first, as a history Bundle', async () => {
    const { status, json } = await server.fhir('/Patient/h1/_history');
    expect(status).to.equal(200);
    expect(json.resourceType).to.equal('Bundle');
    expect(json.type).to.equal('history');
    expect(json.total).to.equal(3);
    expect(json.entry.map((e: any) => e.resource.meta.versionId)).to.deep.equal(['3', '2', '1']);
    expect(json.entry[2].request).to.deep.equal({ method: 'PUT', url: 'Patient/h1' });
    expect(json.entry[0].response.etag).to.equal('W/"3"');
    expect(json.entry[0].fullUrl).to.equal(`${server.url}/Patient/h1`);
    expect(json.link[0]).to.deep.equal({ relation: 'self', url: `${server.url}/Patient/h1/_history` });
  });

  it('type history covers all resources of the type, deletions included', async () => {
    const { json } = await server.fhir('/Patient/_history');
    expect(json.total).to.equal(5);
    expect(json.entry[0].request).to.deep.equal({ method: 'DELETE', url: 'Patient/h2' });
    expect(json.entry.every((e: any) => e.fullUrl.includes('/Patient/'))).to.equal(true);
  });

  it('system history covers every type', async () => {
    const { json } = await server.fhir('/_history');
    expect(json.total).to.equal(6);
    expect(json.entry.map((e: any) => e.fullUrl.split('/fhir/')[1])).to.include('Organization/ORG01');
  });

  it('_count pages with next links that neither repeat nor skip, even when writes happen between pages', async () => {
    const first = await server.fhir('/_history?_count=2');
    expect(first.json.entry).to.have.length(2);
    const next = first.json.link.find((l: any) => l.relation === 'next');
    expect(next.url).to.match(/_count=2/).and.to.match(/_cursor=/);
    // A write between pages must not shift the next page.
    await server.fhir('/Organization/ORG02', { method: 'PUT', body: { resourceType: 'Organization', id: 'ORG02', name: 'Later' } });
    const seen = first.json.entry.map((e: any) => `${e.fullUrl}|${e.response.etag}`);
    let url: string | undefined = next.url;
    while (url) {
      const page = await server.fhir(url.slice(server.url.length));
      seen.push(...page.json.entry.map((e: any) => `${e.fullUrl}|${e.response.etag}`));
      url = page.json.link.find((l: any) => l.relation === 'next')?.url;
    }
    expect(seen).to.have.length(6);
    expect(new Set(seen).size).to.equal(6);
    await server.fhir('/Organization/ORG02', { method: 'DELETE' });
  });

  it('_count=0 returns the total only; an invalid _count is 400', async () => {
    const { json } = await server.fhir('/Patient/h1/_history?_count=0');
    expect(json.total).to.equal(3);
    expect(json.entry).to.equal(undefined);
    expect((await server.fhir('/Patient/h1/_history?_count=-1')).status).to.equal(400);
    expect((await server.fhir('/Patient/h1/_history?_count=lots')).status).to.equal(400);
  });

  it('_since keeps versions written at or after the instant', async () => {
    const { json } = await server.fhir(`/Patient/h1/_history?_since=${encodeURIComponent(stamps[1])}`);
    expect(json.entry.map((e: any) => e.resource.meta.versionId)).to.deep.equal(['3', '2']);
    expect((await server.fhir('/Patient/h1/_history?_since=not-a-date')).status).to.equal(400);
  });

  it('_at keeps the versions that were current at some point in the given time', async () => {
    const justAfterV2 = new Date(Date.parse(stamps[1]) + 300).toISOString();
    const { json } = await server.fhir(`/Patient/h1/_history?_at=${encodeURIComponent(justAfterV2)}`);
    expect(json.entry.map((e: any) => e.resource.meta.versionId)).to.deep.equal(['2']);
    // A whole day (date precision) spans all three versions.
    const day = stamps[0].slice(0, 10);
    const dayRes = await server.fhir(`/Patient/h1/_history?_at=${day}`);
    expect(dayRes.json.entry.length).to.be.at.least(stamps[2].slice(0, 10) === day ? 3 : 1);
    expect((await server.fhir('/Patient/h1/_history?_at=2020-13')).status).to.equal(400);
  });

  it('_summary and _elements apply to history entries; _summary=count gives the total only', async () => {
    const elements = await server.fhir('/Patient/h1/_history?_elements=name');
    expect(Object.keys(elements.json.entry[0].resource).sort()).to.deep.equal(['id', 'meta', 'name', 'resourceType']);
    const count = await server.fhir('/Patient/h1/_history?_summary=count');
    expect(count.json.total).to.equal(3);
    expect(count.json.entry).to.equal(undefined);
  });
});
