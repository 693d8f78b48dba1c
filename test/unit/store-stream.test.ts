import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResourceVersion, Store, WriteOp } from '../../store/port.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { fakeMongoStore } from '../mongo/server.js';

/** Store.stream (export) and Store.ping, on SQLite and on MongoDB over the mingo fake. */

const T0 = Date.parse('2024-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(ms).toISOString();

function op(resourceType: string, id: string, versionId: number, ms: number, deleted = false): WriteOp {
  return {
    resourceType, id, versionId, lastUpdated: at(ms), method: deleted ? 'DELETE' : versionId === 1 ? 'POST' : 'PUT',
    json: deleted ? undefined : JSON.stringify({ resourceType, id, meta: { versionId: String(versionId), lastUpdated: at(ms) } }),
    entries: [],
  };
}

async function all(it: AsyncIterable<ResourceVersion>): Promise<ResourceVersion[]> {
  const out: ResourceVersion[] = [];
  for await (const v of it) out.push(v);
  return out;
}

/** More than one stream batch (1000) of Basic, so the keyset walk crosses a batch boundary. */
const N = 2150;
const id = (i: number) => `b${String(i).padStart(5, '0')}`;

async function seed(store: Store): Promise<void> {
  for (let start = 0; start < N; start += 250) {
    await store.transaction(async (tx) => {
      for (let i = start; i < Math.min(N, start + 250); i++) await tx.write(op('Basic', id(i), 1, T0 + i * 1000));
    });
  }
  await store.transaction(async (tx) => {
    // Every 7th deleted (a tombstone, later than everything above); b00003 updated late.
    for (let i = 0; i < N; i += 7) await tx.write(op('Basic', id(i), 2, T0 + 10_000_000 + i, true));
    await tx.write(op('Basic', id(3), 2, T0 + 20_000_000));
    // Neighbouring types, whose ids sort next to Basic's in either store, never leak into it.
    for (const type of ['Bas', 'Basi', 'BasicX', 'Basic2', 'Binary']) await tx.write(op(type, 'b00001', 1, T0 + 30_000_000));
  });
}

function streamSuite(title: string, open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>): void {
  describe(`store: stream and ping (${title})`, function () {
    this.timeout(60_000);
    let store: Store;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ store, cleanup } = await open());
      await seed(store);
    });
    after(async () => { await cleanup(); });

    const live = Array.from({ length: N }, (_, i) => i).filter((i) => i % 7 !== 0);

    it('streams exactly the live resources of the type, current versions, in id order', async () => {
      const got = await all(store.stream('Basic'));
      expect(got.map((v) => v.id)).to.deep.equal(live.map(id));
      expect(got.every((v) => v.resourceType === 'Basic' && !v.deleted && typeof v.json === 'string')).to.equal(true);
      const b3 = got.find((v) => v.id === id(3))!;
      expect(b3.versionId).to.equal(2);
      expect(JSON.parse(b3.json!).meta.versionId).to.equal('2');
    });

    it('honours since (updated at or after, inclusive)', async () => {
      const since = T0 + 1500 * 1000;
      const got = await all(store.stream('Basic', since));
      const expected = [3, ...live.filter((i) => i >= 1500)].map(id);
      expect(got.map((v) => v.id)).to.deep.equal(expected);
      expect((await all(store.stream('Basic', T0 + 99_000_000))).length).to.equal(0);
    });

    it('a type with no resources, or only deleted ones, streams nothing', async () => {
      expect(await all(store.stream('Observation'))).to.deep.equal([]);
      await store.transaction(async (tx) => {
        await tx.write(op('Device', 'gone', 1, T0));
        await tx.write(op('Device', 'gone', 2, T0 + 1, true));
      });
      expect(await all(store.stream('Device'))).to.deep.equal([]);
      expect((await all(store.stream('BasicX'))).map((v) => v.id)).to.deep.equal(['b00001']);
    });

    it('ping resolves while the store is open', async () => {
      await store.ping();
    });
  });

  describe(`store: ping after close (${title})`, () => {
    it('rejects once the store is closed', async () => {
      const { store, cleanup } = await open();
      await store.ping();
      await store.close();
      const e = await store.ping().then(() => undefined, (err: unknown) => err);
      expect(e).to.be.instanceOf(Error);
      await cleanup().catch(() => undefined);
    });
  });
}

streamSuite('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vertebra-stream-'));
  const store = new SqliteStore({ file: join(dir, 'db.sqlite') });
  return {
    store,
    cleanup: async () => {
      await store.close().catch(() => undefined); // a no-op when the test closed it already
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

streamSuite('MongoDB over the mingo fake', async () => {
  const { store } = await fakeMongoStore();
  return { store, cleanup: async () => store.close() };
});
