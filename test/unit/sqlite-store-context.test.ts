import { expect } from 'chai';
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';

/**
 * Group commit runs several callers' transactions in one group, scheduled by whichever came first;
 * each transaction must still run in its own caller's async context. Otherwise a scope such as
 * the SCR API's (an AsyncLocalStorage flag its hooks read inside the transaction) leaks into
 * another request's writes (found by review: a pipelined generic DELETE of an SCR Consent passed
 * the SCR-only guard when it shared a group with a $setPermission).
 */
describe('SQLite store: group commit keeps each caller\'s async context', () => {
  let dir: string;
  let store: SqliteStore;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vertebra-ctx-'));
    store = new SqliteStore({ file: join(dir, 'db.sqlite'), synchronous: 'NORMAL' });
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a transaction sees its own caller\'s AsyncLocalStorage value, not the group scheduler\'s', async () => {
    const scope = new AsyncLocalStorage<string>();
    const seen: (string | undefined)[] = [];
    const job = () => store.transaction(async () => {
      await Promise.resolve();
      seen.push(scope.getStore());
    });
    // Scheduled in the same tick, so they share one group; the first caller schedules it.
    await Promise.all([scope.run('privileged', job), job(), scope.run('other', job)]);
    expect(seen).to.deep.equal(['privileged', undefined, 'other']);
  });
});
