import type { NextFunction, Request, Response, Router } from 'express';
import type { AuthLogger } from './auth-logger.js';
import type { Endpoints } from './discovery.js';
import type { LaunchContexts } from './grant-store.js';
import { parseScopes } from './scopes.js';
import type { AccessTokenClaims } from './tokens.js';

/**
 * EHR launch: an EHR (a registered client holding an access token from this server with a
 * `system/` or `user/` scope) stores the context it launches an app with, and passes the
 * returned opaque `launch` to the app. JSON body {patient?, encounter?}; answer {launch, expires_in}.
 * A machine-to-machine call: no session, and errors are JSON, as at the token endpoint.
 */

export interface EhrLaunchDeps {
  launches: LaunchContexts;
  logger: AuthLogger;
  endpointsOf(req: Request): Endpoints;
  verifyBearer(token: string, endpoints: Endpoints): Promise<AccessTokenClaims>;
}

export function ehrLaunchRoutes(router: Router, deps: EhrLaunchDeps): void {
  router.post('/launch', async (req: Request, res: Response, next: NextFunction) => {
    try {
      const m = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') ?? '');
      const fail = (status: number, error: string, description: string) => {
        res.setHeader('Cache-Control', 'no-store');
        if (status === 401) res.setHeader('WWW-Authenticate', `Bearer error="${error}"`);
        res.status(status).json({ error, error_description: description });
      };
      if (!m) return fail(401, 'invalid_token', 'a Bearer access token is required');
      let claims: AccessTokenClaims;
      try {
        claims = await deps.verifyBearer(m[1], deps.endpointsOf(req));
      } catch {
        return fail(401, 'invalid_token', 'the access token is not valid');
      }
      const scopes = parseScopes(claims.scope);
      if (!scopes.resources.some((s) => s.context === 'system' || s.context === 'user')) {
        return fail(403, 'insufficient_scope', 'creating a launch context needs a token with a system/ or user/ scope');
      }
      let body: { patient?: unknown; encounter?: unknown };
      try {
        body = JSON.parse(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '{}');
      } catch {
        return fail(400, 'invalid_request', 'the body must be JSON: {"patient": "<id>", "encounter": "<id>"}');
      }
      const id = /^[A-Za-z0-9\-.]{1,64}$/;
      const patient = body?.patient;
      const encounter = body?.encounter;
      if ((patient !== undefined && (typeof patient !== 'string' || !id.test(patient)))
        || (encounter !== undefined && (typeof encounter !== 'string' || !id.test(encounter)))
        || (patient === undefined && encounter === undefined)) {
        return fail(400, 'invalid_request', 'patient and/or encounter must be FHIR resource ids');
      }
      const { launch, expiresIn } = deps.launches.create({ patient: patient as string | undefined, encounter: encounter as string | undefined, createdBy: claims.client_id });
      deps.logger.info({ client_id: claims.client_id }, 'launch context created');
      res.setHeader('Cache-Control', 'no-store');
      res.status(201).json({ launch, expires_in: expiresIn });
    } catch (err) {
      next(err);
    }
  });
}
