import type { Organization } from 'fhir/r4.js';
import type { CsvRecord } from './csv.js';
import {
  ENGLAND_ORGANIZATION_ODS_PROFILE, ODS_CODE_PATTERN, ODS_ORGANIZATION_CODE_SYSTEM, ROLE_CODE_PATTERN,
  UKCORE_ORGANIZATION_PROFILE, roleExtension,
} from './ods.js';

/**
 * The import format of `npm run import:ods` (our own, documented in the README): one organisation
 * per row under the header `code,name,postcode,role,open_date,close_date,parent`.
 *  - code: the ODS code (the Organization id);
 *  - role: one or more ODS role codes separated by ';', the first being the primary role;
 *  - open_date, close_date: yyyy-mm-dd or empty; a close_date before today closes the organisation
 *    (active=false, and its roles inactive);
 *  - parent: the ODS code of the organisation it is part of (Organization.partOf), or empty.
 */
export const ODS_CSV_COLUMNS = ['code', 'name', 'postcode', 'role', 'open_date', 'close_date', 'parent'] as const;
type Column = typeof ODS_CSV_COLUMNS[number];
export type OdsRow = Record<Column, string>;

export class RowError extends Error {
  constructor(readonly line: number, readonly reason: string) {
    super(`line ${line}: ${reason}`);
    this.name = 'RowError';
  }
}

/** Checks the header record and returns the position of each column (columns may come in any order). */
export function headerColumns(header: CsvRecord): Record<Column, number> {
  const names = header.fields.map((f) => f.trim().toLowerCase());
  const positions = {} as Record<Column, number>;
  const missing: string[] = [];
  for (const column of ODS_CSV_COLUMNS) {
    const at = names.indexOf(column);
    if (at < 0) missing.push(column);
    positions[column] = at;
  }
  if (missing.length) throw new RowError(header.line, `the header lacks the column(s) ${missing.join(', ')} (expected ${ODS_CSV_COLUMNS.join(',')})`);
  return positions;
}

/** A data record as a row of trimmed values. */
export function toRow(record: CsvRecord, columns: Record<Column, number>): OdsRow {
  const row = {} as OdsRow;
  for (const column of ODS_CSV_COLUMNS) row[column] = (record.fields[columns[column]] ?? '').trim();
  return row;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function checkDate(value: string, column: string, line: number): string | undefined {
  if (value === '') return undefined;
  const m = DATE.exec(value);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : undefined;
  if (!m || !d || d.toISOString().slice(0, 10) !== value) throw new RowError(line, `${column} '${value}' is not a date (yyyy-mm-dd)`);
  return value;
}

/**
 * The Organization a row stands for, in the ODS API's shape (nhs-spine.md §3.1). `today`
 * (yyyy-mm-dd) decides whether a close date is past. Throws RowError with the reason when the row
 * is not acceptable.
 */
export function rowToOrganization(row: OdsRow, line: number, today: string): Organization {
  const code = row.code.toUpperCase();
  if (!ODS_CODE_PATTERN.test(code)) throw new RowError(line, `code '${row.code}' is not an ODS code (3 to 12 letters and digits)`);
  if (row.name === '') throw new RowError(line, 'name is empty');
  const roles = row.role.split(';').map((r) => r.trim().toUpperCase()).filter((r) => r !== '');
  if (roles.length === 0) throw new RowError(line, 'role is empty (one or more ODS role codes separated by \';\')');
  for (const r of roles) if (!ROLE_CODE_PATTERN.test(r)) throw new RowError(line, `role '${r}' is not an ODS role code (e.g. RO177)`);
  if (new Set(roles).size !== roles.length) throw new RowError(line, 'role lists a role code twice');
  const open = checkDate(row.open_date, 'open_date', line);
  const close = checkDate(row.close_date, 'close_date', line);
  if (open && close && close < open) throw new RowError(line, `close_date ${close} is before open_date ${open}`);
  const parent = row.parent.toUpperCase();
  if (parent !== '' && !ODS_CODE_PATTERN.test(parent)) throw new RowError(line, `parent '${row.parent}' is not an ODS code`);
  if (parent === code) throw new RowError(line, 'an organisation cannot be its own parent');
  const active = close === undefined || close >= today;

  const org: Organization = {
    resourceType: 'Organization',
    id: code,
    meta: { profile: [UKCORE_ORGANIZATION_PROFILE, ENGLAND_ORGANIZATION_ODS_PROFILE] },
    extension: roles.map((r) => roleExtension({ code: r, start: open, end: close, active })),
    identifier: [{ use: 'official', system: ODS_ORGANIZATION_CODE_SYSTEM, value: code }],
    active,
    name: row.name,
  };
  if (row.postcode !== '') org.address = [{ postalCode: row.postcode.toUpperCase().replace(/\s+/g, ' ') }];
  if (parent !== '') org.partOf = { reference: `Organization/${parent}`, identifier: { system: ODS_ORGANIZATION_CODE_SYSTEM, value: parent } };
  return org;
}

/**
 * True when `current` (as stored) already says what `next` says: equal apart from the server's
 * meta.versionId and meta.lastUpdated, so re-importing the same row changes nothing.
 */
export function sameContent(current: object, next: object): boolean {
  return canonical(stripServerMeta(current)) === canonical(stripServerMeta(next));
}

function stripServerMeta(resource: object): object {
  const { meta, ...rest } = resource as { meta?: Record<string, unknown> };
  if (!meta) return rest;
  const { versionId: _v, lastUpdated: _l, ...own } = meta;
  return Object.keys(own).length ? { ...rest, meta: own } : rest;
}

/** JSON with object keys sorted, so key order does not make two resources differ. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (v !== null && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
    : v));
}
