import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import session from 'express-session';
import passport from 'passport';
import type { AccountStore } from './accounts.js';
import type { IdpIdentity } from './idp-identity.js';
import { PageError, readForm } from './page-route.js';

/**
 * The browser session every sign-in step reads and writes: who is signed in, the authorization
 * requests still open, and the CSRF token.
 *
 * State lives in an express-session (MemoryStore for now: sessions end with the process; cookie
 * `vertebra.sid`, path /auth, httpOnly, SameSite=Lax, Secure behind https). Each authorization
 * request is kept in the session under a random request id (`rid`), so two tabs do not mix.
 * Every POST carries the session's CSRF token in a hidden field; a missing or wrong token is 403.
 */

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

/** An authorization request that passed validation and waits for the user (sign-in, picking, consent). */
export interface Pending {
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
export const PENDING_SECONDS = 15 * 60;

export type StaffPassport = InstanceType<typeof passport.Passport>;

export interface LoginSession {
  /**
   * A passport instance of our own (not the global one): the sign-in steps register their
   * strategies on it, local-sign-in.ts the password check and oidc-sign-in.ts the IdP's.
   */
  passport: StaffPassport;
  /** express-session, then passport reading the signed-in user from it: every page route runs behind these. */
  interactive: RequestHandler[];
}

export function createLoginSession(accounts: AccountStore): LoginSession {
  const sessions = session({
    name: 'vertebra.sid',
    secret: randomBytes(32).toString('base64url'),
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: { path: '/auth', httpOnly: true, sameSite: 'lax', secure: 'auto', maxAge: 8 * 3600_000 },
  });
  const pp = new passport.Passport();
  // A local user is kept by username (so a changed account applies at once); an IdP user, who has
  // no account here, is kept whole.
  pp.serializeUser((user, done) => done(null, (user as StaffUser).idp ? { idpUser: user } : (user as StaffUser).username));
  pp.deserializeUser((kept: string | { idpUser: StaffUser }, done) => done(null, typeof kept === 'string' ? accounts.get(kept) ?? false : kept.idpUser));
  return { passport: pp, interactive: [sessions, pp.initialize(), pp.session()] };
}

export const userOf = (req: Request): StaffUser | undefined => (req.user as StaffUser | undefined) ?? undefined;

/** Signs the user in: a new session id (no fixation), the open requests move over, a new CSRF token. */
export async function signIn(req: Request, user: StaffUser): Promise<void> {
  await new Promise<void>((resolve, reject) => req.logIn(user, { session: true, keepSessionInfo: true }, (err) => (err ? reject(err) : resolve())));
  req.session.csrf = randomBytes(32).toString('base64url');
  req.session.authTime = Math.floor(Date.now() / 1000);
}

/** The session's CSRF token, for a page's hidden field; made on first use. */
export const csrfOf = (req: Request): string => (req.session.csrf ??= randomBytes(32).toString('base64url'));

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** A form posted from one of our pages: read, and refused (403) unless it carries this session's CSRF token. */
export function postedForm(req: Request): Map<string, string> {
  const f = readForm(req);
  const expected = req.session.csrf;
  const given = f.get('csrf_token');
  if (!expected || !given || !safeEqual(expected, given)) {
    throw new PageError(403, 'Request refused', 'This form has expired or did not come from this site. Go back to the application and start again.');
  }
  return f;
}

export const requestExpired = (): PageError =>
  new PageError(400, 'Sign-in request expired', 'This sign-in request is no longer open. Go back to the application and start again.');

/** The open authorization request `rid`; an unknown or timed-out one is a "request expired" page. */
export function pendingOf(req: Request, rid: string | undefined): Pending {
  const p = rid ? req.session.pending?.[rid] : undefined;
  if (!p || p.createdAt + PENDING_SECONDS < Date.now() / 1000) throw requestExpired();
  return p;
}

/** A form posted for an open authorization request (its `rid` field): the form, the rid and the request. */
export function postedForRequest(req: Request): { form: Map<string, string>; rid: string; pending: Pending } {
  const form = postedForm(req);
  const rid = form.get('rid') ?? '';
  return { form, rid, pending: pendingOf(req, rid) };
}

/** The signed-in user, for the steps after sign-in; a session that has lost its user is told to sign in again. */
export function signedInUser(req: Request): StaffUser {
  const user = userOf(req);
  if (!user) throw new PageError(401, 'Signed out', 'Sign in again from the application.');
  return user;
}

/** Where a step sends the browser once it is done: back to the request, which shows its next step. */
export const continueUrl = (req: Request, rid: string) => `${req.baseUrl}/authorize/continue?rid=${encodeURIComponent(rid)}`;
