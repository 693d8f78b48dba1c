import type { ResourceVersion, WriteMethod } from '../port.js';

/** A history row as the reads select it (`VERSION_COLUMNS`, history aliased as h). */
export interface VersionRow {
  type: string;
  id: string;
  version: number;
  last_updated: string;
  method: string;
  deleted: number;
  json: string | null;
  seq: number;
}

export const VERSION_COLUMNS = 'h.seq, h.type, h.id, h.version, h.last_updated, h.method, h.deleted, h.json';

export function toVersion(row: VersionRow): ResourceVersion {
  const v: ResourceVersion = {
    resourceType: row.type,
    id: row.id,
    versionId: row.version,
    lastUpdated: row.last_updated,
    deleted: row.deleted === 1,
    method: row.method as WriteMethod,
  };
  if (row.json !== null) v.json = row.json;
  return v;
}
