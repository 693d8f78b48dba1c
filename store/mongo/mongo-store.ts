import { MongoClient, type ClientSession, type Collection, type Db, type Document, type Filter, type MongoClientOptions } from 'mongodb';
import type { IndexEntry } from '../../search/index-entries.js';
import type { SearchPlan } from '../../search/plan.js';
import type { HistoryPage, HistoryQuery, ResourceVersion, SearchResult, Store, StoreReader, StoreTx, WriteMethod, WriteOp } from '../port.js';
import { keysetBatches, reindexInBatches, STREAM_BATCH } from '../batches.js';
import type { KeyValue } from '../cursor.js';
import { type IncludeQuery, INCLUDE_LIMITS, includesAsync } from '../includes.js';
import { boundaryValues, historyPage, type SearchStart, seekDisjuncts, type SeekTerms, setPageCursors, startSearch, trimPage } from '../page.js';
import { checkNextVersion, versionConflict } from '../versions.js';
import { and, ConditionRenderer, IX, MATCH_NOTHING, pairsFilter, type Resolver, type StoredEntry, type StoredIndex, toStoredIndex } from './render.js';

/**
 * The MongoDB store (production persistence; SQLite is the embedded default).
 *
 * DOCUMENT MODEL. One collection for all resource types, not one per type: chains, _has, includes
 * and `_type` searches cross types, and one collection keeps them single queries with one set of
 * indexes (a per-type collection would multiply the index definitions by ~150 types and turn each
 * of those into a union). `type` leads every index, so a type's documents are contiguous in them.
 * - `resources`: one document per resource, its current version:
 *   `{ _id: 'Type/id', type, id, version, deleted, seq, lastUpdated (ISO), updatedMs, method,
 *      json (string; null for a tombstone), ix }`
 *   where `ix` holds the index entries embedded by kind: `ix.string|token|date|number|quantity|
 *   reference|uri: [{ p: param, <columns as named in IndexEntry>, g?: group }]`, plus `ix.cg`, the
 *   composite groups again as `[{ g, c: [{ k: kind, p, columns }] }]` so that one $elemMatch can
 *   require all components in one group (see render.ts). Tombstones keep no entries (`ix: {}`),
 *   exactly as SQLite keeps no index rows for them.
 * - `history`: one document per version, `_id` = seq, a global sequence number from `counters`
 *   (`{ _id: 'history', seq }`, `$inc` inside the writing transaction, so a rolled-back write
 *   leaves no gap) which orders history newest-first and is the history cursor, as in SQLite:
 *   `{ _id: seq, type, id, version, lastUpdated, updatedMs, supersededMs, method, deleted, json }`.
 *   The counter document is a write hot spot (every write increments it): concurrent transactions
 *   conflict on it and the driver retries them, i.e. writes are serialised, like SQLite's single
 *   writer. A sharded deployment that needs parallel writers must replace it (README).
 *
 * INDEXES (created idempotently by ensureIndexes; names fixed so a changed definition fails loudly):
 * see INDEXES below. Compound multikey indexes lead with `type` and the entry param `ix.<kind>.p`,
 * then the value columns the plan filters and sorts on; `ix.reference.targetId` leads the reverse
 * index used by _revinclude and _has. All fields of one compound index are under the same array
 * (MongoDB cannot index "parallel arrays").
 *
 * TRANSACTIONS. Every write runs in `session.withTransaction` (snapshot read concern, majority +
 * journaled write concern, so the promise resolves only once the write is durable on a majority).
 * MongoDB offers multi-document transactions only on a replica set or a sharded cluster; open()
 * asks the server (`hello`) and refuses a standalone server with a start-up error instead of
 * writing non-atomically. The driver retries a transaction that hit a transient error (a write
 * conflict with a concurrent transaction): `fn` may then run more than once, each time against a
 * fresh snapshot; it must only use the store (the engine's transaction bodies do).
 * Optimistic concurrency: the current document is updated with filter `{ _id, version: current }`;
 * no match (or a duplicate _id on create) is a 409.
 *
 * SEARCH. The plan's condition becomes a filter (render.ts); the page is one aggregation:
 * `$match` (filter) -> `$project` sort keys (an entry key is `$min`/`$max` over the param's values,
 * null without an entry) -> `$match` (keyset seek past the cursor) -> `$sort` -> `$limit count+1`,
 * in the exact order of store/sqlite/search.ts: keys in order, resources without an entry last in
 * both directions, ties by type (several types) and id. Cursors come from store/cursor.ts (same encoding,
 * same query-shape hash) and the page's links from store/page.ts, so both stores issue identical
 * cursors for identical pages; the include rounds are store/includes.ts'. The total,
 * the page and the includes of a search outside a transaction come from one snapshot session.
 */

/** A `resources` document. */
export interface ResourceDoc {
  _id: string;
  type: string;
  id: string;
  version: number;
  deleted: boolean;
  seq: number;
  lastUpdated: string;
  updatedMs: number;
  method: WriteMethod;
  json: string | null;
  ix: StoredIndex;
}

/** A `history` document. */
export interface HistoryDoc {
  _id: number;
  type: string;
  id: string;
  version: number;
  lastUpdated: string;
  updatedMs: number;
  supersededMs: number | null;
  method: WriteMethod;
  deleted: boolean;
  json: string | null;
}

/** Index definitions: [collection, name, keys, unique?]. */
export const INDEXES: [string, string, Record<string, 1 | -1>, boolean?][] = [
  ['resources', 'type_deleted_id', { type: 1, deleted: 1, id: 1 }],
  ['resources', 'type_updated', { type: 1, updatedMs: 1 }],
  ['resources', 'string_value', { type: 1, 'ix.string.p': 1, 'ix.string.value': 1 }],
  ['resources', 'token_code', { type: 1, 'ix.token.p': 1, 'ix.token.code': 1, 'ix.token.system': 1 }],
  ['resources', 'date_low', { type: 1, 'ix.date.p': 1, 'ix.date.low': 1 }],
  ['resources', 'date_high', { type: 1, 'ix.date.p': 1, 'ix.date.high': 1 }],
  ['resources', 'number_value', { type: 1, 'ix.number.p': 1, 'ix.number.value': 1 }],
  ['resources', 'quantity_value', { type: 1, 'ix.quantity.p': 1, 'ix.quantity.value': 1 }],
  ['resources', 'reference_target', { type: 1, 'ix.reference.p': 1, 'ix.reference.targetId': 1, 'ix.reference.targetType': 1 }],
  ['resources', 'reference_url', { type: 1, 'ix.reference.p': 1, 'ix.reference.url': 1 }],
  ['resources', 'reference_rev', { 'ix.reference.targetId': 1, 'ix.reference.targetType': 1, type: 1 }],
  ['resources', 'uri_value', { type: 1, 'ix.uri.p': 1, 'ix.uri.value': 1 }],
  ['resources', 'composite', { type: 1, 'ix.cg.c.p': 1 }],
  ['history', 'type_id_version', { type: 1, id: 1, version: 1 }, true],
  ['history', 'type_seq', { type: 1, _id: -1 }],
  ['history', 'updated', { updatedMs: 1 }],
];

export interface MongoStoreOptions {
  db: Db;
  /** Starts the sessions that transactions and snapshot reads run in. */
  client: Pick<MongoClient, 'startSession'>;
  /** Called by close() (open() passes the client it made). */
  onClose?: () => Promise<void>;
  /** Chain/_has inner matches at most (beyond: 400). Default 10,000. */
  maxResolved?: number;
  /** Rounds of _include/_revinclude :iterate (default: store/includes.ts INCLUDE_LIMITS, as SQLite). */
  maxIncludeRounds?: number;
  /** Included resources per page at most (default: INCLUDE_LIMITS, as SQLite). */
  maxIncluded?: number;
}

export interface MongoOpenOptions {
  /** Database name; default: the URI's, else 'vertebra'. */
  dbName?: string;
  /** Passed to MongoClient (pool size, timeouts, TLS...). retryWrites is always on. */
  clientOptions?: MongoClientOptions;
  maxResolved?: number;
}

/**
 * Throws unless the `hello` answer is from a server that can run multi-document transactions:
 * a replica set member (setName) or a mongos (msg 'isdbgrid').
 */
export function assertTransactional(hello: Document): void {
  if (hello.msg === 'isdbgrid' || typeof hello.setName === 'string') return;
  throw new Error(
    'MONGODB_URI names a standalone MongoDB server. vertebra writes every request in a multi-document ' +
      'transaction, which MongoDB only offers on a replica set or a sharded cluster. Run mongod with ' +
      '--replSet <name> and rs.initiate() (a one-member replica set is enough for development), and ' +
      'put ?replicaSet=<name> in the URI. Refusing to start rather than write without transactions.',
  );
}

const TX_OPTIONS = {
  readConcern: { level: 'snapshot' as const },
  writeConcern: { w: 'majority' as const, journal: true },
  readPreference: 'primary' as const,
};

const VERSION_PROJECTION = { type: 1, id: 1, version: 1, deleted: 1, lastUpdated: 1, method: 1, json: 1 };

function toVersion(d: Pick<ResourceDoc, 'type' | 'id' | 'version' | 'lastUpdated' | 'deleted' | 'method' | 'json'>): ResourceVersion {
  const v: ResourceVersion = {
    resourceType: d.type, id: d.id, versionId: d.version, lastUpdated: d.lastUpdated, deleted: d.deleted, method: d.method,
  };
  if (d.json !== null && d.json !== undefined) v.json = d.json;
  return v;
}

interface SeekKey {
  /** The projected key field. */
  field: string;
  /** Its null flag field (1: no value), for entry keys. */
  nullFlag?: string;
  desc: boolean;
}

/** A page row: the version fields and the sort-key values. */
type Row = Pick<ResourceDoc, 'type' | 'id' | 'version' | 'lastUpdated' | 'deleted' | 'method' | 'json'> & Record<string, unknown>;

/**
 * Rows strictly after (`after`) or before the boundary `values` in the order of `keys`, nulls last,
 * the boundary itself too when inclusive: store/page.ts seekDisjuncts rendered as a filter.
 */
export function seekFilter(keys: SeekKey[], values: KeyValue[], after: boolean, inclusive: boolean): Filter<Document> {
  const disjuncts = seekDisjuncts(keys, values, after, inclusive, MONGO_SEEK).map((d) => and(d));
  return disjuncts.length === 0 ? MATCH_NOTHING : disjuncts.length === 1 ? disjuncts[0] : { $or: disjuncts };
}

/** The seek's comparisons as filters over the projected key fields (a null flag of 1: no value). */
const MONGO_SEEK: SeekTerms<SeekKey, Filter<Document>> = {
  beyond: (k, v, after) => {
    if (after) {
      const past = { [k.field]: { [k.desc ? '$lt' : '$gt']: v } };
      return k.nullFlag ? { $or: [past, { [k.nullFlag]: 1 }] } : past;
    }
    if (v === null) return { [k.nullFlag ?? k.field]: k.nullFlag ? 0 : { $ne: null } };
    return { [k.field]: { [k.desc ? '$gt' : '$lt']: v } };
  },
  equal: (k, v) => (v === null ? { [k.nullFlag ?? k.field]: k.nullFlag ? 1 : null } : { [k.field]: { $eq: v } }),
};

/** Reads, optionally within a session (a transaction's, or a snapshot). */
class Reads implements StoreReader, Resolver {
  constructor(private readonly store: MongoStore, private readonly session: ClientSession | undefined) {}

  private get opts() { return this.session ? { session: this.session } : {}; }

  async read(resourceType: string, id: string): Promise<ResourceVersion | undefined> {
    const d = await this.store.resourcesCol.findOne({ _id: `${resourceType}/${id}` }, { ...this.opts, projection: VERSION_PROJECTION });
    return d ? toVersion(d as unknown as ResourceDoc) : undefined;
  }

  async vread(resourceType: string, id: string, versionId: number): Promise<ResourceVersion | undefined> {
    const d = await this.store.historyCol.findOne({ type: resourceType, id, version: versionId }, this.opts);
    return d ? toVersion(d as unknown as HistoryDoc) : undefined;
  }

  async history(q: HistoryQuery): Promise<HistoryPage> {
    const parts: Filter<any>[] = [];
    if (q.resourceType !== undefined) parts.push({ type: q.resourceType });
    if (q.id !== undefined) parts.push({ id: q.id });
    if (q.since !== undefined) parts.push({ updatedMs: { $gte: q.since } });
    if (q.at !== undefined) {
      parts.push({ updatedMs: { $lte: q.at.high } }, { $or: [{ supersededMs: null }, { supersededMs: { $gt: q.at.low } }] });
    }
    const filter = and(parts);
    const total = await this.store.historyCol.countDocuments(filter, this.opts);
    let pageFilter = filter;
    if (q.cursor !== undefined) {
      const seq = Number(q.cursor);
      pageFilter = Number.isFinite(seq) ? and([filter, { _id: { $lt: seq } }]) : MATCH_NOTHING;
    }
    const rows = (await this.store.historyCol.find(pageFilter, { ...this.opts, sort: { _id: -1 }, limit: q.count + 1 }).toArray()) as unknown as HistoryDoc[];
    return historyPage(rows, q.count, total, toVersion, (r) => r._id);
  }

  // ---- Resolver (chains, _has) -------------------------------------------------------------

  async matching(types: string[], filter: Filter<Document>, limit: number): Promise<{ type: string; id: string }[]> {
    const rows = await this.store.resourcesCol
      .find(and([{ type: { $in: types }, deleted: false }, filter]), { ...this.opts, projection: { _id: 0, type: 1, id: 1 }, limit })
      .toArray();
    return rows as unknown as { type: string; id: string }[];
  }

  async referencesOf(type: string, param: string, filter: Filter<Document>, limit: number): Promise<{ entries: StoredEntry[]; sources: number }> {
    const rows = await this.store.resourcesCol
      .find(
        and([{ type, deleted: false, [`${IX}.reference`]: { $elemMatch: { p: param, targetId: { $ne: null } } } }, filter]),
        { ...this.opts, projection: { _id: 0, [`${IX}.reference`]: 1 }, limit },
      )
      .toArray();
    const entries = rows.flatMap((r: Document) => ((r as { ix?: StoredIndex }).ix?.reference ?? []).filter((e) => e.p === param && e.targetId !== null));
    return { entries, sources: rows.length };
  }

  // ---- search ------------------------------------------------------------------------------

  async search(plan: SearchPlan): Promise<SearchResult> {
    const start = startSearch(plan);
    const { types } = start;
    const renderer = new ConditionRenderer(this, this.store.maxResolved);
    const where = plan.where === undefined ? undefined : await renderer.render(plan.where, types);
    const base = and([{ type: { $in: types }, deleted: false }, where]);

    const result: SearchResult = { matches: [], included: [] };
    if (start.countTotal) result.total = await this.store.resourcesCol.countDocuments(base, this.opts);
    if (start.noPage) return result;

    const { rows, more } = await this.page(plan, start, base);
    setPageCursors(result, start, rows, more, (row) => plan.sort.map((_, j) => (row[`k${j}`] ?? null) as KeyValue));
    result.matches = rows.map(toVersion);
    if (rows.length && (plan.include.length || plan.revinclude.length)) {
      result.included = (await includesAsync<Row>(plan, rows, this.store, (q) => this.include(q))).map(toVersion);
    }
    return result;
  }

  /** One aggregation: match, project keys, seek, sort, limit count + 1 (see the class comment). */
  private async page(plan: SearchPlan, start: SearchStart, base: Filter<Document>): Promise<{ rows: Row[]; more: boolean }> {
    const { cursor, backward, types } = start;
    const project: Document = { _id: 0, ...VERSION_PROJECTION };
    const flags: Document = {};
    const keys: SeekKey[] = [];
    plan.sort.forEach((key, j) => {
      const field = `k${j}`;
      if (key.by === 'entry') {
        const values = {
          $map: {
            input: { $filter: { input: { $ifNull: [`$${IX}.${key.entry}`, []] }, as: 'e', cond: { $eq: ['$$e.p', key.param] } } },
            as: 'e', in: `$$e.${key.column}`,
          },
        };
        project[field] = { [key.descending ? '$max' : '$min']: values };
        flags[`n${j}`] = { $cond: [{ $eq: [{ $ifNull: [`$${field}`, null] }, null] }, 1, 0] };
        keys.push({ field, nullFlag: `n${j}`, desc: key.descending });
      } else if (key.by === 'id') {
        project[field] = '$id';
        keys.push({ field, desc: key.descending });
      } else if (key.by === 'lastUpdated') {
        project[field] = '$updatedMs';
        keys.push({ field, desc: key.descending });
      } else {
        throw new Error(`Search plan: unknown sort key ${JSON.stringify((key as { by: unknown }).by)}`);
      }
    });
    const single = types.length === 1;
    if (!single) keys.push({ field: 'type', desc: false });
    keys.push({ field: 'id', desc: false });

    const sort: Record<string, 1 | -1> = {};
    for (const k of keys) {
      if (k.nullFlag) sort[k.nullFlag] = backward ? -1 : 1;
      sort[k.field] = k.desc !== backward ? -1 : 1;
    }
    const pipeline: Document[] = [{ $match: base }, { $project: project }];
    if (Object.keys(flags).length) pipeline.push({ $addFields: flags });
    if (cursor) {
      pipeline.push({ $match: seekFilter(keys, boundaryValues(cursor, !single), !backward, cursor.inclusive) });
    }
    pipeline.push({ $sort: sort }, { $limit: plan.count + 1 });
    const rows = (await this.store.resourcesCol.aggregate(pipeline, this.opts).toArray()) as unknown as Row[];
    return trimPage(rows, plan.count, backward);
  }

  // ---- _include / _revinclude (the rounds: store/includes.ts) -------------------------------

  /** One query of an include round (see IncludeQuery). */
  private async include(q: IncludeQuery): Promise<Row[]> {
    let filter: Filter<Document>;
    if (q.direction === 'forward') {
      const sources = await this.store.resourcesCol
        .find({ _id: { $in: q.ids.map((i) => `${q.type}/${i}`) } }, { ...this.opts, projection: { _id: 0, [`${IX}.reference`]: 1 } })
        .toArray();
      const targets: { type: string; id: string }[] = [];
      for (const s of sources) {
        for (const e of (s as { ix?: StoredIndex }).ix?.reference ?? []) {
          if (q.param !== undefined && e.p !== q.param) continue;
          if (typeof e.targetType !== 'string' || typeof e.targetId !== 'string') continue;
          if (q.targetType !== undefined && e.targetType !== q.targetType) continue;
          targets.push({ type: e.targetType, id: e.targetId });
        }
      }
      if (targets.length === 0) return [];
      filter = and([{ deleted: false }, { $or: pairsFilter(targets, 'type', 'id') }]);
    } else {
      const entry: Document = { targetType: q.type, targetId: { $in: q.ids } };
      if (q.param !== undefined) entry.p = q.param;
      filter = { deleted: false, [`${IX}.reference`]: { $elemMatch: entry } };
      if (q.sourceType !== undefined) filter.type = q.sourceType;
    }
    return (await this.store.resourcesCol
      .find(filter, { ...this.opts, projection: { _id: 0, ...VERSION_PROJECTION }, sort: { type: 1, id: 1 }, limit: q.limit })
      .toArray()) as unknown as Row[];
  }
}

const isDuplicateKey = (e: unknown) => typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 11000;

export class MongoStore implements Store {
  // Collection<any>: documents of several shapes, ids of type string (resources) and number (history).
  readonly resourcesCol: Collection<any>;
  readonly historyCol: Collection<any>;
  readonly countersCol: Collection<any>;
  readonly maxResolved: number;
  readonly maxIncludeRounds: number;
  readonly maxIncluded: number;
  private readonly client: Pick<MongoClient, 'startSession'>;
  private readonly db: Db;
  private readonly onClose?: () => Promise<void>;
  private readonly plain: Reads;
  private active = 0;
  private whenIdle: (() => void)[] = [];
  private closed = false;

  constructor(options: MongoStoreOptions) {
    this.resourcesCol = options.db.collection('resources');
    this.historyCol = options.db.collection('history');
    this.countersCol = options.db.collection('counters');
    this.client = options.client;
    this.db = options.db;
    this.onClose = options.onClose;
    this.maxResolved = options.maxResolved ?? 10_000;
    this.maxIncludeRounds = options.maxIncludeRounds ?? INCLUDE_LIMITS.maxIncludeRounds;
    this.maxIncluded = options.maxIncluded ?? INCLUDE_LIMITS.maxIncluded;
    this.plain = new Reads(this, undefined);
  }

  /**
   * Connects to `uri`, checks that the server can run transactions (refuses a standalone server),
   * creates the indexes, and returns the store (which closes the client on close()).
   */
  static async open(uri: string, options: MongoOpenOptions = {}): Promise<MongoStore> {
    const client = new MongoClient(uri, { retryWrites: true, ...options.clientOptions });
    await client.connect();
    try {
      assertTransactional(await client.db('admin').command({ hello: 1 }));
      const fromUri = client.db().databaseName;
      const db = client.db(options.dbName ?? (fromUri && fromUri !== 'test' ? fromUri : 'vertebra'));
      const store = new MongoStore({ db, client, onClose: () => client.close(), maxResolved: options.maxResolved });
      await store.ensureIndexes();
      return store;
    } catch (e) {
      await client.close();
      throw e;
    }
  }

  /** Creates every index of INDEXES (a no-op for those that exist with the same definition). */
  async ensureIndexes(): Promise<void> {
    const byName = { resources: this.resourcesCol, history: this.historyCol } as Record<string, Collection<any>>;
    for (const [collection, name, keys, unique] of INDEXES) {
      await byName[collection].createIndex(keys, unique ? { name, unique: true } : { name });
    }
  }

  read(resourceType: string, id: string) { return this.plain.read(resourceType, id); }
  vread(resourceType: string, id: string, versionId: number) { return this.plain.vread(resourceType, id, versionId); }

  async history(query: HistoryQuery): Promise<HistoryPage> {
    return this.withSnapshot((reads) => reads.history(query));
  }

  async search(plan: SearchPlan): Promise<SearchResult> {
    return this.withSnapshot((reads) => reads.search(plan));
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('MongoStore: closed');
    await this.db.command({ ping: 1 });
  }

  /**
   * Keyset walk in `_id` order (`Type/id`: within one type, the id order SQLite streams in), one
   * bounded find per batch, no session: nothing stays open while the consumer works on a batch.
   * The `_id` range is bounded to the type's prefix so the walk never scans other types.
   */
  async *stream(resourceType: string, since?: number): AsyncIterable<ResourceVersion> {
    const prefix = `${resourceType}/`;
    const end = `${resourceType}0`; // '0' is the character after '/'
    const batches = keysetBatches<Row & { _id: string }>(STREAM_BATCH, async (after, limit) => {
      const filter: Filter<any> = { _id: { $gt: after?._id ?? prefix, $lt: end }, type: resourceType, deleted: false };
      if (since !== undefined) filter.updatedMs = { $gte: since };
      return (await this.resourcesCol
        .find(filter, { projection: { _id: 1, ...VERSION_PROJECTION }, sort: { _id: 1 }, limit })
        .toArray()) as unknown as (Row & { _id: string })[];
    });
    for await (const rows of batches) for (const row of rows) yield toVersion(row);
  }

  /** Runs several reads against one snapshot (a snapshot session). */
  private async withSnapshot<T>(fn: (reads: Reads) => Promise<T>): Promise<T> {
    const session = this.client.startSession({ snapshot: true });
    try {
      return await fn(new Reads(this, session));
    } finally {
      await session.endSession();
    }
  }

  async transaction<T>(fn: (tx: StoreTx) => Promise<T>): Promise<T> {
    return this.batch((session) => {
      const reads = new Reads(this, session);
      return fn({
        read: (t, i) => reads.read(t, i),
        vread: (t, i, v) => reads.vread(t, i, v),
        history: (q) => reads.history(q),
        search: (plan) => reads.search(plan),
        write: (op) => this.write(op, session),
      });
    });
  }

  private async write(op: WriteOp, session: ClientSession): Promise<void> {
    const _id = `${op.resourceType}/${op.id}`;
    const current = (await this.resourcesCol.findOne({ _id }, { session, projection: { version: 1, seq: 1 } })) as Pick<ResourceDoc, 'version' | 'seq'> | null;
    checkNextVersion(op, current?.version);
    const conflict = () => versionConflict(op, current?.version);
    const updatedMs = Date.parse(op.lastUpdated);
    const deleted = op.json === undefined;
    const counter = await this.countersCol.findOneAndUpdate({ _id: 'history' }, { $inc: { seq: 1 } }, { session, upsert: true, returnDocument: 'after' });
    const seq = (counter as { seq: number } | null)?.seq;
    if (typeof seq !== 'number') throw new Error('MongoStore: the history counter did not return a sequence number');
    const fields = {
      type: op.resourceType, id: op.id, version: op.versionId, lastUpdated: op.lastUpdated, updatedMs, method: op.method, deleted, json: op.json ?? null,
    };
    try {
      await this.historyCol.insertOne({ _id: seq, ...fields, supersededMs: null }, { session });
    } catch (e) {
      if (isDuplicateKey(e)) throw conflict();
      throw e;
    }
    const doc = { ...fields, seq, ix: deleted ? {} : toStoredIndex(op.entries) };
    if (current) {
      await this.historyCol.updateOne({ _id: current.seq }, { $set: { supersededMs: updatedMs } }, { session });
      const res = await this.resourcesCol.updateOne({ _id, version: current.version }, { $set: doc }, { session });
      if (res.matchedCount === 0) throw conflict();
    } else {
      try {
        await this.resourcesCol.insertOne({ _id, ...doc }, { session });
      } catch (e) {
        if (isDuplicateKey(e)) throw conflict();
        throw e;
      }
    }
  }

  /** Reindexes in batches (store/batches.ts) in (type, id) order, each batch its own transaction. */
  async reindex(
    resourceType: string | undefined,
    extract: (json: string) => IndexEntry[],
    onProgress?: (done: number, total: number) => void,
  ): Promise<number> {
    const typeFilter: Filter<Document> = resourceType === undefined ? {} : { type: resourceType };
    const total = await this.resourcesCol.countDocuments(and([typeFilter, { deleted: false }]));
    return reindexInBatches<ResourceDoc>(total, onProgress, (after, limit) => this.batch(async (session) => {
      const position: Filter<Document> | undefined = after === undefined ? undefined
        : resourceType !== undefined ? { id: { $gt: after.id } }
        : { $or: [{ type: { $gt: after.type } }, { type: after.type, id: { $gt: after.id } }] };
      const rows = (await this.resourcesCol
        .find(and([typeFilter, { deleted: false }, position]), { session, projection: { type: 1, id: 1, version: 1, json: 1 }, sort: { type: 1, id: 1 }, limit })
        .toArray()) as unknown as ResourceDoc[];
      for (const row of rows) {
        await this.resourcesCol.updateOne({ _id: row._id, version: row.version }, { $set: { ix: toStoredIndex(extract(row.json!)) } }, { session });
      }
      return rows;
    }));
  }

  /** Runs fn in one transaction (withTransaction: retried as a whole on a transient error). */
  private async batch<T>(fn: (session: ClientSession) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('MongoStore: closed');
    this.active++;
    const session = this.client.startSession();
    try {
      let result: T | undefined;
      await session.withTransaction(async () => { result = await fn(session); }, TX_OPTIONS);
      return result as T;
    } finally {
      await session.endSession();
      if (--this.active === 0) for (const wake of this.whenIdle.splice(0)) wake();
    }
  }

  /** Waits for running transactions, then closes the client when the store opened it. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.active > 0) await new Promise<void>((resolve) => this.whenIdle.push(resolve));
    await this.onClose?.();
  }
}
