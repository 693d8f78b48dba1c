import type { Request, Response, Router } from 'express';
import { Strategy as LocalStrategy } from 'passport-local';
import type { Account, AccountStore } from './accounts.js';
import type { AuthLogger } from './auth-logger.js';
import type { ClientRegistry } from './clients.js';
import { continueUrl, csrfOf, postedForRequest, signIn, type LoginSession } from './login-session.js';
import type { OidcRelyingParty } from './oidc.js';
import { PageError, pageContext, pageRoute, sendPage } from './page-route.js';
import { loginPage } from './pages.js';
import type { ReportLoginAttempt } from './sign-in-audit.js';
import { ACCOUNT_RULE, ADDRESS_RULE, SignInThrottle } from './sign-in-throttle.js';

/**
 * POST /auth/login: staff sign-in with username and password (passport-local against
 * auth/accounts.ts), throttled per account and per address (auth/sign-in-throttle.ts).
 */

export interface LocalSignInDeps {
  accounts: AccountStore;
  clients: ClientRegistry;
  logger: AuthLogger;
  /** Whether username + password sign-in is offered; when not, POST /login is a 404 page. */
  localLogin: boolean;
  /** Offered next to the form again when the sign-in fails. */
  oidc?: OidcRelyingParty;
  report: ReportLoginAttempt;
}

/** Runs passport-local on the posted username and password; false when they do not match an account. */
function checkPassword(session: LoginSession, req: Request, res: Response, f: Map<string, string>): Promise<Account | false> {
  return new Promise<Account | false>((resolve, reject) => {
    // passport-local reads req.body; the app leaves it as raw bytes, which readForm has parsed.
    req.body = { username: f.get('username') ?? '', password: f.get('password') ?? '' };
    session.passport.authenticate('local', { session: false }, (err: unknown, user: Account | false) => (err ? reject(err) : resolve(user)))(req, res, (e: unknown) => reject(e));
  });
}

export function localSignInRoutes(router: Router, session: LoginSession, deps: LocalSignInDeps): void {
  const { accounts, clients, logger, report } = deps;
  session.passport.use(new LocalStrategy({ session: true }, (username, password, done) => {
    accounts.authenticate(username, password).then((a) => done(null, a ?? false), done);
  }));
  const throttles = { account: new SignInThrottle(ACCOUNT_RULE), address: new SignInThrottle(ADDRESS_RULE) };

  router.post('/login', ...session.interactive, pageRoute(async (req, res) => {
    if (!deps.localLogin) throw new PageError(404, 'Not available', 'Username and password sign-in is switched off on this server.');
    const { form: f, rid, pending: p } = postedForRequest(req);
    const username = (f.get('username') ?? '').slice(0, 128);
    const client = clients.get(p.clientId);
    const again = (status: number, error: string) => {
      sendPage(res, status, loginPage(pageContext(req), {
        csrf: csrfOf(req), rid, clientName: client?.clientName ?? p.clientId, username: f.get('username'),
        local: true, idp: deps.oidc?.displayName, error,
      }));
    };
    // While an account or an address is locked, no password is checked at all (sign-in-throttle.ts).
    const keys = { account: `account:${username.toLowerCase()}`, address: `address:${req.ip ?? 'unknown'}` };
    const wait = Math.max(throttles.account.retryAfter(keys.account), throttles.address.retryAfter(keys.address));
    if (wait > 0) {
      logger.warn({ client_id: p.clientId }, 'staff sign-in refused: too many failed attempts');
      await report(res, {
        action: 'login', outcome: 'failure', method: 'local', clientId: p.clientId,
        user: { username }, reason: 'too many failed sign-ins: temporarily locked',
      });
      res.setHeader('Retry-After', String(wait));
      again(429, `Too many failed sign-ins. Try again in ${Math.ceil(wait / 60)} minute${wait > 60 ? 's' : ''}.`);
      return;
    }
    // One password check per account at a time, so that attempts sent at once are counted one by one.
    if (!throttles.account.begin(keys.account)) {
      res.setHeader('Retry-After', '1');
      again(429, 'Another sign-in for this account is being checked. Try again.');
      return;
    }
    let account: Account | false;
    let locked = 0;
    try {
      account = await checkPassword(session, req, res, f);
      req.body = undefined;
      if (account) throttles.account.succeeded(keys.account);
      else {
        throttles.address.failed(keys.address);
        locked = throttles.account.failed(keys.account);
      }
    } finally {
      throttles.account.end(keys.account);
    }
    if (!account) {
      logger.warn({ client_id: p.clientId }, 'staff sign-in failed');
      await report(res, {
        action: 'login', outcome: 'failure', method: 'local', clientId: p.clientId,
        user: { username }, reason: 'wrong username or password',
      });
      again(401, locked
        ? `The username or password is not correct. After too many failed sign-ins this account is locked for ${Math.ceil(locked / 60)} minutes.`
        : 'The username or password is not correct.');
      return;
    }
    await report(res, {
      action: 'login', outcome: 'success', method: 'local', clientId: p.clientId,
      user: { username: account.username, fhirUser: account.fhirUser, roles: account.roles },
    });
    await signIn(req, account);
    logger.info({ user: account.username, client_id: p.clientId }, 'staff signed in');
    res.redirect(303, continueUrl(req, rid));
  }));
}
