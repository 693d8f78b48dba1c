import type { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import OAuth2Server from '@node-oauth/oauth2-server';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import session from 'express-session';
import passport from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { ACCOUNT_RULE, ADDRESS_RULE, SignInThrottle } from './sign-in-throttle.js';
import type { Account, AccountStore } from './accounts.js';
import type { AuthLogger } from './auth-logger.js';
import type { ClientRegistry } from './clients.js';
import type { Endpoints } from './discovery.js';
import { grantUserScopes } from './grant.js';
import type { AuthorizedUser, LaunchContexts } from './grant-store.js';
import { consentPage, describeScope, loginPage, messagePage, patientPickerPage, rolePickerPage, type PageContext } from './pages.js';
import { parseScopes } from './scopes.js';
import type { AccessTokenClaims } from './tokens.js';
import type { TokenRequestContext } from './token-request-context.js';
import { chooseRole, type IdpIdentity, type RoleProfile } from './idp-identity.js';
import type { LoginAttempt, LoginAttemptListener } from './login-events.js';
import { oidcFailureKind, STRATEGY, type OidcRelyingParty } from './oidc.js';

/**
 * The interactive half of the SMART authorization server: GET /auth/authorize (authorization code
 * + PKCE), staff sign-in (passport-local against auth/accounts.ts, and/or an OpenID Connect IdP
 * such as NHS CIS2 through auth/oidc.ts, with CIS2-style role selection), the standalone-launch
 * patient picker, the consent page, and POST /auth/launch (EHR launch contexts).
 *
 * Every sign-in attempt (either way, success or failure) and every sign-out is reported to
 * `onLoginAttempt` (server/ audits it) before anything else happens; when that report fails, the
 * sign-in fails closed: no session, so no code.
 *
 * State lives in an express-session (MemoryStore for now: sessions end with the process; cookie
 * `vertebra.sid`, path /auth, httpOnly, SameSite=Lax, Secure behind https). Each authorization
 * request is kept in the session under a random request id (`rid`), so two tabs do not mix.
 * Every POST carries the session's CSRF token in a hidden field; a missing or wrong token is 403.
 * Errors about the client or redirect_uri are shown as a page (never redirected to an unverified
 * URI, RFC 6749 §4.1.2.1); everything else is redirected to the client with error and state.
 */

/** A patient for the picker: a display label (or undefined when the id is unknown). */
export type PatientFinder = (id: string) => Promise<{ id: string; label: string } | undefined>;

/** The Practitioner (`Practitioner/<id>`) holding an SDS user id, or undefined when none is held. */
export type PractitionerFinder = (sdsUserId: string) => Promise<string | undefined>;

/**
 * The signed-in staff user of a session: a local account (auth/accounts.ts), or a user the
 * OpenID Connect IdP asserted, mapped onto the role profile chosen for this session.
 */
export interface StaffUser {
  username: string;
  /** `Practitioner/<id>` or an absolute URL; absent for an IdP user with no Practitioner held here. */
  fhirUser?: string;
  roles: string[];
  patients?: string[];
  displayName?: string;
  /** Set for IdP users. */
  idp?: { subject: string; sdsUserId?: string; roleProfileId: string; orgCode?: string };
}

export interface FlowDeps {
  oauth: OAuth2Server;
  context: AsyncLocalStorage<TokenRequestContext>;
  clients: ClientRegistry;
  accounts: AccountStore;
  launches: LaunchContexts;
  logger: AuthLogger;
  endpointsOf(req: Request): Endpoints;
  findPatient?: PatientFinder;
  /** Whether a typed patient id can be one (the NHS number check, passed in by server/). */
  isPatientId(id: string): boolean;
  findPractitioner?: PractitionerFinder;
  /** The OpenID Connect IdP, when configured. */
  oidc?: OidcRelyingParty;
  /** Whether username + password sign-in is offered. */
  localLogin: boolean;
  onLoginAttempt?: LoginAttemptListener;
  verifyBearer(token: string, endpoints: Endpoints): Promise<AccessTokenClaims>;
}

interface Pending {
  clientId: string;
  redirectUri: string;
  state: string;
  /** Granted scopes (requested ∩ registered), shown on the consent page. */
  scope: string[];
  codeChallenge?: string;
  codeChallengeMethod?: string;
  nonce?: string;
  patient?: string;
  encounter?: string;
  /** launch/patient was granted without an EHR launch patient: the user picks one. */
  needsPatient: boolean;
  createdAt: number;
}

declare module 'express-session' {
  interface SessionData {
    csrf?: string;
    pending?: Record<string, Pending>;
    authTime?: number;
    /** The authorization request (rid) an IdP sign-in was started for. */
    oidcRid?: string;
    /** An IdP user with several role profiles and no selected one, waiting at the role picker. */
    oidcPending?: { rid: string; identity: IdpIdentity; createdAt: number };
  }
}

/** How long a started authorization request may wait for the user (sign-in, picking, consent). */
const PENDING_SECONDS = 15 * 60;
const MAX_PENDING = 10;
const PKCE_CHALLENGE = /^[A-Za-z0-9\-._~]{43,128}$/;

class PageError extends Error {
  constructor(readonly status: number, readonly title: string, message: string) {
    super(message);
  }
}

/** An error the client learns through its redirect_uri (RFC 6749 §4.1.2.1). */
class RedirectError extends Error {
  constructor(readonly error: string, readonly description: string) {
    super(description);
  }
}

function nhsuk(): string {
  return join(dirname(createRequire(import.meta.url).resolve('nhsuk-frontend/package.json')), 'dist', 'nhsuk');
}

function htmlHeaders(res: Response): void {
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'self'; img-src 'self' data:; font-src https://assets.nhs.uk; frame-ancestors 'none'; base-uri 'none'");
  res.setHeader('Referrer-Policy', 'no-referrer');
}

/** An HTML form body (the app parses every body as raw bytes); a repeated field is refused. */
function form(req: Request): Map<string, string> {
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(req.get('content-type') ?? '')) throw new PageError(400, 'Bad request', 'The form could not be read.');
  const out = new Map<string, string>();
  const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  for (const [k, v] of new URLSearchParams(raw)) {
    if (out.has(k)) throw new PageError(400, 'Bad request', 'The form could not be read.');
    out.set(k, v);
  }
  return out;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function withRedirect(uri: string, params: Record<string, string | undefined>): string {
  const u = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.href;
}

function patientLabelOf(id: string, found?: { label: string }): string {
  return found ? found.label : `Patient ${id}`;
}

/** What the audit learns about a signed-in user. */
function auditedUser(user: StaffUser): NonNullable<LoginAttempt['user']> {
  const out: NonNullable<LoginAttempt['user']> = { username: user.username, roles: user.roles };
  if (user.fhirUser) out.fhirUser = user.fhirUser;
  if (user.idp?.sdsUserId) out.sdsUserId = user.idp.sdsUserId;
  if (user.idp) out.roleProfileId = user.idp.roleProfileId;
  if (user.idp?.orgCode) out.orgCode = user.idp.orgCode;
  return out;
}

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

function roleLabel(p: RoleProfile): string {
  return `${p.roleName ?? p.jobRole} (${p.jobRole})${p.orgCode ? `, organisation ${p.orgCode}` : ''}`;
}

export function interactiveRoutes(deps: FlowDeps): express.Router {
  const { accounts, clients, launches, logger } = deps;
  const router = express.Router();
  const ctxOf = (req: Request): PageContext => ({ base: `${req.baseUrl}` });

  const throttles = { account: new SignInThrottle(ACCOUNT_RULE), address: new SignInThrottle(ADDRESS_RULE) };

  const sessions = session({
    name: 'vertebra.sid',
    secret: randomBytes(32).toString('base64url'),
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { path: '/auth', httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: 8 * 3600_000 },
  });
  const pp = new passport.Passport();
  pp.use(new LocalStrategy({ session: true }, (username, password, done) => {
    accounts.authenticate(username, password).then((a) => done(null, a ?? false), done);
  }));
  // A local user is kept by username (so a changed account applies at once); an IdP user, who has
  // no account here, is kept whole.
  pp.serializeUser((user, done) => done(null, (user as StaffUser).idp ? { idpUser: user } : (user as StaffUser).username));
  pp.deserializeUser((kept: string | { idpUser: StaffUser }, done) => done(null, typeof kept === 'string' ? accounts.get(kept) ?? false : kept.idpUser));
  const interactive: RequestHandler[] = [sessions, pp.initialize(), pp.session()];

  const userOf = (req: Request): StaffUser | undefined => (req.user as StaffUser | undefined) ?? undefined;

  /**
   * Reports a sign-in attempt (the audit). If it cannot be recorded the sign-in does not go ahead:
   * the user sees a 503 page and no session is created.
   */
  async function report(req: Request, res: Response, attempt: Omit<LoginAttempt, 'at' | 'requestId'>): Promise<void> {
    if (!deps.onLoginAttempt) return;
    try {
      await deps.onLoginAttempt({ ...attempt, at: new Date().toISOString(), requestId: res.locals.requestId as string | undefined });
    } catch (err) {
      logger.error({ err, client_id: attempt.clientId, action: attempt.action }, 'sign-in could not be audited: refused');
      throw new PageError(503, 'Sign-in not available', 'The sign-in could not be recorded, so it was not completed. Try again later.');
    }
  }

  /** Signs the user in: a new session id (no fixation), the open requests move over, a new CSRF token. */
  async function signIn(req: Request, user: StaffUser): Promise<void> {
    await new Promise<void>((resolve, reject) => req.logIn(user, { session: true, keepSessionInfo: true }, (err) => (err ? reject(err) : resolve())));
    req.session.csrf = randomBytes(32).toString('base64url');
    req.session.authTime = Math.floor(Date.now() / 1000);
  }
  const csrfOf = (req: Request): string => (req.session.csrf ??= randomBytes(32).toString('base64url'));
  function checkCsrf(req: Request, f: Map<string, string>): void {
    const expected = req.session.csrf;
    const given = f.get('csrf_token');
    if (!expected || !given || !safeEqual(expected, given)) {
      throw new PageError(403, 'Request refused', 'This form has expired or did not come from this site. Go back to the application and start again.');
    }
  }
  function pendingOf(req: Request, rid: string | undefined): Pending {
    const p = rid ? req.session.pending?.[rid] : undefined;
    if (!p || p.createdAt + PENDING_SECONDS < Date.now() / 1000) {
      throw new PageError(400, 'Sign-in request expired', 'This sign-in request is no longer open. Go back to the application and start again.');
    }
    return p;
  }

  const page = (handler: (req: Request, res: Response) => Promise<void> | void): RequestHandler => async (req, res, next) => {
    try {
      await handler(req, res);
    } catch (err) {
      if (err instanceof PageError) {
        htmlHeaders(res);
        res.status(err.status).send(messagePage(ctxOf(req), err.title, err.message));
        return;
      }
      next(err);
    }
  };

  const fhirUrl = (e: Endpoints, fhirUser: string) => (/^https?:/.test(fhirUser) ? fhirUser : `${e.fhir}/${fhirUser}`);

  /** Shows the step the request is at: sign-in, patient picker, or consent. */
  async function step(req: Request, res: Response, rid: string): Promise<void> {
    const p = pendingOf(req, rid);
    const client = clients.get(p.clientId);
    if (!client) throw new PageError(400, 'Unknown application', 'The application is no longer registered.');
    const clientName = client.clientName ?? client.clientId;
    const user = userOf(req);
    htmlHeaders(res);
    if (!user) {
      res.status(200).send(loginPage(ctxOf(req), { csrf: csrfOf(req), rid, clientName, local: deps.localLogin, idp: deps.oidc?.displayName }));
      return;
    }
    if (p.needsPatient && !p.patient) {
      if (user.patients?.length === 1) {
        p.patient = user.patients[0];
      } else {
        const patients = user.patients && await Promise.all(user.patients.map(async (id) => ({ id, label: patientLabelOf(id, await deps.findPatient?.(id)) })));
        res.status(200).send(patientPickerPage(ctxOf(req), { csrf: csrfOf(req), rid, clientName, patients }));
        return;
      }
    }
    const patientLabel = p.patient ? patientLabelOf(p.patient, await deps.findPatient?.(p.patient)) : undefined;
    res.status(200).send(consentPage(ctxOf(req), {
      csrf: csrfOf(req), rid, clientName, user: user.displayName ?? user.username, patient: patientLabel,
      scopes: p.scope.map((scope) => ({ scope, text: describeScope(scope) })),
    }));
  }

  /** Validates an authorization request; returns the pending request or throws PageError / RedirectError. */
  function validate(req: Request, q: URLSearchParams): Pending {
    const one = (name: string): string | undefined => {
      const all = q.getAll(name);
      if (all.length > 1) throw new PageError(400, 'Bad request', `The parameter ${name} is repeated.`);
      return all[0];
    };
    const clientId = one('client_id');
    const client = clientId ? clients.get(clientId) : undefined;
    if (!client) throw new PageError(400, 'Unknown application', 'The application that sent you here is not registered with this server.');
    if (!client.grantTypes.includes('authorization_code')) throw new PageError(400, 'Application not allowed', 'This application may not sign users in.');
    const redirectUri = one('redirect_uri');
    if (!redirectUri || !client.redirectUris.includes(redirectUri)) {
      throw new PageError(400, 'Wrong return address', "The application's redirect_uri is missing or is not one it registered.");
    }
    // From here on, errors go back to the application.
    const state = one('state');
    if (!state || !/^[\x20-\x7e]+$/.test(state)) throw new RedirectError('invalid_request', 'state is required');
    const pending = { clientId: client.clientId, redirectUri, state } as Pending;
    try {
      if (one('response_type') !== 'code') throw new RedirectError('unsupported_response_type', 'response_type must be code');
      const endpoints = deps.endpointsOf(req);
      const aud = one('aud');
      if (!aud) throw new RedirectError('invalid_request', 'aud (the FHIR base URL) is required');
      if (aud.replace(/\/+$/, '') !== endpoints.fhir) throw new RedirectError('invalid_request', 'aud is not the FHIR base URL this server authorizes for');
      const challenge = one('code_challenge');
      const method = one('code_challenge_method');
      if (method !== undefined && method !== 'S256') throw new RedirectError('invalid_request', 'code_challenge_method must be S256 (plain is not allowed)');
      if (challenge !== undefined) {
        if (method !== 'S256') throw new RedirectError('invalid_request', 'code_challenge_method=S256 is required with code_challenge');
        if (!PKCE_CHALLENGE.test(challenge)) throw new RedirectError('invalid_request', 'code_challenge is malformed');
        pending.codeChallenge = challenge;
        pending.codeChallengeMethod = 'S256';
      } else if (method !== undefined) {
        throw new RedirectError('invalid_request', 'code_challenge is missing');
      } else if (client.authMethod === 'none') {
        throw new RedirectError('invalid_request', 'a public client must use PKCE: code_challenge and code_challenge_method=S256 are required');
      }
      const launchId = one('launch');
      let launch: { patient?: string; encounter?: string } | undefined;
      if (launchId !== undefined) {
        launch = launches.get(launchId);
        if (!launch) throw new RedirectError('invalid_request', 'launch is unknown or has expired');
      }
      const requested = one('scope') ?? '';
      const parsed = parseScopes(requested);
      if (parsed.invalid.length > 0) throw new RedirectError('invalid_scope', `scope '${parsed.invalid[0].scope}' is malformed`);
      let scope = grantUserScopes(requested, client.scope, launch !== undefined);
      if (!launch?.encounter) scope = scope.filter((s) => s !== 'launch/encounter');
      if (scope.length === 0) throw new RedirectError('invalid_scope', 'none of the requested scopes is registered for this client');
      pending.scope = scope;
      pending.patient = launch?.patient;
      pending.encounter = launch?.encounter;
      pending.needsPatient = scope.includes('launch/patient') && !launch?.patient;
      const nonce = one('nonce');
      if (nonce !== undefined) pending.nonce = nonce.slice(0, 256);
      pending.createdAt = Date.now() / 1000;
      return pending;
    } catch (err) {
      if (err instanceof RedirectError) throw Object.assign(err, { redirect: withRedirect(redirectUri, { error: err.error, error_description: err.description, state }) });
      throw err;
    }
  }

  router.get('/authorize', ...interactive, page(async (req, res) => {
    const q = new URL(req.originalUrl, 'http://x').searchParams;
    let pending: Pending;
    try {
      pending = validate(req, q);
    } catch (err) {
      const redirect = (err as { redirect?: string }).redirect;
      if (err instanceof RedirectError && redirect) {
        res.setHeader('Cache-Control', 'no-store');
        res.redirect(302, redirect);
        return;
      }
      throw err;
    }
    const rid = randomBytes(16).toString('base64url');
    const all = req.session.pending ?? {};
    const live = Object.entries(all).filter(([, p]) => p.createdAt + PENDING_SECONDS >= Date.now() / 1000).slice(-(MAX_PENDING - 1));
    req.session.pending = Object.fromEntries([...live, [rid, pending]]);
    await step(req, res, rid);
  }));

  router.get('/authorize/continue', ...interactive, page(async (req, res) => {
    await step(req, res, String(req.query.rid ?? ''));
  }));

  const continueUrl = (req: Request, rid: string) => `${req.baseUrl}/authorize/continue?rid=${encodeURIComponent(rid)}`;

  router.post('/login', ...interactive, page(async (req, res) => {
    if (!deps.localLogin) throw new PageError(404, 'Not available', 'Username and password sign-in is switched off on this server.');
    const f = form(req);
    checkCsrf(req, f);
    const rid = f.get('rid') ?? '';
    const p = pendingOf(req, rid);
    const username = (f.get('username') ?? '').slice(0, 128);
    const client = clients.get(p.clientId);
    const again = (status: number, error: string) => {
      htmlHeaders(res);
      res.status(status).send(loginPage(ctxOf(req), {
        csrf: csrfOf(req), rid, clientName: client?.clientName ?? p.clientId, username: f.get('username'),
        local: true, idp: deps.oidc?.displayName, error,
      }));
    };
    // While an account or an address is locked, no password is checked at all (sign-in-throttle.ts).
    const keys = { account: `account:${username.toLowerCase()}`, address: `address:${req.ip ?? 'unknown'}` };
    const wait = Math.max(throttles.account.retryAfter(keys.account), throttles.address.retryAfter(keys.address));
    if (wait > 0) {
      logger.warn({ client_id: p.clientId }, 'staff sign-in refused: too many failed attempts');
      await report(req, res, {
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
      account = await new Promise<Account | false>((resolve, reject) => {
        req.body = { username: f.get('username') ?? '', password: f.get('password') ?? '' };
        pp.authenticate('local', { session: false }, (err: unknown, user: Account | false) => (err ? reject(err) : resolve(user)))(req, res, (e: unknown) => reject(e));
      });
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
      await report(req, res, {
        action: 'login', outcome: 'failure', method: 'local', clientId: p.clientId,
        user: { username }, reason: 'wrong username or password',
      });
      again(401, locked
        ? `The username or password is not correct. After too many failed sign-ins this account is locked for ${Math.ceil(locked / 60)} minutes.`
        : 'The username or password is not correct.');
      return;
    }
    await report(req, res, {
      action: 'login', outcome: 'success', method: 'local', clientId: p.clientId,
      user: { username: account.username, fhirUser: account.fhirUser, roles: account.roles },
    });
    await signIn(req, account);
    logger.info({ user: account.username, client_id: p.clientId }, 'staff signed in');
    res.redirect(303, continueUrl(req, rid));
  }));

  router.post('/patient', ...interactive, page(async (req, res) => {
    const f = form(req);
    checkCsrf(req, f);
    const rid = f.get('rid') ?? '';
    const p = pendingOf(req, rid);
    const user = userOf(req);
    if (!user) throw new PageError(401, 'Signed out', 'Sign in again from the application.');
    const client = clients.get(p.clientId);
    const again = (error: string) => {
      htmlHeaders(res);
      res.status(400).send(patientPickerPage(ctxOf(req), {
        csrf: csrfOf(req), rid, clientName: client?.clientName ?? p.clientId, error,
        patients: user.patients?.map((id) => ({ id, label: `Patient ${id}` })),
      }));
    };
    if (user.patients?.length) {
      const chosen = f.get('patient');
      if (!chosen || !user.patients.includes(chosen)) return again('Choose one of the patients listed.');
      p.patient = chosen;
    } else {
      const nhs = (f.get('nhs_number') ?? '').replace(/\s+/g, '');
      if (!deps.isPatientId(nhs)) return again('Enter a valid 10-digit NHS number.');
      if (deps.findPatient && !(await deps.findPatient(nhs))) return again('No patient has that NHS number.');
      p.patient = nhs;
    }
    res.redirect(303, continueUrl(req, rid));
  }));

  router.post('/consent', ...interactive, page(async (req, res) => {
    const f = form(req);
    checkCsrf(req, f);
    const rid = f.get('rid') ?? '';
    const p = pendingOf(req, rid);
    const account = userOf(req);
    if (!account) throw new PageError(401, 'Signed out', 'Sign in again from the application.');
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

  // ---- Sign-in through the OpenID Connect IdP (NHS CIS2) ----

  const callbackUrl = (req: Request) => `${deps.endpointsOf(req).issuer}/oidc/callback`;
  const idpName = () => deps.oidc?.displayName ?? 'the identity provider';

  /** Runs the IdP strategy: either it answered (a redirect to the IdP) or it reports its outcome. */
  async function runStrategy(req: Request, res: Response, initiate: boolean): Promise<{ answered: true } | { answered: false; err?: unknown; identity?: IdpIdentity; info?: unknown }> {
    let strategyReady = false;
    try {
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

  /** Completes an IdP sign-in with the chosen role profile: audit, then the session. */
  async function finishIdpSignIn(req: Request, res: Response, identity: IdpIdentity, profile: RoleProfile, rid: string): Promise<void> {
    const user: StaffUser = {
      username: `oidc:${identity.sdsUserId ?? identity.subject}`,
      roles: [profile.jobRole],
      idp: { subject: identity.subject, roleProfileId: profile.personRoleId },
    };
    if (identity.sdsUserId) user.idp!.sdsUserId = identity.sdsUserId;
    if (profile.orgCode) user.idp!.orgCode = profile.orgCode;
    if (identity.name) user.displayName = identity.name;
    if (identity.sdsUserId && deps.findPractitioner) {
      const practitioner = await deps.findPractitioner(identity.sdsUserId);
      if (practitioner) user.fhirUser = practitioner;
    }
    let p: Pending;
    try {
      p = pendingOf(req, rid);
    } catch (err) {
      await report(req, res, { action: 'login', outcome: 'failure', method: 'oidc', user: auditedUser(user), reason: 'the authorization request had expired' });
      throw err;
    }
    await report(req, res, { action: 'login', outcome: 'success', method: 'oidc', clientId: p.clientId, user: auditedUser(user) });
    await signIn(req, user);
    logger.info({ user: user.username, client_id: p.clientId, role: profile.jobRole }, 'staff signed in with the IdP');
    res.redirect(303, continueUrl(req, rid));
  }

  router.post('/oidc/start', ...interactive, page(async (req, res) => {
    if (!deps.oidc) throw new PageError(404, 'Not available', 'No identity provider is configured on this server.');
    const f = form(req);
    checkCsrf(req, f);
    const rid = f.get('rid') ?? '';
    pendingOf(req, rid);
    req.session.oidcRid = rid;
    delete req.session.oidcPending;
    const outcome = await runStrategy(req, res, true);
    if (outcome.answered) return;
    logger.error({ err: outcome.err }, 'the IdP sign-in could not be started');
    throw new PageError(502, 'Sign-in not available', `The sign-in with ${idpName()} could not be started. Try again later.`);
  }));

  router.get('/oidc/callback', ...interactive, page(async (req, res) => {
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
      await report(req, res, { action: 'login', outcome: 'failure', method: 'oidc', clientId, reason });
      if (kind === 'unavailable') throw new PageError(502, 'Sign-in not available', `${idpName()} could not be reached to complete the sign-in. Go back to the application and try again.`);
      throw new PageError(401, 'Sign-in refused', `The sign-in with ${idpName()} could not be completed. Go back to the application and start again.`);
    }
    const identity = outcome.identity;
    const who = { username: `oidc:${identity.sdsUserId ?? identity.subject}`, ...(identity.sdsUserId ? { sdsUserId: identity.sdsUserId } : {}) };
    if (!rid) {
      await report(req, res, { action: 'login', outcome: 'failure', method: 'oidc', user: who, reason: 'no authorization request was open' });
      throw new PageError(400, 'Sign-in request expired', 'This sign-in request is no longer open. Go back to the application and start again.');
    }
    const choice = chooseRole(identity);
    if (choice.kind === 'refused') {
      await report(req, res, { action: 'login', outcome: 'failure', method: 'oidc', clientId, user: who, reason: choice.reason });
      throw new PageError(403, 'No role to sign in with', `${idpName()} signed you in, but ${choice.reason}, so you cannot use the clinical record here. Ask your Registration Authority to assign you a role.`);
    }
    if (choice.kind === 'pick') {
      req.session.oidcPending = { rid, identity, createdAt: Date.now() / 1000 };
      htmlHeaders(res);
      res.status(200).send(rolePickerPage(ctxOf(req), {
        csrf: csrfOf(req), rid, user: identity.name ?? identity.sdsUserId ?? identity.subject,
        roles: choice.profiles.map((p) => ({ id: p.personRoleId, label: roleLabel(p) })),
      }));
      return;
    }
    await finishIdpSignIn(req, res, identity, choice.profile, rid);
  }));

  router.post('/oidc/role', ...interactive, page(async (req, res) => {
    if (!deps.oidc) throw new PageError(404, 'Not available', 'No identity provider is configured on this server.');
    const f = form(req);
    checkCsrf(req, f);
    const waiting = req.session.oidcPending;
    const rid = f.get('rid') ?? '';
    if (!waiting || waiting.rid !== rid || waiting.createdAt + PENDING_SECONDS < Date.now() / 1000) {
      throw new PageError(400, 'Sign-in request expired', 'This sign-in request is no longer open. Go back to the application and start again.');
    }
    const profile = waiting.identity.roleProfiles.find((p) => p.personRoleId === f.get('role'));
    if (!profile) {
      htmlHeaders(res);
      res.status(400).send(rolePickerPage(ctxOf(req), {
        csrf: csrfOf(req), rid, user: waiting.identity.name ?? waiting.identity.sdsUserId ?? waiting.identity.subject, error: 'Select one of your roles.',
        roles: waiting.identity.roleProfiles.map((p) => ({ id: p.personRoleId, label: roleLabel(p) })),
      }));
      return;
    }
    delete req.session.oidcPending;
    await finishIdpSignIn(req, res, waiting.identity, profile, rid);
  }));

  router.post('/logout', ...interactive, page(async (req, res) => {
    const f = form(req);
    checkCsrf(req, f);
    const user = userOf(req);
    if (user) {
      // Signing out goes ahead even when it cannot be recorded (failing closed here means signing out).
      await report(req, res, { action: 'logout', outcome: 'success', method: user.idp ? 'oidc' : 'local', user: auditedUser(user) })
        .catch(() => undefined);
    }
    await new Promise<void>((resolve, reject) => req.logout((err) => (err ? reject(err) : resolve())));
    htmlHeaders(res);
    res.status(200).send(messagePage(ctxOf(req), 'Signed out', 'You have signed out.'));
  }));

  /**
   * EHR launch: an EHR (a registered client holding an access token from this server with a
   * `system/` or `user/` scope) stores the context it launches an app with, and passes the
   * returned opaque `launch` to the app. JSON body {patient?, encounter?}; answer {launch, expires_in}.
   */
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
      const { launch, expiresIn } = launches.create({ patient: patient as string | undefined, encounter: encounter as string | undefined, createdBy: claims.client_id });
      logger.info({ client_id: claims.client_id }, 'launch context created');
      res.setHeader('Cache-Control', 'no-store');
      res.status(201).json({ launch, expires_in: expiresIn });
    } catch (err) {
      next(err);
    }
  });

  router.use('/assets', express.static(nhsuk(), { index: false, fallthrough: false, maxAge: '1h' }));
  return router;
}
