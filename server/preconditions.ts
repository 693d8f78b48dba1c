import type { Request } from 'express';
import type { ResourceVersion } from '../store/port.js';

/** ETag of a version: weak, as R4 http.html#versioning requires. */
export function etag(versionId: number): string {
  return `W/"${versionId}"`;
}

/** Version named by an entity tag (W/"3" or "3"); NaN for a tag that can never match a version. */
export function versionFromETag(tag: string): number {
  const m = /^\s*(?:W\/)?"([^"]*)"\s*$/.exec(tag);
  return m && /^\d+$/.test(m[1]) ? Number(m[1]) : NaN;
}

/** If-Match as an expected version, or undefined when the header is absent. */
export function ifMatch(req: Request): number | undefined {
  const header = req.get('if-match');
  return header === undefined ? undefined : versionFromETag(header);
}

/**
 * Conditional read (RFC 9110 §13.2.2): If-None-Match wins over If-Modified-Since.
 * True when the client's copy is current and a 304 should be sent.
 */
export function notModified(req: Request, version: ResourceVersion): boolean {
  const noneMatch = req.get('if-none-match');
  if (noneMatch !== undefined) {
    return noneMatch.split(',').some((t) => t.trim() === '*' || versionFromETag(t) === version.versionId);
  }
  const since = req.get('if-modified-since');
  if (since !== undefined) {
    const sinceMs = Date.parse(since);
    // HTTP dates have one-second precision; lastUpdated has milliseconds.
    return !Number.isNaN(sinceMs) && Math.floor(Date.parse(version.lastUpdated) / 1000) * 1000 <= sinceMs;
  }
  return false;
}

export type ReturnPreference = 'minimal' | 'representation' | 'OperationOutcome';

/** Prefer: return=… (R4 http.html#ops); representation when absent or unrecognised. */
export function returnPreference(req: Request): ReturnPreference {
  const prefer = req.get('prefer') ?? '';
  const m = /(?:^|[,;\s])return\s*=\s*"?(minimal|representation|OperationOutcome)"?/i.exec(prefer);
  if (!m) return 'representation';
  const v = m[1].toLowerCase();
  return v === 'minimal' ? 'minimal' : v === 'operationoutcome' ? 'OperationOutcome' : 'representation';
}

/** Prefer: handling=strict|lenient (R4 search.html#errors); lenient when absent. */
export function strictHandling(req: Request): boolean {
  return /(?:^|[,;\s])handling\s*=\s*"?strict"?/i.test(req.get('prefer') ?? '');
}
