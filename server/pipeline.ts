import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { parseFhirRequest } from '../fhir/request.js';
import type { InteractionEngine } from '../resources/engine.js';
import type { Spine } from '../resources/spine.js';
import { authorizeRequest } from './access.js';
import { auditTrail, type AuditOptions } from './audit.js';
import { baseUrl } from './base-url.js';
import type { Config } from './config.js';
import { contextOf } from './context.js';
import { dispatch, resolve, type Resolved } from './route-table.js';
import { routeTable } from './routes.js';
import type { AuthServer } from '../auth/authorization-server.js';

export interface PipelineDeps {
  config: Config;
  engine: InteractionEngine;
  /** The Spine modules, assembled (resources/spine.ts). */
  spine: Spine;
  logger: Logger;
  /** The SMART authorization server; absent with AUTH=off. */
  auth?: AuthServer;
  /** Options of the audit trail beyond config.audit (tests inject a failing writer here). */
  audit?: AuditOptions;
  /** When the server started: the CapabilityStatement's date. */
  startedAt: string;
}

/**
 * The FHIR API, mounted at /fhir: one request, one pass.
 *   parse (fhir/request.ts) → context (server/context.ts) → audit starts (server/audit.ts) →
 *   access (server/access.ts) → route table row (server/routes.ts) → engine or module → store →
 *   audit durable → response.
 * A path that names no endpoint is answered only after the token was checked (401 first), so an
 * unauthenticated client learns nothing from the difference.
 */
export function fhirPipeline(deps: PipelineDeps) {
  const { config, engine, spine, logger, auth } = deps;
  const table = routeTable({ engine, config, spine, startedAt: deps.startedAt, logger });
  const audit = auditTrail(engine, spine, logger, auth !== undefined, { enabled: config.audit, ...deps.audit });
  const accessDeps = { auth, engine, spine, baseUrl: (req: Request) => baseUrl(req, config) };

  return async (req: Request, res: Response, _next: NextFunction): Promise<void> => {
    const ctx = contextOf(res);
    let resolved: Resolved | undefined;
    let unroutable: unknown;
    try {
      // req.path, not req.url: an absolute-form target (`GET http://host/fhir/Patient/1`) keeps its scheme and host in req.url.
      const q = req.url.indexOf('?');
      ctx.request = parseFhirRequest(req.method, q < 0 ? req.path : `${req.path}${req.url.slice(q)}`);
      resolved = resolve(table, ctx.request);
    } catch (err) {
      unroutable = err;
    }
    await audit(req, res, ctx, resolved, unroutable, async () => {
      const writes = await authorizeRequest(accessDeps, req, ctx, resolved, unroutable);
      const x = { req, res, ctx, request: ctx.request!, base: baseUrl(req, config) };
      await (writes ? engine.observeWrites(writes, () => dispatch(resolved!, x)) : dispatch(resolved!, x));
    });
  };
}
