import type { Resource } from 'fhir/r4.js';
import { errors } from '../fhir/errors.js';
import { FHIR_ID } from '../fhir/id.js';
import { validateStructure } from '../profiles/schema-validator.js';
import type { IndexExtractor } from '../search/extract.js';
import type { SearchPlan } from '../search/plan.js';
import type { ResourceVersion, StoreTx, WriteMethod } from '../store/port.js';
import type { Criteria, HookRegistry, OperationSession, Preconditions, WriteInteraction, WriteOrigin, WriteResult } from './hooks.js';
import { applyPatch, type PatchBody } from './patch/index.js';
import { timeOrderedUuid } from './time-ordered-id.js';

export interface WriteContext {
  extractor: IndexExtractor;
  hooks: HookRegistry;
  now: () => Date;
  /**
   * Parses conditional-interaction criteria into a plan for one type (strict: unknown params are
   * 400s, and so are criteria that name no parameter at all, which would match everything).
   */
  criteriaPlan: (resourceType: string, criteria: Criteria) => Promise<SearchPlan>;
  /** The profile stage (claimed and required profiles); absent, only structure and business rules apply. */
  profiles?: { enforce(resource: Resource): Promise<void> };
}

/** One version a session wrote, with the version it replaced (absent for a first version). */
export interface WriteChange {
  version: ResourceVersion;
  /** The written resource; absent for a deletion. */
  resource?: Resource;
  /** The current version before this write, when there was one (it may itself be a deletion). */
  previous?: ResourceVersion;
}

/**
 * The writes of one store transaction: every interaction that changes data (create, update,
 * patch, delete and their conditional forms), with FHIR semantics (R4 http.html), against the
 * transaction's own view, so the entries of a transaction Bundle see each other's writes and a
 * conditional create cannot race another one (the store runs transactions one at a time).
 * `changes` lists what was written, for the engine's after-commit hooks.
 */
export class WriteSession implements OperationSession {
  readonly changes: WriteChange[] = [];
  /** Ids handed out by newId in this session, by type: a second create must not get the same one. */
  private readonly assigned = new Set<string>();

  /** `origin`: who asks for these writes, for the types' guardWrite hooks (default: a FHIR client). */
  constructor(private readonly tx: StoreTx, private readonly ctx: WriteContext, readonly origin: WriteOrigin = 'client') {}

  /** The type's guardWrite hook, first thing in every write interaction. */
  private guard(resourceType: string, interaction: WriteInteraction): void {
    this.ctx.hooks.for(resourceType).guardWrite?.(interaction, this.origin);
  }

  /** The type's guardChange hook, on the current version an update, patch or delete would replace. */
  private guardChange(resourceType: string, current: ResourceVersion | undefined): void {
    const guard = this.ctx.hooks.for(resourceType).guardChange;
    if (guard && current && !current.deleted && current.json) guard(JSON.parse(current.json) as Resource, this.origin);
  }

  /** The id a create will get: the type's hook (e.g. the next NHS number) or a time-ordered UUID (time-ordered-id.ts). */
  async newId(resourceType: string, resource: Resource): Promise<string> {
    const assign = this.ctx.hooks.for(resourceType).assignId;
    if (!assign) return timeOrderedUuid();
    const isTaken = async (id: string) => this.assigned.has(`${resourceType}/${id}`) || (await this.tx.read(resourceType, id)) !== undefined;
    const id = await assign(resource, isTaken);
    this.assigned.add(`${resourceType}/${id}`);
    return id;
  }

  /** True when Type/id has a current (not deleted) version. */
  async exists(resourceType: string, id: string): Promise<boolean> {
    const current = await this.tx.read(resourceType, id);
    return current !== undefined && !current.deleted;
  }

  /**
   * Current resources matching conditional criteria, at most `limit` (enough to tell "one" from
   * "several"). Criteria that would match everything are refused: a conditional write must name
   * what it means.
   */
  async matches(resourceType: string, criteria: Criteria, limit = 2): Promise<ResourceVersion[]> {
    const plan = await this.ctx.criteriaPlan(resourceType, criteria);
    const { matches } = await this.tx.search({ ...plan, count: limit, total: 'none', include: [], revinclude: [], cursor: undefined });
    return matches;
  }

  async create(resourceType: string, body: unknown, options: { id?: string; ifNoneExist?: Criteria } = {}): Promise<WriteResult> {
    this.guard(resourceType, 'create');
    const resource = checkBody(resourceType, body);
    if (options.ifNoneExist) {
      const found = await this.matches(resourceType, options.ifNoneExist);
      if (found.length > 1) throw errors.preconditionFailed(`If-None-Exist matches more than one ${resourceType}: nothing was created`);
      if (found.length === 1) {
        // In a transaction the id was chosen before the writes; a match that appeared since (an
        // earlier entry created it) would otherwise become a duplicate.
        if (options.id !== undefined && options.id !== found[0].id) {
          throw errors.preconditionFailed(`If-None-Exist matches ${resourceType}/${found[0].id}, which this transaction wrote: nothing was created`);
        }
        return { version: found[0], resource: JSON.parse(found[0].json!), created: false, existing: true };
      }
    }
    const id = options.id ?? await this.newId(resourceType, resource);
    if (options.id !== undefined) checkId(this.ctx.hooks, resourceType, id, [`${resourceType}.id`]);
    const withId = { ...resource, id } as Resource; // the id it will be written under
    await this.ctx.hooks.for(resourceType).validate?.(withId, this.origin);
    await this.ctx.profiles?.enforce(withId);
    if (await this.tx.read(resourceType, id)) throw errors.conflict(`${resourceType}/${id} already exists`);
    return this.write(resource, resourceType, id, undefined, 'POST');
  }

  async update(resourceType: string, id: string, body: unknown, pre: Preconditions = {}): Promise<WriteResult> {
    this.guard(resourceType, 'update');
    const resource = checkBody(resourceType, body);
    if (resource.id === undefined) throw errors.badRequest('The resource must carry an id equal to the id in the URL', [`${resourceType}.id`]);
    if (resource.id !== id) throw errors.badRequest(`The resource id '${resource.id}' does not match the URL id '${id}'`, [`${resourceType}.id`]);
    checkId(this.ctx.hooks, resourceType, id, [`${resourceType}.id`]);
    await this.ctx.hooks.for(resourceType).validate?.(resource, this.origin);
    await this.ctx.profiles?.enforce(resource);
    const current = await this.tx.read(resourceType, id);
    this.guardChange(resourceType, current);
    checkIfMatch(current, pre, `${resourceType}/${id}`);
    if (current?.deleted && this.ctx.hooks.for(resourceType).retiredIds) {
      throw errors.conflict(`${resourceType}/${id} was deleted and its id is never used again`);
    }
    return this.write(resource, resourceType, id, current, 'PUT');
  }

  /** PUT Type?criteria (R4 http.html#cond-update). */
  async conditionalUpdate(resourceType: string, criteria: Criteria, body: unknown, pre: Preconditions = {}): Promise<WriteResult> {
    this.guard(resourceType, 'update');
    const found = await this.matches(resourceType, criteria);
    if (found.length > 1) throw errors.preconditionFailed(`The criteria match more than one ${resourceType}: nothing was updated`);
    const bodyId = (body as { id?: unknown } | null)?.id;
    if (found.length === 1) {
      if (bodyId !== undefined && bodyId !== found[0].id) {
        throw errors.badRequest(`The resource id '${String(bodyId)}' is not the id of the ${resourceType} the criteria match (${found[0].id})`, [`${resourceType}.id`]);
      }
      return this.update(resourceType, found[0].id, { ...(body as object), id: found[0].id }, pre);
    }
    // No match: create, with the client's id when it gave one (update as create). That id must
    // be free: a resource that exists but does not match the criteria is not the one meant.
    if (typeof bodyId === 'string') {
      if (await this.exists(resourceType, bodyId)) {
        throw errors.conflict(`${resourceType}/${bodyId} exists but does not match the criteria: nothing was updated`);
      }
      return this.update(resourceType, bodyId, body, pre);
    }
    return this.create(resourceType, body);
  }

  async patch(resourceType: string, id: string, patch: PatchBody, pre: Preconditions = {}): Promise<WriteResult> {
    this.guard(resourceType, 'patch');
    checkId(this.ctx.hooks, resourceType, id); // the type's id rule holds for entries of a Bundle too
    const current = await this.tx.read(resourceType, id);
    if (!current) throw errors.notFound(`${resourceType}/${id} is not known`);
    if (current.deleted) throw errors.gone(`${resourceType}/${id} was deleted`);
    this.guardChange(resourceType, current);
    const before = JSON.parse(current.json!) as Resource;
    const rules = this.ctx.hooks.for(resourceType).patch;
    const body = rules ? rules.prepare(patch, before, pre) : patch;
    checkIfMatch(current, pre, `${resourceType}/${id}`);
    let patched = applyPatch(before, body);
    if (patched.resourceType !== resourceType || patched.id !== id) {
      throw errors.unprocessable('A patch may not change the resource type or id');
    }
    if (rules?.finish) patched = rules.finish(patched, before);
    const resource = checkBody(resourceType, patched);
    await this.ctx.hooks.for(resourceType).validate?.(resource, this.origin);
    await this.ctx.profiles?.enforce(resource);
    return this.write(resource, resourceType, id, current, 'PATCH');
  }

  /** PATCH Type?criteria: exactly one match is patched. */
  async conditionalPatch(resourceType: string, criteria: Criteria, patch: PatchBody, pre: Preconditions = {}): Promise<WriteResult> {
    this.guard(resourceType, 'patch');
    const found = await this.matches(resourceType, criteria);
    if (found.length === 0) throw errors.notFound(`No ${resourceType} matches the criteria`);
    if (found.length > 1) throw errors.preconditionFailed(`The criteria match more than one ${resourceType}: nothing was patched`);
    return this.patch(resourceType, found[0].id, patch, pre);
  }

  /** Returns the tombstone version, or undefined when the resource was already deleted. */
  async delete(resourceType: string, id: string, pre: Preconditions = {}): Promise<ResourceVersion | undefined> {
    this.guard(resourceType, 'delete');
    checkId(this.ctx.hooks, resourceType, id);
    const current = await this.tx.read(resourceType, id);
    if (!current) throw errors.notFound(`${resourceType}/${id} is not known`);
    this.guardChange(resourceType, current);
    checkIfMatch(current, pre, `${resourceType}/${id}`);
    // Deleting a deleted resource succeeds without a new version (R4 http.html#delete: idempotent).
    if (current.deleted) return undefined;
    const tombstone: ResourceVersion = {
      resourceType, id, versionId: current.versionId + 1, lastUpdated: this.stamp(current), deleted: true, method: 'DELETE',
    };
    await this.tx.write({ ...tombstone, entries: [] });
    this.changes.push({ version: tombstone, previous: current });
    return tombstone;
  }

  /**
   * DELETE Type?criteria (R4 http.html#cdelete): no match deletes nothing; one match is deleted;
   * several are a 412 unless `multiple` (a server setting) allows deleting up to `maxMultiple`.
   */
  async conditionalDelete(resourceType: string, criteria: Criteria, multiple: { allowed: boolean; max: number }): Promise<ResourceVersion[]> {
    this.guard(resourceType, 'delete');
    const found = await this.matches(resourceType, criteria, multiple.allowed ? multiple.max + 1 : 2);
    if (found.length > 1 && !multiple.allowed) throw errors.preconditionFailed(`The criteria match more than one ${resourceType}: nothing was deleted`);
    if (found.length > multiple.max) throw errors.preconditionFailed(`The criteria match more than ${multiple.max} ${resourceType} resources: nothing was deleted`);
    const tombstones: ResourceVersion[] = [];
    for (const v of found) {
      const t = await this.delete(resourceType, v.id);
      if (t) tombstones.push(t);
    }
    return tombstones;
  }


  /** lastUpdated for a new version: now, but never earlier than the version it replaces. */
  private stamp(current: ResourceVersion | undefined): string {
    let ms = this.ctx.now().getTime();
    if (current) ms = Math.max(ms, Date.parse(current.lastUpdated) + 1);
    return new Date(ms).toISOString();
  }

  private async write(body: Resource, resourceType: string, id: string, current: ResourceVersion | undefined, method: WriteMethod): Promise<WriteResult> {
    const versionId = (current?.versionId ?? 0) + 1;
    const lastUpdated = this.stamp(current);
    const { resourceType: _t, id: _i, meta, ...rest } = body;
    const ownMeta = typeof meta === 'object' && meta !== null && !Array.isArray(meta) ? meta : {};
    const resource = { resourceType, id, meta: { ...ownMeta, versionId: String(versionId), lastUpdated }, ...rest } as Resource;
    const json = JSON.stringify(resource);
    const version: ResourceVersion = { resourceType, id, versionId, lastUpdated, deleted: false, method, json };
    await this.tx.write({ ...version, entries: this.ctx.extractor.extract(resource) });
    this.changes.push({ version, resource, previous: current });
    return { version, resource, created: !current || current.deleted };
  }
}

/**
 * The id syntax and the type's own id rule (an NHS number, an ODS code), for every path an id comes
 * by: the URL (the engine) and the body of a transaction entry or conditional create (a session).
 */
export function checkId(hooks: HookRegistry, resourceType: string, id: string, expression?: string[]): void {
  if (!FHIR_ID.test(id)) throw errors.badRequest(`'${id}' is not a valid FHIR id`, expression);
  hooks.for(resourceType).validateId?.(id);
}

/** The body must be a resource of the URL's type, structurally valid R4. */
export function checkBody(resourceType: string, body: unknown): Resource {
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

function checkIfMatch(current: ResourceVersion | undefined, pre: Preconditions, what: string): void {
  if (pre.ifMatch === undefined) return;
  if (!current || current.deleted) throw errors.preconditionFailed(`If-Match given but ${what} has no current version`);
  if (current.versionId !== pre.ifMatch) {
    throw errors.preconditionFailed(`If-Match expects version ${pre.ifMatch} of ${what} but the current version is ${current.versionId}`);
  }
}
