import type { AsyncLocalStorage } from 'node:async_hooks';
import OAuth2Server from '@node-oauth/oauth2-server';
import type { Request, Router } from 'express';
import type { AuthLogger } from './auth-logger.js';
import { withRedirect } from './authorization-request.js';
import type { Endpoints } from './discovery.js';
import type { AuthorizedUser } from './grant-store.js';
import { postedForRequest, signedInUser, type LoginSession } from './login-session.js';
import { PageError, pageRoute } from './page-route.js';
import type { TokenRequestContext } from './token-request-context.js';

/**
 * POST /auth/consent: the user's Allow or Deny. Allow has @node-oauth/oauth2-server issue the
 * authorization code for the signed-in user and the consented scopes (the library's authorize(),
 * with our user handed in), and the browser goes back to the client with it; Deny sends the
 * client access_denied. Either way the request is closed.
 */

export interface ConsentDeps {
  oauth: OAuth2Server;
  context: AsyncLocalStorage<TokenRequestContext>;
  logger: AuthLogger;
  endpointsOf(req: Request): Endpoints;
}

/** A fhirUser as the token carries it: a relative `Practitioner/<id>` resolved against the FHIR base. */
const fhirUrl = (e: Endpoints, fhirUser: string) => (/^https?:/.test(fhirUser) ? fhirUser : `${e.fhir}/${fhirUser}`);

export function consentRoutes(router: Router, session: LoginSession, deps: ConsentDeps): void {
  const { logger } = deps;
  router.post('/consent', ...session.interactive, pageRoute(async (req, res) => {
    const { form: f, rid, pending: p } = postedForRequest(req);
    const account = signedInUser(req);
    delete req.session.pending![rid];
    res.setHeader('Cache-Control', 'no-store');
    if (f.get('decision') !== 'allow') {
      logger.info({ user: account.username, client_id: p.clientId }, 'user denied authorization');
      res.redirect(303, withRedirect(p.redirectUri, { error: 'access_denied', error_description: 'The user denied access', state: p.state }));
      return;
    }
    if (p.needsPatient && !p.patient) throw new PageError(400, 'No patient chosen', 'Go back to the application and start again.');
    const endpoints = deps.endpointsOf(req);
    const user: AuthorizedUser = {
      username: account.username, roles: account.roles,
      authTime: req.session.authTime ?? Math.floor(Date.now() / 1000),
    };
    if (account.fhirUser) user.fhirUser = fhirUrl(endpoints, account.fhirUser);
    if (account.idp) {
      user.source = 'oidc';
      if (account.displayName) user.name = account.displayName;
      if (account.idp.orgCode) user.orgCode = account.idp.orgCode;
    }
    if (p.patient) user.patient = p.patient;
    if (p.encounter) user.encounter = p.encounter;
    if (p.nonce) user.nonce = p.nonce;
    const query: Record<string, string> = {
      response_type: 'code', client_id: p.clientId, redirect_uri: p.redirectUri, state: p.state, scope: p.scope.join(' '),
    };
    if (p.codeChallenge) Object.assign(query, { code_challenge: p.codeChallenge, code_challenge_method: p.codeChallengeMethod });
    const request = new OAuth2Server.Request({ method: 'GET', headers: {}, query, body: {} });
    const response = new OAuth2Server.Response({ headers: {} });
    try {
      await deps.context.run({ endpoints, grantType: 'authorize', grantedScope: p.scope }, () =>
        deps.oauth.authorize(request, response, { authenticateHandler: { handle: () => user } } as OAuth2Server.AuthorizeOptions));
    } catch (err) {
      logger.error({ err, client_id: p.clientId }, 'authorization code could not be issued');
    }
    const location = response.headers?.location;
    if (!location) throw new PageError(500, 'Something went wrong', 'The authorization could not be completed.');
    logger.info({ user: account.username, client_id: p.clientId, scope: p.scope.join(' ') }, 'authorization code issued');
    res.redirect(303, location);
  }));
}
