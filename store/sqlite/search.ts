import type Database from 'better-sqlite3';
import type { SearchPlan, SortKey } from '../../search/plan.js';
import type { ResourceVersion, SearchResult } from '../port.js';
import type { Cursor } from '../cursor.js';
import { type IncludeLimits, type IncludeQuery, INCLUDE_LIMITS, includesSync } from '../includes.js';
import { boundaryValues, type SearchStart, seekDisjuncts, type SeekTerms, setPageCursors, startSearch, trimPage } from '../page.js';
import { ConditionRenderer, entryColumn, entryTable, type Fragment, inList, type SqlValue } from './search-sql.js';
import { toVersion, VERSION_COLUMNS, type VersionRow } from './versions.js';

/**
 * Runs search plans on one SQLite connection (the reader, or the writer inside a transaction).
 *
 * Order: plan.sort keys in order, then type and id ascending. An entry sort key is the MIN of the
 * column over the resource's entries for the param (MAX when descending); resources with no such
 * entry come last in both directions (NULLS LAST).
 *
 * Paging is keyset: a cursor holds the boundary row's key values, type and id (see cursor.ts; the
 * page's links and the seek's structure are store/page.ts') and the next page is "rows after the
 * boundary" in that order, so writes between pages never make a page repeat or skip a resource
 * that was there all along.
 *
 * Two ways to produce a page:
 * - general: compute every match's keys, order, seek past the cursor, LIMIT count + 1. Cost grows
 *   with the number of matches (about 0.6 µs per match for an entry key).
 * - streamed: one type, one entry sort key on an indexed column, and many matches (>=
 *   streamThreshold): walk the (type, param, value, id) index in order, keep each resource's
 *   MIN/MAX entry only, and stop after count + 1 rows; then the resources without an entry. Same
 *   order, same cursors, but the cost is that of the page, not of the match set.
 */

export interface SqliteSearchOptions {
  /**
   * Sorted searches use the streamed page when they have at least this many matches (default
   * 2000) and these make up at least streamMinDensity of the type's resources (default 0.02, so
   * that walking the sort index meets a match at least every 50 entries).
   */
  streamThreshold?: number;
  streamMinDensity?: number;
  /** Rounds of _include/_revinclude :iterate (default 10; the first round is the matches'). */
  maxIncludeRounds?: number;
  /** Included resources per page at most (default 10,000). */
  maxIncluded?: number;
  /** Diagnostics (benchmarks): called with each statement's SQL and its EXPLAIN QUERY PLAN lines. */
  trace?: (sql: string, queryPlan: string[]) => void;
}

/** A page row: type, id, history seq of the current version, and the sort-key values. */
interface Row {
  type: string;
  id: string;
  seq: number;
  k: SqlValue[];
}

/** An included row: type, id, history seq of the current version. */
interface IncludedRow {
  type: string;
  id: string;
  seq: number;
}

interface Page {
  rows: Row[];
  /** More rows follow in the direction the page was fetched. */
  more: boolean;
}

interface SeekKey {
  expr: string;
  desc: boolean;
  nullable: boolean;
}

/** Entry (kind.column) pairs with a (type, param, column, id) index: the streamed page works on these. */
const SORT_INDEXES: Record<string, string> = {
  'string.value': 'idx_string_sort', 'date.low': 'idx_date_low_sort', 'date.high': 'idx_date_high_sort',
  'number.value': 'idx_number_sort', 'quantity.value': 'idx_quantity_sort', 'uri.value': 'idx_uri_sort',
};

const STATEMENT_CACHE = 300;

export class SqliteSearch {
  private readonly statements = new Map<string, Database.Statement>();
  private readonly streamThreshold: number;
  private readonly streamMinDensity: number;
  private readonly includeLimits: IncludeLimits;
  private readonly trace: SqliteSearchOptions['trace'];
  private readonly inReadTransaction: (plan: SearchPlan) => SearchResult;

  constructor(private readonly db: Database.Database, options: SqliteSearchOptions = {}) {
    this.streamThreshold = options.streamThreshold ?? 2000;
    this.streamMinDensity = options.streamMinDensity ?? 0.02;
    this.includeLimits = {
      maxIncludeRounds: options.maxIncludeRounds ?? INCLUDE_LIMITS.maxIncludeRounds,
      maxIncluded: options.maxIncluded ?? INCLUDE_LIMITS.maxIncluded,
    };
    this.trace = options.trace;
    // One read transaction (a savepoint inside the writer's open transaction): the total, the page
    // and the includes all come from the same snapshot.
    this.inReadTransaction = db.transaction((plan: SearchPlan) => this.run(plan));
  }

  search(plan: SearchPlan): SearchResult {
    return this.inReadTransaction(plan);
  }

  private run(plan: SearchPlan): SearchResult {
    const start = startSearch(plan);
    const { cursor, types } = start;
    const renderer = new ConditionRenderer();
    const where = plan.where === undefined ? undefined : renderer.predicate(plan.where, 'r', types);

    const typeIn = inList('r.type', types);
    const base: Fragment = {
      sql: `${typeIn.sql} AND r.deleted = 0${where ? ` AND (${where.sql})` : ''}`,
      args: [...typeIn.args, ...(where?.args ?? [])],
    };

    let total: number | undefined;
    if (start.countTotal) {
      total = where === undefined
        ? this.get<{ n: number }>(`SELECT coalesce(sum(c.live), 0) AS n FROM resource_counts c WHERE ${inList('c.type', types).sql}`, types).n
        : this.get<{ n: number }>(`SELECT count(*) AS n FROM resources r WHERE ${base.sql}`, base.args).n;
    }
    if (start.noPage) return withTotal({ matches: [], included: [] }, total);

    const page = this.streamable(plan, types, base, total, renderer)
      ? this.streamedPage(plan.sort[0] as Extract<SortKey, { by: 'entry' }>, types[0],
        plan.where === undefined ? undefined : renderer.probe(plan.where, 'r', types), cursor, plan.count)
      : this.generalPage(plan, start, base, renderer);

    const result: SearchResult = withTotal({ matches: [], included: [] }, total);
    const rows = page.rows;
    setPageCursors(result, start, rows, page.more, keysOf);

    result.matches = this.versions(rows.map((r) => r.seq));
    if (rows.length && (plan.include.length || plan.revinclude.length)) {
      const included = includesSync<IncludedRow>(plan, rows, this.includeLimits, (q) => this.include(q));
      result.included = this.versions(included.map((r) => r.seq));
    }
    return result;
  }

  // ---- pages ---------------------------------------------------------------------------------

  /**
   * Whether the streamed page applies (see the class comment): one type, one entry sort key with a
   * sort index, and enough matches, dense enough. The match count is the total when there is one,
   * else a count that stops at the number needed: over the condition's own set when it has one
   * (an index range, no resource visited), else over the resources.
   */
  private streamable(plan: SearchPlan, types: string[], base: Fragment, total: number | undefined, renderer: ConditionRenderer): boolean {
    if (types.length !== 1 || plan.sort.length !== 1) return false;
    const key = plan.sort[0];
    if (key.by !== 'entry' || !Object.hasOwn(SORT_INDEXES, `${key.entry}.${key.column}`)) return false;
    entryColumn(key.entry, key.column);
    const live = this.get<{ n: number }>('SELECT coalesce(sum(live), 0) AS n FROM resource_counts WHERE type = ?', [types[0]]).n;
    const needed = Math.max(this.streamThreshold, Math.ceil(live * this.streamMinDensity));
    if (total !== undefined) return total >= needed;
    if (plan.where === undefined) return live >= needed;
    const set = renderer.set(plan.where, 'r', types);
    const matches = set
      ? this.get<{ n: number }>(`SELECT count(*) AS n FROM (SELECT 1 FROM (${set.sql}) LIMIT ?)`, [...set.args, needed]).n
      : this.get<{ n: number }>(`SELECT count(*) AS n FROM (SELECT 1 FROM resources r WHERE ${base.sql} LIMIT ?)`, [...base.args, needed]).n;
    return matches >= needed;
  }

  /** Every match's keys, ordered, seeked past the cursor; count + 1 rows. */
  private generalPage(plan: SearchPlan, start: SearchStart, base: Fragment, renderer: ConditionRenderer): Page {
    const { cursor, backward } = start;
    const single = start.types.length === 1;
    const materialize = plan.sort.some((k) => k.by === 'entry');
    const history = plan.sort.some((k) => k.by === 'lastUpdated');

    const select: string[] = ['r.type AS t', 'r.id AS i', 'r.seq AS s'];
    const selectArgs: SqlValue[] = [];
    const seekKeys: SeekKey[] = [];
    plan.sort.forEach((key, j) => {
      let expr: string;
      if (key.by === 'entry') {
        const x = renderer.alias('k');
        const table = entryTable(key.entry);
        // INDEXED BY: left alone, SQLite answers MIN/MAX from the (type, param, value) index and
        // walks the whole param looking for this resource.
        expr = `(SELECT ${key.descending ? 'MAX' : 'MIN'}(${x}.${entryColumn(key.entry, key.column)}) FROM ${table} ${x} INDEXED BY ${table}_entries ` +
          `WHERE ${x}.type = r.type AND ${x}.id = r.id AND ${x}.param = ?)`;
        selectArgs.push(key.param);
      } else if (key.by === 'id') {
        expr = 'r.id';
      } else if (key.by === 'lastUpdated') {
        expr = 'h.updated_ms';
      } else {
        throw new Error(`Search plan: unknown sort key ${JSON.stringify((key as { by: unknown }).by)}`);
      }
      select.push(`${expr} AS k${j}`);
      seekKeys.push({ expr: materialize ? `k${j}` : expr, desc: key.descending, nullable: key.by === 'entry' });
    });
    // The type only orders rows when several types are searched.
    if (!single) seekKeys.push({ expr: materialize ? 't' : 'r.type', desc: false, nullable: false });
    seekKeys.push({ expr: materialize ? 'i' : 'r.id', desc: false, nullable: false });

    const seek = cursor ? seekPredicate(seekKeys, boundaryValues(cursor, !single), !backward, cursor.inclusive) : undefined;
    const order = seekKeys.map((k) => {
      const desc = k.desc !== backward;
      return `${k.expr} ${desc ? 'DESC' : 'ASC'}${k.nullable ? (backward ? ' NULLS FIRST' : ' NULLS LAST') : ''}`;
    }).join(', ');
    const from = `FROM resources r${history ? ' JOIN history h ON h.seq = r.seq' : ''} WHERE ${base.sql}`;

    let sql: string;
    let args: SqlValue[];
    const keyColumns = plan.sort.map((_, j) => `, k${j}`).join('');
    if (materialize) {
      sql = `WITH m AS MATERIALIZED (SELECT ${select.join(', ')} ${from}) ` +
        `SELECT t, i, s${keyColumns} FROM m${seek ? ` WHERE ${seek.sql}` : ''} ORDER BY ${order} LIMIT ?`;
    } else {
      sql = `SELECT ${select.join(', ')} ${from}${seek ? ` AND (${seek.sql})` : ''} ORDER BY ${order} LIMIT ?`;
    }
    args = [...selectArgs, ...base.args, ...(seek?.args ?? []), plan.count + 1];

    const raw = this.all<Record<string, SqlValue>>(sql, args);
    const rows: Row[] = raw.map((r) => ({ type: r.t as string, id: r.i as string, seq: r.s as number, k: plan.sort.map((_, j) => r[`k${j}`]) }));
    return trimPage(rows, plan.count, backward);
  }

  /**
   * The page by walking the sort index (see the class comment): a sequence of segments, each an
   * index-ordered query, until count + 1 rows are in hand. Forward from a boundary with a value:
   * the rest of the boundary's value (by id), then the values beyond it, then the resources with
   * no entry; from a boundary with none, the rest of those. Backward mirrors it. `where` is the
   * condition as per-row probes (ConditionRenderer.probe): the walk visits few rows.
   */
  private streamedPage(key: Extract<SortKey, { by: 'entry' }>, type: string, where: Fragment | undefined, cursor: Cursor | undefined, count: number): Page {
    const table = entryTable(key.entry);
    const col = entryColumn(key.entry, key.column);
    const need = count + 1;
    const out: Row[] = [];
    const backward = cursor?.direction === 'p';
    const whereSql = where ? ` AND (${where.sql})` : '';
    const whereArgs = where?.args ?? [];
    // Walking order of the value: forward is the sort direction.
    const valueDesc = key.descending !== backward;
    const idDir = backward ? 'DESC' : 'ASC';

    const run = (sql: string, args: SqlValue[]) => {
      if (out.length >= need) return;
      const rows = this.all<{ t: string; i: string; s: number; k0: SqlValue }>(sql, [...args, need - out.length]);
      for (const r of rows) out.push({ type: r.t, id: r.i, seq: r.s, k: [r.k0] });
    };
    // Each resource once: the entry that carries its key (MIN or MAX; lowest rowid among equals).
    const pick = `e.rowid = (SELECT x.rowid FROM ${table} x INDEXED BY ${table}_entries WHERE x.type = e.type AND x.id = e.id AND x.param = e.param ` +
      `ORDER BY x.${col} ${key.descending ? 'DESC' : 'ASC'}, x.rowid ${key.descending ? 'DESC' : 'ASC'} LIMIT 1)`;
    const entries = (extra: string, extraArgs: SqlValue[], order: string) => run(
      // The walk must drive (CROSS JOIN, INDEXED BY): left to itself SQLite may start from the
      // condition's match set and sort it all, which is the general page's cost.
      `SELECT e.type AS t, e.id AS i, r.seq AS s, e.${col} AS k0 FROM ${table} e INDEXED BY ${SORT_INDEXES[`${key.entry}.${key.column}`]} ` +
        `CROSS JOIN resources r WHERE e.type = ? AND e.param = ?${extra} AND r.type = e.type AND r.id = e.id AND r.deleted = 0${whereSql} ` +
        `AND ${pick} ORDER BY ${order} LIMIT ?`,
      [type, key.param, ...extraArgs, ...whereArgs],
    );
    const allEntries = () => entries('', [], `e.${col} ${valueDesc ? 'DESC' : 'ASC'}, e.id ${idDir}`);
    const nulls = (extra: string, extraArgs: SqlValue[]) => run(
      `SELECT r.type AS t, r.id AS i, r.seq AS s, NULL AS k0 FROM resources r WHERE r.type = ? AND r.deleted = 0${whereSql} ` +
        `AND NOT EXISTS (SELECT 1 FROM ${table} x INDEXED BY ${table}_entries WHERE x.type = r.type AND x.id = r.id AND x.param = ?)${extra} ORDER BY r.id ${idDir} LIMIT ?`,
      [type, ...whereArgs, key.param, ...extraArgs],
    );
    const idOp = `${backward ? '<' : '>'}${cursor?.inclusive ? '=' : ''}`;

    if (!cursor) {
      allEntries();
      nulls('', []);
    } else if (cursor.keys[0] === null) {
      // The boundary is among the resources without an entry (which come last).
      nulls(` AND r.id ${idOp} ?`, [cursor.id]);
      if (backward) allEntries();
    } else {
      const value = cursor.keys[0];
      entries(` AND e.${col} = ? AND e.id ${idOp} ?`, [value, cursor.id], `e.id ${idDir}`);
      entries(` AND e.${col} ${valueDesc ? '<' : '>'} ?`, [value], `e.${col} ${valueDesc ? 'DESC' : 'ASC'}, e.id ${idDir}`);
      if (!backward) nulls('', []);
    }

    return trimPage(out, count, backward);
  }

  // ---- _include / _revinclude (the rounds: store/includes.ts) ---------------------------------

  /**
   * One query of an include round (see IncludeQuery). Forward: from the ids' own reference entries
   * to the current targets; reverse: from the entries that point at the ids (idx_reference_rev) to
   * their current sources. CROSS JOIN fixes the order: from the ids, to the entries, to the rows.
   */
  private include(q: IncludeQuery): IncludedRow[] {
    const forward = q.direction === 'forward';
    const [index, idCol, typeCol, toType, toId] = forward
      ? ['idx_reference_entries', 'e.id', 'e.type', 'e.target_type', 'e.target_id']
      : ['idx_reference_rev', 'e.target_id', 'e.target_type', 'e.type', 'e.id'];
    const otherType = forward ? q.targetType : q.sourceType;
    const filters: string[] = [];
    const args: SqlValue[] = [JSON.stringify(q.ids), q.type];
    if (q.param !== undefined) { filters.push(' AND e.param = ?'); args.push(q.param); }
    if (otherType !== undefined) { filters.push(` AND ${toType} = ?`); args.push(otherType); }
    return this.all<IncludedRow>(
      `SELECT DISTINCT r.type AS type, r.id AS id, r.seq AS seq FROM json_each(?) j CROSS JOIN idx_reference e INDEXED BY ${index} CROSS JOIN resources r ` +
        `WHERE ${idCol} = j.value AND ${typeCol} = ?${filters.join('')} AND r.type = ${toType} AND r.id = ${toId} AND r.deleted = 0 ` +
        'ORDER BY r.type, r.id LIMIT ?',
      [...args, q.limit],
    );
  }

  // ---- helpers -------------------------------------------------------------------------------

  /** The versions with these history seqs, in this order. */
  private versions(seqs: number[]): ResourceVersion[] {
    if (seqs.length === 0) return [];
    const rows = this.all<VersionRow>(`SELECT ${VERSION_COLUMNS} FROM history h WHERE h.seq IN (SELECT value FROM json_each(?))`, [JSON.stringify(seqs)]);
    const bySeq = new Map(rows.map((r) => [r.seq, r]));
    return seqs.map((s) => toVersion(bySeq.get(s)!));
  }

  /** Runs a statement (cached by SQL text, least recently used dropped first) and returns its rows. */
  private all<T>(sql: string, args: SqlValue[]): T[] {
    this.report(sql, args);
    return this.stmt(sql).all(...args) as T[];
  }

  private get<T>(sql: string, args: SqlValue[]): T {
    this.report(sql, args);
    return this.stmt(sql).get(...args) as T;
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (s) {
      this.statements.delete(sql);
    } else {
      s = this.db.prepare(sql);
      if (this.statements.size >= STATEMENT_CACHE) this.statements.delete(this.statements.keys().next().value!);
    }
    this.statements.set(sql, s);
    return s;
  }

  /** Hands the statement and its query plan (indented by nesting) to `trace`, when there is one. */
  private report(sql: string, args: SqlValue[]): void {
    if (!this.trace) return;
    const lines = this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { id: number; parent: number; detail: string }[];
    const depth = new Map<number, number>([[0, 0]]);
    this.trace(sql, lines.map((l) => {
      const d = (depth.get(l.parent) ?? 0) + 1;
      depth.set(l.id, d);
      return `${'  '.repeat(d - 1)}${l.detail}`;
    }));
  }
}

function withTotal(result: SearchResult, total: number | undefined): SearchResult {
  if (total !== undefined) result.total = total;
  return result;
}

const keysOf = (row: Row): SqlValue[] => row.k;

/**
 * Rows strictly after (or, `after` false, before) the boundary `values` in the order of `keys`,
 * nulls last; the boundary row itself too when inclusive. Lexicographic: some key is beyond its
 * boundary value while every earlier key equals its own. When all keys are non-null and run the
 * same way, one row-value comparison, which SQLite can use as an index range.
 */
export function seekPredicate(keys: SeekKey[], values: SqlValue[], after: boolean, inclusive: boolean): Fragment {
  if (keys.every((k) => !k.nullable && k.desc === keys[0].desc) && values.every((v) => v !== null)) {
    const op = `${after !== keys[0].desc ? '>' : '<'}${inclusive ? '=' : ''}`;
    if (keys.length === 1) return { sql: `${keys[0].expr} ${op} ?`, args: [values[0]] };
    return { sql: `(${keys.map((k) => k.expr).join(', ')}) ${op} (${keys.map(() => '?').join(', ')})`, args: [...values] };
  }
  const disjuncts = seekDisjuncts(keys, values, after, inclusive, SQL_SEEK);
  if (disjuncts.length === 0) return { sql: '0', args: [] };
  return {
    sql: disjuncts.map((d) => `(${d.map((f) => f.sql).join(' AND ')})`).join(' OR '),
    args: disjuncts.flatMap((d) => d.flatMap((f) => f.args)),
  };
}

/** The seek's comparisons in SQL (nulls last: after a value come larger (smaller) values and nulls). */
const SQL_SEEK: SeekTerms<SeekKey, Fragment> = {
  beyond: (k, v, after) => {
    if (after) return { sql: `(${k.expr} ${k.desc ? '<' : '>'} ?${k.nullable ? ` OR ${k.expr} IS NULL` : ''})`, args: [v] };
    return v === null ? { sql: `${k.expr} IS NOT NULL`, args: [] } : { sql: `${k.expr} ${k.desc ? '>' : '<'} ?`, args: [v] };
  },
  equal: (k, v) => (v === null ? { sql: `${k.expr} IS NULL`, args: [] } : { sql: `${k.expr} = ?`, args: [v] }),
};
