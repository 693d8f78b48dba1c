import { MongoClient } from 'mongodb';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { MongoStore } from '../../store/mongo/mongo-store.js';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { searchConformanceSuite } from '../search/runner.js';
import { DualStore } from './dual-store.js';
import { startMongoTestServer } from './server.js';
import { storeSemantics } from './store-semantics.js';

/**
 * The Mongo suites against a real server: `MONGODB_URI=mongodb://host/?replicaSet=rs0 npm run
 * test:mongo`. Each suite gets its own throw-away database (vertebra_test_<uuid>), dropped after.
 * Without MONGODB_URI everything here is skipped, with the reason printed.
 */

const uri = process.env.MONGODB_URI;

async function openReal(): Promise<{ store: MongoStore; drop: () => Promise<void> }> {
  const dbName = `vertebra_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const store = await MongoStore.open(uri!, { dbName, clientOptions: { serverSelectionTimeoutMS: 10_000 } });
  return {
    store,
    drop: async () => {
      const client = await new MongoClient(uri!).connect();
      try { await client.db(dbName).dropDatabase(); } finally { await client.close(); }
    },
  };
}

describe('store/mongo against a real MongoDB server (MONGODB_URI)', function () {
  before(function () {
    if (!uri) {
      console.log('    skipped: MONGODB_URI is not set (no MongoDB server here); set it to a replica set to run these, e.g. `MONGODB_URI=mongodb://localhost:27017/?replicaSet=rs0 npm run test:mongo`');
      this.skip();
    }
  });

  searchConformanceSuite('MongoDB (real server)', async () => {
    const { store, drop } = await openReal();
    const server = await startMongoTestServer(store);
    return { base: server.url, stop: async () => { await server.stop(); await drop(); } };
  });

  let lockstep: DualStore | undefined;
  searchConformanceSuite('SQLite and real MongoDB in lockstep', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vertebra-dual-'));
    const { store, drop } = await openReal();
    lockstep = new DualStore(new SqliteStore({ file: join(dir, 'db.sqlite') }), store);
    const server = await startMongoTestServer(lockstep);
    return { base: server.url, stop: async () => { await server.stop(); await drop(); rmSync(dir, { recursive: true, force: true }); } };
  });
  describe('lockstep result', () => {
    it('every store call gave identical results on SQLite and the real MongoDB', () => {
      expect(lockstep).to.not.equal(undefined);
      expect(lockstep!.mismatches.length, lockstep!.mismatches.slice(0, 5).join('\n\n')).to.equal(0);
    });
  });

  storeSemantics('real MongoDB', async () => {
    const { store, drop } = await openReal();
    return { store, cleanup: async () => { await store.close(); await drop(); } };
  });
});
