/**
 * SQLite schema. `history` holds every version (the JSON lives only there); `resources` points at
 * each resource's current version. One index table per entry kind, keyed by (type, id, param), with
 * the value columns that search predicates filter on.
 */
export const SCHEMA_VERSION = 1;

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

CREATE TABLE IF NOT EXISTS idx_string (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, value TEXT NOT NULL, exact TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_string_value ON idx_string (type, param, value);
CREATE INDEX IF NOT EXISTS idx_string_res ON idx_string (type, id);

CREATE TABLE IF NOT EXISTS idx_token (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, system TEXT, code TEXT, text TEXT);
CREATE INDEX IF NOT EXISTS idx_token_code ON idx_token (type, param, code, system);
CREATE INDEX IF NOT EXISTS idx_token_res ON idx_token (type, id);

CREATE TABLE IF NOT EXISTS idx_date (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, low INTEGER NOT NULL, high INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS idx_date_low ON idx_date (type, param, low);
CREATE INDEX IF NOT EXISTS idx_date_res ON idx_date (type, id);

CREATE TABLE IF NOT EXISTS idx_number (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, value REAL NOT NULL);
CREATE INDEX IF NOT EXISTS idx_number_value ON idx_number (type, param, value);
CREATE INDEX IF NOT EXISTS idx_number_res ON idx_number (type, id);

CREATE TABLE IF NOT EXISTS idx_quantity (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, value REAL NOT NULL, system TEXT, code TEXT, unit TEXT);
CREATE INDEX IF NOT EXISTS idx_quantity_value ON idx_quantity (type, param, value);
CREATE INDEX IF NOT EXISTS idx_quantity_res ON idx_quantity (type, id);

CREATE TABLE IF NOT EXISTS idx_reference (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, target_type TEXT, target_id TEXT, target_version TEXT, url TEXT);
CREATE INDEX IF NOT EXISTS idx_reference_target ON idx_reference (type, param, target_id, target_type);
CREATE INDEX IF NOT EXISTS idx_reference_url ON idx_reference (type, param, url);
CREATE INDEX IF NOT EXISTS idx_reference_res ON idx_reference (type, id);

CREATE TABLE IF NOT EXISTS idx_uri (type TEXT NOT NULL, id TEXT NOT NULL, param TEXT NOT NULL, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS idx_uri_value ON idx_uri (type, param, value);
CREATE INDEX IF NOT EXISTS idx_uri_res ON idx_uri (type, id);
`;

export const INDEX_TABLES = ['idx_string', 'idx_token', 'idx_date', 'idx_number', 'idx_quantity', 'idx_reference', 'idx_uri'] as const;
