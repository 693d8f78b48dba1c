import type Database from 'better-sqlite3';

/**
 * SQLite schema. `history` holds every version (the JSON lives only there); `resources` points at
 * each resource's current version. One index table per entry kind, keyed by (type, id, param), with
 * the value columns that search predicates filter on and `grp`, the composite group number
 * (NULL for ordinary entries).
 *
 * Indexes per entry table (every one ends in, or leads with, id, so that a lookup never has to visit
 * the table to learn which resource an entry belongs to):
 * - `*_sort`, `idx_token_lookup`, `idx_reference_lookup` (type, param, value..., id): find the
 *   resources whose entries satisfy a predicate, and walk a parameter in value order for sorting
 *   (the trailing id makes ties come out in id order, so a sorted first page needs no sort step);
 * - `*_entries` (id, type, param, value...): one resource's entries for a param (missing, sort
 *   keys, composite groups, _include, deleting a resource's rows);
 * - `idx_reference_rev` (target_id, target_type, type, param, id): who points at this resource
 *   (chains, _has, _revinclude).
 * The per-resource indexes lead with id, not type, on purpose: without ANALYZE statistics SQLite
 * assumes an equality on an index's first column leaves ~10 rows, and with `type = ?` first it
 * would pick a covering (type, ...) index and scan every entry of the type instead of the
 * (target_id, ...) lookup.
 *
 * Version history: 1 = initial; 2 = `grp` column, sort/entries/reverse-reference indexes,
 * resource_counts.
 */
export const SCHEMA_VERSION = 2;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS history (
  seq            INTEGER PRIMARY KEY AUTOINCREMENT,
  type           TEXT    NOT NULL,
  id             TEXT    NOT NULL,
  version        INTEGER NOT NULL,
  last_updated   TEXT    NOT NULL,
  updated_ms     INTEGER NOT NULL,
  superseded_ms  INTEGER,            -- when the next version replaced this one; NULL while current
  method         TEXT    NOT NULL,
  deleted        INTEGER NOT NULL,
  json           TEXT,
  UNIQUE (type, id, version)
);
CREATE INDEX IF NOT EXISTS history_by_type ON history (type, seq);
CREATE INDEX IF NOT EXISTS history_by_time ON history (updated_ms);

CREATE TABLE IF NOT EXISTS resources (
  type     TEXT    NOT NULL,
  id       TEXT    NOT NULL,
  seq      INTEGER NOT NULL,  -- history.seq of the current version
  version  INTEGER NOT NULL,
  deleted  INTEGER NOT NULL,
  PRIMARY KEY (type, id)
) WITHOUT ROWID;

-- Current non-deleted resources per type, kept by every write: an unfiltered total without a scan.
CREATE TABLE IF NOT EXISTS resource_counts (
  type  TEXT    PRIMARY KEY,
  live  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS idx_string (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, value TEXT NOT NULL, exact TEXT NOT NULL, grp INTEGER);
CREATE INDEX IF NOT EXISTS idx_string_sort ON idx_string (type, param, value, id);
CREATE INDEX IF NOT EXISTS idx_string_entries ON idx_string (id, type, param, value);

CREATE TABLE IF NOT EXISTS idx_token (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, system TEXT, code TEXT, text TEXT, grp INTEGER);
CREATE INDEX IF NOT EXISTS idx_token_lookup ON idx_token (type, param, code, system, id);
CREATE INDEX IF NOT EXISTS idx_token_entries ON idx_token (id, type, param);

CREATE TABLE IF NOT EXISTS idx_date (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, low INTEGER NOT NULL, high INTEGER NOT NULL, grp INTEGER);
CREATE INDEX IF NOT EXISTS idx_date_low_sort ON idx_date (type, param, low, id);
CREATE INDEX IF NOT EXISTS idx_date_high_sort ON idx_date (type, param, high, id);
CREATE INDEX IF NOT EXISTS idx_date_entries ON idx_date (id, type, param, low, high);

CREATE TABLE IF NOT EXISTS idx_number (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, value REAL NOT NULL, grp INTEGER);
CREATE INDEX IF NOT EXISTS idx_number_sort ON idx_number (type, param, value, id);
CREATE INDEX IF NOT EXISTS idx_number_entries ON idx_number (id, type, param, value);

CREATE TABLE IF NOT EXISTS idx_quantity (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, value REAL NOT NULL, system TEXT, code TEXT, unit TEXT, grp INTEGER);
CREATE INDEX IF NOT EXISTS idx_quantity_sort ON idx_quantity (type, param, value, id);
CREATE INDEX IF NOT EXISTS idx_quantity_entries ON idx_quantity (id, type, param, value);

CREATE TABLE IF NOT EXISTS idx_reference (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, target_type TEXT, target_id TEXT, target_version TEXT, url TEXT, grp INTEGER);
CREATE INDEX IF NOT EXISTS idx_reference_lookup ON idx_reference (type, param, target_id, target_type, id);
CREATE INDEX IF NOT EXISTS idx_reference_url ON idx_reference (type, param, url);
CREATE INDEX IF NOT EXISTS idx_reference_rev ON idx_reference (target_id, target_type, type, param, id);
CREATE INDEX IF NOT EXISTS idx_reference_entries ON idx_reference (id, type, param, target_type, target_id);

CREATE TABLE IF NOT EXISTS idx_uri (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, value TEXT NOT NULL, grp INTEGER);
CREATE INDEX IF NOT EXISTS idx_uri_sort ON idx_uri (type, param, value, id);
CREATE INDEX IF NOT EXISTS idx_uri_entries ON idx_uri (id, type, param, value);
`;
export const INDEX_TABLES = ['idx_string', 'idx_token', 'idx_date', 'idx_number', 'idx_quantity', 'idx_reference', 'idx_uri'] as const;

/** Indexes of schema version 1 that version 2 replaced (by wider ones under new names). */
const V1_INDEXES = [
  'idx_string_value', 'idx_string_res', 'idx_token_res', 'idx_date_low', 'idx_date_res', 'idx_number_value', 'idx_number_res',
  'idx_quantity_value', 'idx_quantity_res', 'idx_reference_res', 'idx_uri_value', 'idx_uri_res', 'idx_token_code',
  'idx_reference_target',
];

/**
 * Brings the database to SCHEMA_VERSION in one transaction: creates a fresh schema, or upgrades an
 * older one in place. Refuses a database written by a newer vertebra.
 */
export function migrate(db: Database.Database): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > SCHEMA_VERSION) {
    throw new Error(`Database schema version ${version} is newer than this vertebra (${SCHEMA_VERSION}); refusing to open it`);
  }
  db.transaction(() => {
    const hadCounts = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'resource_counts'").get() !== undefined;
    if (version < 2) {
      // Version 1 (or tables left by an unversioned build): add grp, drop the replaced indexes.
      for (const table of INDEX_TABLES) {
        const columns = db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[];
        if (columns.length > 0 && !columns.some((c) => c.name === 'grp')) db.exec(`ALTER TABLE ${table} ADD COLUMN grp INTEGER`);
      }
      for (const index of V1_INDEXES) db.exec(`DROP INDEX IF EXISTS ${index}`);
    }
    db.exec(SCHEMA_SQL); // idempotent; also repairs a missing index
    if (!hadCounts) {
      db.exec('INSERT INTO resource_counts (type, live) SELECT type, count(*) FROM resources WHERE deleted = 0 GROUP BY type');
    }
    if (version !== SCHEMA_VERSION) db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}
