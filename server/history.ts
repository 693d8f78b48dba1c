import type { Bundle, BundleEntry, BundleLink } from 'fhir/r4.js';
import type { Request } from 'express';
import { errors } from '../fhir/errors.js';
import { dateBounds } from '../search/dates.js';
import type { InteractionEngine } from '../resources/engine.js';
import type { Reader } from '../resources/hooks.js';
import { parseSubsetting, subset, type Subsetting } from '../resources/subsetting.js';
import type { HistoryPage, HistoryQuery, ResourceVersion } from '../store/port.js';
import type { Config } from './config.js';

/** Reads _count, _since, _at and the paging cursor of a history request (R4 http.html#history). */
export function historyQuery(req: Request, config: Config, scope: { resourceType?: string; id?: string }): HistoryQuery {
  const q: HistoryQuery = { ...scope, count: config.defaultPageSize };
  const count = one(req, '_count');
  if (count !== undefined) {
    if (!/^\d+$/.test(count)) throw errors.badRequest(`_count must be a non-negative integer (got '${count}')`);
    q.count = Math.min(Number(count), config.maxPageSize);
  }
  const since = one(req, '_since');
  if (since !== undefined) {
    const b = dateBounds(since);
    if (!b) throw errors.badRequest(`_since must be a FHIR instant (got '${since}')`);
    q.since = b.low;
  }
  const at = one(req, '_at');
  if (at !== undefined) {
    const b = dateBounds(at);
    if (!b) throw errors.badRequest(`_at must be a FHIR dateTime (got '${at}')`);
    q.at = b;
  }
  const cursor = one(req, '_cursor');
  if (cursor !== undefined) {
    if (!/^\d{1,15}$/.test(cursor)) throw errors.badRequest('_cursor is not a cursor this server issued');
    q.cursor = cursor;
  }
  return q;
}

function one(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw errors.badRequest(`${name} may be given only once`);
  return v;
}

const STATUS_OF: Record<ResourceVersion['method'], string> = { POST: '201 Created', PUT: '200 OK', PATCH: '200 OK', DELETE: '204 No Content' };

/** The history Bundle for one page: newest version first, with self and next links. */
export function historyBundle(
  engine: InteractionEngine, reader: Reader, page: HistoryPage, base: string, req: Request, subsetting: Subsetting,
): Bundle {
  const selfUrl = `${base}${req.path}${req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : ''}`;
  const link: BundleLink[] = [{ relation: 'self', url: selfUrl }];
  if (page.nextCursor !== undefined) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(req.query)) {
      if (k === '_cursor') continue;
      for (const item of Array.isArray(v) ? v : [v]) params.append(k, String(item));
    }
    params.set('_cursor', page.nextCursor);
    link.push({ relation: 'next', url: `${base}${req.path}?${params}` });
  }
  const bundle: Bundle = { resourceType: 'Bundle', type: 'history', total: page.total, link };
  if (subsetting.summary === 'count' || page.versions.length === 0) return bundle; // FHIR JSON has no empty arrays
  bundle.entry = page.versions.map((v): BundleEntry => {
    const entry: BundleEntry = { fullUrl: `${base}/${v.resourceType}/${v.id}` };
    if (!v.deleted) entry.resource = subset(engine.render(v, reader), subsetting);
    entry.request = { method: v.method, url: v.method === 'POST' ? v.resourceType : `${v.resourceType}/${v.id}` };
    entry.response = { status: STATUS_OF[v.method], etag: `W/"${v.versionId}"`, lastModified: v.lastUpdated };
    return entry;
  });
  return bundle;
}

/** One page of history for the request's scope, as the Bundle the client reads. */
export async function historyOf(
  x: { req: Request; base: string; ctx: { who: Reader } }, engine: InteractionEngine, config: Config, scope: { resourceType?: string; id?: string },
): Promise<Bundle> {
  const page = await engine.history(historyQuery(x.req, config, scope));
  return historyBundle(engine, x.ctx.who, page, x.base, x.req, parseSubsetting(x.req.query));
}
