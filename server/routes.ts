import type { Logger } from 'pino';
import { resourceTypes } from '../fhir/definitions.js';
import { errors, operationOutcome } from '../fhir/errors.js';
import { queryPairs, type FhirRequest } from '../fhir/request.js';
import type { InteractionEngine, WriteResult } from '../resources/engine.js';
import type { Operation } from '../resources/hooks.js';
import type { Spine } from '../resources/spine.js';
import { isSubsetting, parseSubsetting, subset } from '../resources/subsetting.js';
import { compartmentCondition } from '../search/parse.js';
import type { ResourceVersion } from '../store/port.js';
import { TERMINOLOGY_OPERATIONS } from '../terminology/operations.js';
import { authorizeOperation } from './access.js';
import { bundleHandler } from './bundle-route.js';
import { capabilityStatement } from './capabilities.js';
import type { Config } from './config.js';
import { historyOf } from './history.js';
import { moduleRoutes } from './module-routes.js';
import { etag, ifMatch, notModified, returnPreference } from './preconditions.js';
import { reindexHandler } from './reindex.js';
import { jsonBody, sendFhir } from './representation.js';
import { defaultAccess, resolve, type Exchange, type Route } from './route-table.js';
import { runSearch, scoredSearchText, systemTypes } from './search.js';
import { terminologyHandler } from './terminology.js';
import { validateHandler } from './validate.js';
import { ifNoneExist, patchBody, criteriaFrom } from './write-requests.js';

export interface RouteDeps {
  engine: InteractionEngine;
  config: Config;
  spine: Spine;
  startedAt: string;
  logger: Logger;
}



/** Operations at a level, by name (and, for type-level ones, limited to some types). */
function operation(name: string, levels: FhirRequest['level'][], types?: readonly string[]) {
  return (r: FhirRequest) => r.operation === name && levels.includes(r.level) && (types === undefined || types.includes(r.type!));
}

function versionHeaders(x: Exchange, v: ResourceVersion): void {
  x.res.setHeader('ETag', etag(v.versionId));
  x.res.setHeader('Last-Modified', new Date(v.lastUpdated).toUTCString());
}

/** Sends a stored version with read semantics: conditional headers, _summary/_elements, hooks. */
function sendVersion(x: Exchange, engine: InteractionEngine, version: ResourceVersion): void {
  versionHeaders(x, version);
  if (notModified(x.req, version)) {
    x.res.status(304).end();
    return;
  }
  const subsetting = parseSubsetting(x.req.query);
  if (subsetting.summary === 'count') throw errors.badRequest('_summary=count applies to searches and history, not to a read');
  if (!isSubsetting(subsetting) && engine.passesThrough(version.resourceType)) {
    sendFhir(x.req, x.res, 200, version.json!);
    return;
  }
  sendFhir(x.req, x.res, 200, subset(engine.render(version, x.ctx.who), subsetting));
}

/** Answers a create or update according to Prefer: return=. */
function sendWrite(x: Exchange, engine: InteractionEngine, result: WriteResult): void {
  const { version, resource } = result;
  versionHeaders(x, version);
  const status = result.created ? 201 : 200;
  if (result.created) x.res.setHeader('Location', `${x.base}/${version.resourceType}/${version.id}/_history/${version.versionId}`);
  switch (returnPreference(x.req)) {
    case 'minimal':
      return sendFhir(x.req, x.res, status, undefined);
    case 'OperationOutcome':
      return sendFhir(x.req, x.res, status, operationOutcome([{
        severity: 'information', code: 'informational',
        diagnostics: result.existing
          ? `${version.resourceType}/${version.id} already matches If-None-Exist: nothing was created`
          : `${result.created ? 'Created' : 'Updated'} ${version.resourceType}/${version.id} as version ${version.versionId}`,
      }]));
    default: // as the client may read it: a write must not be a way round the afterRead hooks (redaction)
      return sendFhir(x.req, x.res, status, engine.passesThrough(version.resourceType) ? resource : engine.render(version, x.ctx.who));
  }
}

function sendDeleted(x: Exchange, diagnostics: string): void {
  if (returnPreference(x.req) === 'minimal') return sendFhir(x.req, x.res, 204, undefined);
  sendFhir(x.req, x.res, 200, operationOutcome([{ severity: 'information', code: 'informational', diagnostics }]));
}

/** A conditional interaction without criteria would address every resource of the type. */
function requiredCriteria(x: Exchange) {
  const criteria = criteriaFrom(x.request.query);
  if (criteria.length === 0) throw errors.badRequest(`${x.request.method} on a resource type needs search criteria (${x.request.method} [type]?[criteria])`);
  return criteria;
}

/** Runs a custom operation: the access decision on what its body asks for, then the operation. */
async function runOperation(x: Exchange, engine: InteractionEngine, op: Operation, body: unknown): Promise<void> {
  authorizeOperation(x.ctx, op.access(body), op.actsFor?.(body));
  const { status, resource } = await op.run(body, engine);
  sendFhir(x.req, x.res, status, resource);
}

/** The generic rows: every R4 interaction vertebra implements, and its operations. */
export function routeTable({ engine, config, spine, startedAt, logger }: RouteDeps): Route[] {
  const searchDeps = { engine, config, spine };
  const search = (x: Exchange) => runSearch(x, searchDeps, x.request.searchInBody === true);
  const history = async (x: Exchange) => {
    sendFhir(x.req, x.res, 200, await historyOf(x, engine, config, { resourceType: x.request.type, id: x.request.id }));
  };
  const table: Route[] = [
    ...moduleRoutes(spine.routes, engine, config),

    { interaction: 'capabilities', methods: ['GET'], access: 'public',
      handle: (x) => sendFhir(x.req, x.res, 200, capabilityStatement(x.base, startedAt, engine.registry, config.conditionalDeleteMultiple, (type) => ({
        match: engine.hooks.for(type).match !== undefined,
        documentation: engine.hooks.for(type).documentation,
        readOnly: engine.hooks.for(type).readOnlyApi === true,
        operations: [
          ...Object.entries(engine.hooks.for(type).operations ?? {}).map(([name, op]) => ({ name, documentation: op.documentation })),
          ...spine.routes.filter((r) => r.operation && r.type === type).map((r) => ({ name: r.operation!, documentation: r.documentation })),
        ],
      }), config.auth, [
        ...engine.hooks.systemOperationList().map(([name, op]) => ({ name, documentation: op.documentation })),
        ...spine.routes.filter((r) => r.operation && r.level === 'system').map((r) => ({ name: r.operation!, documentation: r.documentation })),
      ], new Set(table.map((r) => r.interaction)))) },

    // Search (R4 search.html): system level, type level, compartment; GET and POST _search.
    { interaction: 'search-system', access: (r) => ({ interaction: 'search-system', resourceTypes: systemTypes(queryPairs(r)) }), handle: search },
    { interaction: 'search-type', access: defaultAccess('search-type'), handle: search },
    { interaction: 'search-compartment', access: defaultAccess('search-compartment'),
      async handle(x) {
        const { compartment, type } = x.request as Required<Pick<FhirRequest, 'compartment' | 'type'>>;
        engine.assertId(compartment.type, compartment.id);
        await engine.assertVisible(compartment.type, compartment.id); // an invalidated patient's compartment is as hidden as the patient
        const where = compartmentCondition(compartment.type, compartment.id, type);
        await runSearch(x, searchDeps, false, { resourceTypes: [type], path: `${compartment.type}/${compartment.id}/${type}`, where });
      } },

    // History (R4 http.html#history).
    { interaction: 'history-system', access: () => ({ interaction: 'history-system', resourceTypes: [...resourceTypes().keys()] }), handle: history },
    { interaction: 'history-type', access: defaultAccess('history-type'), handle: history },
    { interaction: 'history-instance', access: defaultAccess('history-instance'), handle: history },

    // Instances.
    { interaction: 'read', access: defaultAccess('read'), handle: async (x) => sendVersion(x, engine, await engine.read(x.request.type!, x.request.id!)) },
    { interaction: 'vread', access: defaultAccess('vread'),
      handle: async (x) => sendVersion(x, engine, await engine.vread(x.request.type!, x.request.id!, x.request.version!)) },
    { interaction: 'create', access: defaultAccess('create'),
      async handle(x) {
        const type = x.request.type!;
        const body = jsonBody(x.req);
        // A resource posted as an operation request (EPS Task#return, Task#withdraw).
        const name = engine.hooks.for(type).createOperation?.(body);
        const op = name === undefined ? undefined : engine.hooks.operation(name, type);
        if (op) return runOperation(x, engine, op, body);
        sendWrite(x, engine, await engine.create(type, body, ifNoneExist(x.req)));
      } },
    // Update, patch and delete, plain and conditional (R4 http.html#cond-update, #patch, #cdelete).
    { interaction: 'update', access: defaultAccess('update'),
      async handle(x) {
        const { type, id, conditional } = x.request;
        sendWrite(x, engine, conditional
          ? await engine.conditionalUpdate(type!, requiredCriteria(x), jsonBody(x.req), { ifMatch: ifMatch(x.req) })
          : await engine.update(type!, id!, jsonBody(x.req), { ifMatch: ifMatch(x.req) }));
      } },
    { interaction: 'patch', access: defaultAccess('patch'),
      async handle(x) {
        const { type, id, conditional } = x.request;
        sendWrite(x, engine, conditional
          ? await engine.conditionalPatch(type!, requiredCriteria(x), patchBody(x.req), { ifMatch: ifMatch(x.req) })
          : await engine.patch(type!, id!, patchBody(x.req), { ifMatch: ifMatch(x.req) }));
      } },
    { interaction: 'delete', access: defaultAccess('delete'),
      async handle(x) {
        const { type, id, conditional } = x.request;
        if (!conditional) {
          const tombstone = await engine.delete(type!, id!, { ifMatch: ifMatch(x.req) });
          if (tombstone) x.res.setHeader('ETag', etag(tombstone.versionId));
          return sendDeleted(x, tombstone ? `Deleted ${type}/${id} (version ${tombstone.versionId})` : `${type}/${id} was already deleted`);
        }
        const tombstones = await engine.conditionalDelete(type!, requiredCriteria(x), { allowed: config.conditionalDeleteMultiple, max: config.maxPageSize });
        if (tombstones.length === 1) x.res.setHeader('ETag', etag(tombstones[0].versionId));
        sendDeleted(x, tombstones.length === 0
          ? `No ${type} matched the criteria: nothing was deleted`
          : `Deleted ${tombstones.map((t) => `${type}/${t.id}`).join(', ')}`);
      } },

    { interaction: 'batch-or-transaction', access: 'bundle', handle: bundleHandler(searchDeps, logger, (request) => resolve(table, request)) },

    // Operations.
    { interaction: 'operation', serves: operation('reindex', ['system', 'type']), methods: ['POST'], access: 'admin', handle: reindexHandler(engine) },
    { interaction: 'operation', serves: operation('validate', ['type', 'instance']), methods: ['GET', 'POST'], access: defaultAccess('operation'), handle: validateHandler(engine) },
    { interaction: 'operation', serves: operation('match', ['type']), methods: ['POST'], access: defaultAccess('search-type'),
      handle: async (x) => sendFhir(x.req, x.res, 200, scoredSearchText(await engine.match(x.request.type!, jsonBody(x.req), x.ctx.who), x.base, `${x.request.type}/$match`, [])) },
    ...TERMINOLOGY_OPERATIONS.map((op): Route => ({
      interaction: 'operation', serves: operation(op.name, op.instance ? ['type', 'instance'] : ['type'], [op.type]),
      methods: ['GET', 'POST'], access: defaultAccess('operation'), handle: terminologyHandler(engine, op),
    })),
    // Custom operations of the Spine modules (EPS: POST /$process-message, POST /Task/$release).
    { interaction: 'operation', methods: ['POST'], access: 'by-body',
      serves: (r) => r.level !== 'instance' && engine.hooks.operation(r.operation!, r.level === 'type' ? r.type : undefined) !== undefined,
      handle: (x) => runOperation(x, engine, engine.hooks.operation(x.request.operation!, x.request.level === 'type' ? x.request.type : undefined)!, jsonBody(x.req)) },
  ];
  return table;
}
