import type { Binary, Bundle, BundleEntry, BundleEntryResponse, OperationOutcome, Resource } from 'fhir/r4.js';
import { errors, FhirError, operationOutcome } from '../fhir/errors.js';
import { FHIR_ID } from '../fhir/id.js';
import { parseFhirRequest, queryPairs } from '../fhir/request.js';
import type { InteractionEngine } from './engine.js';
import type { PatchBody } from './patch/index.js';
import { rewriteReferences } from './references.js';
import type { Criteria, WriteResult } from './hooks.js';
import type { WriteSession } from './write-session.js';
import type { ResourceVersion } from '../store/port.js';

/**
 * Batch and transaction Bundles (R4 http.html#transaction). A transaction runs every entry in one
 * store transaction, in the order the spec prescribes (DELETE, POST, PUT/PATCH, then GET), with
 * urn:uuid / urn:oid fullUrls and conditional references resolved first; any failure rolls back
 * all of it and names the entry. A batch runs each entry on its own and reports each outcome.
 */

export type ReturnPreference = 'minimal' | 'representation' | 'OperationOutcome';

export interface BundleOptions {
  /** Answers a GET entry (read, vread or search) as the server would answer it over HTTP. */
  runGet: (url: string) => Promise<{ status: number; resource?: Resource; version?: ResourceVersion }>;
  returnPreference: ReturnPreference;
  /** A written version as the client may see it (through its type's afterRead hooks). */
  render: (version: ResourceVersion) => Resource;
  conditionalDelete: { allowed: boolean; max: number };
  /** The server's FHIR base, to strip from absolute request URLs. */
  baseUrl: string;
  /** Told about an unexpected (non-FHIR) error in a batch entry, which becomes that entry's 500. */
  onUnexpected: (error: unknown) => void;
}

type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface Target {
  resourceType: string;
  id?: string;
  /** Conditional form (`Type?criteria`). */
  criteria?: Criteria;
}

interface ParsedEntry {
  index: number;
  method: Method;
  url: string;
  fullUrl?: string;
  resource?: Resource;
  target?: Target;
  ifMatch?: number;
  ifNoneExist?: Criteria;
}

/** Processing order within a transaction (R4 http.html#trules). */
const ORDER: Record<Method, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 };
/**
 * Lets other requests run during a long Bundle: after this much work at a stretch, the loop
 * yields once. Time-based, because one entry may cost microseconds or (a conditional create
 * with a broad search) tens of milliseconds.
 */
const SLICE_MS = 20;

class Pacer {
  private since = performance.now();
  async tick(): Promise<void> {
    if (performance.now() - this.since < SLICE_MS) return;
    await new Promise((r) => setImmediate(r));
    this.since = performance.now();
  }
}

const STATUS_TEXT: Record<number, string> = { 200: '200 OK', 201: '201 Created', 204: '204 No Content' };

export async function processBundle(engine: InteractionEngine, body: unknown, options: BundleOptions): Promise<Bundle> {
  const bundle = body as Bundle;
  if (bundle?.resourceType !== 'Bundle') throw errors.badRequest('POST to the base takes a Bundle of type batch or transaction');
  if (bundle.type !== 'batch' && bundle.type !== 'transaction') {
    throw errors.badRequest(`POST to the base takes a Bundle of type batch or transaction, not '${String(bundle.type)}'`, ['Bundle.type']);
  }
  if (bundle.entry !== undefined && !Array.isArray(bundle.entry)) throw errors.badRequest('Bundle.entry must be an array', ['Bundle.entry']);
  const entries = bundle.entry ?? [];
  return bundle.type === 'transaction'
    ? transaction(engine, entries, options)
    : batch(engine, entries, options);
}

async function transaction(engine: InteractionEngine, raw: BundleEntry[], options: BundleOptions): Promise<Bundle> {
  const entries = raw.map((e, i) => parseEntry(e, i, options.baseUrl));
  checkDistinctTargets(entries);
  const ordered = [...entries].sort((a, b) => ORDER[a.method] - ORDER[b.method] || a.index - b.index);
  const responses: BundleEntry[] = new Array(entries.length);

  const pacer = new Pacer();
  await engine.transaction(async (session) => {
    for (const entry of ordered.filter((e) => e.method === 'DELETE')) {
      responses[entry.index] = await atEntry(entry, () => deleteEntry(session, entry, options));
      await pacer.tick();
    }
    // Ids first, so every reference to a fullUrl can be rewritten before anything is written.
    const ids = new Map<string, string>();
    for (const entry of ordered) {
      const pair = await atEntry(entry, () => resolveIdentity(session, entry));
      if (pair) ids.set(pair[0], pair[1]);
      await pacer.tick();
    }
    for (const entry of ordered) {
      if (entry.resource) {
        await atEntry(entry, () => rewriteReferences(entry.resource!, ids, (type, criteria) => uniqueMatch(session, type, criteria), options.baseUrl));
        await pacer.tick();
      }
    }
    for (const entry of ordered.filter((e) => e.method === 'POST' || e.method === 'PUT' || e.method === 'PATCH')) {
      responses[entry.index] = await atEntry(entry, () => writeEntry(session, entry, options));
      await pacer.tick();
    }
    checkNoResourceTwice(session);
  }, { bundle: 'transaction' });
  for (const entry of ordered.filter((e) => e.method === 'GET' || e.method === 'HEAD')) {
    responses[entry.index] = await getEntry(entry, options);
    await pacer.tick();
  }
  return { resourceType: 'Bundle', type: 'transaction-response', entry: responses };
}

async function batch(engine: InteractionEngine, raw: BundleEntry[], options: BundleOptions): Promise<Bundle> {
  const responses: BundleEntry[] = [];
  const pacer = new Pacer();
  for (const [index, e] of raw.entries()) {
    try {
      const entry = parseEntry(e, index, options.baseUrl);
      if (entry.method === 'GET' || entry.method === 'HEAD') responses.push(await getEntry(entry, options));
      else if (entry.method === 'DELETE') responses.push(await engine.transaction((s) => deleteEntry(s, entry, options), { bundle: 'batch' }));
      else responses.push(await engine.transaction((s) => writeEntry(s, entry, options), { bundle: 'batch' }));
    } catch (error) {
      // Earlier entries have committed, so the batch must answer for each of them: a bug in one
      // entry becomes that entry's 500, not a 500 for the whole (half-done) batch.
      const fhirError = error instanceof FhirError ? error : (options.onUnexpected(error), errors.internal());
      responses.push({ response: { status: String(fhirError.status), outcome: fhirError.toOperationOutcome() } });
    }
    await pacer.tick();
  }
  return { resourceType: 'Bundle', type: 'batch-response', entry: responses };
}

/** Runs fn for one entry; a FhirError is re-thrown naming the entry (Bundle.entry[i]). */
async function atEntry<T>(entry: ParsedEntry, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (!(error instanceof FhirError)) throw error;
    throw new FhirError(error.status, error.issues.map((issue) => ({
      ...issue,
      diagnostics: `Bundle.entry[${entry.index}] (${entry.method} ${entry.url}): ${issue.diagnostics ?? issue.code}`,
      expression: [`Bundle.entry[${entry.index}]`, ...(issue.expression ?? [])],
    })), error.headers);
  }
}

function parseEntry(e: BundleEntry, index: number, baseUrl: string): ParsedEntry {
  const at = (msg: string) => errors.badRequest(`Bundle.entry[${index}]: ${msg}`, [`Bundle.entry[${index}]`]);
  const request = e?.request;
  if (!request || typeof request.method !== 'string' || typeof request.url !== 'string' || request.url === '') {
    throw at('every entry needs request.method and request.url');
  }
  const method = request.method.toUpperCase() as Method;
  if (!(method in ORDER)) throw at(`unsupported method '${request.method}'`);
  const url = entryPath(request.url, baseUrl);
  if (e.fullUrl !== undefined && typeof e.fullUrl !== 'string') throw at('fullUrl must be a string');
  const entry: ParsedEntry = { index, method, url, fullUrl: e.fullUrl, resource: e.resource as Resource | undefined };
  if (method !== 'GET' && method !== 'HEAD') entry.target = parseTarget(method, url, at);
  if (request.ifMatch !== undefined) {
    const m = typeof request.ifMatch === 'string' ? /^\s*(?:W\/)?"(\d+)"\s*$/.exec(request.ifMatch) : null;
    if (!m) throw at(`request.ifMatch must be an ETag such as W/"3"`);
    entry.ifMatch = Number(m[1]);
  }
  if (request.ifNoneExist !== undefined) {
    if (typeof request.ifNoneExist !== 'string') throw at('request.ifNoneExist must be a query string');
    const q = request.ifNoneExist.indexOf('?');
    entry.ifNoneExist = [...new URLSearchParams(q < 0 ? request.ifNoneExist : request.ifNoneExist.slice(q + 1))];
  }
  if ((method === 'POST' || method === 'PUT') && (typeof entry.resource !== 'object' || entry.resource === null)) {
    throw at(`${method} needs a resource`);
  }
  if (method === 'POST' && (entry.target!.id !== undefined || entry.target!.criteria)) throw at('POST takes a resource type as its url');
  if (method === 'PATCH' && !entry.resource) throw at('PATCH needs a resource (Parameters, or Binary holding a JSON Patch)');
  return entry;
}

/** A Bundle entry's request url relative to the FHIR base (the access check of server/ reads it the same way). */
export function entryPath(url: string, baseUrl: string): string {
  if (url.startsWith(`${baseUrl}/`)) return url.slice(baseUrl.length + 1);
  return url.replace(/^\/+/, '');
}

/**
 * The resource a write entry acts on, read by the one FHIR request parser (fhir/request.ts) as an
 * HTTP request with the same method and url would be: `Type` (create), `Type/id`, `Type?criteria`.
 */
function parseTarget(method: Method, url: string, at: (msg: string) => FhirError): Target {
  let request;
  try {
    request = parseFhirRequest(method, url);
  } catch (error) {
    throw at(`'${url}': ${error instanceof FhirError ? error.issues[0]?.diagnostics : 'not a FHIR request url'}`);
  }
  const { interaction, type, id, conditional } = request;
  const writes = interaction === 'create' || interaction === 'update' || interaction === 'patch' || interaction === 'delete';
  if (!writes || type === undefined) throw at(`'${url}' is not Type, Type/id or Type?criteria`);
  if (id !== undefined) {
    if (!FHIR_ID.test(id)) throw at(`'${id}' is not a valid FHIR id`);
    if (request.query !== '') throw at(`'${url}' is not Type?criteria`);
    return { resourceType: type, id };
  }
  if (interaction === 'create') return request.query === '' ? { resourceType: type } : { resourceType: type, criteria: queryPairs(request) };
  if (!conditional) throw at(`'${url}' is not Type, Type/id or Type?criteria`);
  const criteria = queryPairs(request);
  if (criteria.length === 0) throw at(`'${url}' has no criteria`);
  return { resourceType: type, criteria };
}

/** Two entries may not act on the same resource (R4 http.html#trules). */
function checkDistinctTargets(entries: ParsedEntry[]): void {
  const seen = new Map<string, number>();
  for (const e of entries) {
    if (!e.target?.id) continue;
    const key = `${e.target.resourceType}/${e.target.id}`;
    const before = seen.get(key);
    if (before !== undefined) {
      throw errors.badRequest(`Bundle.entry[${before}] and Bundle.entry[${e.index}] both act on ${key}`, [`Bundle.entry[${e.index}]`]);
    }
    seen.set(key, e.index);
  }
  const fullUrls = new Map<string, number>();
  for (const e of entries) {
    if (!e.fullUrl || e.method === 'GET' || e.method === 'DELETE') continue;
    const before = fullUrls.get(e.fullUrl);
    if (before !== undefined) throw errors.badRequest(`Bundle.entry[${before}] and Bundle.entry[${e.index}] share fullUrl ${e.fullUrl}`);
    fullUrls.set(e.fullUrl, e.index);
  }
}

/**
 * Decides which resource a POST or PUT entry will be, before anything is written: a new id for
 * a create (or the existing match of If-None-Exist), the URL's id for an update, the match of a
 * conditional update. Returns [fullUrl, 'Type/id'] for the reference map.
 */
async function resolveIdentity(session: WriteSession, entry: ParsedEntry): Promise<[string, string] | undefined> {
  const t = entry.target;
  if (!t || (entry.method !== 'POST' && entry.method !== 'PUT')) return undefined;
  assertTypeMatches(entry);
  if (entry.method === 'POST') {
    if (entry.ifNoneExist) {
      const found = await session.matches(t.resourceType, entry.ifNoneExist);
      if (found.length > 1) throw errors.preconditionFailed(`If-None-Exist matches more than one ${t.resourceType}`);
      if (found.length === 1) t.id = found[0].id;
    }
    t.id ??= await session.newId(t.resourceType, entry.resource!);
  } else if (t.criteria) {
    const found = await session.matches(t.resourceType, t.criteria);
    if (found.length > 1) throw errors.preconditionFailed(`The criteria match more than one ${t.resourceType}`);
    const bodyId = entry.resource!.id;
    if (found.length === 1 && bodyId !== undefined && bodyId !== found[0].id) {
      throw errors.badRequest(`The resource id '${bodyId}' is not the id of the ${t.resourceType} the criteria match`);
    }
    if (found.length === 0 && bodyId !== undefined && await session.exists(t.resourceType, bodyId)) {
      throw errors.conflict(`${t.resourceType}/${bodyId} exists but does not match the criteria`);
    }
    t.id = found[0]?.id ?? bodyId ?? await session.newId(t.resourceType, entry.resource!);
  }
  return entry.fullUrl ? [entry.fullUrl, `${t.resourceType}/${t.id}`] : undefined;
}

/**
 * R4 http.html#trules: a transaction fails when two entries resolve to the same resource. Literal
 * duplicates are caught before any work (checkDistinctTargets); this catches those that only
 * resolution reveals (`PUT Patient/1` with `PUT Patient?_id=1`, a conditional delete and a PUT).
 */
function checkNoResourceTwice(session: WriteSession): void {
  const seen = new Set<string>();
  for (const { version } of session.changes) {
    const key = `${version.resourceType}/${version.id}`;
    if (seen.has(key)) throw errors.badRequest(`Two entries of the transaction act on ${key}`);
    seen.add(key);
  }
}

function assertTypeMatches(entry: ParsedEntry): void {
  const found = entry.resource?.resourceType;
  if (entry.method !== 'PATCH' && found !== entry.target!.resourceType) {
    throw errors.badRequest(`The resource is a ${String(found)} but the request url names ${entry.target!.resourceType}`);
  }
}

/** A conditional reference must match exactly one resource (R4 http.html#trules). */
async function uniqueMatch(session: WriteSession, resourceType: string, criteria: Criteria): Promise<string> {
  const found = await session.matches(resourceType, criteria);
  if (found.length !== 1) {
    throw errors.preconditionFailed(`The conditional reference ${resourceType}?${new URLSearchParams(criteria)} matches ${found.length === 0 ? 'no' : 'more than one'} resource`);
  }
  return found[0].id;
}

async function writeEntry(session: WriteSession, entry: ParsedEntry, options: BundleOptions): Promise<BundleEntry> {
  const t = entry.target!;
  const pre = { ifMatch: entry.ifMatch };
  let result: WriteResult;
  switch (entry.method) {
    case 'POST':
      // A transaction decided the id up front (or found the If-None-Exist match); a batch did
      // not. If-None-Exist is checked again now, against what earlier entries wrote.
      result = await session.create(t.resourceType, entry.resource, { id: t.id, ifNoneExist: entry.ifNoneExist });
      break;
    case 'PUT':
      if (t.criteria === undefined) {
        // As over HTTP: the body's id must be the URL's.
        result = await session.update(t.resourceType, t.id!, entry.resource, pre);
      } else if (t.id !== undefined) {
        // A transaction resolved the criteria up front (and checked a body id against the match).
        result = await session.update(t.resourceType, t.id, { ...entry.resource, id: t.id }, pre);
      } else {
        result = await session.conditionalUpdate(t.resourceType, t.criteria, entry.resource, pre);
      }
      break;
    default: {
      const patch = patchOf(entry.resource!);
      result = t.id !== undefined
        ? await session.patch(t.resourceType, t.id, patch, pre)
        : await session.conditionalPatch(t.resourceType, t.criteria!, patch, pre);
    }
  }
  const v = result.version;
  const response: BundleEntryResponse = {
    status: result.created ? STATUS_TEXT[201] : STATUS_TEXT[200],
    etag: `W/"${v.versionId}"`,
    lastModified: v.lastUpdated,
  };
  if (result.created) response.location = `${v.resourceType}/${v.id}/_history/${v.versionId}`;
  const out: BundleEntry = { fullUrl: `${options.baseUrl}/${v.resourceType}/${v.id}`, response };
  if (options.returnPreference === 'representation') out.resource = options.render(v);
  if (options.returnPreference === 'OperationOutcome') response.outcome = informational(`${entry.method} ${v.resourceType}/${v.id}: version ${v.versionId}`);
  return out;
}

async function deleteEntry(session: WriteSession, entry: ParsedEntry, options: BundleOptions): Promise<BundleEntry> {
  const t = entry.target!;
  const tombstones = t.id !== undefined
    ? [await session.delete(t.resourceType, t.id, { ifMatch: entry.ifMatch })].filter((v): v is ResourceVersion => v !== undefined)
    : await session.conditionalDelete(t.resourceType, t.criteria!, options.conditionalDelete);
  const response: BundleEntryResponse = { status: STATUS_TEXT[204] };
  if (tombstones.length === 1) response.etag = `W/"${tombstones[0].versionId}"`;
  if (options.returnPreference === 'OperationOutcome') response.outcome = informational(`Deleted ${tombstones.length} resource(s)`);
  return { response };
}

/**
 * GET entries run after the writes (in a transaction, after the commit, so they see it); their
 * failures are reported on the entry, since they change nothing.
 */
async function getEntry(entry: ParsedEntry, options: BundleOptions): Promise<BundleEntry> {
  let answer: Awaited<ReturnType<BundleOptions['runGet']>>;
  try {
    answer = await options.runGet(entry.url);
  } catch (error) {
    if (!(error instanceof FhirError)) throw error;
    return { response: { status: String(error.status), outcome: error.toOperationOutcome() } };
  }
  const { status, resource, version } = answer;
  const response: BundleEntryResponse = { status: STATUS_TEXT[status] ?? String(status) };
  if (version) {
    response.etag = `W/"${version.versionId}"`;
    response.lastModified = version.lastUpdated;
  }
  return entry.method === 'HEAD' || !resource ? { response } : { resource, response };
}

/** PATCH entries carry a FHIRPath Patch Parameters, or a JSON Patch inside a Binary (R4 http.html#transaction). */
function patchOf(resource: Resource): PatchBody {
  if (resource.resourceType === 'Parameters') return { kind: 'fhirpath-patch', parameters: resource };
  const binary = resource as Binary;
  const contentType = typeof binary.contentType === 'string' ? binary.contentType.split(';')[0].trim() : undefined;
  if (binary.resourceType === 'Binary' && contentType === 'application/json-patch+json' && typeof binary.data === 'string') {
    let operations: unknown;
    try {
      operations = JSON.parse(Buffer.from(binary.data, 'base64').toString('utf8'));
    } catch {
      throw errors.badRequest('The Binary does not hold a JSON Patch document');
    }
    return { kind: 'json-patch', operations };
  }
  throw errors.badRequest('A PATCH entry needs a Parameters (FHIRPath Patch) or a Binary with contentType application/json-patch+json');
}

function informational(diagnostics: string): OperationOutcome {
  return operationOutcome([{ severity: 'information', code: 'informational', diagnostics }]);
}
