import type { Request, Response } from 'express';
import type { OperationOutcomeIssue, Parameters, Resource } from 'fhir/r4.js';
import { errors, operationOutcome } from '../fhir/errors.js';
import type { InteractionEngine } from '../resources/engine.js';
import { jsonBody, sendFhir } from './representation.js';

/**
 * `$validate` (R4 resource-operation-validate), type and instance level, against the base R4
 * definitions: the same structural checks and business rules a create or update applies, without
 * writing. The answer is 200 with an OperationOutcome whether or not the resource is valid; its
 * error issues say why not. Other profiles (UK Core) are issue 8's validator: asked for one, we
 * say so with a 400 rather than answer "valid" without having checked.
 */
export function validateHandler(engine: InteractionEngine) {
  return async (req: Request, res: Response): Promise<void> => {
    const { type, id } = req.params as { type: string; id?: string };
    engine.assertType(type);
    const { resource, profile, mode } = operationInput(req);
    const base = `http://hl7.org/fhir/StructureDefinition/${type}`;
    if (profile !== undefined && profile.split('|')[0] !== base) {
      throw errors.badRequest(`Validation against '${profile}' is not available yet: this server validates against the base R4 definition (${base})`);
    }
    if (mode === 'delete') {
      if (id === undefined) throw errors.badRequest('mode=delete needs an instance ($validate on Type/id)');
      await engine.read(type, id);
      return sendFhir(req, res, 200, outcome([]));
    }
    if (!resource) throw errors.badRequest('$validate needs a resource (the body, or a Parameters with a resource part)');
    const issues = await engine.validate(type, resource, id);
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
  const body = jsonBody(req) as Resource;
  if (body?.resourceType !== 'Parameters') return { resource: body, profile, mode };
  const parameters = (body as Parameters).parameter ?? [];
  const resource = parameters.find((p) => p.name === 'resource')?.resource;
  profile = parameters.find((p) => p.name === 'profile')?.valueUri ?? profile;
  mode = parameters.find((p) => p.name === 'mode')?.valueCode ?? mode;
  return { resource, profile, mode };
}

