import { expect } from 'chai';
import type { IndexEntry } from '../../search/index-entries.js';
import type { SearchPlan } from '../../search/plan.js';
import { assertTransactional } from '../../store/mongo/mongo-store.js';
import type { Store, WriteOp } from '../../store/port.js';
import type { FakeDb } from './fake-db.js';

/**
 * Store-level semantics of store/mongo (the equivalents of test/unit/sqlite-store.test.ts, where
 * the fake can model them), run against the fake and, in real.test.ts, a real server.
 */

let clock = Date.parse('2024-01-01T00:00:00.000Z');
const tick = () => new Date((clock += 1000)).toISOString();

function op(id: string, versionId = 1, entries: IndexEntry[] = [], deleted = false): WriteOp {
  return {
    resourceType: 'Basic', id, versionId, lastUpdated: tick(), method: deleted ? 'DELETE' : versionId === 1 ? 'POST' : 'PUT',
    json: deleted ? undefined : JSON.stringify({ resourceType: 'Basic', id, meta: { versionId: String(versionId) } }), entries,
  };
}

const token = (code: string): IndexEntry => ({ kind: 'token', param: 'code', system: 'urn:s', code, text: null });

function plan(code: string): SearchPlan {
  return {
    resourceTypes: ['Basic'], where: { kind: 'entry', entry: 'token', param: 'code', clauses: [{ column: 'code', op: 'eq', value: code }] },
    sort: [], count: 10, total: 'accurate', include: [], revinclude: [], warnings: [],
  };
}

export interface StoreUnderTest {
  store: Store;
  fake?: FakeDb;
  cleanup(): Promise<void>;
}

export function storeSemantics(title: string, open: () => Promise<StoreUnderTest>): void {
  describe(`store/mongo semantics: ${title}`, function () {
    this.timeout(60_000);
    let s: StoreUnderTest;
    beforeEach(async () => { s = await open(); });
    afterEach(async () => { await s.cleanup(); });

    it('refuses a standalone server at start-up; accepts a replica set member or a mongos', () => {
      expect(() => assertTransactional({ isWritablePrimary: true, maxWireVersion: 21 })).to.throw(/standalone.*replica set/s);
      expect(() => assertTransactional({ isWritablePrimary: true, setName: 'rs0' })).to.not.throw();
      expect(() => assertTransactional({ isWritablePrimary: true, msg: 'isdbgrid' })).to.not.throw();
    });

    it('concurrent transactions commit or roll back each on their own; a rolled-back one leaves nothing', async () => {
      const { store } = s;
      const results = await Promise.allSettled(Array.from({ length: 30 }, (_, i) => store.transaction(async (tx) => {
        await tx.write(op(`b${i}`));
        await tx.write(op(`c${i}`));
        if (i % 5 === 0) throw new Error(`request ${i} fails after writing`);
        return i;
      })));
      for (const [i, r] of results.entries()) {
        expect(r.status, `transaction ${i}`).to.equal(i % 5 === 0 ? 'rejected' : 'fulfilled');
        const written = [await store.read('Basic', `b${i}`), await store.read('Basic', `c${i}`)];
        if (i % 5 === 0) expect(written, `transaction ${i} left a trace`).to.deep.equal([undefined, undefined]);
        else expect(written.map((v) => v?.versionId), `transaction ${i}`).to.deep.equal([1, 1]);
      }
      const history = await store.history({ resourceType: 'Basic', count: 1000 });
      expect(history.total, 'history versions: 24 committed transactions x 2').to.equal(48);
      if (s.fake) expect(s.fake.conflicts, 'concurrent transactions met write conflicts and were retried').to.be.greaterThan(0);
    });

    it('a version conflict is a 409 and writes nothing; the next version goes through', async () => {
      const { store } = s;
      await store.transaction(async (tx) => tx.write(op('x')));
      for (const stale of [1, 3]) {
        const e = await store.transaction(async (tx) => tx.write(op('x', stale))).then(() => undefined, (err) => err);
        expect(e?.status, `writing version ${stale} over version 1`).to.equal(409);
      }
      await store.transaction(async (tx) => {
        const current = await tx.read('Basic', 'x');
        await tx.write(op('x', current!.versionId + 1));
      });
      expect((await store.read('Basic', 'x'))!.versionId).to.equal(2);
      expect((await store.history({ resourceType: 'Basic', id: 'x', count: 10 })).total).to.equal(2);
    });

    it('two writers of the same version: exactly one wins, the other gets a 409', async () => {
      const { store } = s;
      await store.transaction(async (tx) => tx.write(op('y')));
      const both = await Promise.allSettled([1, 2].map(() => store.transaction(async (tx) => {
        const current = await tx.read('Basic', 'y');
        await new Promise((resolve) => setImmediate(resolve));
        await tx.write(op('y', current!.versionId + 1));
      })));
      // With a retried transaction the loser re-reads version 2 and writes version 3: also a win
      // of optimistic concurrency (no lost update). Either way: no version is written twice.
      const versions = (await store.history({ resourceType: 'Basic', id: 'y', count: 10 })).versions.map((v) => v.versionId);
      expect(versions).to.deep.equal(both.every((r) => r.status === 'fulfilled') ? [3, 2, 1] : [2, 1]);
      for (const r of both) if (r.status === 'rejected') expect(r.reason.status).to.equal(409);
    });

    it('reads inside a transaction see its writes; reads outside do not until it commits', async () => {
      const { store } = s;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      let inside: unknown;
      const running = store.transaction(async (tx) => {
        await tx.write(op('z'));
        inside = (await tx.read('Basic', 'z'))?.versionId;
        await gate;
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await store.read('Basic', 'z'), 'uncommitted write seen outside').to.equal(undefined);
      release();
      await running;
      expect(inside).to.equal(1);
      expect((await store.read('Basic', 'z'))?.versionId).to.equal(1);
    });

    it('history: newest first, cursor paging, _since, _at, tombstones and vread', async () => {
      const { store } = s;
      const times: string[] = [];
      for (const [id, v, del] of [['h1', 1, false], ['h2', 1, false], ['h1', 2, false], ['h2', 2, true]] as const) {
        const w = op(id, v, [], del);
        times.push(w.lastUpdated);
        await store.transaction(async (tx) => tx.write(w));
      }
      const first = await store.history({ resourceType: 'Basic', count: 3 });
      expect(first.total).to.equal(4);
      expect(first.versions.map((v) => `${v.id}/${v.versionId}`)).to.deep.equal(['h2/2', 'h1/2', 'h2/1']);
      expect(first.versions[0].deleted).to.equal(true);
      expect(first.versions[0].json).to.equal(undefined);
      const rest = await store.history({ resourceType: 'Basic', count: 3, cursor: first.nextCursor });
      expect(rest.versions.map((v) => `${v.id}/${v.versionId}`)).to.deep.equal(['h1/1']);
      expect(rest.nextCursor).to.equal(undefined);
      const since = await store.history({ resourceType: 'Basic', count: 10, since: Date.parse(times[2]) });
      expect(since.versions.map((v) => `${v.id}/${v.versionId}`)).to.deep.equal(['h2/2', 'h1/2']);
      const at = Date.parse(times[1]);
      const asOf = await store.history({ resourceType: 'Basic', count: 10, at: { low: at, high: at } });
      expect(asOf.versions.map((v) => `${v.id}/${v.versionId}`)).to.deep.equal(['h2/1', 'h1/1']);
      expect((await store.vread('Basic', 'h1', 1))?.versionId).to.equal(1);
      expect((await store.read('Basic', 'h2'))?.deleted).to.equal(true);
      expect((await store.search({ ...plan('x'), where: undefined })).matches.map((v) => v.id)).to.deep.equal(['h1']);
    });

    it('reindex replaces the entries without making versions', async () => {
      const { store } = s;
      for (let i = 0; i < 5; i++) await store.transaction(async (tx) => tx.write(op(`r${i}`, 1, [token('old')])));
      expect((await store.search(plan('old'))).total).to.equal(5);
      const progress: number[] = [];
      const n = await store.reindex('Basic', () => [token('new')], (done) => progress.push(done));
      expect(n).to.equal(5);
      expect(progress).to.deep.equal([5]);
      expect((await store.search(plan('old'))).total).to.equal(0);
      expect((await store.search(plan('new'))).total).to.equal(5);
      expect((await store.history({ resourceType: 'Basic', count: 100 })).total).to.equal(5);
    });

    it('a cursor of another query is a 400', async () => {
      const { store } = s;
      for (let i = 0; i < 3; i++) await store.transaction(async (tx) => tx.write(op(`p${i}`, 1, [token('a')])));
      const page = await store.search({ ...plan('a'), count: 1 });
      expect(page.nextCursor).to.be.a('string');
      const e = await store.search({ ...plan('b'), count: 1, cursor: page.nextCursor }).then(() => undefined, (err) => err);
      expect(e?.status).to.equal(400);
      const junk = await store.search({ ...plan('a'), count: 1, cursor: 'not-a-cursor!' }).then(() => undefined, (err) => err);
      expect(junk?.status).to.equal(400);
    });

    it('close waits for running transactions to commit', async () => {
      const { store } = s;
      const writes = Array.from({ length: 5 }, (_, i) => store.transaction(async (tx) => tx.write(op(`q${i}`))));
      const closing = store.close();
      await Promise.all(writes);
      await closing;
      s = { ...s, cleanup: async () => undefined };
    });
  });
}
