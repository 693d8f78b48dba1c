import { expect } from 'chai';
import { dataset } from './dataset.js';
import { searchCases, type SearchCase } from './cases.js';

/**
 * Runs the search conformance cases (cases.ts over dataset.ts) against any FHIR R4 server through
 * HTTP only, so the same suite proves every store: `makeServer` starts a server with an empty
 * store and says where its FHIR base is.
 */

export interface ServerUnderTest {
  /** The FHIR base URL, without a trailing slash (e.g. http://127.0.0.1:1234/fhir). */
  base: string;
  stop(): Promise<void>;
}

interface BundleEntry {
  fullUrl?: string;
  resource?: { resourceType: string; id?: string; [key: string]: unknown };
  search?: { mode?: string };
}

interface Bundle {
  resourceType: string;
  type?: string;
  total?: number;
  link?: { relation: string; url: string }[];
  entry?: BundleEntry[];
}

interface Answer {
  status: number;
  text: string;
  json: any;
}

const FHIR_JSON = 'application/fhir+json';
/** Pages followed when a case expects every match and the server pages anyway. */
const MAX_PAGES = 20;

async function send(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, { ...init, headers: { Accept: FHIR_JSON, ...(init.headers as Record<string, string> | undefined) } });
  const text = await res.text();
  let json: any;
  try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
  return { status: res.status, text, json };
}

const key = (r: { resourceType: string; id?: string }) => `${r.resourceType}/${r.id}`;
const snippet = (text: string) => (text.length > 600 ? `${text.slice(0, 600)}...` : text);
const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function entriesOf(bundle: Bundle, mode: string): BundleEntry[] {
  return (bundle.entry ?? []).filter((e) => e.search?.mode === mode);
}

function idsOf(bundle: Bundle, mode = 'match'): string[] {
  return entriesOf(bundle, mode).map((e) => key(e.resource!));
}

function linkOf(bundle: Bundle, relation: string): string | undefined {
  return bundle.link?.find((l) => l.relation === relation)?.url;
}

/** "missing: [...] unexpected: [...]" between two id lists, for assertion messages. */
function difference(actual: string[], expected: string[]): string {
  const missing = expected.filter((id) => !actual.includes(id));
  const unexpected = actual.filter((id) => !expected.includes(id));
  const parts: string[] = [];
  if (missing.length) parts.push(`missing ${JSON.stringify(missing)}`);
  if (unexpected.length) parts.push(`unexpected ${JSON.stringify(unexpected)}`);
  if (!parts.length) parts.push(`order: got ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
  return parts.join('; ');
}

/** Checks a searchset Bundle's shape: type, entries with a resource, a search mode and a fullUrl. */
function checkBundle(bundle: Bundle, what: string): void {
  expect(bundle?.resourceType, `${what}: a Bundle`).to.equal('Bundle');
  expect(bundle.type, `${what}: Bundle.type`).to.equal('searchset');
  for (const [i, e] of (bundle.entry ?? []).entries()) {
    const mode = e.search?.mode;
    expect(['match', 'include', 'outcome'], `${what}: entry[${i}].search.mode is '${mode}'`).to.include(mode);
    expect(e.resource, `${what}: entry[${i}].resource`).to.be.an('object');
    if (mode === 'outcome') continue;
    expect(e.fullUrl, `${what}: entry[${i}].fullUrl`).to.be.a('string');
    expect(e.fullUrl!.endsWith(`/${key(e.resource!)}`), `${what}: entry[${i}].fullUrl '${e.fullUrl}' names ${key(e.resource!)}`).to.equal(true);
  }
}

async function load(base: string): Promise<void> {
  for (const resource of dataset) {
    const res = await send(`${base}/${resource.resourceType}/${resource.id}`, {
      method: 'PUT', headers: { 'Content-Type': FHIR_JSON }, body: JSON.stringify(resource),
    });
    expect([200, 201], `loading ${key(resource)}: HTTP ${res.status} ${snippet(res.text)}`).to.include(res.status);
  }
}

/** The request a case describes: GET [base]/[query], or POST [base]/[path]/_search with a form body. */
async function request(base: string, c: SearchCase): Promise<Answer> {
  const query = c.query.replaceAll('{base}', base);
  const headers: Record<string, string> = c.strict ? { Prefer: 'handling=strict' } : {};
  if (!c.post) return send(`${base}/${query}`, { headers });
  const q = query.indexOf('?');
  const path = q < 0 ? query : query.slice(0, q);
  const body = q < 0 ? '' : query.slice(q + 1);
  return send(`${base}${path ? `/${path}` : ''}/_search`, {
    method: 'POST', headers: { ...headers, 'Content-Type': 'application/x-www-form-urlencoded' }, body,
  });
}

/** The query's parameter names (before any modifier), as the server will see them. */
function parameterNames(query: string): string[] {
  const q = query.indexOf('?');
  if (q < 0) return [];
  return query.slice(q + 1).split('&').map((p) => p.split('=')[0]);
}

async function runCase(base: string, c: SearchCase): Promise<void> {
  const what = `${c.post ? 'POST ' : ''}${c.query}${c.strict ? ' (handling=strict)' : ''}`;
  const first = await request(base, c);

  if (c.status !== undefined && c.status >= 400) {
    expect(first.status, `${what}: HTTP status; body ${snippet(first.text)}`).to.equal(c.status);
    expect(first.json?.resourceType, `${what}: an OperationOutcome body; got ${snippet(first.text)}`).to.equal('OperationOutcome');
    return;
  }
  expect(first.status, `${what}: HTTP status; body ${snippet(first.text)}`).to.equal(c.status ?? 200);
  const bundle = first.json as Bundle;
  checkBundle(bundle, what);

  // A case without _count expects every match: follow next links if the server paged anyway.
  const names = parameterNames(c.query);
  const paged = names.includes('_count');
  const pages: Bundle[] = [bundle];
  if (!paged) {
    let next = linkOf(bundle, 'next');
    while (next && pages.length < MAX_PAGES) {
      const res = await send(next);
      expect(res.status, `${what}: next page ${next}: ${snippet(res.text)}`).to.equal(200);
      checkBundle(res.json, `${what} (page ${pages.length + 1})`);
      pages.push(res.json);
      next = linkOf(res.json, 'next');
    }
  }

  const matches = pages.flatMap((p) => idsOf(p, 'match'));
  const includes = pages.flatMap((p) => idsOf(p, 'include'));
  expect(new Set(matches).size, `${what}: a match appears more than once: ${JSON.stringify(matches)}`).to.equal(matches.length);
  if (c.ordered) {
    expect(matches, `${what}: ${difference(matches, c.expect)}`).to.deep.equal(c.expect);
  } else {
    expect([...matches].sort(), `${what}: ${difference(matches, c.expect)}`).to.deep.equal([...c.expect].sort());
  }

  const expectedIncludes = c.include ?? [];
  const distinctIncludes = [...new Set(includes)].sort();
  expect(distinctIncludes, `${what}: includes: ${difference(distinctIncludes, expectedIncludes)}`).to.deep.equal([...expectedIncludes].sort());
  const alsoMatched = includes.filter((id) => matches.includes(id));
  expect(alsoMatched, `${what}: resources both matched and included`).to.deep.equal([]);

  if (c.warning) {
    const outcomes = pages.flatMap((p) => entriesOf(p, 'outcome'));
    expect(outcomes.length, `${what}: an entry with search.mode 'outcome'; got ${snippet(JSON.stringify(bundle))}`).to.be.greaterThan(0);
    expect(outcomes[0].resource?.resourceType, `${what}: the outcome entry is an OperationOutcome`).to.equal('OperationOutcome');
  }

  if (c.total !== undefined) {
    expect(bundle.total, `${what}: Bundle.total`).to.equal(c.total);
  } else if (bundle.total !== undefined && !paged) {
    expect(bundle.total, `${what}: Bundle.total counts the matches`).to.equal(c.expect.length);
  }

  for (const e of pages.flatMap((p) => entriesOf(p, 'match'))) {
    for (const element of c.present ?? []) expect(e.resource, `${what}: ${key(e.resource!)} has ${element}`).to.have.property(element);
    for (const element of c.absent ?? []) expect(e.resource, `${what}: ${key(e.resource!)} has no ${element}`).to.not.have.property(element);
  }
}

/** Follows next links from `url`, calling `between(pageNumber)` after each page; returns the pages. */
async function pageThrough(url: string, between?: (page: number) => Promise<void>): Promise<Bundle[]> {
  const pages: Bundle[] = [];
  let next: string | undefined = url;
  while (next) {
    expect(pages.length, `more than ${MAX_PAGES} pages from ${url}`).to.be.lessThan(MAX_PAGES);
    const res = await send(next);
    expect(res.status, `${next}: ${snippet(res.text)}`).to.equal(200);
    checkBundle(res.json, next);
    pages.push(res.json);
    next = linkOf(res.json, 'next');
    if (next && between) await between(pages.length);
  }
  return pages;
}

function hasCategory(resource: Record<string, any>, code: string): boolean {
  return (resource.category ?? []).some((c: any) => (c.coding ?? []).some((x: any) => x.code === code));
}

export function searchConformanceSuite(title: string, makeServer: () => Promise<ServerUnderTest>): void {
  describe(`search conformance (R4 search.html): ${title}`, function () {
    this.timeout(30_000);
    let server: ServerUnderTest | undefined;
    let base = '';

    before(async function () {
      this.timeout(120_000);
      server = await makeServer();
      base = server.base.replace(/\/+$/, '');
      await load(base);
    });
    after(async () => { await server?.stop(); });

    for (const c of searchCases) {
      const label = `${c.name}: ${c.post ? 'POST ' : ''}${c.query}${c.strict ? ' [strict]' : ''}`;
      it(label, () => runCase(base, c));
    }

    describe('paging', () => {
      const vitals = dataset
        .filter((r) => r.resourceType === 'Observation' && hasCategory(r, 'vital-signs'))
        .map(key)
        .sort(byCodeUnits);

      it('_count=3 with _sort=_id: next links give every match once, in order; previous links go back', async () => {
        const url = `${base}/Observation?category=vital-signs&_sort=_id&_count=3`;
        const pages = await pageThrough(url);
        const perPage = pages.map((p) => idsOf(p));
        for (const [i, ids] of perPage.entries()) expect(ids.length, `${url}: page ${i + 1} has ${ids.length} matches`).to.be.at.most(3);
        expect(pages.length, `${url}: pages`).to.be.greaterThan(1);
        expect(perPage.flat(), `${url}: ${difference(perPage.flat(), vitals)}`).to.deep.equal(vitals);
        for (const p of pages) if (p.total !== undefined) expect(p.total, `${url}: Bundle.total`).to.equal(vitals.length);
        for (let i = 1; i < pages.length; i++) {
          const previous = linkOf(pages[i], 'previous') ?? linkOf(pages[i], 'prev'); // R4 uses both names
          expect(previous, `${url}: page ${i + 1} has a previous link`).to.be.a('string');
          const back = await send(previous!);
          expect(back.status, `${previous}: ${snippet(back.text)}`).to.equal(200);
          expect(idsOf(back.json), `${url}: the previous link of page ${i + 1}`).to.deep.equal(perPage[i - 1]);
        }
      });

      it('_count=4 in the default order: every match once', async () => {
        const url = `${base}/Observation?category=vital-signs&_count=4`;
        const seen = (await pageThrough(url)).flatMap((p) => idsOf(p));
        expect(new Set(seen).size, `${url}: repeated ids in ${JSON.stringify(seen)}`).to.equal(seen.length);
        expect([...seen].sort(byCodeUnits), `${url}: ${difference(seen, vitals)}`).to.deep.equal(vitals);
      });
    });

    describe('paging while writing', () => {
      const family = 'Pagewriter';
      const created = new Set<string>();
      const put = async (id: string, given: string) => {
        created.add(id);
        const res = await send(`${base}/Patient/${id}`, {
          method: 'PUT', headers: { 'Content-Type': FHIR_JSON },
          body: JSON.stringify({ resourceType: 'Patient', id, name: [{ family, given: [given] }] }),
        });
        expect([200, 201], `PUT Patient/${id}: ${snippet(res.text)}`).to.include(res.status);
      };
      const preexisting = ['pw-01', 'pw-02', 'pw-03', 'pw-04', 'pw-05', 'pw-06', 'pw-07', 'pw-08', 'pw-09'];

      beforeEach(async () => { for (const id of preexisting) await put(id, 'original'); });
      afterEach(async () => {
        for (const id of created) await send(`${base}/Patient/${id}`, { method: 'DELETE' });
        created.clear();
      });

      it('_sort=_id, _count=3, creating and updating Patients between pages: nothing repeated, nothing pre-existing skipped', async () => {
        const url = `${base}/Patient?family=pagewriter&_sort=_id&_count=3`;
        const pages = await pageThrough(url, async (page) => {
          if (page === 1) {
            await put('pw-00', 'new, sorts before the cursor');
            await put('pw-05a', 'new, sorts after the cursor');
            await put('pw-01', 'updated, already seen');
            await put('pw-08', 'updated, not yet seen');
          } else if (page === 2) {
            await put('pw-99', 'new, sorts last');
            await put('pw-03a', 'new, sorts before the cursor');
            await put('pw-09', 'updated, not yet seen');
          }
        });
        const seen = pages.flatMap((p) => idsOf(p)).map((id) => id.replace('Patient/', ''));
        expect(new Set(seen).size, `${url}: repeated ids in ${JSON.stringify(seen)}`).to.equal(seen.length);
        expect(preexisting.filter((id) => !seen.includes(id)), `${url}: pre-existing matches skipped (seen ${JSON.stringify(seen)})`).to.deep.equal([]);
        expect(seen, `${url}: in _id order`).to.deep.equal([...seen].sort(byCodeUnits));
        expect(seen.filter((id) => !created.has(id)), `${url}: only Pagewriter patients`).to.deep.equal([]);
      });

      it('default order, _count=3, creating Patients between pages: nothing repeated, nothing pre-existing skipped', async () => {
        const url = `${base}/Patient?family=pagewriter&_count=3`;
        let n = 0;
        const pages = await pageThrough(url, async () => {
          await put(`pw-new-${++n}`, 'new');
          await put(`pw-0${n}x`, 'new');
        });
        const seen = pages.flatMap((p) => idsOf(p)).map((id) => id.replace('Patient/', ''));
        expect(new Set(seen).size, `${url}: repeated ids in ${JSON.stringify(seen)}`).to.equal(seen.length);
        expect(preexisting.filter((id) => !seen.includes(id)), `${url}: pre-existing matches skipped (seen ${JSON.stringify(seen)})`).to.deep.equal([]);
      });
    });
  });
}
