import { randomUUID } from 'node:crypto';
import type { Resource } from 'fhir/r4.js';
import { errors } from '../fhir/errors.js';
import { isResourceType } from '../fhir/definitions.js';
import { validateStructure } from '../profiles/schema-validator.js';
import type { IndexExtractor } from '../search/extract.js';
import { byCanonicalUrlPlan } from '../search/canonical.js';
import { parseSearch, type ParseOptions } from '../search/parse.js';
import type { SearchPlan } from '../search/plan.js';
import type { SearchParameterRegistry } from '../search/registry.js';
import type { HistoryPage, HistoryQuery, ResourceVersion, SearchResult, Store, StoreTx, WriteMethod } from '../store/port.js';
import { LocalTerminology } from '../terminology/local-terminology.js';
import { HookRegistry } from './hooks.js';

/** FHIR id syntax (R4 datatypes: [A-Za-z0-9\-\.]{1,64}). */
const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

export interface WriteResult {
  version: ResourceVersion;
  resource: Resource;
  /** True when the write created the resource (201), false when it replaced one (200). */
  created: boolean;
}

export interface Preconditions {
  /** Version the client expects to be current (from If-Match); undefined means unconditional. */
  ifMatch?: number;
}

export interface EngineDeps {
  store: Store;
  /** The parameters in force; the extractor must have been built over the same registry. */
  registry: SearchParameterRegistry;
  extractor: IndexExtractor;
  hooks?: HookRegistry;
  /** Injected for tests; defaults to the wall clock. */
  now?: () => Date;
}

/**
 * The interaction engine: FHIR REST semantics (R4 http.html) over the store port, independent of
 * HTTP. Every write validates, stamps meta, extracts index entries and commits in one transaction.
 */
export class InteractionEngine {
  private readonly store: Store;
  readonly registry: SearchParameterRegistry;
  private readonly extractor: IndexExtractor;
  readonly hooks: HookRegistry;
  private readonly now: () => Date;
  private readonly terminology: LocalTerminology;

  constructor(deps: EngineDeps) {
    this.store = deps.store;
    this.registry = deps.registry;
    this.extractor = deps.extractor;
    this.hooks = deps.hooks ?? new HookRegistry();
    this.now = deps.now ?? (() => new Date());
    this.terminology = new LocalTerminology((type, url) => this.findByCanonicalUrl(type, url));
  }

  /** The current resource of `resourceType` whose canonical url is `url`, if the server holds one. */
  async findByCanonicalUrl<T extends Resource>(resourceType: string, url: string): Promise<T | undefined> {
    const { matches } = await this.store.search(byCanonicalUrlPlan(resourceType, url));
    return matches[0] ? (JSON.parse(matches[0].json!) as T) : undefined;
  }

  assertType(resourceType: string): void {
    if (!isResourceType(resourceType)) throw errors.notFound(`Unknown resource type '${resourceType}'`);
  }

  assertId(resourceType: string, id: string): void {
    if (!ID_PATTERN.test(id)) throw errors.badRequest(`'${id}' is not a valid FHIR id`);
    this.hooks.for(resourceType).validateId?.(id);
  }

  async read(resourceType: string, id: string): Promise<ResourceVersion> {
    this.assertType(resourceType);
    this.assertId(resourceType, id);
    const current = await this.store.read(resourceType, id);
    if (!current) throw errors.notFound(`${resourceType}/${id} is not known`);
    if (current.deleted) throw errors.gone(`${resourceType}/${id} was deleted`);
    return current;
  }

  async vread(resourceType: string, id: string, versionId: string): Promise<ResourceVersion> {
    this.assertType(resourceType);
    this.assertId(resourceType, id);
    const n = /^[1-9]\d{0,15}$/.test(versionId) ? Number(versionId) : undefined;
    const version = n === undefined ? undefined : await this.store.vread(resourceType, id, n);
    if (!version) throw errors.notFound(`${resourceType}/${id} has no version '${versionId}'`);
    if (version.deleted) throw errors.gone(`Version ${versionId} of ${resourceType}/${id} is a deletion`);
    return version;
  }

  async create(resourceType: string, body: unknown): Promise<WriteResult> {
    this.assertType(resourceType);
    const resource = this.checkBody(resourceType, body);
    const hooks = this.hooks.for(resourceType);
    const id = hooks.assignId ? await hooks.assignId(resource) : randomUUID();
    await hooks.validate?.(resource);
    const result = await this.store.transaction(async (tx) => {
      if (await tx.read(resourceType, id)) throw errors.conflict(`${resourceType}/${id} already exists`);
      return this.write(tx, resource, resourceType, id, undefined, 'POST');
    });
    this.committed(result.version, result.resource);
    return result;
  }

  async update(resourceType: string, id: string, body: unknown, pre: Preconditions = {}): Promise<WriteResult> {
    this.assertType(resourceType);
    this.assertId(resourceType, id);
    const resource = this.checkBody(resourceType, body);
    if (resource.id === undefined) throw errors.badRequest('The resource must carry an id equal to the id in the URL', [`${resourceType}.id`]);
    if (resource.id !== id) throw errors.badRequest(`The resource id '${resource.id}' does not match the URL id '${id}'`, [`${resourceType}.id`]);
    await this.hooks.for(resourceType).validate?.(resource);
    const result = await this.store.transaction(async (tx) => {
      const current = await tx.read(resourceType, id);
      checkIfMatch(current, pre, `${resourceType}/${id}`);
      return this.write(tx, resource, resourceType, id, current, 'PUT');
    });
    this.committed(result.version, result.resource);
    return result;
  }

  /** Returns the tombstone version, or undefined when the resource was already deleted. */
  async delete(resourceType: string, id: string, pre: Preconditions = {}): Promise<ResourceVersion | undefined> {
    this.assertType(resourceType);
    this.assertId(resourceType, id);
    const tombstone = await this.store.transaction(async (tx) => {
      const current = await tx.read(resourceType, id);
      if (!current) throw errors.notFound(`${resourceType}/${id} is not known`);
      checkIfMatch(current, pre, `${resourceType}/${id}`);
      // Deleting a deleted resource succeeds without a new version (R4 http.html#delete: idempotent).
      if (current.deleted) return undefined;
      const tombstone: ResourceVersion = {
        resourceType, id, versionId: current.versionId + 1, lastUpdated: this.stamp(current), deleted: true, method: 'DELETE',
      };
      await tx.write({ ...tombstone, entries: [] });
      return tombstone;
    });
    if (tombstone) this.committed(tombstone);
    return tombstone;
  }

  /**
   * Search (R4 search.html): parses the query against the parameters in force into a plan, which
   * the store renders. `resourceTypes` has one type for a type-level search, several for `_type`.
   */
  async search(
    resourceTypes: string[], params: [string, string][], options: Pick<ParseOptions, 'strict' | 'defaultCount' | 'maxCount'>,
    scope?: SearchPlan['where'], countOnly = false,
  ): Promise<{ plan: SearchPlan; result: SearchResult }> {
    for (const t of resourceTypes) this.assertType(t);
    const plan = await parseSearch(resourceTypes, params, this.registry, {
      ...options,
      expandValueSet: (url) => this.terminology.expand(url),
      subsumption: (system, code, direction) => this.terminology.subsumption(system, code, direction),
    });
    if (scope) plan.where = plan.where ? { kind: 'and', conditions: [scope, plan.where] } : scope;
    if (countOnly) { // _summary=count: the total and nothing else (R4 search.html#summary)
      plan.count = 0;
      plan.total = 'accurate';
    }
    return { plan, result: await this.store.search(plan) };
  }

  /** Recomputes the index entries of stored resources (after SearchParameters changed). */
  reindex(resourceType: string | undefined, onProgress?: (done: number, total: number) => void): Promise<number> {
    if (resourceType !== undefined) this.assertType(resourceType);
    return this.store.reindex(resourceType, (json) => this.extractor.extract(JSON.parse(json)), onProgress);
  }

  private committed(version: ResourceVersion, resource?: Resource): void {
    this.hooks.for(version.resourceType).afterCommit?.({ id: version.id, resource: version.deleted ? undefined : resource });
  }

  async history(query: HistoryQuery): Promise<HistoryPage> {
    if (query.resourceType !== undefined) this.assertType(query.resourceType);
    if (query.resourceType !== undefined && query.id !== undefined) {
      this.assertId(query.resourceType, query.id);
      if (!(await this.store.read(query.resourceType, query.id))) throw errors.notFound(`${query.resourceType}/${query.id} is not known`);
    }
    return this.store.history(query);
  }

  /** Parses a stored version for output, through the type's afterRead hook. */
  render(version: ResourceVersion): Resource {
    const resource = JSON.parse(version.json!) as Resource;
    const afterRead = this.hooks.for(version.resourceType).afterRead;
    return afterRead ? afterRead(resource) : resource;
  }

  /** True when stored JSON may be sent as is (no hook reshapes this type on the way out). */
  passesThrough(resourceType: string): boolean {
    return this.hooks.for(resourceType).afterRead === undefined;
  }

  private checkBody(resourceType: string, body: unknown): Resource {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw errors.badRequest('The request body must be a FHIR resource (a JSON object)');
    }
    const found = (body as { resourceType?: unknown }).resourceType;
    if (found !== resourceType) {
      throw errors.badRequest(`The body's resourceType '${String(found)}' does not match the URL's '${resourceType}'`, ['resourceType']);
    }
    const issues = validateStructure(body as Record<string, unknown>);
    if (issues.length) throw errors.invalidStructure(issues);
    return body as Resource;
  }

  /** lastUpdated for a new version: now, but never earlier than the version it replaces. */
  private stamp(current: ResourceVersion | undefined): string {
    let ms = this.now().getTime();
    if (current) ms = Math.max(ms, Date.parse(current.lastUpdated) + 1);
    return new Date(ms).toISOString();
  }

  private async write(
    tx: StoreTx, body: Resource, resourceType: string, id: string, current: ResourceVersion | undefined, method: WriteMethod,
  ): Promise<WriteResult> {
    const versionId = (current?.versionId ?? 0) + 1;
    const lastUpdated = this.stamp(current);
    const { resourceType: _t, id: _i, meta, ...rest } = body;
    const resource = { resourceType, id, meta: { ...meta, versionId: String(versionId), lastUpdated }, ...rest } as Resource;
    const json = JSON.stringify(resource);
    const version: ResourceVersion = { resourceType, id, versionId, lastUpdated, deleted: false, method, json };
    await tx.write({ ...version, entries: this.extractor.extract(resource) });
    return { version, resource, created: !current || current.deleted };
  }
}

function checkIfMatch(current: ResourceVersion | undefined, pre: Preconditions, what: string): void {
  if (pre.ifMatch === undefined) return;
  if (!current || current.deleted) throw errors.preconditionFailed(`If-Match given but ${what} has no current version`);
  if (current.versionId !== pre.ifMatch) {
    throw errors.preconditionFailed(`If-Match expects version ${pre.ifMatch} of ${what} but the current version is ${current.versionId}`);
  }
}
