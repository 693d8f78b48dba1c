import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { searchCases } from '../search/cases.js';
import { dataset } from '../search/dataset.js';
import { searchConformanceSuite } from '../search/runner.js';
import { DualStore } from './dual-store.js';
import { fakeMongoStore, startMongoTestServer, type MongoTestServer } from './server.js';
import { storeSemantics } from './store-semantics.js';

/**
 * The differential proof of store/mongo (ARCHITECTURE "Storage"): the Mongo adapter's filters,
 * pipelines and updates are evaluated by mingo (test/mongo/fake-db.ts) and must give exactly what
 * the SQLite store gives.
 */

/** A DualStore (SQLite reference + Mongo over the fake) with the SQLite file in a fresh temp dir. */
async function dualStore(): Promise<{ dual: DualStore; cleanup: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'vertebra-dual-'));
  const sqlite = new SqliteStore({ file: join(dir, 'db.sqlite') });
  const { store: mongo } = await fakeMongoStore();
  return { dual: new DualStore(sqlite, mongo), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function reportMismatches(dual: DualStore): void {
  expect(dual.mismatches.length, `SQLite and Mongo differ in ${dual.mismatches.length} of ${dual.calls} calls:\n${dual.mismatches.slice(0, 5).join('\n\n')}`)
    .to.equal(0);
}

// (a) The search conformance suite over HTTP against the Mongo adapter alone.
searchConformanceSuite('MongoDB (mingo differential)', async () => {
  const server = await startMongoTestServer();
  return { base: server.url, stop: () => server.stop() };
});

// (b1) The same suite again, on SQLite and Mongo in lockstep: every store call compared.
let lockstep: DualStore | undefined;
searchConformanceSuite('SQLite and MongoDB in lockstep', async () => {
  const { dual, cleanup } = await dualStore();
  lockstep = dual;
  const server = await startMongoTestServer(dual);
  return { base: server.url, stop: async () => { await server.stop(); cleanup(); } };
});
describe('store/mongo differential: the lockstep conformance run', () => {
  it('every read, search, history and write of the suite gave identical results on both stores', () => {
    expect(lockstep, 'the lockstep suite ran').to.not.equal(undefined);
    expect(lockstep!.calls, 'store calls compared').to.be.greaterThan(500);
    reportMismatches(lockstep!);
  });
});

// (b2) Paging and sorting battery: every case's query with _count=2 (and with sort variants),
// following next links to the end and previous links back to the start, all in lockstep.
const SORTS: Record<string, string[]> = {
  Patient: ['family,-birthdate', '-_lastUpdated', 'birthdate', '-given', 'identifier', '-_id'],
  Observation: ['date', '-date,code', '-value-quantity', 'subject,-_id', 'status'],
  Condition: ['onset-date', '-recorded-date', 'code'],
  Encounter: ['-date', 'class'],
  MedicationRequest: ['-authoredon', 'intent'],
  Organization: ['name', '-identifier'],
  Practitioner: ['-family', 'given'],
};

describe('store/mongo differential: paging and sorting battery (SQLite and Mongo in lockstep)', function () {
  this.timeout(300_000);
  let server: MongoTestServer;
  let dual: DualStore;
  let cleanup: () => void;
  let pagesCompared = 0;
  let sortedOk = 0;

  before(async function () {
    this.timeout(120_000);
    ({ dual, cleanup } = await dualStore());
    server = await startMongoTestServer(dual);
    for (const r of dataset) {
      const res = await server.fhir(`/${r.resourceType}/${r.id}`, { method: 'PUT', body: r });
      expect([200, 201], `PUT ${r.resourceType}/${r.id}: ${res.text.slice(0, 300)}`).to.include(res.status);
    }
  });
  after(async () => {
    await server?.stop();
    cleanup?.();
  });

  async function walk(query: string): Promise<number> {
    const base = server.url;
    const q = query.replaceAll('{base}', base);
    let res = await server.fhir(`/${q}${q.includes('?') ? '&' : '?'}_count=2`);
    if (res.status !== 200) return res.status;
    let pages = 1;
    const link = (b: any, rel: string) => b.link?.find((l: { relation: string }) => l.relation === rel)?.url as string | undefined;
    let next = link(res.json, 'next');
    while (next && pages < 12) {
      const r = await fetch(next, { headers: { Accept: 'application/fhir+json' } });
      expect(r.status, next).to.equal(200);
      res = { ...res, json: await r.json() };
      pages++;
      next = link(res.json, 'next');
    }
    let previous = link(res.json, 'previous');
    let back = 0;
    while (previous && back < 12) {
      const r = await fetch(previous, { headers: { Accept: 'application/fhir+json' } });
      expect(r.status, previous).to.equal(200);
      previous = link(await r.json(), 'previous');
      back++;
    }
    pagesCompared += pages + back;
    return 200;
  }

  it('every case of the conformance suite, two per page, forward and back', async () => {
    for (const c of searchCases) {
      if ((c.status ?? 200) >= 400 || /[?&]_count=/.test(c.query)) continue;
      await walk(c.query);
    }
    expect(pagesCompared).to.be.greaterThan(400);
    reportMismatches(dual);
  });

  it('the same with sort variants (entry keys both ways, _id, _lastUpdated, several keys)', async () => {
    for (const c of searchCases) {
      if ((c.status ?? 200) >= 400 || /[?&](_count|_sort)=/.test(c.query)) continue;
      const type = c.query.split(/[?/]/)[0];
      for (const sort of SORTS[type] ?? []) {
        if ((await walk(`${c.query}${c.query.includes('?') ? '&' : '?'}_sort=${sort}`)) === 200) sortedOk++;
      }
    }
    expect(sortedOk, 'sorted walks answered 200').to.be.greaterThan(300);
    reportMismatches(dual);
  });

  it('system search across types (_type) with _lastUpdated and _id sorts', async () => {
    for (const q of ['?_type=Patient,Observation', '?_type=Patient,Practitioner,Organization&_sort=-_lastUpdated', '?_type=Observation,Condition&_sort=_id',
      '?_type=Patient,Observation&_sort=-_id&_include=Observation:subject']) {
      expect(await walk(q), q).to.equal(200);
    }
    reportMismatches(dual);
  });
});

// (c) Store-level semantics the fake can model: atomic rollback, 409 on version conflicts,
// concurrent writers, history and reindex, compared with SQLite where both apply.
storeSemantics('MongoDB over the mingo fake', async () => {
  const { store, fake } = await fakeMongoStore();
  return { store, fake, cleanup: async () => store.close() };
});
