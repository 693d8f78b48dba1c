import type { Request, Response, Router } from 'express';
import type { AuthLogger } from './auth-logger.js';
import type { Endpoints } from './discovery.js';
import { chooseRole, type IdpIdentity } from './idp-identity.js';
import { postedForRequest, requestExpired, type LoginSession } from './login-session.js';
import { oidcFailureKind, STRATEGY } from './oidc.js';
import { PageError, pageRoute } from './page-route.js';
import { offerRoles, signInWithRole, type RoleSelectionDeps } from './role-selection.js';
import type { ReportLoginAttempt } from './sign-in-audit.js';

/**
 * Staff sign-in through the OpenID Connect IdP (NHS CIS2): POST /auth/oidc/start sends the browser
 * to the IdP for the open authorization request; GET /auth/oidc/callback takes the IdP's answer
 * (checked by openid-client, auth/oidc.ts), audits a refusal, and goes on to role selection
 * (auth/role-selection.ts).
 */

export interface OidcSignInDeps extends RoleSelectionDeps {
  logger: AuthLogger;
  report: ReportLoginAttempt;
  endpointsOf(req: Request): Endpoints;
}

type StrategyOutcome = { answered: true } | { answered: false; err?: unknown; identity?: IdpIdentity; info?: unknown };

/**
 * Which check an IdP answer failed, for the audit: openid-client's own wording ('unexpected ID
 * Token "nonce" claim value', 'JWT signature verification failed', 'unexpected "state" response
 * parameter value', the IdP's `error` code), never claims or tokens; capped in length.
 */
function failedCheck(errOrInfo: unknown): string {
  const e = errOrInfo as { cause?: unknown; message?: unknown; error?: unknown } | undefined;
  const cause = e?.cause instanceof Error ? e.cause.message : undefined;
  const text = typeof e?.error === 'string' ? e.error : cause ?? (typeof e?.message === 'string' ? e.message : 'unknown');
  return text.replace(/[^\w\s"':.,()-]/g, '').slice(0, 160);
}

export function oidcSignInRoutes(router: Router, session: LoginSession, deps: OidcSignInDeps): void {
  const { logger, report } = deps;
  const pp = session.passport;
  const callbackUrl = (req: Request) => `${deps.endpointsOf(req).issuer}/oidc/callback`;
  const idpName = () => deps.oidc?.displayName ?? 'the identity provider';

  /** Runs the IdP strategy: either it answered (a redirect to the IdP) or it reports its outcome. */
  async function runStrategy(req: Request, res: Response, initiate: boolean): Promise<StrategyOutcome> {
    let strategyReady = false;
    try {
      // The strategy exists only after discovery (lazy and retried: oidc.ts), so it is registered on use, not at start-up.
      await deps.oidc!.strategy().then((s) => {
        pp.use(STRATEGY, s);
        strategyReady = true;
      });
    } catch (err) {
      logger.error({ err }, 'OpenID Connect IdP discovery failed');
    }
    if (!strategyReady) throw new PageError(502, 'Sign-in not available', `${idpName()} cannot be reached just now. Try again later.`);
    return new Promise((resolve) => {
      res.once('finish', () => resolve({ answered: true }));
      pp.authenticate(STRATEGY, deps.oidc!.authenticateOptions(initiate, callbackUrl(req)), (err: unknown, identity: IdpIdentity | false, info: unknown) => {
        resolve({ answered: false, err, identity: identity || undefined, info });
      })(req, res, (err: unknown) => resolve({ answered: false, err }));
    });
  }

  router.post('/oidc/start', ...session.interactive, pageRoute(async (req, res) => {
    if (!deps.oidc) throw new PageError(404, 'Not available', 'No identity provider is configured on this server.');
    const { rid } = postedForRequest(req);
    req.session.oidcRid = rid;
    delete req.session.oidcPending;
    const outcome = await runStrategy(req, res, true);
    if (outcome.answered) return;
    logger.error({ err: outcome.err }, 'the IdP sign-in could not be started');
    throw new PageError(502, 'Sign-in not available', `The sign-in with ${idpName()} could not be started. Try again later.`);
  }));

  router.get('/oidc/callback', ...session.interactive, pageRoute(async (req, res) => {
    if (!deps.oidc) throw new PageError(404, 'Not available', 'No identity provider is configured on this server.');
    const rid = req.session.oidcRid;
    delete req.session.oidcRid;
    const clientId = rid ? req.session.pending?.[rid]?.clientId : undefined;
    const outcome = await runStrategy(req, res, false);
    if (outcome.answered) return;
    if (outcome.err || !outcome.identity) {
      const kind = outcome.err ? oidcFailureKind(outcome.err) : 'refused';
      // The library's message names the check that failed; it carries no token, and stays in the log.
      logger.warn({ err: outcome.err, info: outcome.info, client_id: clientId }, 'IdP sign-in refused');
      const reason = kind === 'unavailable' ? 'the identity provider could not be reached'
        : outcome.err ? `the identity provider's answer failed validation: ${failedCheck(outcome.err)}`
          : `the sign-in was not completed: ${failedCheck(outcome.info)}`;
      await report(res, { action: 'login', outcome: 'failure', method: 'oidc', clientId, reason });
      if (kind === 'unavailable') throw new PageError(502, 'Sign-in not available', `${idpName()} could not be reached to complete the sign-in. Go back to the application and try again.`);
      throw new PageError(401, 'Sign-in refused', `The sign-in with ${idpName()} could not be completed. Go back to the application and start again.`);
    }
    const identity = outcome.identity;
    const who = { username: `oidc:${identity.sdsUserId ?? identity.subject}`, ...(identity.sdsUserId ? { sdsUserId: identity.sdsUserId } : {}) };
    if (!rid) {
      await report(res, { action: 'login', outcome: 'failure', method: 'oidc', user: who, reason: 'no authorization request was open' });
      throw requestExpired();
    }
    const choice = chooseRole(identity);
    if (choice.kind === 'refused') {
      await report(res, { action: 'login', outcome: 'failure', method: 'oidc', clientId, user: who, reason: choice.reason });
      throw new PageError(403, 'No role to sign in with', `${idpName()} signed you in, but ${choice.reason}, so you cannot use the clinical record here. Ask your Registration Authority to assign you a role.`);
    }
    if (choice.kind === 'pick') {
      offerRoles(req, res, rid, identity, choice.profiles);
      return;
    }
    await signInWithRole(req, res, identity, choice.profile, rid, deps);
  }));
}
