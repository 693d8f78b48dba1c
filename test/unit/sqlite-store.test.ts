import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import type { WriteOp } from '../../store/port.js';

function op(id: string, versionId = 1): WriteOp {
  return {
    resourceType: 'Basic', id, versionId, lastUpdated: new Date().toISOString(), method: versionId === 1 ? 'POST' : 'PUT',
    json: JSON.stringify({ resourceType: 'Basic', id, meta: { versionId: String(versionId) } }), entries: [],
  };
}

describe('store: SQLite transactions under group commit', () => {
  let dir: string;
  let store: SqliteStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vertebra-store-'));
    store = new SqliteStore({ file: join(dir, 'db.sqlite') });
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('concurrent transactions commit or roll back each on their own, even when they share a commit', async () => {
    const results = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => store.transaction(async (tx) => {
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
  });

  it('a transaction sees the writes of transactions queued before it, and a version conflict fails only that one', async () => {
    const first = store.transaction(async (tx) => tx.write(op('x')));
    const stale = store.transaction(async (tx) => tx.write(op('x'))); // version 1 again: a lost update
    const next = store.transaction(async (tx) => {
      const current = await tx.read('Basic', 'x');
      await tx.write(op('x', current!.versionId + 1));
    });
    const [a, b, c] = await Promise.allSettled([first, stale, next]);
    expect([a.status, b.status, c.status]).to.deep.equal(['fulfilled', 'rejected', 'fulfilled']);
    expect((b as PromiseRejectedResult).reason.status).to.equal(409);
    expect((await store.read('Basic', 'x'))!.versionId).to.equal(2);
    expect((await store.history({ resourceType: 'Basic', id: 'x', count: 10 })).total).to.equal(2);
  });

  it('close waits for queued transactions to commit', async () => {
    const writes = Array.from({ length: 10 }, (_, i) => store.transaction(async (tx) => tx.write(op(`q${i}`))));
    await store.close();
    await Promise.all(writes);
    store = new SqliteStore({ file: join(dir, 'db.sqlite') });
    expect((await store.history({ resourceType: 'Basic', count: 100 })).total).to.equal(10);
  });
});
