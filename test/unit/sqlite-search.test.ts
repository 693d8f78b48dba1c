import { expect } from 'chai';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IndexEntry } from '../../search/index-entries.js';
import type { Clause, Condition, EntryColumn, EntryKind, IncludeSpec, SearchPlan, SortKey } from '../../search/plan.js';
import type { SearchResult } from '../../store/port.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { prefixUpperBound } from '../../store/prefix.js';
import { random } from '../../bench/random.js';

// ---- builders --------------------------------------------------------------------------------

const str = (param: string, value: string): IndexEntry => ({ kind: 'string', param, value, exact: value });
const tok = (param: string, system: string | null, code: string | null, text: string | null = null): IndexEntry =>
  ({ kind: 'token', param, system, code, text });
const date = (param: string, low: number, high = low): IndexEntry => ({ kind: 'date', param, low, high });
const num = (param: string, value: number): IndexEntry => ({ kind: 'number', param, value });
const qty = (param: string, value: number, code: string, group?: number): IndexEntry =>
  ({ kind: 'quantity', param, value, system: 'http://unitsofmeasure.org', code, unit: code, ...(group === undefined ? {} : { group }) });
const ref = (param: string, targetType: string | null, targetId: string | null, url: string | null = null): IndexEntry =>
  ({ kind: 'reference', param, targetType, targetId, targetVersion: null, url });
const uri = (param: string, value: string): IndexEntry => ({ kind: 'uri', param, value });
const grouped = (e: IndexEntry, group: number): IndexEntry => ({ ...e, group });

const entry = (kind: EntryKind, param: string, ...clauses: Clause[]): Extract<Condition, { kind: 'entry' }> =>
  ({ kind: 'entry', entry: kind, param, clauses });
const eq = (column: EntryColumn, value: string | number): Clause => ({ column, op: 'eq', value });
const op = (o: 'lt' | 'le' | 'gt' | 'ge', column: EntryColumn, value: string | number): Clause => ({ column, op: o, value });
const and = (...conditions: Condition[]): Condition => ({ kind: 'and', conditions });
const or = (...conditions: Condition[]): Condition => ({ kind: 'or', conditions });
const not = (condition: Condition): Condition => ({ kind: 'not', condition });
const byEntry = (entryKind: EntryKind, param: string, column: EntryColumn, descending = false): SortKey =>
  ({ by: 'entry', entry: entryKind, param, column, descending });

function plan(p: Partial<SearchPlan> = {}): SearchPlan {
  return { resourceTypes: ['Patient'], sort: [], count: 100, total: 'none', include: [], revinclude: [], warnings: [], ...p };
}

interface Res { type?: string; id: string; entries?: IndexEntry[]; lastUpdated?: string }

async function save(store: SqliteStore, ...resources: Res[]): Promise<void> {
  await store.transaction(async (tx) => {
    for (const r of resources) {
      const type = r.type ?? 'Patient';
      const current = await tx.read(type, r.id);
      const versionId = (current?.versionId ?? 0) + 1;
      await tx.write({
        resourceType: type, id: r.id, versionId, lastUpdated: r.lastUpdated ?? new Date().toISOString(),
        method: versionId === 1 ? 'POST' : 'PUT',
        json: JSON.stringify({ resourceType: type, id: r.id, meta: { versionId: String(versionId) } }),
        entries: r.entries ?? [],
      });
    }
  });
}

async function remove(store: SqliteStore, type: string, id: string): Promise<void> {
  await store.transaction(async (tx) => {
    const current = await tx.read(type, id);
    await tx.write({ resourceType: type, id, versionId: current!.versionId + 1, lastUpdated: new Date().toISOString(), method: 'DELETE', entries: [] });
  });
}

const ids = (r: SearchResult) => r.matches.map((m) => m.id);
const sorted = (r: SearchResult) => ids(r).sort();
const included = (r: SearchResult) => r.included.map((m) => `${m.resourceType}/${m.id}`).sort();

/** Pages through a search forward, returning the pages' ids. */
async function allPages(store: SqliteStore, p: SearchPlan, between?: (page: number) => Promise<void>): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  for (let n = 0; n < 1000; n++) {
    const r = await store.search({ ...p, cursor });
    pages.push(ids(r));
    if (!r.nextCursor) return pages;
    cursor = r.nextCursor;
    if (between) await between(n);
  }
  throw new Error('paging did not end');
}


// ---- the suite, once per page strategy -------------------------------------------------------

const STRATEGIES = [
  { name: 'general pages', streamThreshold: Number.MAX_SAFE_INTEGER, streamMinDensity: 0 },
  { name: 'streamed pages', streamThreshold: 0, streamMinDensity: 0 },
];

for (const strategy of STRATEGIES) {
  describe(`store: SQLite search (${strategy.name})`, () => {
    let dir: string;
    let store: SqliteStore;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'vertebra-search-'));
      store = new SqliteStore({ file: join(dir, 'db.sqlite'), synchronous: 'NORMAL', search: { streamThreshold: strategy.streamThreshold, streamMinDensity: strategy.streamMinDensity } });
    });
    afterEach(async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    describe('clause ops', () => {
      beforeEach(async () => {
        await save(store,
          { id: 'n1', entries: [num('n', 1), str('family', 'smith'), tok('identifier', 'sys-a', 'A1'), uri('u', 'http://a.org/fhir')] },
          { id: 'n2', entries: [num('n', 2), str('family', 'smithson'), tok('identifier', null, 'A1'), uri('u', 'http://a.org/fhir/ValueSet')] },
          { id: 'n3', entries: [num('n', 3), str('family', 'asmith'), tok('identifier', 'sys-b', 'B2'), uri('u', 'http://b.org')] },
          { id: 'n4', entries: [str('family', 'smiley'), tok('identifier', 'sys-a', 'C3')] },
        );
      });
      const where = async (c: Condition) => sorted(await store.search(plan({ where: c })));

      it('eq lt le gt ge', async () => {
        expect(await where(entry('number', 'n', eq('value', 2)))).to.deep.equal(['n2']);
        expect(await where(entry('number', 'n', op('lt', 'value', 2)))).to.deep.equal(['n1']);
        expect(await where(entry('number', 'n', op('le', 'value', 2)))).to.deep.equal(['n1', 'n2']);
        expect(await where(entry('number', 'n', op('gt', 'value', 2)))).to.deep.equal(['n3']);
        expect(await where(entry('number', 'n', op('ge', 'value', 2)))).to.deep.equal(['n2', 'n3']);
      });

      it('null and not null', async () => {
        expect(await where(entry('token', 'identifier', eq('code', 'A1'), { column: 'system', op: 'null' }))).to.deep.equal(['n2']);
        expect(await where(entry('token', 'identifier', eq('code', 'A1'), { column: 'system', op: 'null', negate: true }))).to.deep.equal(['n1']);
      });

      it('startsWith is a case-sensitive prefix, not a substring', async () => {
        expect(await where(entry('string', 'family', { column: 'value', op: 'startsWith', value: 'smi' }))).to.deep.equal(['n1', 'n2', 'n4']);
        expect(await where(entry('string', 'family', { column: 'value', op: 'startsWith', value: 'smith' }))).to.deep.equal(['n1', 'n2']);
        expect(await where(entry('string', 'family', { column: 'value', op: 'startsWith', value: 'SMI' }))).to.deep.equal([]);
        expect(await where(entry('string', 'family', { column: 'value', op: 'startsWith', value: '' }))).to.deep.equal(['n1', 'n2', 'n3', 'n4']);
      });

      it('contains', async () => {
        expect(await where(entry('string', 'family', { column: 'value', op: 'contains', value: 'mith' }))).to.deep.equal(['n1', 'n2', 'n3']);
        expect(await where(entry('string', 'family', { column: 'value', op: 'contains', value: 'son' }))).to.deep.equal(['n2']);
      });

      it('in', async () => {
        expect(await where(entry('token', 'identifier', { column: 'code', op: 'in', values: ['A1', 'C3'] }))).to.deep.equal(['n1', 'n2', 'n4']);
        expect(await where(entry('token', 'identifier', { column: 'code', op: 'in', values: ['B2'] }))).to.deep.equal(['n3']);
        expect(await where(entry('token', 'identifier', { column: 'code', op: 'in', values: [] }))).to.deep.equal([]);
      });

      it('prefixOf (uri :above)', async () => {
        expect(await where(entry('uri', 'u', { column: 'value', op: 'prefixOf', value: 'http://a.org/fhir/ValueSet/123' }))).to.deep.equal(['n1', 'n2']);
        expect(await where(entry('uri', 'u', { column: 'value', op: 'prefixOf', value: 'http://a.org/fhir/CodeSystem' }))).to.deep.equal(['n1']);
      });

      it('date intervals: within, overlapping, open-ended (all clauses on the same interval)', async () => {
        await save(store,
          { id: 'd1', entries: [date('d', 100, 199)] },
          { id: 'd2', entries: [date('d', 150, 250)] },
          { id: 'd3', entries: [date('d', 300, 300), date('d', 50, 60)] },
          { id: 'd4', entries: [date('d', -8.64e15, 8.64e15)] },
        );
        const within = (lo: number, hi: number) => entry('date', 'd', op('ge', 'low', lo), op('le', 'high', hi));
        expect(await where(within(100, 199))).to.deep.equal(['d1']);
        expect(await where(within(100, 250))).to.deep.equal(['d1', 'd2']);
        expect(await where(within(0, 1000))).to.deep.equal(['d1', 'd2', 'd3']);
        expect(await where(within(55, 299))).to.deep.equal(['d1', 'd2']); // d3's two intervals straddle it, neither is inside
        const overlaps = (lo: number, hi: number) => entry('date', 'd', op('le', 'low', hi), op('ge', 'high', lo));
        expect(await where(overlaps(195, 196))).to.deep.equal(['d1', 'd2', 'd4']);
        expect(await where(entry('date', 'd', op('gt', 'low', 200)))).to.deep.equal(['d3']);
        expect(await where(entry('date', 'd', op('lt', 'high', 60)))).to.deep.equal([]);
        expect(await where(entry('date', 'd', op('le', 'high', 60)))).to.deep.equal(['d3']);
      });

      it('all clauses hold on the same entry', async () => {
        await save(store, { id: 'm', entries: [tok('identifier', 'sys-x', 'X'), tok('identifier', 'sys-y', 'Y')] });
        expect(await where(entry('token', 'identifier', eq('system', 'sys-x'), eq('code', 'Y')))).to.deep.equal([]);
        expect(await where(entry('token', 'identifier', eq('system', 'sys-y'), eq('code', 'Y')))).to.deep.equal(['m']);
      });

      it('the parameter name is part of the match', async () => {
        await save(store, { id: 'other', entries: [num('m', 2)] });
        expect(await where(entry('number', 'n', eq('value', 2)))).to.deep.equal(['n2']);
      });

      it('startsWith upper bounds stay exact at the top of the code space', () => {
        expect(prefixUpperBound('ab')).to.equal('ac');
        expect(prefixUpperBound('a\u{10ffff}')).to.equal('b');
        expect(prefixUpperBound('\u{10ffff}')).to.equal(undefined);
        expect(prefixUpperBound('a\ud7ff')).to.equal('a\ue000');
      });
    });

    describe('conditions', () => {
      beforeEach(async () => {
        await save(store,
          { id: 'a', entries: [tok('gender', null, 'female'), str('family', 'able')] },
          { id: 'b', entries: [tok('gender', null, 'male'), str('family', 'baker')] },
          { id: 'c', entries: [tok('gender', null, 'female')] },
          { id: 'd', entries: [] },
        );
      });
      const where = async (c: Condition) => sorted(await store.search(plan({ where: c })));
      const female = entry('token', 'gender', eq('code', 'female'));
      const hasFamily = { kind: 'missing', entry: 'string', param: 'family', missing: false } as const;

      it('and, or, empty or, not', async () => {
        expect(await where(and(female, entry('string', 'family', eq('value', 'able'))))).to.deep.equal(['a']);
        expect(await where(and())).to.deep.equal(['a', 'b', 'c', 'd']);
        expect(await where(or(entry('string', 'family', eq('value', 'baker')), female))).to.deep.equal(['a', 'b', 'c']);
        expect(await where(or(entry('string', 'family', eq('value', 'baker')), { kind: 'id', ids: ['d'] }))).to.deep.equal(['b', 'd']);
        expect(await where(or())).to.deep.equal([]);
        expect(await where(not(female))).to.deep.equal(['b', 'd']);
        expect(await where(not(or()))).to.deep.equal(['a', 'b', 'c', 'd']);
        expect(await where(and(not(female), hasFamily))).to.deep.equal(['b']);
      });

      it('missing', async () => {
        expect(await where(hasFamily)).to.deep.equal(['a', 'b']);
        expect(await where({ ...hasFamily, missing: true })).to.deep.equal(['c', 'd']);
        // Another kind with the same param name is not "present".
        await save(store, { id: 'e', entries: [tok('family', null, 'x')] });
        expect(await where({ ...hasFamily, missing: true })).to.deep.equal(['c', 'd', 'e']);
      });

      it('id', async () => {
        expect(await where({ kind: 'id', ids: ['b', 'd', 'zz'] })).to.deep.equal(['b', 'd']);
        expect(await where({ kind: 'id', ids: [] })).to.deep.equal([]);
      });

      it('resource types: only those searched; several at once', async () => {
        await save(store, { type: 'Practitioner', id: 'a', entries: [tok('gender', null, 'female')] });
        expect(ids(await store.search(plan({ where: female })))).to.deep.equal(['a', 'c']);
        const both = await store.search(plan({ resourceTypes: ['Practitioner', 'Patient'], where: female }));
        expect(both.matches.map((m) => `${m.resourceType}/${m.id}`)).to.deep.equal(['Patient/a', 'Patient/c', 'Practitioner/a']);
        expect((await store.search(plan({ resourceTypes: [] }))).matches).to.deep.equal([]);
      });

      it('returns current versions in the shape read returns', async () => {
        await save(store, { id: 'a', entries: [tok('gender', null, 'female')] });
        const r = await store.search(plan({ where: { kind: 'id', ids: ['a'] } }));
        expect(r.matches).to.deep.equal([await store.read('Patient', 'a')]);
        expect(r.matches[0].versionId).to.equal(2);
      });

      it('deleted resources never match, whatever the condition', async () => {
        await remove(store, 'Patient', 'a');
        expect(await where(female)).to.deep.equal(['c']);
        expect(sorted(await store.search(plan()))).to.deep.equal(['b', 'c', 'd']);
        expect(await where({ kind: 'id', ids: ['a'] })).to.deep.equal([]);
        expect(await where(not(female))).to.deep.equal(['b', 'd']);
        expect((await store.search(plan({ total: 'accurate', count: 0 }))).total).to.equal(3);
        expect(ids(await store.search(plan({ sort: [byEntry('string', 'family', 'value')] })))).to.deep.equal(['b', 'c', 'd']);
      });

      it('an updated resource matches by its current entries only', async () => {
        await save(store, { id: 'a', entries: [tok('gender', null, 'male')] });
        expect(await where(female)).to.deep.equal(['c']);
        expect(await where(entry('token', 'gender', eq('code', 'male')))).to.deep.equal(['a', 'b']);
      });

      it('search inside a transaction sees its own writes; outside does not until commit', async () => {
        let inside: string[] = [];
        let outside: string[] = [];
        await store.transaction(async (tx) => {
          await tx.write({ resourceType: 'Patient', id: 'z', versionId: 1, lastUpdated: new Date().toISOString(), method: 'POST', json: '{"resourceType":"Patient","id":"z"}', entries: [tok('gender', null, 'female')] });
          inside = (await tx.search(plan({ where: female }))).matches.map((m) => m.id);
          outside = ids(await store.search(plan({ where: female })));
        });
        expect(inside).to.deep.equal(['a', 'c', 'z']);
        expect(outside).to.deep.equal(['a', 'c']);
        expect(await where(female)).to.deep.equal(['a', 'c', 'z']);
      });
    });

    describe('chains, _has and composites', () => {
      beforeEach(async () => {
        await save(store,
          { type: 'Organization', id: 'org1', entries: [str('name', 'leeds practice')] },
          { type: 'Organization', id: 'org2', entries: [str('name', 'york practice')] },
          { type: 'Patient', id: 'p1', entries: [tok('identifier', 'nhs', '9000000009'), ref('organization', 'Organization', 'org1')] },
          { type: 'Patient', id: 'p2', entries: [tok('identifier', 'nhs', '9000000017'), ref('organization', 'Organization', 'org2')] },
          { type: 'Group', id: 'g1', entries: [tok('identifier', 'nhs', '9000000009')] },
          { type: 'Observation', id: 'o1', entries: [ref('subject', 'Patient', 'p1'), tok('code', 'loinc', 'hr')] },
          { type: 'Observation', id: 'o2', entries: [ref('subject', 'Patient', 'p2'), tok('code', 'loinc', 'bp')] },
          { type: 'Observation', id: 'o3', entries: [ref('subject', 'Group', 'g1'), tok('code', 'loinc', 'hr')] },
          { type: 'Observation', id: 'o4', entries: [ref('subject', null, null, 'http://elsewhere/Patient/p1'), tok('code', 'loinc', 'hr')] },
        );
      });
      const obs = async (c: Condition) => sorted(await store.search(plan({ resourceTypes: ['Observation'], where: c })));
      const pats = async (c: Condition) => sorted(await store.search(plan({ resourceTypes: ['Patient'], where: c })));
      const identifier = (code: string) => entry('token', 'identifier', eq('system', 'nhs'), eq('code', code));

      it('chain: target type and nested condition', async () => {
        expect(await obs({ kind: 'chain', param: 'subject', targetTypes: ['Patient'], condition: identifier('9000000009') })).to.deep.equal(['o1']);
        expect(await obs({ kind: 'chain', param: 'subject', targetTypes: ['Patient', 'Group'], condition: identifier('9000000009') })).to.deep.equal(['o1', 'o3']);
        expect(await obs({ kind: 'chain', param: 'subject', targetTypes: ['Group'], condition: identifier('9000000017') })).to.deep.equal([]);
        expect(await obs({ kind: 'chain', param: 'subject', targetTypes: [], condition: identifier('9000000009') })).to.deep.equal([]);
      });

      it('chain two levels', async () => {
        const c: Condition = {
          kind: 'chain', param: 'subject', targetTypes: ['Patient'],
          condition: { kind: 'chain', param: 'organization', targetTypes: ['Organization'], condition: entry('string', 'name', { column: 'value', op: 'startsWith', value: 'york' }) },
        };
        expect(await obs(c)).to.deep.equal(['o2']);
        expect(await obs(not(c))).to.deep.equal(['o1', 'o3', 'o4']);
      });

      it('chain: a deleted target does not count', async () => {
        await remove(store, 'Patient', 'p1');
        expect(await obs({ kind: 'chain', param: 'subject', targetTypes: ['Patient'], condition: identifier('9000000009') })).to.deep.equal([]);
      });

      it('has, nested, and deleted sources do not count', async () => {
        const hasHr: Condition = { kind: 'has', sourceType: 'Observation', param: 'subject', condition: entry('token', 'code', eq('code', 'hr')) };
        expect(await pats(hasHr)).to.deep.equal(['p1']);
        expect(await pats(not(hasHr))).to.deep.equal(['p2']);
        expect(sorted(await store.search(plan({ resourceTypes: ['Patient', 'Group'], where: hasHr })))).to.deep.equal(['g1', 'p1']);
        // Organizations that have a patient that has an observation with code bp.
        const nested: Condition = {
          kind: 'has', sourceType: 'Patient', param: 'organization',
          condition: { kind: 'has', sourceType: 'Observation', param: 'subject', condition: entry('token', 'code', eq('code', 'bp')) },
        };
        expect(sorted(await store.search(plan({ resourceTypes: ['Organization'], where: nested })))).to.deep.equal(['org2']);
        await remove(store, 'Observation', 'o1');
        expect(await pats(hasHr)).to.deep.equal([]);
      });

      it('composite: components must match within one group', async () => {
        await save(store,
          { type: 'Observation', id: 'c1', entries: [
            grouped(tok('component-code-value-quantity.0', 'loinc', 'sys'), 0), qty('component-code-value-quantity.1', 120, 'mm[Hg]', 0),
            grouped(tok('component-code-value-quantity.0', 'loinc', 'dia'), 1), qty('component-code-value-quantity.1', 80, 'mm[Hg]', 1),
          ] },
          { type: 'Observation', id: 'c2', entries: [
            grouped(tok('component-code-value-quantity.0', 'loinc', 'sys'), 0), qty('component-code-value-quantity.1', 80, 'mm[Hg]', 0),
          ] },
          // Ungrouped entries with the component params never satisfy a composite.
          { type: 'Observation', id: 'c3', entries: [tok('component-code-value-quantity.0', 'loinc', 'sys'), qty('component-code-value-quantity.1', 80, 'mm[Hg]')] },
        );
        const composite = (code: string, value: number): Condition => ({
          kind: 'composite', param: 'component-code-value-quantity', components: [
            entry('token', 'component-code-value-quantity.0', eq('code', code)),
            entry('quantity', 'component-code-value-quantity.1', eq('value', value)),
          ],
        });
        expect(await obs(composite('sys', 80))).to.deep.equal(['c2']); // c1 has sys and 80, but in different groups
        expect(await obs(composite('sys', 120))).to.deep.equal(['c1']);
        expect(await obs(composite('dia', 80))).to.deep.equal(['c1']);
        expect(await obs(composite('dia', 120))).to.deep.equal([]);
        expect(await obs(not(composite('sys', 80)))).to.include('c1');
      });
    });

    describe('sorting', () => {
      const d = (s: string) => Date.parse(s);
      beforeEach(async () => {
        await save(store,
          { id: 'p1', entries: [str('family', 'brown'), date('birthdate', d('1980-01-01'))], lastUpdated: '2024-01-01T00:00:03.000Z' },
          { id: 'p2', entries: [str('family', 'adams'), date('birthdate', d('1990-01-01'))], lastUpdated: '2024-01-01T00:00:01.000Z' },
          { id: 'p3', entries: [str('family', 'brown'), date('birthdate', d('1970-01-01'))], lastUpdated: '2024-01-01T00:00:02.000Z' },
          { id: 'p4', entries: [date('birthdate', d('1985-01-01'))], lastUpdated: '2024-01-01T00:00:05.000Z' },
          { id: 'p5', entries: [str('family', 'brown')], lastUpdated: '2024-01-01T00:00:04.000Z' },
          { id: 'p6', entries: [], lastUpdated: '2024-01-01T00:00:00.000Z' },
          // Two family names: its key is the MIN (aaron) ascending and the MAX (zeta) descending.
          { id: 'p7', entries: [str('family', 'zeta'), str('family', 'aaron')], lastUpdated: '2024-01-01T00:00:06.000Z' },
        );
      });
      const order = async (...sort: SortKey[]) => ids(await store.search(plan({ sort })));

      it('single key ascending and descending; missing values last both ways; MIN/MAX of several entries', async () => {
        expect(await order(byEntry('string', 'family', 'value'))).to.deep.equal(['p7', 'p2', 'p1', 'p3', 'p5', 'p4', 'p6']);
        expect(await order(byEntry('string', 'family', 'value', true))).to.deep.equal(['p7', 'p1', 'p3', 'p5', 'p2', 'p4', 'p6']);
        expect(await order(byEntry('date', 'birthdate', 'low'))).to.deep.equal(['p3', 'p1', 'p4', 'p2', 'p5', 'p6', 'p7']);
        expect(await order(byEntry('date', 'birthdate', 'high', true))).to.deep.equal(['p2', 'p4', 'p1', 'p3', 'p5', 'p6', 'p7']);
      });

      it('several keys with mixed directions, then id', async () => {
        expect(await order(byEntry('string', 'family', 'value'), byEntry('date', 'birthdate', 'low', true)))
          .to.deep.equal(['p7', 'p2', 'p1', 'p3', 'p5', 'p4', 'p6']);
        expect(await order(byEntry('string', 'family', 'value'), byEntry('date', 'birthdate', 'low')))
          .to.deep.equal(['p7', 'p2', 'p3', 'p1', 'p5', 'p4', 'p6']);
        expect(await order(byEntry('string', 'family', 'value', true), byEntry('date', 'birthdate', 'low')))
          .to.deep.equal(['p7', 'p3', 'p1', 'p5', 'p2', 'p4', 'p6']);
      });

      it('_id and _lastUpdated', async () => {
        expect(await order({ by: 'id', descending: true })).to.deep.equal(['p7', 'p6', 'p5', 'p4', 'p3', 'p2', 'p1']);
        expect(await order({ by: 'lastUpdated', descending: false })).to.deep.equal(['p6', 'p2', 'p3', 'p1', 'p5', 'p4', 'p7']);
        expect(await order({ by: 'lastUpdated', descending: true })).to.deep.equal(['p7', 'p4', 'p5', 'p1', 'p3', 'p2', 'p6']);
        expect(await order()).to.deep.equal(['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']);
      });

      it('sorting with a condition', async () => {
        const r = await store.search(plan({
          where: entry('string', 'family', eq('value', 'brown')), sort: [byEntry('date', 'birthdate', 'low', true)],
        }));
        expect(ids(r)).to.deep.equal(['p1', 'p3', 'p5']);
      });
    });

    describe('paging', () => {
      const family = (i: number) => `fam${String(i % 7).padStart(2, '0')}`;
      beforeEach(async () => {
        const rs: Res[] = [];
        for (let i = 0; i < 23; i++) {
          rs.push({ id: `p${String(i).padStart(2, '0')}`, entries: i % 5 === 4 ? [] : [str('family', family(i)), tok('active', null, 'true')] });
        }
        await save(store, ...rs);
      });

      for (const sort of [[], [byEntry('string', 'family', 'value')], [byEntry('string', 'family', 'value', true)], [{ by: 'id', descending: true }]] as SortKey[][]) {
        it(`pages never repeat or skip while others write (sort ${JSON.stringify(sort.map((s) => s.by + (s.descending ? ' desc' : '')))})`, async () => {
          const p = plan({ sort, count: 4, total: 'accurate' });
          const all = ids(await store.search({ ...p, count: 100 }));
          expect(all).to.have.length(23);
          const changed = new Set<string>();
          const pages = await allPages(store, p, async (n) => {
            // New resources that sort anywhere, and updates that move existing ones around.
            await save(store,
              { id: `new-${n}-a`, entries: [str('family', 'aaa'), tok('active', null, 'true')] },
              { id: `new-${n}-z`, entries: [str('family', 'zzz')] },
              { id: `p${String(n * 3).padStart(2, '0')}`, entries: [str('family', n % 2 ? 'aab' : 'zzy')] },
            );
            changed.add(`p${String(n * 3).padStart(2, '0')}`);
          });
          expect(pages.length).to.be.greaterThan(3);
          // An updated resource may move past the cursor and legitimately show up again; nothing else may.
          const seen = pages.flat().filter((id) => !changed.has(id));
          expect(new Set(seen).size, 'a resource came back twice').to.equal(seen.length);
          expect(changed.size).to.be.greaterThan(2);
          const expected = all.filter((id) => !changed.has(id));
          expect(expected.filter((id) => !seen.includes(id)), 'skipped').to.deep.equal([]);
          expect(seen.filter((id) => id.startsWith('p') && !changed.has(id))).to.deep.equal(expected);
        });
      }

      it('next and previous cursors walk back and forth; the first page has no previous', async () => {
        const p = plan({ sort: [byEntry('string', 'family', 'value')], count: 5 });
        const all = ids(await store.search({ ...p, count: 100 }));
        const page1 = await store.search(p);
        expect(page1.previousCursor).to.equal(undefined);
        const page2 = await store.search({ ...p, cursor: page1.nextCursor });
        const page3 = await store.search({ ...p, cursor: page2.nextCursor });
        expect([ids(page1), ids(page2), ids(page3)]).to.deep.equal([all.slice(0, 5), all.slice(5, 10), all.slice(10, 15)]);
        const back2 = await store.search({ ...p, cursor: page3.previousCursor });
        expect(ids(back2)).to.deep.equal(ids(page2));
        const back1 = await store.search({ ...p, cursor: back2.previousCursor });
        expect(ids(back1)).to.deep.equal(ids(page1));
        expect(back1.previousCursor).to.equal(undefined);
        const forward2 = await store.search({ ...p, cursor: back1.nextCursor });
        expect(ids(forward2)).to.deep.equal(ids(page2));
        // The last page has no next.
        const pages = await allPages(store, p);
        expect(pages.flat()).to.deep.equal(all);
        expect(pages.at(-1)!.length).to.be.greaterThan(0);
      });

      it('previous from the null region crosses back into the values', async () => {
        const p = plan({ sort: [byEntry('string', 'family', 'value', true)], count: 3 });
        const all = ids(await store.search({ ...p, count: 100 }));
        let r = await store.search(p);
        const pages = [ids(r)];
        while (r.nextCursor) { r = await store.search({ ...p, cursor: r.nextCursor }); pages.push(ids(r)); }
        const back: string[][] = [];
        while (r.previousCursor) { r = await store.search({ ...p, cursor: r.previousCursor }); back.unshift(ids(r)); }
        expect(pages.flat()).to.deep.equal(all);
        expect(back).to.deep.equal(pages.slice(0, -1));
      });

      it('a page emptied by deletes still offers a way back', async () => {
        const p = plan({ count: 20 });
        const page1 = await store.search(p);
        for (const id of ['p20', 'p21', 'p22']) await remove(store, 'Patient', id);
        const page2 = await store.search({ ...p, cursor: page1.nextCursor });
        expect(ids(page2)).to.deep.equal([]);
        expect(page2.nextCursor).to.equal(undefined);
        expect(ids(await store.search({ ...p, cursor: page2.previousCursor }))).to.deep.equal(ids(page1));
      });

      it('a cursor from another query, or a forged one, is a 400', async () => {
        const p = plan({ sort: [byEntry('string', 'family', 'value')], count: 5 });
        const { nextCursor } = await store.search(p);
        for (const other of [
          plan({ sort: [byEntry('string', 'family', 'value', true)], count: 5, cursor: nextCursor }),
          plan({ sort: p.sort, where: entry('token', 'active', eq('code', 'true')), count: 5, cursor: nextCursor }),
          plan({ resourceTypes: ['Practitioner'], sort: p.sort, count: 5, cursor: nextCursor }),
          plan({ sort: p.sort, cursor: 'not a cursor' }),
          plan({ sort: p.sort, cursor: Buffer.from('{"v":1}').toString('base64url') }),
        ]) {
          let error: unknown;
          try { await store.search(other); } catch (e) { error = e; }
          expect((error as { status?: number } | undefined)?.status, JSON.stringify(other)).to.equal(400);
        }
        // The same query with another page size may use it.
        expect((await store.search({ ...p, count: 7, cursor: nextCursor })).matches).to.have.length(7);
      });

      it('total modes and count 0', async () => {
        expect((await store.search(plan({ total: 'accurate', count: 2 }))).total).to.equal(23);
        expect((await store.search(plan({ total: 'estimate', count: 2 }))).total).to.equal(23);
        expect((await store.search(plan({ total: 'none', count: 2 }))).total).to.equal(undefined);
        const active = entry('token', 'active', eq('code', 'true'));
        const countOnly = await store.search(plan({ total: 'accurate', count: 0, where: active }));
        expect(countOnly.matches).to.deep.equal([]);
        expect(countOnly.total).to.equal(19);
        expect(countOnly.nextCursor).to.equal(undefined);
        // Unfiltered totals follow creates, deletes and re-creates, per type and across types.
        await remove(store, 'Patient', 'p00');
        await save(store, { id: 'p01' }, { type: 'Practitioner', id: 'x' });
        expect((await store.search(plan({ total: 'accurate', count: 0 }))).total).to.equal(22);
        await save(store, { id: 'p00' });
        expect((await store.search(plan({ total: 'accurate', count: 1 }))).total).to.equal(23);
        expect((await store.search(plan({ resourceTypes: ['Patient', 'Practitioner', 'Basic'], total: 'accurate', count: 1 }))).total).to.equal(24);
        expect((await store.search(plan({ resourceTypes: ['Basic'], total: 'accurate', count: 1 }))).total).to.equal(0);
        await save(store, { id: 'p00', entries: [tok('active', null, 'true')] }, { id: 'p01', entries: [tok('active', null, 'true')] });
        // The total counts every page, also from a later page.
        const page1 = await store.search(plan({ total: 'accurate', count: 5, where: active }));
        expect((await store.search(plan({ total: 'accurate', count: 5, where: active, cursor: page1.nextCursor }))).total).to.equal(19);
      });
    });

    describe('_include and _revinclude', () => {
      beforeEach(async () => {
        await save(store,
          { type: 'Organization', id: 'org', entries: [] },
          { type: 'Practitioner', id: 'dr', entries: [ref('organization', 'Organization', 'org')] },
          { type: 'Practitioner', id: 'gone', entries: [] },
          { type: 'Patient', id: 'p1', entries: [ref('general-practitioner', 'Practitioner', 'dr'), ref('organization', 'Organization', 'org'), ref('link', 'Patient', 'p2')] },
          { type: 'Patient', id: 'p2', entries: [ref('general-practitioner', 'Practitioner', 'gone')] },
          { type: 'Observation', id: 'o1', entries: [ref('subject', 'Patient', 'p1'), ref('performer', 'Practitioner', 'dr'), tok('code', null, 'hr')] },
          { type: 'Observation', id: 'o2', entries: [ref('subject', 'Patient', 'p1'), tok('code', null, 'hr')] },
          { type: 'Observation', id: 'o3', entries: [ref('subject', 'Patient', 'p2'), tok('code', null, 'bp')] },
          { type: 'Provenance', id: 'prov', entries: [ref('target', 'Observation', 'o1')] },
        );
        await remove(store, 'Practitioner', 'gone');
      });
      const inc = (sourceType: string, param?: string, targetType?: string, iterate = false): IncludeSpec =>
        ({ sourceType, iterate, ...(param === undefined ? {} : { param }), ...(targetType === undefined ? {} : { targetType }) });
      const obs = (p: Partial<SearchPlan>) => store.search(plan({ resourceTypes: ['Observation'], where: entry('token', 'code', eq('code', 'hr')), ...p }));

      it('_include follows the param; each target once; deleted targets left out', async () => {
        const r = await obs({ include: [inc('Observation', 'subject')] });
        expect(ids(r)).to.deep.equal(['o1', 'o2']);
        expect(included(r)).to.deep.equal(['Patient/p1']);
        const p2 = await store.search(plan({ resourceTypes: ['Patient'], where: { kind: 'id', ids: ['p2'] }, include: [inc('Patient', 'general-practitioner')] }));
        expect(included(p2)).to.deep.equal([]);
      });

      it('_include target type filter, and * for every reference param', async () => {
        expect(included(await obs({ include: [inc('Observation', 'subject', 'Group')] }))).to.deep.equal([]);
        expect(included(await obs({ include: [inc('Observation', 'subject', 'Patient')] }))).to.deep.equal(['Patient/p1']);
        expect(included(await obs({ include: [inc('Observation')] }))).to.deep.equal(['Patient/p1', 'Practitioner/dr']);
        expect(included(await obs({ include: [inc('Patient', 'general-practitioner')] }))).to.deep.equal([]); // not the matches' type
      });

      it('_revinclude, with and without a param', async () => {
        const r = await store.search(plan({ resourceTypes: ['Patient'], where: { kind: 'id', ids: ['p1'] }, revinclude: [inc('Observation', 'subject')] }));
        expect(included(r)).to.deep.equal(['Observation/o1', 'Observation/o2']);
        const dr = await store.search(plan({ resourceTypes: ['Practitioner'], revinclude: [inc('Observation', 'performer'), inc('Patient')] }));
        expect(included(dr)).to.deep.equal(['Observation/o1', 'Patient/p1']);
        await remove(store, 'Observation', 'o2');
        expect(included(await store.search(plan({ resourceTypes: ['Patient'], where: { kind: 'id', ids: ['p1'] }, revinclude: [inc('Observation', 'subject')] }))))
          .to.deep.equal(['Observation/o1']);
      });

      it(':iterate follows what earlier rounds brought in; without it only the matches count', async () => {
        const once = await obs({ include: [inc('Observation', 'subject'), inc('Patient', 'general-practitioner')] });
        expect(included(once)).to.deep.equal(['Patient/p1']);
        const iterated = await obs({ include: [inc('Observation', 'subject'), inc('Patient', 'general-practitioner', undefined, true), inc('Practitioner', 'organization', undefined, true)] });
        expect(included(iterated)).to.deep.equal(['Organization/org', 'Patient/p1', 'Practitioner/dr']);
        const mixed = await obs({ include: [inc('Observation', 'subject')], revinclude: [inc('Provenance', 'target', undefined, true)] });
        expect(included(mixed)).to.deep.equal(['Patient/p1', 'Provenance/prov']);
        const rev = await store.search(plan({ resourceTypes: ['Practitioner'], revinclude: [inc('Patient', 'general-practitioner', undefined, true), inc('Observation', 'subject', undefined, true)] }));
        expect(included(rev)).to.deep.equal(['Observation/o1', 'Observation/o2', 'Patient/p1']);
      });

      it('specs without :iterate apply to the matches only, also when other specs iterate', async () => {
        await save(store, { type: 'Patient', id: 'p3', entries: [ref('general-practitioner', 'Practitioner', 'dr')] });
        const forward = [inc('Observation', 'subject'), inc('Patient', 'general-practitioner', undefined, true)];
        const once = await obs({ include: forward, revinclude: [inc('Patient', 'general-practitioner')] });
        expect(included(once)).to.deep.equal(['Patient/p1', 'Practitioner/dr']);
        const iterated = await obs({ include: forward, revinclude: [inc('Patient', 'general-practitioner', undefined, true)] });
        expect(included(iterated)).to.deep.equal(['Patient/p1', 'Patient/p3', 'Practitioner/dr']);
        const forwardOnce = await obs({ include: [inc('Observation', 'subject', undefined, true), inc('Patient', 'general-practitioner')] });
        expect(included(forwardOnce)).to.deep.equal(['Patient/p1']);
      });

      it('nothing included is a match or repeated; cycles end', async () => {
        await save(store, { type: 'Patient', id: 'p2', entries: [ref('link', 'Patient', 'p1')] });
        const r = await store.search(plan({ resourceTypes: ['Patient'], include: [inc('Patient', 'link', undefined, true)], revinclude: [inc('Patient', 'link', undefined, true)] }));
        expect(ids(r)).to.deep.equal(['p1', 'p2']);
        expect(r.included).to.deep.equal([]);
        const one = await store.search(plan({ resourceTypes: ['Patient'], where: { kind: 'id', ids: ['p1'] }, include: [inc('*', undefined, undefined, true)] }));
        expect(included(one)).to.deep.equal(['Organization/org', 'Patient/p2', 'Practitioner/dr']);
      });

      it('caps the rounds and the included count', async () => {
        const chain: Res[] = [];
        for (let i = 0; i < 30; i++) chain.push({ type: 'Basic', id: `b${i}`, entries: [ref('next', 'Basic', `b${i + 1}`)] });
        await save(store, ...chain);
        const capped = new SqliteStore({ file: join(dir, 'db.sqlite'), search: { maxIncludeRounds: 5, maxIncluded: 100 } });
        try {
          const p = plan({ resourceTypes: ['Basic'], where: { kind: 'id', ids: ['b0'] }, include: [inc('Basic', 'next', undefined, true)] });
          expect((await capped.search(p)).included).to.have.length(5);
          expect((await store.search(p)).included).to.have.length(10);
        } finally {
          await capped.close();
        }
        const few = new SqliteStore({ file: join(dir, 'db.sqlite'), search: { maxIncluded: 2 } });
        try {
          expect((await few.search(plan({ resourceTypes: ['Patient'], revinclude: [inc('Observation')] }))).included).to.have.length(2);
        } finally {
          await few.close();
        }
      });
    });

    describe('values are data, never SQL', () => {
      const nasty = [`'; DROP TABLE resources; --`, '%', '_', '{"$gt":""}', 'a%', 'a_c', '\\', '"', `' OR 1=1 --`];
      beforeEach(async () => {
        await save(store, ...nasty.map((v, i) => ({ id: `x${i}`, entries: [str('family', v), tok('identifier', v, v)] })),
          { id: 'plain', entries: [str('family', 'abc'), tok('identifier', 'abc', 'abc')] });
      });
      const where = async (c: Condition) => sorted(await store.search(plan({ where: c })));

      it('eq, in, startsWith, contains and prefixOf match them literally', async () => {
        for (const [i, v] of nasty.entries()) {
          expect(await where(entry('string', 'family', eq('value', v))), v).to.deep.equal([`x${i}`]);
          expect(await where(entry('token', 'identifier', eq('system', v), eq('code', v))), v).to.deep.equal([`x${i}`]);
          expect(await where(entry('token', 'identifier', { column: 'code', op: 'in', values: [v, 'nothing'] })), v).to.deep.equal([`x${i}`]);
        }
        expect(await where(entry('string', 'family', { column: 'value', op: 'startsWith', value: '%' }))).to.deep.equal(['x1']);
        expect(await where(entry('string', 'family', { column: 'value', op: 'startsWith', value: '_' }))).to.deep.equal(['x2']);
        expect(await where(entry('string', 'family', { column: 'value', op: 'startsWith', value: 'a' }))).to.deep.equal(['plain', 'x4', 'x5']);
        expect(await where(entry('string', 'family', { column: 'value', op: 'startsWith', value: 'a%' }))).to.deep.equal(['x4']);
        expect(await where(entry('string', 'family', { column: 'value', op: 'contains', value: '_' }))).to.deep.equal(['x2', 'x5']);
        expect(await where(entry('string', 'family', { column: 'value', op: 'contains', value: '%' }))).to.deep.equal(['x1', 'x4']);
        expect(await where(entry('string', 'family', { column: 'value', op: 'contains', value: `'` }))).to.deep.equal(['x0', 'x8']);
        expect(await where(entry('string', 'family', { column: 'value', op: 'prefixOf', value: 'a%bc' }))).to.deep.equal(['x4']);
        expect(await where({ kind: 'id', ids: [`' OR 1=1 --`] })).to.deep.equal([]);
        expect(await where(entry(`string`, `family' OR 1=1 --`, eq('value', 'abc')))).to.deep.equal([]);
        expect((await store.search(plan({ total: 'accurate', count: 0 }))).total).to.equal(nasty.length + 1);
      });

      it('sort and cursor values are data too', async () => {
        const p = plan({ sort: [byEntry('string', 'family', 'value')], count: 2 });
        const pages = await allPages(store, p);
        expect(pages.flat()).to.have.length(nasty.length + 1);
      });

      it('identifiers outside the fixed maps are refused', async () => {
        for (const bad of [
          plan({ where: entry('string', 'family', eq('value; DROP TABLE resources' as EntryColumn, 'x')) }),
          plan({ where: entry('nonsense' as EntryKind, 'family', eq('value', 'x')) }),
          plan({ where: entry('token', 'identifier', eq('value', 'x')) }),
        ]) {
          let error: unknown;
          try { await store.search(bad); } catch (e) { error = e; }
          expect(error).to.be.instanceOf(Error);
        }
        expect(await store.read('Patient', 'plain')).to.not.equal(undefined);
      });
    });

    describe('reindex', () => {
      it('replaces the entries of current resources in batches and reports progress', async () => {
        const rs: Res[] = [];
        for (let i = 0; i < 1203; i++) rs.push({ id: `p${String(i).padStart(4, '0')}`, entries: [tok('old', null, 'x')] });
        await save(store, ...rs);
        await save(store, { type: 'Observation', id: 'o', entries: [tok('old', null, 'x')] });
        await remove(store, 'Patient', 'p0000');
        const progress: [number, number][] = [];
        const extracted: string[] = [];
        const n = await store.reindex('Patient', (json) => {
          const r = JSON.parse(json) as { id: string };
          extracted.push(r.id);
          return [tok('new', null, r.id.slice(-1)), grouped(tok('pair.0', null, 'a'), 3), grouped(num('pair.1', 1), 3)];
        }, (done, total) => progress.push([done, total]));
        expect(n).to.equal(1202);
        expect(progress).to.deep.equal([[500, 1202], [1000, 1202], [1202, 1202]]);
        expect(extracted).to.not.include('p0000');
        const old = entry('token', 'old', eq('code', 'x'));
        expect(ids(await store.search(plan({ where: old })))).to.deep.equal([]);
        expect(ids(await store.search(plan({ resourceTypes: ['Observation'], where: old })))).to.deep.equal(['o']);
        expect((await store.search(plan({ where: entry('token', 'new', eq('code', '7')), total: 'accurate', count: 0 }))).total).to.equal(120);
        const composite: Condition = { kind: 'composite', param: 'pair', components: [entry('token', 'pair.0', eq('code', 'a')), entry('number', 'pair.1', eq('value', 1))] };
        expect((await store.search(plan({ where: composite, total: 'accurate', count: 0 }))).total).to.equal(1202);
        // No versions were made.
        expect((await store.read('Patient', 'p0001'))!.versionId).to.equal(1);
      });

      it('every type when no type is given; a failing extract stops it', async () => {
        await save(store, { id: 'a' }, { type: 'Observation', id: 'b' });
        expect(await store.reindex(undefined, () => [tok('t', null, 'y')])).to.equal(2);
        expect(ids(await store.search(plan({ resourceTypes: ['Patient', 'Observation'], where: entry('token', 't', eq('code', 'y')) })))).to.deep.equal(['b', 'a']);
        let error: unknown;
        try { await store.reindex(undefined, () => { throw new Error('bad extract'); }); } catch (e) { error = e; }
        expect((error as Error).message).to.equal('bad extract');
      });
    });
  });
}

describe('store: SQLite search, streamed and general pages agree', () => {
  let dir: string;
  let general: SqliteStore;
  let streamed: SqliteStore;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vertebra-search-'));
    general = new SqliteStore({ file: join(dir, 'db.sqlite'), synchronous: 'NORMAL', search: { streamThreshold: Number.MAX_SAFE_INTEGER } });
    streamed = new SqliteStore({ file: join(dir, 'db.sqlite'), synchronous: 'NORMAL', search: { streamThreshold: 0, streamMinDensity: 0 } });
    const next = random(42);
    const rs: Res[] = [];
    for (let o = 0; o < 5; o++) rs.push({ type: 'Organization', id: `org${o}`, entries: [str('name', `org${o}`)] });
    for (let i = 0; i < 300; i++) {
      const id = `r${Math.floor(next() * 1e6)}-${i}`;
      const entries: IndexEntry[] = [];
      const names = Math.floor(next() * 3); // 0, 1 or 2 family names
      for (let k = 0; k < names; k++) entries.push(str('family', `f${Math.floor(next() * 20)}`));
      if (next() < 0.8) entries.push(date('birthdate', Math.floor(next() * 50) * 1000, Math.floor(next() * 50) * 1000 + 500));
      if (next() < 0.5) entries.push(tok('gender', null, 'female'));
      if (next() < 0.7) entries.push(ref('organization', 'Organization', `org${Math.floor(next() * 6)}`)); // org5 does not exist
      for (let g = 0; g < Math.floor(next() * 3); g++) {
        entries.push(grouped(tok('pair.0', null, `c${Math.floor(next() * 3)}`), g), grouped(num('pair.1', Math.floor(next() * 3)), g));
      }
      rs.push({ id, entries });
      if (next() < 0.4) rs.push({ type: 'Observation', id: `obs-${i}`, entries: [ref('subject', 'Patient', id), tok('code', null, next() < 0.5 ? 'hr' : 'bp')] });
    }
    await save(general, ...rs);
  });  after(async () => {
    await streamed.close();
    await general.close();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const key of [
    byEntry('string', 'family', 'value'), byEntry('string', 'family', 'value', true),
    byEntry('date', 'birthdate', 'low'), byEntry('date', 'birthdate', 'high', true),
  ]) {
    const female = entry('token', 'gender', eq('code', 'female'));
    const atOrg = (name: string): Condition => ({ kind: 'chain', param: 'organization', targetTypes: ['Organization'], condition: entry('string', 'name', eq('value', name)) });
    const hasObs = (code: string): Condition => ({ kind: 'has', sourceType: 'Observation', param: 'subject', condition: entry('token', 'code', eq('code', code)) });
    const pair: Condition = { kind: 'composite', param: 'pair', components: [entry('token', 'pair.0', eq('code', 'c1')), entry('number', 'pair.1', eq('value', 2))] };
    const wheres: [string, Condition | undefined][] = [
      ['everything', undefined],
      ['entry', female],
      ['or', or(female, entry('string', 'family', { column: 'value', op: 'startsWith', value: 'f1' }))],
      ['not', not(female)],
      ['and, chain, not has', and(atOrg('org2'), not(hasObs('hr')))],
      ['has', hasObs('bp')],
      ['composite', pair],
      ['missing', { kind: 'missing', entry: 'string', param: 'family', missing: true }],
      ['or of chain and id', or(atOrg('org1'), { kind: 'id', ids: ['nobody'] })],
      ['nothing', or()],
    ];
    for (const [name, where] of wheres) {
      it(`same pages, both directions: ${key.by === 'entry' ? key.param : ''} ${key.descending ? 'desc' : 'asc'}, ${name}`, async () => {
        const p = plan({ sort: [key], count: 13, where });
        const expected = ids(await general.search({ ...p, count: 1000 }));
        // Forward with one store, checking every page against the other.
        let a = await general.search(p);
        let b = await streamed.search(p);
        const forward = [ids(a)];
        for (;;) {
          expect(ids(b)).to.deep.equal(ids(a));
          expect(b.nextCursor).to.equal(a.nextCursor);
          expect(b.previousCursor).to.equal(a.previousCursor);
          if (!a.nextCursor) break;
          a = await general.search({ ...p, cursor: a.nextCursor });
          b = await streamed.search({ ...p, cursor: b.nextCursor });
          forward.push(ids(a));
        }
        expect(forward.flat()).to.deep.equal(expected);
        expect(expected.length, 'the dataset should exercise this condition').to.be.greaterThan(name === 'nothing' ? -1 : 3);
        // And back again.
        const backward: string[][] = [];
        while (a.previousCursor) {
          a = await general.search({ ...p, cursor: a.previousCursor });
          b = await streamed.search({ ...p, cursor: b.previousCursor });
          expect(ids(b)).to.deep.equal(ids(a));
          expect(b.nextCursor).to.equal(a.nextCursor);
          backward.unshift(ids(a));
        }
        expect(backward).to.deep.equal(forward.slice(0, -1));
      });
    }
  }
});

describe('store: SQLite schema migration 1 -> 2', () => {
  it('adds grp to the index tables of a version 1 database and keeps its data searchable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vertebra-search-'));
    const file = join(dir, 'db.sqlite');
    try {
      const v1 = new Database(file);
      v1.exec(`
        CREATE TABLE history (seq INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, last_updated TEXT NOT NULL, updated_ms INTEGER NOT NULL, superseded_ms INTEGER, method TEXT NOT NULL, deleted INTEGER NOT NULL, json TEXT, UNIQUE (type, id, version));
        CREATE TABLE resources (type TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, version INTEGER NOT NULL, deleted INTEGER NOT NULL, PRIMARY KEY (type, id)) WITHOUT ROWID;
        CREATE TABLE idx_string (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, value TEXT NOT NULL, exact TEXT NOT NULL);
        CREATE INDEX idx_string_value ON idx_string (type, param, value);
        CREATE INDEX idx_string_res ON idx_string (type, id);
        CREATE TABLE idx_token (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, system TEXT, code TEXT, text TEXT);
        CREATE TABLE idx_date (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, low INTEGER NOT NULL, high INTEGER NOT NULL);
        CREATE TABLE idx_number (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, value REAL NOT NULL);
        CREATE TABLE idx_quantity (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, value REAL NOT NULL, system TEXT, code TEXT, unit TEXT);
        CREATE TABLE idx_reference (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, target_type TEXT, target_id TEXT, target_version TEXT, url TEXT);
        CREATE TABLE idx_uri (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, value TEXT NOT NULL);
        INSERT INTO history (type, id, version, last_updated, updated_ms, method, deleted, json) VALUES ('Patient', 'old', 1, '2020-01-01T00:00:00.000Z', 1577836800000, 'POST', 0, '{"resourceType":"Patient","id":"old"}');
        INSERT INTO resources VALUES ('Patient', 'old', 1, 1, 0);
        INSERT INTO idx_string VALUES ('Patient', 'old', 'family', 'smith', 'Smith');
        PRAGMA user_version = 1;
      `);
      v1.close();
      const store = new SqliteStore({ file });
      try {
        expect(ids(await store.search(plan({ where: entry('string', 'family', eq('value', 'smith')) })))).to.deep.equal(['old']);
        expect((await store.search(plan({ total: 'accurate', count: 0 }))).total).to.equal(1);
        await save(store, { id: 'new', entries: [grouped(str('c.0', 'a'), 1), grouped(num('c.1', 2), 1)] });
        const composite: Condition = { kind: 'composite', param: 'c', components: [entry('string', 'c.0', eq('value', 'a')), entry('number', 'c.1', eq('value', 2))] };
        expect(ids(await store.search(plan({ where: composite })))).to.deep.equal(['new']);
      } finally {
        await store.close();
      }
      const check = new Database(file, { readonly: true });
      expect(check.pragma('user_version', { simple: true })).to.equal(2);
      const indexes = (check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'idx_string'").all() as { name: string }[]).map((r) => r.name);
      expect(indexes).to.include('idx_string_sort').and.not.include('idx_string_value');
      check.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('store: SQLite search query plans', () => {
  // Without ANALYZE statistics SQLite's plan choices do not depend on the data's size, so a small
  // database shows the plans a large one gets. These guard the shapes bench/search-sqlite.ts times.
  let dir: string;
  let store: SqliteStore;
  let plans: string[][] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vertebra-search-'));
    store = new SqliteStore({ file: join(dir, 'db.sqlite'), synchronous: 'NORMAL', search: { trace: (_sql, queryPlan) => plans.push(queryPlan) } });
    await save(store,
      { id: 'p1', entries: [str('family', 'smith'), str('given', 'jo'), tok('identifier', 'nhs', '9990000018'), date('birthdate', 1000, 1999), ref('general-practitioner', 'Practitioner', 'gp')] },
      { type: 'Observation', id: 'o1', entries: [ref('subject', 'Patient', 'p1'), tok('code', 'loinc', 'hr')] },
    );
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const planOf = async (p: SearchPlan) => {
    plans = [];
    await store.search(p);
    return plans.map((lines) => lines.join('\n')).join('\n');
  };
  const noScans = (text: string) => {
    const scans = text.split('\n').filter((l) => /^\s*SCAN /.test(l) && !/SCAN (\w+ VIRTUAL TABLE|\(subquery|m$|CONSTANT ROW)/.test(l.trim()));
    expect(scans, text).to.deep.equal([]);
  };
  const identifier = entry('token', 'identifier', eq('system', 'nhs'), eq('code', '9990000018'));
  const family = byEntry('string', 'family', 'value');

  it('token equality: the token index, then the resource by primary key', async () => {
    const text = await planOf(plan({ where: identifier }));
    expect(text).to.contain('idx_token_lookup (type=? AND param=? AND code=? AND system=?)').and.contain('PRIMARY KEY (type=? AND id=?)');
    noScans(text);
  });

  it('string prefix and date interval: two-sided index ranges', async () => {
    const text = await planOf(plan({ where: and(entry('string', 'family', { column: 'value', op: 'startsWith', value: 'smi' }), entry('date', 'birthdate', op('ge', 'low', 1000), op('le', 'high', 1999))) }));
    expect(text).to.contain('idx_string_sort (type=? AND param=? AND value>? AND value<?)');
    expect(text).to.match(/idx_date_(low|high)_sort \(type=\? AND param=\? AND (low|high)>\? AND \2<\?\)/);
    noScans(text);
  });

  it('chain and _has: through the reverse reference index and the per-resource index', async () => {
    const chain = await planOf(plan({ resourceTypes: ['Observation'], where: { kind: 'chain', param: 'subject', targetTypes: ['Patient'], condition: identifier } }));
    expect(chain).to.contain('idx_reference_rev (target_id=? AND target_type=? AND type=? AND param=?)');
    noScans(chain);
    const has = await planOf(plan({ where: { kind: 'has', sourceType: 'Observation', param: 'subject', condition: entry('token', 'code', eq('code', 'hr')) } }));
    expect(has).to.contain('idx_reference_entries (id=? AND type=? AND param=?');
    noScans(has);
  });

  it('sorting: the streamed page walks the sort index without sorting; sort keys come from the per-resource index', async () => {
    const streaming = new SqliteStore({ file: join(dir, 'db.sqlite'), search: { streamThreshold: 0, trace: (_sql, queryPlan) => plans.push(queryPlan) } });
    try {
      plans = [];
      await streaming.search(plan({ sort: [family], count: 20 }));
      const streamed = plans.map((lines) => lines.join('\n')).join('\n');
      expect(streamed).to.contain('idx_string_sort (type=? AND param=?)').and.not.contain('TEMP B-TREE');
      noScans(streamed);
    } finally {
      await streaming.close();
    }
    const withCondition = await planOf(plan({ sort: [family], where: identifier, count: 20 }));
    expect(withCondition).to.contain('idx_string_entries (id=? AND type=? AND param=?)').and.not.contain('idx_string_sort (type=? AND param=?)');
    noScans(withCondition);
  });

  it('_include and _revinclude: from the page ids through the reference indexes', async () => {
    const text = await planOf(plan({ where: identifier, include: [{ sourceType: 'Patient', iterate: false }], revinclude: [{ sourceType: 'Observation', param: 'subject', iterate: false }] }));
    expect(text).to.contain('idx_reference_entries (id=? AND type=?').and.contain('idx_reference_rev (target_id=? AND target_type=? AND type=? AND param=?');
    noScans(text);
  });
});
