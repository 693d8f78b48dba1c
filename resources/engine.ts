import { AsyncLocalStorage } from 'node:async_hooks';
import type { OperationOutcomeIssue, Resource } from 'fhir/r4.js';
import { errors, FhirError } from '../fhir/errors.js';
import { isResourceType } from '../fhir/definitions.js';
import type { IndexExtractor } from '../search/extract.js';
import { allOfTypePlan, byCanonicalUrlPlan } from '../search/canonical.js';
import { compartmentParams } from '../search/parse-compartment.js';
import { parseSearch, type ParseOptions } from '../search/parse.js';
import type { SearchPlan } from '../search/plan.js';
import type { SearchParameterRegistry } from '../search/registry.js';
import type { HistoryPage, HistoryQuery, ResourceVersion, SearchResult, Store } from '../store/port.js';
import { LocalTerminology, TERMINOLOGY_TYPES } from '../terminology/local-terminology.js';
import type { ProfileStage } from './profile-stage.js';
import {
  ANONYMOUS_READER, HookRegistry, type CandidateSearch, type Criteria, type Preconditions, type Reader, type ScoredSearchResult,
  type OperationEngine, type WriteOrigin, type WriteResult,
} from './hooks.js';
import type { PatchBody } from './patch/index.js';
import { checkBody, checkId, WriteSession, type WriteChange, type WriteContext } from './write-session.js';

export type { Criteria, Preconditions, WriteResult } from './hooks.js';
export type { WriteChange } from './write-session.js';
export type { PatchBody } from './patch/index.js';

/** What kind of request a transaction serves, as far as the engine knows (for write observers). */
export interface TransactionOptions {
  origin?: WriteOrigin;
  /** Set by the Bundle interactions: the whole transaction Bundle, or one entry of a batch. */
  bundle?: 'transaction' | 'batch';
}

/**
 * Sees every client transaction's writes just before it commits and may add writes of its own
 * through `server` (a server-origin session on the same store transaction): what it writes commits
 * atomically with what it saw, and if it throws nothing commits. `committed` runs once the
 * transaction is durable. The audit trail uses this so that a write and its AuditEvent are one
 * commit (server/audit.ts).
 */
export interface WriteObserver {
  beforeCommit(changes: readonly WriteChange[], server: WriteSession, options: TransactionOptions): Promise<void>;
  committed?(): void;
}

export interface EngineDeps {
  store: Store;
  /** The parameters in force; the extractor must have been built over the same registry. */
  registry: SearchParameterRegistry;
  extractor: IndexExtractor;
  hooks?: HookRegistry;
  /** The profile stage (IG content, claimed and required profiles); absent, writes skip it. */
  profiles?: ProfileStage;
  /** Injected for tests; defaults to the wall clock. */
  now?: () => Date;
  /** Largest $expand answered before 422 too-costly (default terminology's MAX_EXPANSION). */
  maxExpansion?: number;
}

/**
 * The interaction engine: FHIR REST semantics (R4 http.html) over the store port, independent of
 * HTTP. Every write validates, stamps meta, extracts index entries and commits in one transaction.
 */
export class InteractionEngine implements CandidateSearch, OperationEngine {
  private readonly store: Store;
  readonly registry: SearchParameterRegistry;
  private readonly extractor: IndexExtractor;
  readonly hooks: HookRegistry;
  private readonly now: () => Date;
  /** CodeSystems/ValueSets/ConceptMaps held by this server: search modifiers, the validator, the operations. */
  readonly terminology: LocalTerminology;
  readonly profiles?: ProfileStage;
  private readonly writeContext: WriteContext;
  /** The current resource of older versions handed out by vread/history, for render()'s hooks. */
  private readonly currentOf = new WeakMap<ResourceVersion, Resource>();
  /** The write observers of the request being served (async context: one list per HTTP request). */
  private readonly observers = new AsyncLocalStorage<readonly WriteObserver[]>();

  constructor(deps: EngineDeps) {
    this.store = deps.store;
    this.registry = deps.registry;
    this.extractor = deps.extractor;
    this.hooks = deps.hooks ?? new HookRegistry();
    this.now = deps.now ?? (() => new Date());
    this.profiles = deps.profiles;
    this.terminology = new LocalTerminology((type, url) => this.findByCanonicalUrl(type, url), (type) => this.allOfType(type), { maxExpansion: deps.maxExpansion });
    this.writeContext = {
      extractor: this.extractor, hooks: this.hooks, now: this.now, profiles: this.profiles,
      criteriaPlan: (resourceType, criteria) => this.plan([resourceType], criteria, { strict: true, defaultCount: 2, maxCount: 2 }, true),
    };
  }

  /** The current resource of `resourceType` whose canonical url is `url`, if the server holds one. */
  async findByCanonicalUrl<T extends Resource>(resourceType: string, url: string): Promise<T | undefined> {
    const { matches } = await this.store.search(byCanonicalUrlPlan(resourceType, url));
    return matches[0] ? (JSON.parse(matches[0].json!) as T) : undefined;
  }

  /** Every current resource of `resourceType` (for the terminology's ConceptMap list; small types only). */
  private async allOfType<T extends Resource>(resourceType: string): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.store.search(allOfTypePlan(resourceType, 500, cursor));
      for (const v of page.matches) out.push(JSON.parse(v.json!) as T);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return out;
  }

  /** Readiness: resolves when the store can serve, throws otherwise. */
  ping(): Promise<void> {
    return this.store.ping();
  }

  assertType(resourceType: string): void {
    if (!isResourceType(resourceType)) throw errors.notFound(`Unknown resource type '${resourceType}'`);
  }

  assertId(resourceType: string, id: string): void {
    checkId(this.hooks, resourceType, id);
  }

  async read(resourceType: string, id: string): Promise<ResourceVersion> {
    this.assertType(resourceType);
    this.assertId(resourceType, id);
    const current = await this.store.read(resourceType, id);
    if (!current) throw this.hooks.for(resourceType).notFound?.(id) ?? errors.notFound(`${resourceType}/${id} is not known`);
    if (current.deleted) throw errors.gone(`${resourceType}/${id} was deleted`);
    const resolve = this.hooks.for(resourceType).resolveRead;
    return resolve ? resolve(current, (other) => this.store.read(resourceType, other)) : current;
  }

  /** One stored version as it is (no governance hooks): for access checks before the route runs. */
  versionOf(resourceType: string, id: string, versionId: number): Promise<ResourceVersion | undefined> {
    return this.store.vread(resourceType, id, versionId);
  }

  /** True when `resourceType/id` has a current, not deleted, version. */
  async exists(resourceType: string, id: string): Promise<boolean> {
    const current = await this.store.read(resourceType, id);
    return current !== undefined && !current.deleted;
  }

  async vread(resourceType: string, id: string, versionId: string): Promise<ResourceVersion> {
    this.assertType(resourceType);
    this.assertId(resourceType, id);
    const n = /^[1-9]\d{0,15}$/.test(versionId) ? Number(versionId) : undefined;
    const version = n === undefined ? undefined : await this.store.vread(resourceType, id, n);
    if (!version) throw errors.notFound(`${resourceType}/${id} has no version '${versionId}'`);
    if (version.deleted) throw errors.gone(`Version ${versionId} of ${resourceType}/${id} is a deletion`);
    await this.governBy(version, await this.store.read(resourceType, id));
    return version;
  }

  /**
   * Ties an older version to its record's current one for the information-governance hooks: the
   * record must be visible (assertVisible), and render() redacts by the current version's labels.
   */
  private async governBy(version: ResourceVersion, current: ResourceVersion | undefined): Promise<void> {
    const hooks = this.hooks.for(version.resourceType);
    if (!current || current.deleted || (!hooks.assertVisible && !hooks.afterRead)) return;
    const resource = JSON.parse(current.json!) as Resource;
    hooks.assertVisible?.(resource);
    if (current.versionId !== version.versionId) this.currentOf.set(version, resource);
  }

  /** Throws when the current record `resourceType/id` may not be seen at all (e.g. a compartment owner). */
  async assertVisible(resourceType: string, id: string): Promise<void> {
    const check = this.hooks.for(resourceType).assertVisible;
    if (!check) return;
    const current = await this.store.read(resourceType, id);
    if (current && !current.deleted) check(JSON.parse(current.json!));
  }

  /** False for a current version no reader may see (e.g. an invalidated patient pulled in by _include). */
  isVisible(current: ResourceVersion): boolean {
    const check = this.hooks.for(current.resourceType).assertVisible;
    if (!check || current.deleted) return true;
    try {
      check(JSON.parse(current.json!));
      return true;
    } catch (e) {
      if (e instanceof FhirError) return false;
      throw e;
    }
  }

  /**
   * Runs `fn` as one atomic, durable transaction: everything its session writes commits together
   * or not at all. After-commit hooks (e.g. SearchParameter registration) run once it committed.
   * `origin` tells the types' guardWrite hooks who writes: every FHIR interaction is a 'client'
   * write (the default); 'server' is the server's own bookkeeping (the audit trail), which only
   * server code asks for explicitly.
   */
  async transaction<T>(fn: (session: WriteSession) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const origin = options.origin ?? 'client';
    const observers = origin === 'server' ? [] : this.observers.getStore() ?? []; // a client's writes, or an operation's on its behalf
    const changes: WriteChange[] = [];
    const result = await this.store.transaction(async (tx) => {
      const session = new WriteSession(tx, this.writeContext, origin);
      const value = await fn(session);
      changes.push(...session.changes);
      if (observers.length && session.changes.length) {
        // The innermost observer (the last registered, e.g. the access check) sees them first.
        const server = new WriteSession(tx, this.writeContext, 'server');
        for (const observer of [...observers].reverse()) await observer.beforeCommit(session.changes, server, options);
        changes.push(...server.changes);
      }
      return value;
    });
    for (const observer of observers) observer.committed?.();
    // Terminology caches (resolved canonicals, expansions) hold until a terminology resource changes.
    if (changes.some(({ version }) => TERMINOLOGY_TYPES.has(version.resourceType))) this.terminology.invalidate();
    for (const { version, resource } of changes) {
      this.hooks.for(version.resourceType).afterCommit?.({ id: version.id, resource: version.deleted ? undefined : resource });
    }
    return result;
  }

  /**
   * Runs `fn` (and everything it starts asynchronously) with `observer` watching its client
   * transactions, in addition to the observers already watching.
   */
  observeWrites<T>(observer: WriteObserver, fn: () => T): T {
    return this.observers.run([...(this.observers.getStore() ?? []), observer], fn);
  }

  /**
   * The problems a create (or, with an id, an update) of `body` would be refused for, without
   * writing anything: structure, resource type and id, the type's business rules, and the
   * profiles that apply (claimed, required, and `profile` when given), warnings included.
   */
  async validate(resourceType: string, body: unknown, id?: string, profile?: string): Promise<OperationOutcomeIssue[]> {
    this.assertType(resourceType);
    if (profile !== undefined && !this.profiles && profile.split('|')[0] !== `http://hl7.org/fhir/StructureDefinition/${resourceType}`) {
      throw errors.badRequest(`Validation against '${profile}' is not available: this server has no profile validator`);
    }
    // An asked-for profile the server does not hold: the validation cannot be performed (400).
    if (profile !== undefined) this.profiles?.assertKnown(profile);
    try {
      if (id !== undefined) this.assertId(resourceType, id);
      const resource = checkBody(resourceType, body);
      if (id !== undefined && resource.id !== id) throw errors.badRequest(`The resource id '${String(resource.id)}' is not '${id}'`, [`${resourceType}.id`]);
      await this.hooks.for(resourceType).validate?.(resource);
      return this.profiles ? await this.profiles.issues(resource, profile) : [];
    } catch (e) {
      if (e instanceof FhirError && e.status < 500) return e.issues;
      throw e;
    }
  }

  create(resourceType: string, body: unknown, ifNoneExist?: Criteria): Promise<WriteResult> {
    this.assertType(resourceType);
    return this.transaction((s) => s.create(resourceType, body, { ifNoneExist }));
  }

  update(resourceType: string, id: string, body: unknown, pre: Preconditions = {}): Promise<WriteResult> {
    this.assertType(resourceType);
    this.assertId(resourceType, id);
    return this.transaction((s) => s.update(resourceType, id, body, pre));
  }

  conditionalUpdate(resourceType: string, criteria: Criteria, body: unknown, pre: Preconditions = {}): Promise<WriteResult> {
    this.assertType(resourceType);
    return this.transaction((s) => s.conditionalUpdate(resourceType, criteria, body, pre));
  }

  patch(resourceType: string, id: string, patch: PatchBody, pre: Preconditions = {}): Promise<WriteResult> {
    this.assertType(resourceType);
    this.assertId(resourceType, id);
    return this.transaction((s) => s.patch(resourceType, id, patch, pre));
  }

  conditionalPatch(resourceType: string, criteria: Criteria, patch: PatchBody, pre: Preconditions = {}): Promise<WriteResult> {
    this.assertType(resourceType);
    return this.transaction((s) => s.conditionalPatch(resourceType, criteria, patch, pre));
  }

  /** Returns the tombstone version, or undefined when the resource was already deleted. */
  delete(resourceType: string, id: string, pre: Preconditions = {}): Promise<ResourceVersion | undefined> {
    this.assertType(resourceType);
    this.assertId(resourceType, id);
    return this.transaction((s) => s.delete(resourceType, id, pre));
  }

  conditionalDelete(resourceType: string, criteria: Criteria, multiple: { allowed: boolean; max: number }): Promise<ResourceVersion[]> {
    this.assertType(resourceType);
    return this.transaction((s) => s.conditionalDelete(resourceType, criteria, multiple));
  }

  /**
   * Search (R4 search.html): parses the query against the parameters in force into a plan, which
   * the store renders. `resourceTypes` has one type for a type-level search, several for `_type`.
   */
  async search(
    resourceTypes: string[], params: [string, string][], options: Pick<ParseOptions, 'strict' | 'defaultCount' | 'maxCount' | 'localBase'>,
    scope?: SearchPlan['where'], countOnly = false,
  ): Promise<{ plan: SearchPlan; result: SearchResult }> {
    for (const t of resourceTypes) this.assertType(t);
    const plan = await this.plan(resourceTypes, params, options);
    if (scope) plan.where = plan.where ? { kind: 'and', conditions: [scope, plan.where] } : scope;
    if (countOnly) { // _summary=count: the total and nothing else (R4 search.html#summary)
      plan.count = 0;
      plan.total = 'accurate';
    }
    return { plan, result: await this.store.search(plan) };
  }

  /**
   * The type's own search when its hooks take this query over (e.g. PDS matching on Patient),
   * else undefined and the caller runs the generic search.
   */
  async typeSearch(resourceType: string, params: [string, string][], reader: Reader = ANONYMOUS_READER): Promise<ScoredSearchResult | undefined> {
    this.assertType(resourceType);
    return this.hooks.for(resourceType).search?.(params, reader, this);
  }

  /** `$match` on a type (R4 defines it for Patient); 404 for types that have no matcher. */
  async match(resourceType: string, parameters: unknown, reader: Reader = ANONYMOUS_READER): Promise<ScoredSearchResult> {
    this.assertType(resourceType);
    const match = this.hooks.for(resourceType).match;
    if (!match) throw errors.notFound(`$match is not supported on ${resourceType}`);
    return match(parameters, reader, this);
  }

  async candidates(resourceType: string, params: [string, string][], limit: number): Promise<{ matches: ResourceVersion[]; more: boolean }> {
    const { result } = await this.search([resourceType], [...params, ['_total', 'none']], { strict: true, defaultCount: limit + 1, maxCount: limit + 1 });
    return { matches: result.matches.slice(0, limit), more: result.matches.length > limit || result.nextCursor !== undefined };
  }

  /**
   * Every plan (searches, conditional-write criteria) carries the criteria the searched types add
   * (searchCriteria hooks). With several types they apply to all of them: they are exclusions by
   * security label, which only ever narrow what another type returns.
   */
  private async plan(
    resourceTypes: string[], params: [string, string][], options: Pick<ParseOptions, 'strict' | 'defaultCount' | 'maxCount' | 'localBase'>, requireCriteria = false,
  ): Promise<SearchPlan> {
    const parseOptions: ParseOptions = {
      ...options,
      typeCriteria: (type, params) => this.hooks.for(type).searchCriteria?.(params) ?? [],
      expandValueSet: (url) => this.terminology.expand(url),
      subsumption: (system, code, direction) => this.terminology.subsumption(system, code, direction),
    };
    const plan = await parseSearch(resourceTypes, params, this.registry, parseOptions);
    // A conditional write must name what it means: checked before the types' own criteria are
    // ANDed in, which would otherwise make an empty query look like one.
    if (requireCriteria && !plan.where) throw errors.badRequest(`Conditional ${resourceTypes.join(', ')} criteria must contain at least one search parameter`);
    const extra = new Map<string, [string, string]>();
    for (const t of resourceTypes) for (const pair of this.hooks.for(t).searchCriteria?.(params) ?? []) extra.set(pair.join('='), pair);
    if (extra.size) {
      const guard = (await parseSearch(resourceTypes, [...extra.values()], this.registry, { ...parseOptions, strict: true })).where;
      if (guard) plan.where = plan.where ? { kind: 'and', conditions: [plan.where, guard] } : guard;
    }
    return plan;
  }

  /** Recomputes the index entries of stored resources (after SearchParameters changed). */
  reindex(resourceType: string | undefined, onProgress?: (done: number, total: number) => void): Promise<number> {
    if (resourceType !== undefined) this.assertType(resourceType);
    return this.store.reindex(resourceType, (json) => this.extractor.extract(JSON.parse(json)), onProgress);
  }

  async history(query: HistoryQuery): Promise<HistoryPage> {
    if (query.resourceType !== undefined) this.assertType(query.resourceType);
    if (query.resourceType !== undefined && query.id !== undefined) {
      this.assertId(query.resourceType, query.id);
      if (!(await this.store.read(query.resourceType, query.id))) throw errors.notFound(`${query.resourceType}/${query.id} is not known`);
    }
    const page = await this.store.history(query);
    // Versions of governed types answer to their record's current version: hidden records drop
    // out (a page may then hold fewer than _count entries), older versions redact by current labels.
    const currents = new Map<string, ResourceVersion | undefined>();
    const versions: ResourceVersion[] = [];
    for (const v of page.versions) {
      const hooks = this.hooks.for(v.resourceType);
      if (!hooks.assertVisible && !hooks.afterRead) {
        versions.push(v);
        continue;
      }
      const key = `${v.resourceType}/${v.id}`;
      if (!currents.has(key)) currents.set(key, await this.store.read(v.resourceType, v.id));
      try {
        await this.governBy(v, currents.get(key));
        versions.push(v);
      } catch (e) {
        if (!(e instanceof FhirError) || query.id !== undefined) throw e; // instance history of a hidden record: its error
      }
    }
    return { ...page, versions };
  }

  /** Parses a stored version for output, through the type's afterRead hook. */
  render(version: ResourceVersion, reader: Reader = ANONYMOUS_READER): Resource {
    const resource = JSON.parse(version.json!) as Resource;
    const afterRead = this.hooks.for(version.resourceType).afterRead;
    return afterRead ? afterRead(resource, reader, this.currentOf.get(version)) : resource;
  }

  /**
   * The ids of the `compartmentType` compartments `resource` belongs to (R4 compartment
   * definitions): the compartment type's own resource belongs to its own (its `link`s are not
   * followed), any other type through the references of its compartment parameters, read with the
   * same index extractor as search uses (so `/Patient/x/Observation` and this agree).
   */
  compartmentsOf(resource: Resource, compartmentType: string): string[] {
    if (resource.resourceType === compartmentType) return resource.id ? [resource.id] : [];
    const params = compartmentParams(compartmentType, resource.resourceType);
    if (!params) return [];
    const wanted = new Set(params);
    const ids = new Set<string>();
    for (const e of this.extractor.extract(resource)) {
      if (e.kind === 'reference' && wanted.has(e.param) && e.targetType === compartmentType && e.targetId) ids.add(e.targetId);
    }
    return [...ids];
  }

  /** True when stored JSON may be sent as is (no hook reshapes this type on the way out). */
  passesThrough(resourceType: string): boolean {
    return this.hooks.for(resourceType).afterRead === undefined;
  }
}
