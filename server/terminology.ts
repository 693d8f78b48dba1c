import type { Request } from 'express';
import type { Parameters, ParametersParameter, Resource } from 'fhir/r4.js';
import { errors } from '../fhir/errors.js';
import type { InteractionEngine } from '../resources/engine.js';
import type { TerminologyOperation } from '../terminology/operations.js';
import { jsonBody, sendFhir } from './representation.js';
import type { Exchange } from './route-table.js';

/**
 * One terminology operation of terminology/operations.ts (a row of the route table per operation),
 * type level and (where R4 defines it) instance level, as GET (query parameters) and POST (a
 * Parameters body; query parameters are added to it).
 */
export function terminologyHandler(engine: InteractionEngine, op: TerminologyOperation) {
  return async ({ req, res, request, ctx }: Exchange): Promise<void> => {
    const body = req.method === 'POST' ? postedParameters(req) : undefined;
    const parameters: Parameters = { resourceType: 'Parameters', parameter: [...queryParameters(req), ...(body?.parameter ?? [])] };
    let resource: Resource | undefined;
    if (request.id !== undefined) resource = engine.render(await engine.read(op.type, request.id), ctx.who);
    sendFhir(req, res, 200, await engine.terminology.operation(op.type, op.name, parameters, resource));
  };
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
