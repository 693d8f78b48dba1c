import type { Request, Response, Router } from 'express';
import type { Parameters, ParametersParameter, Resource } from 'fhir/r4.js';
import { errors } from '../fhir/errors.js';
import type { InteractionEngine } from '../resources/engine.js';
import { TERMINOLOGY_OPERATIONS } from '../terminology/operations.js';
import { jsonBody, sendFhir } from './representation.js';

/**
 * The terminology operations' routes: for each operation of terminology/operations.ts, type level
 * and (where R4 defines it) instance level, each as GET (query parameters) and POST (a Parameters
 * body; query parameters are added to it). Registered before the generic `/:type/:id` routes.
 */
export function terminologyRoutes(router: Router, engine: InteractionEngine, methodNotAllowed: (allow: string[]) => (req: Request) => void): void {
  for (const op of TERMINOLOGY_OPERATIONS) {
    const handler = (post: boolean, instance: boolean) => async (req: Request, res: Response) => {
      const body = post ? postedParameters(req) : undefined;
      const parameters: Parameters = { resourceType: 'Parameters', parameter: [...queryParameters(req), ...(body?.parameter ?? [])] };
      let resource: Resource | undefined;
      if (instance) resource = engine.render(await engine.read(op.type, (req.params as { id: string }).id));
      sendFhir(req, res, 200, await engine.terminology.operation(op.type, op.name, parameters, resource));
    };
    router.route(`/${op.type}/$${op.name}`).get(handler(false, false)).post(handler(true, false)).all(methodNotAllowed(['GET', 'POST']));
    if (op.instance) {
      router.route(`/${op.type}/:id/$${op.name}`).get(handler(false, true)).post(handler(true, true)).all(methodNotAllowed(['GET', 'POST']));
    }
  }
}

/** Query parameters as string-valued Parameters; `_format`, `_pretty` and other `_` ones are the server's. */
function queryParameters(req: Request): ParametersParameter[] {
  const out: ParametersParameter[] = [];
  for (const [name, raw] of Object.entries(req.query)) {
    if (name.startsWith('_')) continue;
    for (const v of Array.isArray(raw) ? raw : [raw]) {
      if (typeof v !== 'string') throw errors.badRequest(`Query parameter '${name}' is malformed`);
      out.push({ name, valueString: v });
    }
  }
  return out;
}

function postedParameters(req: Request): Parameters {
  const body = jsonBody(req) as Resource | undefined;
  if (body?.resourceType !== 'Parameters') throw errors.badRequest('A POSTed terminology operation takes a Parameters resource');
  const parameter = (body as Parameters).parameter;
  if (parameter !== undefined && !Array.isArray(parameter)) throw errors.badRequest('Parameters.parameter must be an array');
  for (const p of parameter ?? []) {
    if (typeof p?.name !== 'string') throw errors.badRequest('Every Parameters.parameter needs a name');
  }
  return body as Parameters;
}
