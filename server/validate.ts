import type { Request } from 'express';
import type { OperationOutcomeIssue, Parameters, Resource } from 'fhir/r4.js';
import { errors, operationOutcome } from '../fhir/errors.js';
import type { InteractionEngine } from '../resources/engine.js';
import { jsonBody, sendFhir } from './representation.js';
import type { Exchange } from './route-table.js';

/**
 * `$validate` (R4 resource-operation-validate), type and instance level, GET and POST: the checks
 * a create or update would apply (structure, the type's business rules, and the profiles that
 * apply: claimed in meta.profile, required for the type, and the `profile` parameter), without
 * writing. The answer is 200 with an OperationOutcome whether or not the resource is valid (the
 * operation's return is the outcome); its error issues say why not. Only a validation that cannot
 * be performed is a 4xx: no resource, an unknown mode, a `profile` the server does not hold.
 *
 * `mode`: create (the default) checks a new resource; update (instance level only, as R4 says)
 * checks it as the new content of that instance; delete checks that the instance exists. A GET on an
 * instance with no resource validates the stored current version (e.g. against a new profile).
 */
const MODES = new Set(['create', 'update', 'delete']);

export function validateHandler(engine: InteractionEngine) {
  return async ({ req, res, request, ctx }: Exchange): Promise<void> => {
    const { id } = request;
    const type = request.type!;
    let { resource, profile, mode } = operationInput(req);
    if (mode !== undefined && !MODES.has(mode)) throw errors.badRequest(`mode must be create, update or delete (got '${mode}')`);
    if (mode === 'delete') {
      if (id === undefined) throw errors.badRequest('mode=delete needs an instance ($validate on Type/id)');
      await engine.read(type, id);
      return sendFhir(req, res, 200, outcome([]));
    }
    if (!resource && req.method === 'GET' && id !== undefined) resource = engine.render(await engine.read(type, id), ctx.who) as Resource;
    if (!resource) throw errors.badRequest('$validate needs a resource (the body, or a Parameters with a resource part)');
    // R4: modes update and delete can only be used at the instance level.
    if (mode === 'update' && id === undefined) throw errors.badRequest('mode=update needs an instance ($validate on Type/id)');
    const issues = await engine.validate(type, resource, id, profile);
    sendFhir(req, res, 200, outcome(issues));
  };
}

function outcome(issues: OperationOutcomeIssue[]) {
  return operationOutcome(issues.length ? issues : [{ severity: 'information', code: 'informational', diagnostics: 'No issues found' }]);
}

/** The resource, profile and mode of the call: a bare resource body, or a Parameters (and the query). */
function operationInput(req: Request): { resource?: Resource; profile?: string; mode?: string } {
  const query = (name: string) => (typeof req.query[name] === 'string' ? req.query[name] as string : undefined);
  let profile = query('profile');
  let mode = query('mode');
  const body = (req.method === 'GET' ? undefined : jsonBody(req)) as Resource | undefined;
  if (body?.resourceType !== 'Parameters') return { resource: body, profile, mode };
  const parameters = (body as Parameters).parameter ?? [];
  const resource = parameters.find((p) => p.name === 'resource')?.resource;
  profile = parameters.find((p) => p.name === 'profile')?.valueUri ?? profile;
  mode = parameters.find((p) => p.name === 'mode')?.valueCode ?? mode;
  return { resource, profile, mode };
}

