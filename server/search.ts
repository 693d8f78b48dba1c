import type { Request } from 'express';
import type { AccessDecision, AccessRequest } from '../auth/access.js';
import { resourceTypes } from '../fhir/definitions.js';
import { errors, operationOutcome } from '../fhir/errors.js';
import type { Requester } from '../fhir/requester.js';
import type { InteractionEngine } from '../resources/engine.js';
import type { Spine } from '../resources/spine.js';
import type { Reader, ScoredSearchResult } from '../resources/hooks.js';
import { isSubsetting, parseSubsetting, subset, type Subsetting } from '../resources/subsetting.js';
import type { Condition, SearchPlan } from '../search/plan.js';
import type { ResourceVersion, SearchResult } from '../store/port.js';
import { forbidden, restrictionFor, restricts, unappliedRestriction } from './access.js';
import type { Access, RequestContext } from './context.js';
import type { Config } from './config.js';
import type { Exchange } from './route-table.js';
import { strictHandling } from './preconditions.js';
import { sendFhir } from './representation.js';

/** Ids per membership query for included resources (below the parser's 200 OR values). */
const INCLUDE_CHECK_BATCH = 100;

/**
 * The HTTP side of search (R4 search.html, http.html#search): collects the parameters from the
 * URL and, for POST _search, the form body; runs the engine's search; answers a searchset Bundle.
 */

const FORM = 'application/x-www-form-urlencoded';

/** Parameters of the request, in order: the URL's query, then (POST _search) the form body's. */
export function searchParams(req: Request, fromBody: boolean): [string, string][] {
  const q = req.originalUrl.indexOf('?');
  const pairs = q < 0 ? [] : [...new URLSearchParams(req.originalUrl.slice(q + 1))];
  if (!fromBody) return pairs;
  const raw = req.body as Buffer | undefined;
  if (Buffer.isBuffer(raw) && raw.length > 0) {
    const type = (req.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    if (type !== FORM) throw errors.unsupportedMediaType(`POST _search takes a ${FORM} body, not '${type || 'none'}'`);
    for (const pair of new URLSearchParams(raw.toString('utf8'))) pairs.push(pair); // no spread: bodies can be huge
  }
  return pairs;
}

/** Parameters the result's shape depends on, which the server applies rather than the plan. */
function subsettingOf(pairs: [string, string][]): Subsetting {
  const record: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    if (k !== '_summary' && k !== '_elements') continue;
    const prev = record[k];
    record[k] = prev === undefined ? v : [...(Array.isArray(prev) ? prev : [prev]), v];
  }
  return parseSubsetting(record);
}

/** System search covers `_type`'s types, or every type when it is absent (the search and its access decision alike). */
export function systemTypes(pairs: [string, string][]): string[] {
  const given = pairs.filter(([k]) => k === '_type').flatMap(([, v]) => v.split(',')).map((t) => t.trim()).filter((t) => t !== '');
  return given.length ? [...new Set(given)] : [...resourceTypes().keys()];
}

export interface SearchScope {
  /** The types searched: one for type-level; absent for system-level (then `_type`, or all). */
  resourceTypes?: string[];
  /** The path the links repeat, relative to the base: 'Patient', 'Patient/123/Observation', ''. */
  path: string;
  /** Compartment restriction, if any. */
  where?: Condition;
  /** Parameters ANDed into the query but not repeated in the links (an access restriction's v2 constraints). */
  extraParams?: [string, string][];
  /** Drops included resources the requester may not see (access restrictions). */
  filterIncluded?: (versions: ResourceVersion[]) => Promise<ResourceVersion[]>;
}

/** Runs a search and returns the searchset Bundle as JSON text (GET entries of a batch use it too). */
export async function searchBundleText(
  req: Request, reader: Reader, engine: InteractionEngine, config: Config, base: string, scope: SearchScope, pairs: [string, string][],
): Promise<string> {
  const [onlyType] = scope.resourceTypes ?? [];
  if (scope.resourceTypes?.length === 1 && scope.where === undefined && !scope.extraParams?.length) {
    const own = await engine.typeSearch(onlyType, pairs, reader); // e.g. the PDS demographic search on Patient
    if (own) return scoredSearchText(own, base, scope.path, pairs);
  }
  const subsetting = subsettingOf(pairs);
  const countOnly = subsetting.summary === 'count';
  const { plan, result } = await engine.search(scope.resourceTypes ?? systemTypes(pairs), scope.extraParams?.length ? [...pairs, ...scope.extraParams] : pairs, {
    strict: strictHandling(req), defaultCount: config.defaultPageSize, maxCount: config.maxPageSize, localBase: base,
  }, scope.where, countOnly);
  if (scope.filterIncluded && result.included.length) result.included = await scope.filterIncluded(result.included);
  return searchsetBundle(engine, reader, plan, result, pairs, base, scope.path, countOnly ? { summary: 'count' } : subsetting);
}

export interface SearchDeps {
  engine: InteractionEngine;
  config: Config;
  spine: Spine;
}

/** A search of the request's own scope (system or type level), or of `scope` (a compartment). */
export async function runSearch(x: Exchange, deps: SearchDeps, fromBody: boolean, scope?: SearchScope): Promise<void> {
  const pairs = searchParams(x.req, fromBody);
  const type = x.request.type;
  const own: SearchScope = scope ?? (type === undefined ? { path: '' } : { resourceTypes: [type], path: type });
  sendFhir(x.req, x.res, 200, await searchBundleText(x.req, x.ctx.who, deps.engine, deps.config, x.base, restrictedScope(x.ctx, deps, own, pairs), pairs));
}

/**
 * A type's own search or $match result: a searchset whose entries carry search.score (and any
 * search extensions such as match-grade), or the OperationOutcome it answered instead (HTTP 200,
 * as PDS answers TOO_MANY_MATCHES).
 */
export function scoredSearchText(result: ScoredSearchResult, base: string, path: string, pairs: [string, string][]): string {
  if (result.kind === 'outcome') return JSON.stringify(operationOutcome(result.issues));
  return JSON.stringify({
    resourceType: 'Bundle',
    type: 'searchset',
    timestamp: new Date().toISOString(),
    total: result.entries.length,
    link: [{ relation: 'self', url: link(base, path, pairs) }],
    entry: result.entries.map(({ resource, score, extension }) => ({
      fullUrl: `${base}/${resource.resourceType}/${resource.id}`,
      resource,
      search: { ...(extension ? { extension } : {}), mode: 'match', score },
    })),
  });
}

/**
 * The search scope narrowed by the request's access decision (server/access.ts): the launch
 * patient's compartment and v2 constraints in the plan, and included resources limited to what
 * the token may read.
 */
function restrictedScope(ctx: RequestContext, deps: SearchDeps, scope: SearchScope, pairs: [string, string][]): SearchScope {
  const { access } = ctx;
  if (!access || !ctx.decide) return scope;
  const filterIncluded = includedFilter(deps, ctx.who, ctx.decide, access);
  if (!scope.resourceTypes) return { ...scope, filterIncluded }; // system search: refused by server/access.ts when restricted
  const type = scope.resourceTypes[0];
  const { where, params } = restrictionFor(access, type);
  if (where || params.length) {
    // A chain or _has would search other resources outside the restriction (a yes/no oracle on them).
    const reaching = pairs.find(([name]) => name.startsWith('_has:') || /^[^:._][^.]*\./.test(name));
    if (reaching) throw forbidden(`'${reaching[0]}' reaches other resources, which a patient-context or query-constrained token cannot search through yet`);
  }
  return {
    ...scope,
    where: where && scope.where ? { kind: 'and', conditions: [scope.where, where] } : where ?? scope.where,
    extraParams: params,
    filterIncluded,
  };
}

type Decide = (request: AccessRequest) => AccessDecision;

/** The included-resource filter for a request's access (also used for the search entries of a batch). */
export function includedFilter(deps: Pick<SearchDeps, 'engine' | 'spine'>, who: Requester, decide: Decide, access: Access): (versions: ResourceVersion[]) => Promise<ResourceVersion[]> {
  return (versions) => readableIncluded(deps, who, decide, versions, access);
}

/** Included resources of types the token may read, and inside its restriction where it has one (one query per type). */
async function readableIncluded(
  { engine, spine }: Pick<SearchDeps, 'engine' | 'spine'>, who: Requester, decide: Decide, versions: ResourceVersion[], access: Access,
): Promise<ResourceVersion[]> {
  const byType = new Map<string, ResourceVersion[]>();
  for (const v of versions) byType.set(v.resourceType, [...(byType.get(v.resourceType) ?? []), v]);
  const kept = new Set<ResourceVersion>();
  for (const [type, list] of byType) {
    const decision = decide({ interaction: 'read', resourceTypes: [type] });
    if (!decision.allow) continue;
    // A module's restriction of the type (a privacy officer's AuditEvents) needs the request's context: left out.
    if (unappliedRestriction(spine, who, decision)) continue;
    if (!restricts(decision.byType[type])) {
      list.forEach((v) => kept.add(v));
      continue;
    }
    let narrowed: { where?: Condition; params: [string, string][] };
    try {
      narrowed = restrictionFor({ grant: access.grant, decision }, type);
    } catch {
      continue; // a restriction that cannot be expressed: leave them out
    }
    for (let i = 0; i < list.length; i += INCLUDE_CHECK_BATCH) {
      const ids = list.slice(i, i + INCLUDE_CHECK_BATCH).map((v) => v.id);
      const { result } = await engine.search([type], [['_id', ids.join(',')], ...narrowed.params], { strict: true, defaultCount: ids.length, maxCount: ids.length }, narrowed.where);
      const inside = new Set(result.matches.map((m) => m.id));
      list.filter((v) => inside.has(v.id)).forEach((v) => kept.add(v));
    }
  }
  return versions.filter((v) => kept.has(v));
}

function link(base: string, path: string, pairs: [string, string][], cursor?: string): string {
  const params = new URLSearchParams(pairs.filter(([k]) => k !== '_cursor'));
  if (cursor !== undefined) params.append('_cursor', cursor);
  const query = params.toString();
  return `${base}${path ? `/${path}` : ''}${query ? `?${query}` : ''}`;
}

/**
 * The searchset Bundle as JSON text. Stored resources are spliced in as the text the store holds
 * when nothing reshapes them, which spares a parse and a stringify per entry on the hot path.
 */
export function searchsetBundle(
  engine: InteractionEngine, reader: Reader, plan: SearchPlan, result: SearchResult, pairs: [string, string][], base: string, path: string, subsetting: Subsetting,
): string {
  const current = pairs.find(([k]) => k === '_cursor')?.[1];
  const links = [{ relation: 'self', url: link(base, path, pairs, current) }];
  if (result.nextCursor !== undefined) links.push({ relation: 'next', url: link(base, path, pairs, result.nextCursor) });
  if (result.previousCursor !== undefined) links.push({ relation: 'previous', url: link(base, path, pairs, result.previousCursor) });
  const head: Record<string, unknown> = { resourceType: 'Bundle', type: 'searchset' };
  if (result.total !== undefined) head.total = result.total;
  head.link = links;

  const entries: string[] = [];
  if (subsetting.summary !== 'count') {
    const entry = (v: ResourceVersion, mode: 'match' | 'include') =>
      `{"fullUrl":${JSON.stringify(`${base}/${v.resourceType}/${v.id}`)},"resource":${resourceText(engine, reader, v, subsetting)},"search":{"mode":"${mode}"}}`;
    for (const v of result.matches) entries.push(entry(v, 'match'));
    for (const v of result.included) if (engine.isVisible(v)) entries.push(entry(v, 'include')); // e.g. never an invalidated patient
  }
  if (plan.warnings.length) {
    entries.push(JSON.stringify({ resource: operationOutcome(plan.warnings), search: { mode: 'outcome' } }));
  }
  const json = JSON.stringify(head);
  return entries.length ? `${json.slice(0, -1)},"entry":[${entries.join(',')}]}` : json;
}

function resourceText(engine: InteractionEngine, reader: Reader, v: ResourceVersion, subsetting: Subsetting): string {
  if (!isSubsetting(subsetting) && engine.passesThrough(v.resourceType)) return v.json!;
  return JSON.stringify(subset(engine.render(v, reader), subsetting));
}
