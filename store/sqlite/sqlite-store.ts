import Database from 'better-sqlite3';
import { AsyncResource } from 'node:async_hooks';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { errors } from '../../fhir/errors.js';
import type { IndexEntry } from '../../search/index-entries.js';
import type { SearchPlan } from '../../search/plan.js';
import type { HistoryPage, HistoryQuery, ResourceVersion, SearchResult, Store, StoreReader, StoreTx, WriteOp } from '../port.js';
import { keysetBatches, reindexInBatches, STREAM_BATCH } from '../batches.js';
import { historyPage } from '../page.js';
import { checkNextVersion } from '../versions.js';
import { INDEX_TABLES, migrate } from './schema.js';
import { SqliteSearch, type SqliteSearchOptions } from './search.js';
import { toVersion, VERSION_COLUMNS, type VersionRow } from './versions.js';

export interface SqliteStoreOptions {
  /** Path of the database file; its folder is created if missing. */
  file: string;
  /**
   * PRAGMA synchronous. FULL (default) fsyncs the WAL on every commit, so an acknowledged write
   * survives a power cut as well as kill -9. NORMAL survives kill -9 only.
   */
  synchronous?: 'FULL' | 'NORMAL';
  /** Tuning of the search executor (tests use it to force one page strategy or another). */
  search?: SqliteSearchOptions;
}

/** Statements that read; prepared once per connection. */
class Reads implements StoreReader {
  private readonly current: Database.Statement;
  private readonly version: Database.Statement;

  private readonly searcher: SqliteSearch;

  constructor(private readonly db: Database.Database, searchOptions?: SqliteSearchOptions) {
    this.searcher = new SqliteSearch(db, searchOptions);
    this.current = db.prepare(`SELECT ${VERSION_COLUMNS} FROM resources r JOIN history h ON h.seq = r.seq WHERE r.type = ? AND r.id = ?`);
    this.version = db.prepare(`SELECT ${VERSION_COLUMNS} FROM history h WHERE h.type = ? AND h.id = ? AND h.version = ?`);
  }

  async read(resourceType: string, id: string): Promise<ResourceVersion | undefined> {
    const row = this.current.get(resourceType, id) as VersionRow | undefined;
    return row && toVersion(row);
  }

  async vread(resourceType: string, id: string, versionId: number): Promise<ResourceVersion | undefined> {
    const row = this.version.get(resourceType, id, versionId) as VersionRow | undefined;
    return row && toVersion(row);
  }

  async history(q: HistoryQuery): Promise<HistoryPage> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    // Instance history must walk the (type, id, version) index. Left alone, SQLite satisfies
    // ORDER BY seq with history_by_type and filters the id on the way: a scan of every version of
    // the type (500 ms per request at 100,000 patients). So for one resource the page is ordered
    // by version (the same order as seq within one resource) and the other terms are written
    // `+h.col`, which keeps them out of index selection.
    const instance = q.id !== undefined;
    const col = (name: string) => (instance ? `+h.${name}` : `h.${name}`);
    if (q.resourceType !== undefined) { where.push('h.type = ?'); args.push(q.resourceType); }
    if (q.id !== undefined) { where.push('h.id = ?'); args.push(q.id); }
    if (q.since !== undefined) { where.push(`${col('updated_ms')} >= ?`); args.push(q.since); }
    if (q.at !== undefined) {
      where.push(`${col('updated_ms')} <= ? AND (h.superseded_ms IS NULL OR h.superseded_ms > ?)`);
      args.push(q.at.high, q.at.low);
    }
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT count(*) AS n FROM history h ${filter}`).get(...args) as { n: number }).n;

    const cursor = q.cursor === undefined ? undefined : Number(q.cursor);
    const pageWhere = cursor === undefined ? filter : `${filter ? `${filter} AND` : 'WHERE'} ${col('seq')} < ?`;
    const pageArgs = cursor === undefined ? args : [...args, cursor];
    const rows = this.db
      .prepare(`SELECT ${VERSION_COLUMNS} FROM history h ${pageWhere} ORDER BY ${instance ? 'h.version' : 'h.seq'} DESC LIMIT ?`)
      .all(...pageArgs, q.count + 1) as VersionRow[];
    return historyPage(rows, q.count, total, toVersion, (r) => r.seq);
  }

  async search(plan: SearchPlan): Promise<SearchResult> {
    try {
      return this.searcher.search(plan);
    } catch (e) {
      // search/ bounds query size (search/limits.ts); this is the backstop should SQLite's own
      // limits still be reached: the client's query is too big, which is not a server fault.
      if (e instanceof Database.SqliteError && /too many|too large|too deep/i.test(e.message)) {
        throw errors.badRequest('The search is too large for the store to run; narrow it or split it');
      }
      throw e;
    }
  }
}

/** Statements that write; only on the writer connection. */
class Writes {
  private readonly currentVersion: Database.Statement;
  private readonly count: Database.Statement;
  private readonly insertHistory: Database.Statement;
  private readonly supersede: Database.Statement;
  private readonly upsertCurrent: Database.Statement;
  private readonly clearIndex: Database.Statement[];
  private readonly insertIndex: Record<IndexEntry['kind'], Database.Statement>;

  constructor(db: Database.Database) {
    this.currentVersion = db.prepare('SELECT version, seq, deleted FROM resources WHERE type = ? AND id = ?');
    this.count = db.prepare('INSERT INTO resource_counts (type, live) VALUES (?, ?) ON CONFLICT (type) DO UPDATE SET live = live + excluded.live');
    this.insertHistory = db.prepare(
      'INSERT INTO history (type, id, version, last_updated, updated_ms, method, deleted, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    this.supersede = db.prepare('UPDATE history SET superseded_ms = ? WHERE seq = ?');
    this.upsertCurrent = db.prepare(
      'INSERT INTO resources (type, id, seq, version, deleted) VALUES (?, ?, ?, ?, ?) ' +
        'ON CONFLICT (type, id) DO UPDATE SET seq = excluded.seq, version = excluded.version, deleted = excluded.deleted',
    );
    this.clearIndex = INDEX_TABLES.map((t) => db.prepare(`DELETE FROM ${t} WHERE type = ? AND id = ?`));
    this.insertIndex = {
      string: db.prepare('INSERT INTO idx_string (type, id, param, value, exact, grp) VALUES (?, ?, ?, ?, ?, ?)'),
      token: db.prepare('INSERT INTO idx_token (type, id, param, system, code, text, grp) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      date: db.prepare('INSERT INTO idx_date (type, id, param, low, high, grp) VALUES (?, ?, ?, ?, ?, ?)'),
      number: db.prepare('INSERT INTO idx_number (type, id, param, value, grp) VALUES (?, ?, ?, ?, ?)'),
      quantity: db.prepare('INSERT INTO idx_quantity (type, id, param, value, system, code, unit, grp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      reference: db.prepare('INSERT INTO idx_reference (type, id, param, target_type, target_id, target_version, url, grp) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
      uri: db.prepare('INSERT INTO idx_uri (type, id, param, value, grp) VALUES (?, ?, ?, ?, ?)'),
    };
  }

  write(op: WriteOp): void {
    const current = this.currentVersion.get(op.resourceType, op.id) as { version: number; seq: number; deleted: number } | undefined;
    checkNextVersion(op, current?.version);
    const updatedMs = Date.parse(op.lastUpdated);
    const deleted = op.json === undefined;
    const seq = Number(
      this.insertHistory.run(op.resourceType, op.id, op.versionId, op.lastUpdated, updatedMs, op.method, deleted ? 1 : 0, op.json ?? null)
        .lastInsertRowid,
    );
    if (current) this.supersede.run(updatedMs, current.seq);
    this.upsertCurrent.run(op.resourceType, op.id, seq, op.versionId, deleted ? 1 : 0);
    const wasLive = current !== undefined && current.deleted === 0;
    if (wasLive !== !deleted) this.count.run(op.resourceType, deleted ? -1 : 1);
    this.replaceEntries(op.resourceType, op.id, deleted ? [] : op.entries);
  }

  /** Replaces the index entries of one resource (a write, or a reindex that makes no version). */
  replaceEntries(type: string, id: string, entries: IndexEntry[]): void {
    for (const stmt of this.clearIndex) stmt.run(type, id);
    for (const e of entries) this.index(type, id, e);
  }

  private index(type: string, id: string, e: IndexEntry): void {
    const g = e.group ?? null;
    switch (e.kind) {
      case 'string': this.insertIndex.string.run(type, id, e.param, e.value, e.exact, g); break;
      case 'token': this.insertIndex.token.run(type, id, e.param, e.system, e.code, e.text, g); break;
      case 'date': this.insertIndex.date.run(type, id, e.param, e.low, e.high, g); break;
      case 'number': this.insertIndex.number.run(type, id, e.param, e.value, g); break;
      case 'quantity': this.insertIndex.quantity.run(type, id, e.param, e.value, e.system, e.code, e.unit, g); break;
      case 'reference': this.insertIndex.reference.run(type, id, e.param, e.targetType, e.targetId, e.targetVersion, e.url, g); break;
      case 'uri': this.insertIndex.uri.run(type, id, e.param, e.value, g); break;
    }
  }
}

/** Transactions committed together at most; bounds how long one group holds the writer. */
const MAX_GROUP = 256;

interface PendingTransaction {
  fn: (tx: StoreTx) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
}

/**
 * The embedded store: better-sqlite3 in WAL mode.
 *
 * Two connections: the writer runs transactions one at a time (queued, because a transaction's
 * callback is async and other requests must not slip statements into it; see runGroup), and the
 * reader serves everything else from the last committed snapshot, so no request ever sees another's
 * uncommitted writes.
 */
export class SqliteStore implements Store {
  private readonly writer: Database.Database;
  private readonly reader: Database.Database;
  private readonly reads: Reads;
  private readonly writerReads: Reads;
  private readonly writes: Writes;
  private readonly tx: StoreTx;
  private pending: PendingTransaction[] = [];
  private groupRunning = false;
  private whenIdle: (() => void)[] = [];

  constructor(options: SqliteStoreOptions) {
    mkdirSync(dirname(options.file), { recursive: true });
    this.writer = new Database(options.file);
    this.writer.pragma('journal_mode = WAL');
    this.writer.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    this.writer.pragma('busy_timeout = 5000');
    migrate(this.writer);
    this.reader = new Database(options.file, { readonly: true });
    this.reader.pragma('busy_timeout = 5000');
    // Search reads index pages all over the file: a page cache well above the default 2 MiB keeps
    // the hot ones in memory instead of going back to the OS for each.
    this.reader.pragma('cache_size = -65536');
    this.reads = new Reads(this.reader, options.search);
    this.writerReads = new Reads(this.writer, options.search);
    this.writes = new Writes(this.writer);
    this.tx = {
      read: (t, i) => this.writerReads.read(t, i),
      vread: (t, i, v) => this.writerReads.vread(t, i, v),
      history: (q) => this.writerReads.history(q),
      search: (plan) => this.writerReads.search(plan),
      write: async (op) => this.writes.write(op),
    };
  }

  read(resourceType: string, id: string) { return this.reads.read(resourceType, id); }
  vread(resourceType: string, id: string, versionId: number) { return this.reads.vread(resourceType, id, versionId); }
  history(query: HistoryQuery) { return this.reads.history(query); }
  search(plan: SearchPlan) { return this.reads.search(plan); }

  async ping(): Promise<void> {
    this.reader.prepare('SELECT 1').get();
  }

  /**
   * Keyset walk over (type, id) on the reader, one `.all()` per batch: no statement stays open
   * (and so no read snapshot is held) while the consumer works on a batch.
   */
  async *stream(resourceType: string, since?: number): AsyncIterable<ResourceVersion> {
    const batch = this.reader.prepare(
      `SELECT ${VERSION_COLUMNS} FROM resources r JOIN history h ON h.seq = r.seq ` +
        `WHERE r.type = ? AND r.deleted = 0 AND r.id > ?${since === undefined ? '' : ' AND h.updated_ms >= ?'} ORDER BY r.id LIMIT ?`,
    );
    const batches = keysetBatches<VersionRow>(STREAM_BATCH, (after, limit) => {
      const args: (string | number)[] = since === undefined ? [resourceType, after?.id ?? ''] : [resourceType, after?.id ?? '', since];
      return batch.all(...args, limit) as VersionRow[];
    });
    for await (const rows of batches) for (const row of rows) yield toVersion(row);
  }

  /**
   * Reindexes in batches (store/batches.ts) of resources in (type, id) order, each batch its own
   * transaction through the group-commit queue, so writers wait at most one batch. A batch reads
   * its resources inside its transaction, so a concurrent update is never overwritten with entries
   * of the version it replaced. Resources created after the start are reindexed if the walk has
   * not passed them yet (they were indexed at write time anyway).
   */
  async reindex(
    resourceType: string | undefined,
    extract: (json: string) => IndexEntry[],
    onProgress?: (done: number, total: number) => void,
  ): Promise<number> {
    const typeFilter = resourceType === undefined ? '' : 'r.type = ? AND ';
    const typeArgs = resourceType === undefined ? [] : [resourceType];
    const total = (this.reader.prepare(`SELECT count(*) AS n FROM resources r WHERE ${typeFilter}r.deleted = 0`).get(...typeArgs) as { n: number }).n;
    // Keyset walk; with a fixed type, `id > ?` (a row value next to `type = ?` would not be a range).
    const batch = this.writer.prepare(
      `SELECT r.type, r.id, h.json FROM resources r JOIN history h ON h.seq = r.seq WHERE ${typeFilter}r.deleted = 0 ` +
        `AND ${resourceType === undefined ? '(r.type, r.id) > (?, ?)' : 'r.id > ?'} ORDER BY r.type, r.id LIMIT ?`,
    );
    return reindexInBatches<{ type: string; id: string; json: string }>(total, onProgress, (after, limit) => this.transaction(async () => {
      const position = resourceType === undefined ? [after?.type ?? '', after?.id ?? ''] : [after?.id ?? ''];
      const rows = batch.all(...typeArgs, ...position, limit) as { type: string; id: string; json: string }[];
      for (const row of rows) this.writes.replaceEntries(row.type, row.id, extract(row.json));
      return rows;
    }));
  }

  transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // The group runs in whichever request scheduled it: each job must still run in its own
      // caller's async context (AsyncLocalStorage: the SCR API's scope, the write observers).
      this.pending.push({ fn: AsyncResource.bind(fn), resolve, reject } as PendingTransaction);
      this.scheduleGroup();
    });
  }

  private scheduleGroup(): void {
    if (this.groupRunning) return;
    if (this.pending.length === 0) {
      for (const wake of this.whenIdle.splice(0)) wake();
      return;
    }
    this.groupRunning = true;
    // setImmediate, not a microtask: requests already read off the sockets get to enqueue their
    // transactions first, so they share one commit (and one fsync).
    setImmediate(() => {
      void this.runGroup().finally(() => { this.groupRunning = false; this.scheduleGroup(); });
    });
  }

  /**
   * Group commit. Every queued transaction runs inside its own SAVEPOINT of one outer transaction,
   * so each still commits or rolls back on its own; the group then commits once, and only after
   * that durable COMMIT is any caller told it succeeded. One fsync serves the whole group.
   */
  private async runGroup(): Promise<void> {
    const group = this.pending.splice(0, MAX_GROUP);
    const outcomes: (() => void)[] = [];
    try {
      this.writer.exec('BEGIN IMMEDIATE');
      for (const job of group) {
        this.writer.exec('SAVEPOINT request');
        try {
          const result = await job.fn(this.tx);
          this.writer.exec('RELEASE request');
          outcomes.push(() => job.resolve(result));
        } catch (e) {
          this.writer.exec('ROLLBACK TO request');
          this.writer.exec('RELEASE request');
          outcomes.push(() => job.reject(e));
        }
      }
      this.writer.exec('COMMIT');
    } catch (e) {
      // The database itself failed (busy, disk full, I/O error): nothing of the group is kept.
      if (this.writer.inTransaction) this.writer.exec('ROLLBACK');
      for (const job of group) job.reject(e);
      return;
    }
    for (const settle of outcomes) settle();
  }

  async close(): Promise<void> {
    if (this.groupRunning || this.pending.length) await new Promise<void>((resolve) => this.whenIdle.push(resolve));
    this.reader.close();
    this.writer.close();
  }
}
