import { Router, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { errors, operationOutcome } from '../fhir/errors.js';
import type { InteractionEngine, WriteResult } from '../resources/engine.js';
import { isSubsetting, parseSubsetting, subset } from '../resources/subsetting.js';
import type { ResourceVersion } from '../store/port.js';
import { capabilityStatement } from './capabilities.js';
import { baseUrl } from './base-url.js';
import type { Config } from './config.js';
import { historyBundle, historyQuery } from './history.js';
import { etag, ifMatch, notModified, returnPreference } from './preconditions.js';
import { jsonBody, sendFhir } from './representation.js';
import { compartmentCondition } from '../search/parse.js';
import { runSearch, scoredSearchText } from './search.js';
import { reindexHandler } from './reindex.js';
import { bundleHandler } from './bundle-route.js';
import { validateHandler } from './validate.js';
import { terminologyRoutes } from './terminology.js';
import { scrRoutes } from './scr-routes.js';
import { ifNoneExist, patchBody, urlCriteria } from './write-requests.js';
import type { Operation } from '../resources/hooks.js';
import { authorizeOperation } from './access.js';

export { baseUrl } from './base-url.js';

function versionHeaders(res: Response, v: ResourceVersion): void {
  res.setHeader('ETag', etag(v.versionId));
  res.setHeader('Last-Modified', new Date(v.lastUpdated).toUTCString());
}

function methodNotAllowed(allow: string[]) {
  return (req: Request) => {
    throw errors.methodNotAllowed(`${req.method} is not supported on ${req.baseUrl}${req.path}`, allow);
  };
}

/** Sends a stored version with read semantics: conditional headers, _summary/_elements, hooks. */
function sendVersion(req: Request, res: Response, engine: InteractionEngine, version: ResourceVersion): void {
  versionHeaders(res, version);
  if (notModified(req, version)) {
    res.status(304).end();
    return;
  }
  const subsetting = parseSubsetting(req.query);
  if (subsetting.summary === 'count') throw errors.badRequest('_summary=count applies to searches and history, not to a read');
  if (!isSubsetting(subsetting) && engine.passesThrough(version.resourceType)) {
    sendFhir(req, res, 200, version.json!);
    return;
  }
  sendFhir(req, res, 200, subset(engine.render(version), subsetting));
}

/** Answers a create or update according to Prefer: return=. */
function sendWrite(req: Request, res: Response, config: Config, result: WriteResult, engine: InteractionEngine): void {
  const { version, resource } = result;
  versionHeaders(res, version);
  const status = result.created ? 201 : 200;
  if (result.created) {
    res.setHeader('Location', `${baseUrl(req, config)}/${version.resourceType}/${version.id}/_history/${version.versionId}`);
  }
  switch (returnPreference(req)) {
    case 'minimal':
      return sendFhir(req, res, status, undefined);
    case 'OperationOutcome':
      return sendFhir(req, res, status, operationOutcome([{
        severity: 'information', code: 'informational',
        diagnostics: result.existing
          ? `${version.resourceType}/${version.id} already matches If-None-Exist: nothing was created`
          : `${result.created ? 'Created' : 'Updated'} ${version.resourceType}/${version.id} as version ${version.versionId}`,
      }]));
    default: // as the client may read it: a write must not be a way round the afterRead hooks (redaction)
      return sendFhir(req, res, status, engine.passesThrough(version.resourceType) ? resource : engine.render(version));
  }
}

function sendDeleted(req: Request, res: Response, diagnostics: string): void {
  if (returnPreference(req) === 'minimal') return sendFhir(req, res, 204, undefined);
  sendFhir(req, res, 200, operationOutcome([{ severity: 'information', code: 'informational', diagnostics }]));
}

/** A conditional interaction without criteria would address every resource of the type. */
function requiredCriteria(req: Request) {
  const criteria = urlCriteria(req);
  if (criteria.length === 0) throw errors.badRequest(`${req.method} on a resource type needs search criteria (${req.method} [type]?[criteria])`);
  return criteria;
}

/** Runs a custom operation: the access decision on what its body asks for, then the operation. */
async function runOperation(req: Request, res: Response, engine: InteractionEngine, operation: Operation, body: unknown): Promise<void> {
  authorizeOperation(operation.access(body), res, operation.actsFor?.(body));
  const { status, resource } = await operation.run(body, engine);
  sendFhir(req, res, status, resource);
}

export function fhirRoutes(engine: InteractionEngine, config: Config, startedAt: string, logger: Logger): Router {
  // Case-sensitive, like the access decision that classifies these paths: `_HISTORY` is no route.
  const router = Router({ caseSensitive: true });
  router.use(scrRoutes(engine, config)); // the SCR API's paths first; what is not an SCR request falls through

  router.route('/metadata')
    .get((req, res) => sendFhir(req, res, 200, capabilityStatement(baseUrl(req, config), startedAt, engine.registry, config.conditionalDeleteMultiple, (type) => ({
      match: engine.hooks.for(type).match !== undefined,
      documentation: engine.hooks.for(type).documentation,
      readOnly: engine.hooks.for(type).readOnlyApi === true,
      operations: Object.entries(engine.hooks.for(type).operations ?? {}).map(([name, op]) => ({ name, documentation: op.documentation })),
    }), config.auth, engine.hooks.systemOperationList().map(([name, op]) => ({ name, documentation: op.documentation })))))
    .all(methodNotAllowed(['GET']));

  // Search (R4 search.html): system level, type level, compartment; GET and POST _search.
  const systemSearch = (fromBody: boolean) => async (req: Request, res: Response) => {
    await runSearch(req, res, engine, config, baseUrl(req, config), { path: '' }, fromBody);
  };
  const typeSearch = (fromBody: boolean) => async (req: Request, res: Response) => {
    const { type } = req.params as { type: string };
    engine.assertType(type);
    await runSearch(req, res, engine, config, baseUrl(req, config), { resourceTypes: [type], path: type }, fromBody);
  };
  router.route('/_search').post(systemSearch(true)).all(methodNotAllowed(['POST']));
  router.route('/$reindex').post(reindexHandler(engine, undefined)).all(methodNotAllowed(['POST']));
  terminologyRoutes(router, engine, methodNotAllowed);
  // Custom operations of the Spine mappings (EPS: POST /$process-message, POST /Task/$release).
  router.post(/^\/\$([A-Za-z][A-Za-z0-9-]*)$/, async (req, res) => {
    const name = (req.params as Record<string, string>)[0];
    const operation = engine.hooks.operation(name);
    if (!operation) throw errors.notFound(`No operation $${name} on this server`);
    await runOperation(req, res, engine, operation, jsonBody(req));
  });
  router.route('/:type/_search').post(typeSearch(true)).all(methodNotAllowed(['POST']));
  router.route('/:type/$validate').get(validateHandler(engine)).post(validateHandler(engine)).all(methodNotAllowed(['GET', 'POST']));
  router.route('/:type/$match')
    .post(async (req, res) => {
      const { type } = req.params as { type: string };
      sendFhir(req, res, 200, scoredSearchText(await engine.match(type, jsonBody(req)), baseUrl(req, config), `${type}/$match`, []));
    })
    .all(methodNotAllowed(['POST']));
  router.post(/^\/([A-Z][A-Za-z]+)\/\$([A-Za-z][A-Za-z0-9-]*)$/, async (req, res, next) => {
    const { 0: type, 1: name } = req.params as Record<string, string>; // a RegExp route's captures
    if (name === 'validate' || name === 'match' || name === 'reindex') return next();
    engine.assertType(type);
    const operation = engine.hooks.operation(name, type);
    if (!operation) throw errors.notFound(`No operation $${name} on ${type}`);
    await runOperation(req, res, engine, operation, jsonBody(req));
  });
  router.route('/:type/:id/$validate').get(validateHandler(engine)).post(validateHandler(engine)).all(methodNotAllowed(['GET', 'POST']));
  router.route('/:type/$reindex').post((req, res) => reindexHandler(engine, (req.params as { type: string }).type)(req, res))
    .all(methodNotAllowed(['POST']));

  router.route('/_history')
    .get(async (req, res) => {
      const page = await engine.history(historyQuery(req, config, {}));
      sendFhir(req, res, 200, historyBundle(engine, page, baseUrl(req, config), req, parseSubsetting(req.query)));
    })
    .all(methodNotAllowed(['GET']));

  router.route('/:type/_history')
    .get(async (req, res) => {
      const { type } = req.params as { type: string };
      const page = await engine.history(historyQuery(req, config, { resourceType: type }));
      sendFhir(req, res, 200, historyBundle(engine, page, baseUrl(req, config), req, parseSubsetting(req.query)));
    })
    .all(methodNotAllowed(['GET']));

  router.route('/:type/:id/_history')
    .get(async (req, res) => {
      const { type, id } = req.params as { type: string; id: string };
      const page = await engine.history(historyQuery(req, config, { resourceType: type, id }));
      sendFhir(req, res, 200, historyBundle(engine, page, baseUrl(req, config), req, parseSubsetting(req.query)));
    })
    .all(methodNotAllowed(['GET']));

  router.route('/:type/:id/_history/:vid')
    .get(async (req, res) => {
      const { type, id, vid } = req.params as { type: string; id: string; vid: string };
      sendVersion(req, res, engine, await engine.vread(type, id, vid));
    })
    .all(methodNotAllowed(['GET']));

  router.route('/:compartment/:id/:type')
    .get(async (req, res) => {
      const { compartment, id, type } = req.params as { compartment: string; id: string; type: string };
      engine.assertType(compartment);
      engine.assertId(compartment, id);
      await engine.assertVisible(compartment, id); // an invalidated patient's compartment is as hidden as the patient
      engine.assertType(type);
      const where = compartmentCondition(compartment, id, type);
      await runSearch(req, res, engine, config, baseUrl(req, config), { resourceTypes: [type], path: `${compartment}/${id}/${type}`, where }, false);
    })
    .all(methodNotAllowed(['GET']));

  router.route('/:type/:id')
    .get(async (req, res) => {
      const { type, id } = req.params as { type: string; id: string };
      sendVersion(req, res, engine, await engine.read(type, id));
    })
    .put(async (req, res) => {
      const { type, id } = req.params as { type: string; id: string };
      engine.assertType(type);
      sendWrite(req, res, config, await engine.update(type, id, jsonBody(req), { ifMatch: ifMatch(req) }), engine);
    })
    .patch(async (req, res) => {
      const { type, id } = req.params as { type: string; id: string };
      engine.assertType(type);
      sendWrite(req, res, config, await engine.patch(type, id, patchBody(req), { ifMatch: ifMatch(req) }), engine);
    })
    .delete(async (req, res) => {
      const { type, id } = req.params as { type: string; id: string };
      const tombstone = await engine.delete(type, id, { ifMatch: ifMatch(req) });
      if (tombstone) res.setHeader('ETag', etag(tombstone.versionId));
      sendDeleted(req, res, tombstone ? `Deleted ${type}/${id} (version ${tombstone.versionId})` : `${type}/${id} was already deleted`);
    })
    .all((req) => {
      engine.assertType((req.params as { type: string }).type);
      methodNotAllowed(['GET', 'PUT', 'PATCH', 'DELETE'])(req);
    });

  router.route('/:type')
    .get(typeSearch(false))
    .post(async (req, res) => {
      const { type } = req.params as { type: string };
      engine.assertType(type);
      const body = jsonBody(req);
      // A resource posted as an operation request (EPS Task#return, Task#withdraw).
      const name = engine.hooks.for(type).createOperation?.(body);
      const operation = name === undefined ? undefined : engine.hooks.operation(name, type);
      if (operation) return runOperation(req, res, engine, operation, body);
      sendWrite(req, res, config, await engine.create(type, body, ifNoneExist(req)), engine);
    })
    // Conditional update, patch and delete (R4 http.html#cond-update, #patch, #cdelete).
    .put(async (req, res) => {
      const { type } = req.params as { type: string };
      engine.assertType(type);
      sendWrite(req, res, config, await engine.conditionalUpdate(type, requiredCriteria(req), jsonBody(req), { ifMatch: ifMatch(req) }), engine);
    })
    .patch(async (req, res) => {
      const { type } = req.params as { type: string };
      engine.assertType(type);
      sendWrite(req, res, config, await engine.conditionalPatch(type, requiredCriteria(req), patchBody(req), { ifMatch: ifMatch(req) }), engine);
    })
    .delete(async (req, res) => {
      const { type } = req.params as { type: string };
      engine.assertType(type);
      const tombstones = await engine.conditionalDelete(type, requiredCriteria(req), {
        allowed: config.conditionalDeleteMultiple, max: config.maxPageSize,
      });
      if (tombstones.length === 1) res.setHeader('ETag', etag(tombstones[0].versionId));
      sendDeleted(req, res, tombstones.length === 0
        ? `No ${type} matched the criteria: nothing was deleted`
        : `Deleted ${tombstones.map((t) => `${type}/${t.id}`).join(', ')}`);
    })
    .all((req) => {
      engine.assertType((req.params as { type: string }).type);
      methodNotAllowed(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])(req);
    });

  router.route('/')
    .get(systemSearch(false))
    .post(bundleHandler(engine, config, (req) => baseUrl(req, config), logger))
    .all(methodNotAllowed(['GET', 'POST']));
  return router;
}
