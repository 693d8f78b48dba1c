import { Aggregator, Query } from 'mingo';

/**
 * TEST ONLY (never imported by product code): an in-process stand-in for the parts of the mongodb
 * driver's Db / Collection / ClientSession API that store/mongo uses, so the Mongo adapter's
 * filters, pipelines and update documents run in `npm test` without a server. Every query filter,
 * projection, sort and aggregation pipeline is evaluated by mingo (MongoDB's query language for
 * in-memory objects); only the update operators the adapter uses ($set, $inc on top-level fields)
 * are implemented here, plainly.
 *
 * Transactions model MongoDB's snapshot isolation: a transaction reads the committed state as of
 * its start plus its own writes; a write to a document that another open transaction has written,
 * or that was committed after this transaction's snapshot, fails at once with a WriteConflict
 * labelled TransientTransactionError, and withTransaction retries the callback, as the driver does.
 * Aborting discards the writes; committing publishes them atomically. Snapshot sessions
 * (`startSession({ snapshot: true })`) read one committed state for their lifetime.
 *
 * What it cannot prove about MongoDB (the real-server suite, `npm run test:mongo`, covers these):
 * - string order: mingo compares JavaScript strings (UTF-16 code units); MongoDB without a
 *   collation compares UTF-8 bytes (code points). They differ only between characters above
 *   U+FFFF and those in U+E000..U+FFFF. No collation is modelled at all.
 * - type bracketing and numeric types: mingo's comparison of mixed BSON types and of
 *   int/long/double/decimal is JavaScript's; the adapter only ever compares like with like.
 * - indexes: createIndex is recorded, not used; no query plan, no unique secondary index (only
 *   _id is unique), no "parallel arrays" check, no index key size limits.
 * - limits: no 16 MB document/command limit, no 100 MB $sort memory limit, no "snapshot too old".
 * - transactions: no durability, no write concern, no transaction lifetime limit, no retryable
 *   commit, no replication; conflicts are detected per document exactly as described above,
 *   which is MongoDB's documented behaviour, but not its implementation.
 */

type Doc = { _id: unknown; [key: string]: unknown };
/** Committed state: collection name -> _id -> document. Never mutated once published. */
type State = Map<string, Map<unknown, Doc>>;

export class WriteConflict extends Error {
  readonly code = 112;
  readonly errorLabels = ['TransientTransactionError'];
  constructor(what: string) {
    super(`WriteConflict (fake): ${what}`);
  }
  hasErrorLabel(label: string): boolean { return this.errorLabels.includes(label); }
}

export class DuplicateKey extends Error {
  readonly code = 11000;
  constructor(what: string) { super(`E11000 duplicate key error (fake): ${what}`); }
}

const clone = <T>(x: T): T => structuredClone(x);

function applyUpdate(doc: Doc, update: Record<string, unknown>): Doc {
  const out = clone(doc);
  for (const [op, fields] of Object.entries(update)) {
    for (const [field, value] of Object.entries(fields as Record<string, unknown>)) {
      if (field.includes('.') || field === '_id') throw new Error(`fake-db: ${op} on '${field}' is not supported`);
      if (op === '$set') out[field] = clone(value);
      else if (op === '$inc') out[field] = ((out[field] as number | undefined) ?? 0) + (value as number);
      else throw new Error(`fake-db: update operator ${op} is not supported`);
    }
  }
  return out;
}

/** Equality fields of a filter, the seed of an upserted document (only plain `{ field: value }`). */
function seedOf(filter: Record<string, unknown>): Doc {
  const doc: Doc = { _id: undefined };
  for (const [k, v] of Object.entries(filter)) if (!k.startsWith('$') && (typeof v !== 'object' || v === null)) doc[k] = v;
  return doc;
}

export class FakeDb {
  /** The committed state (replaced, never mutated, on every commit). */
  state: State = new Map();
  readonly indexes: { collection: string; keys: Record<string, number>; options: Record<string, unknown> }[] = [];
  /** Documents written by open transactions: `${collection}\u0000${_id}` -> session. */
  readonly locks = new Map<string, FakeSession>();
  readonly databaseName = 'fake';
  commits = 0;
  conflicts = 0;

  collection(name: string): FakeCollection {
    return new FakeCollection(this, name);
  }

  /** Db.command: only `{ ping: 1 }` (the store's readiness check). */
  async command(cmd: Record<string, unknown>): Promise<{ ok: 1 }> {
    if (Object.keys(cmd).length === 1 && cmd.ping === 1) return { ok: 1 };
    throw new Error(`fake-db: command ${JSON.stringify(cmd)} is not supported`);
  }

  /** Publishes writes atomically. */
  publish(writes: Map<string, Map<unknown, Doc | null>>): void {
    const next: State = new Map(this.state);
    for (const [collection, docs] of writes) {
      const m = new Map(next.get(collection) ?? []);
      for (const [id, doc] of docs) {
        if (doc === null) m.delete(id);
        else m.set(id, doc);
      }
      next.set(collection, m);
    }
    this.state = next;
    this.commits++;
  }
}

export class FakeClient {
  constructor(readonly db: FakeDb) {}
  startSession(options: { snapshot?: boolean } = {}): FakeSession {
    return new FakeSession(this.db, options.snapshot === true);
  }
}

export class FakeSession {
  /** The state reads see (pinned for a snapshot session or a transaction). */
  private pinned: State | undefined;
  /** Writes of the running transaction. */
  private writes: Map<string, Map<unknown, Doc | null>> | undefined;
  private ended = false;

  constructor(private readonly db: FakeDb, private readonly snapshot: boolean) {}

  get inTransaction(): boolean { return this.writes !== undefined; }

  /** The documents of a collection as this session sees them. */
  view(collection: string): Map<unknown, Doc> {
    if (this.ended) throw new Error('fake-db: session used after endSession');
    if (this.snapshot && !this.pinned) this.pinned = this.db.state;
    const base = (this.pinned ?? this.db.state).get(collection) ?? new Map<unknown, Doc>();
    const own = this.writes?.get(collection);
    if (!own || own.size === 0) return base;
    const merged = new Map(base);
    for (const [id, doc] of own) {
      if (doc === null) merged.delete(id);
      else merged.set(id, doc);
    }
    return merged;
  }

  /** Records a write in the transaction, detecting write conflicts as MongoDB does. */
  write(collection: string, id: unknown, doc: Doc | null): void {
    if (!this.writes || !this.pinned) throw new Error('fake-db: writes outside a transaction are not used by the store');
    const key = `${collection}\u0000${String(typeof id)}:${String(id)}`;
    const holder = this.db.locks.get(key);
    const committedNow = this.db.state.get(collection)?.get(id);
    const atSnapshot = this.pinned.get(collection)?.get(id);
    if ((holder && holder !== this) || committedNow !== atSnapshot) {
      this.db.conflicts++;
      throw new WriteConflict(`${collection} ${String(id)}`);
    }
    this.db.locks.set(key, this);
    let m = this.writes.get(collection);
    if (!m) this.writes.set(collection, (m = new Map()));
    m.set(id, doc);
  }

  private release(): void {
    for (const [key, holder] of this.db.locks) if (holder === this) this.db.locks.delete(key);
  }

  startTransaction(): void {
    if (this.writes) throw new Error('fake-db: transaction already in progress');
    this.pinned = this.db.state;
    this.writes = new Map();
  }

  commitTransaction(): void {
    this.db.publish(this.writes!);
    this.writes = undefined;
    this.pinned = undefined;
    this.release();
  }

  abortTransaction(): void {
    this.writes = undefined;
    this.pinned = undefined;
    this.release();
  }

  /** The driver's withTransaction: runs fn in a transaction, retrying it on a transient error. */
  async withTransaction<T>(fn: (session: FakeSession) => Promise<T>, _options?: unknown): Promise<T> {
    const started = Date.now();
    for (;;) {
      this.startTransaction();
      let result: T;
      try {
        result = await fn(this);
      } catch (e) {
        this.abortTransaction();
        const transient = (e as { errorLabels?: string[] }).errorLabels?.includes('TransientTransactionError');
        if (transient && Date.now() - started < 120_000) {
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
        throw e;
      }
      this.commitTransaction();
      return result;
    }
  }

  async endSession(): Promise<void> {
    if (this.writes) this.abortTransaction();
    this.ended = true;
  }
}

interface Options {
  session?: FakeSession;
  projection?: Record<string, unknown>;
  sort?: Record<string, 1 | -1>;
  limit?: number;
  upsert?: boolean;
  returnDocument?: 'before' | 'after';
}

const KNOWN_OPTIONS = new Set(['session', 'projection', 'sort', 'limit', 'upsert', 'returnDocument']);

function checkOptions(options: Record<string, unknown>): void {
  for (const k of Object.keys(options)) if (!KNOWN_OPTIONS.has(k)) throw new Error(`fake-db: option ${k} is not supported`);
}

class FakeCollection {
  constructor(private readonly db: FakeDb, readonly collectionName: string) {}

  private docs(session?: FakeSession): Doc[] {
    const m = session ? session.view(this.collectionName) : (this.db.state.get(this.collectionName) ?? new Map<unknown, Doc>());
    return [...m.values()];
  }

  private select(filter: Record<string, unknown>, options: Options): Doc[] {
    checkOptions(options as Record<string, unknown>);
    const cursor = new Query(filter).find<Doc>(this.docs(options.session), options.projection);
    if (options.sort) cursor.sort(options.sort);
    if (options.limit) cursor.limit(options.limit); // 0 means no limit, as in MongoDB
    return clone(cursor.all());
  }

  find(filter: Record<string, unknown>, options: Options = {}): { toArray(): Promise<Doc[]> } {
    const rows = this.select(filter, options);
    return { toArray: async () => rows };
  }

  async findOne(filter: Record<string, unknown>, options: Options = {}): Promise<Doc | null> {
    return this.select(filter, { ...options, limit: 1 })[0] ?? null;
  }

  async countDocuments(filter: Record<string, unknown>, options: Options = {}): Promise<number> {
    checkOptions(options as Record<string, unknown>);
    return new Query(filter).find(this.docs(options.session)).all().length;
  }

  aggregate(pipeline: Record<string, unknown>[], options: Options = {}): { toArray(): Promise<Doc[]> } {
    checkOptions(options as Record<string, unknown>);
    const rows = clone(new Aggregator(pipeline).run(this.docs(options.session)) as Doc[]);
    return { toArray: async () => rows };
  }

  async insertOne(doc: Doc, options: Options = {}): Promise<{ acknowledged: true; insertedId: unknown }> {
    const session = this.txSession(options);
    if (session.view(this.collectionName).has(doc._id)) throw new DuplicateKey(`${this.collectionName} _id ${String(doc._id)}`);
    session.write(this.collectionName, doc._id, clone(doc));
    return { acknowledged: true, insertedId: doc._id };
  }

  async updateOne(filter: Record<string, unknown>, update: Record<string, unknown>, options: Options = {}) {
    const session = this.txSession(options);
    const [found] = new Query(filter).find<Doc>(this.docs(session)).limit(1).all();
    if (!found) {
      if (!options.upsert) return { acknowledged: true, matchedCount: 0, modifiedCount: 0, upsertedCount: 0 };
      const doc = applyUpdate(seedOf(filter), update);
      await this.insertOne(doc, { session });
      return { acknowledged: true, matchedCount: 0, modifiedCount: 0, upsertedCount: 1 };
    }
    session.write(this.collectionName, found._id, applyUpdate(found, update));
    return { acknowledged: true, matchedCount: 1, modifiedCount: 1, upsertedCount: 0 };
  }

  async findOneAndUpdate(filter: Record<string, unknown>, update: Record<string, unknown>, options: Options = {}): Promise<Doc | null> {
    const session = this.txSession(options);
    const [found] = new Query(filter).find<Doc>(this.docs(session)).limit(1).all();
    let after: Doc;
    if (found) {
      after = applyUpdate(found, update);
      session.write(this.collectionName, found._id, after);
    } else if (options.upsert) {
      after = applyUpdate(seedOf(filter), update);
      await this.insertOne(after, { session });
    } else {
      return null;
    }
    return clone(options.returnDocument === 'after' ? after : (found ?? null));
  }

  async createIndex(keys: Record<string, number>, options: Record<string, unknown> = {}): Promise<string> {
    this.db.indexes.push({ collection: this.collectionName, keys, options });
    return String(options.name ?? Object.entries(keys).map(([k, v]) => `${k}_${v}`).join('_'));
  }

  private txSession(options: Options): FakeSession {
    checkOptions(options as Record<string, unknown>);
    if (!options.session?.inTransaction) throw new Error(`fake-db: a write to ${this.collectionName} outside a transaction (the store never does that)`);
    return options.session;
  }
}
