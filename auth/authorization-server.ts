import { AsyncLocalStorage } from 'node:async_hooks';
import { join } from 'node:path';
import OAuth2Server from '@node-oauth/oauth2-server';
import express, { type NextFunction, type Request, type Response } from 'express';
import { JWT_BEARER, verifyClientAssertion } from './assertion.js';
import type { AuthLogger } from './auth-logger.js';
import { ClientRegistry, loadClients, type RegisteredClient } from './clients.js';
import { endpointsFor, smartConfiguration, type Endpoints } from './discovery.js';
import { ExpiringSet } from './expiring-set.js';
import { AccountStore } from './accounts.js';
import { grantScopes } from './grant.js';
import { AuthorizationCodes, isAuthorizedUser, LaunchContexts, RefreshTokens, type AuthorizedUser } from './grant-store.js';
import { interactiveRoutes } from './login-flow.js';
import type { LoginAttemptListener } from './login-events.js';
import { OidcRelyingParty, type OidcOptions } from './oidc.js';
import type { PatientFinder } from './patient-picker.js';
import type { PractitionerFinder } from './role-selection.js';
import { KeyStore } from './keys.js';
import type { TokenRequestContext } from './token-request-context.js';
import { OAuthHttpError, oauthErrors } from './oauth-error.js';
import { InvalidAccessTokenError, issueAccessToken, issueIdToken, verifyAccessToken, type AccessTokenClaims } from './tokens.js';
import { VerifiedTokenCache } from './verified-tokens.js';

/**
 * The SMART authorization server's token side: POST /auth/token (client_credentials with SMART
 * Backend Services private_key_jwt, or HTTP Basic for client_secret_basic clients), POST
 * /auth/introspect (RFC 7662), POST /auth/revoke (RFC 7009), GET /auth/jwks.json, and the
 * discovery document served at <fhir base>/.well-known/smart-configuration.
 *
 * The token grant runs on @node-oauth/oauth2-server: its model (below) looks clients up, narrows
 * the scope, mints the JWT and "saves" it (tokens are self-contained JWTs; only revocations are
 * stored). The library authenticates clients by client_id + client_secret only; it has no
 * RFC 7523 client assertions. So a request carrying `client_assertion` is verified here first
 * (auth/assertion.ts, with jose), and only then handed to the library as a request for that
 * client_id with no secret: the grant is configured not to demand a secret for client_credentials,
 * and the model's getClient returns a client without a secret only when this very request's
 * assertion authenticated it (AsyncLocalStorage carries that per request), so a bare client_id
 * authenticates nobody.
 */

export interface AuthOptions {
  dataDir: string;
  /** The public FHIR base URL (BASE_URL); when absent, derived from each request's Host as the FHIR routes do. */
  fhirBaseUrl?: string;
  /** SMART_CLIENTS: the client metadata file; no file means no clients. */
  clientsFile?: string;
  accessTokenSeconds: number;
  logger: AuthLogger;
  /** Staff accounts file; default `<dataDir>/auth/accounts.json`. */
  accountsFile?: string;
  /** Looks a patient up by id for the standalone-launch picker (labels, NHS number search); absent = ids are taken as typed. */
  findPatient?: PatientFinder;
  /**
   * Whether what a user typed into the standalone-launch patient picker can name a patient at all
   * (server/ passes the NHS number check); anything else is refused before findPatient is asked.
   * Required: auth/ knows no patient identifier scheme of its own, and must not accept any text.
   */
  isPatientId: (id: string) => boolean;
  /** Looks up the Practitioner holding an SDS user id (IdP sign-in → fhirUser); absent = no fhirUser for IdP users. */
  findPractitioner?: PractitionerFinder;
  /** Staff sign-in through an OpenID Connect IdP (NHS CIS2); absent = none. */
  oidc?: OidcOptions;
  /** Offer username + password sign-in (passport-local); default true. */
  localLogin?: boolean;
  /** Told of every sign-in attempt and sign-out (the audit); awaited, a failure fails the sign-in closed. */
  onLoginAttempt?: LoginAttemptListener;
}

/** Authorization codes live at most this long (SMART/RFC 6749: short-lived). */
export const AUTHORIZATION_CODE_SECONDS = 60;
/** offline_access refresh tokens: each rotation lasts this long. */
export const OFFLINE_REFRESH_SECONDS = 30 * 86_400;
/** online_access refresh tokens: valid until this long after the user signed in, rotation does not extend it. */
export const ONLINE_REFRESH_SECONDS = 12 * 3600;

export interface AuthServer {
  /** Mounted at /auth by server/app.ts. */
  router: express.Router;
  /** GET <fhir base>/.well-known/smart-configuration */
  discovery: (req: Request, res: Response) => void;
  clients: ClientRegistry;
  keys: KeyStore;
  accounts: AccountStore;
  /** The endpoint URLs for a FHIR base (the configured one when no base is given and BASE_URL is set). */
  endpoints(fhirBase?: string): Endpoints | undefined;
  /**
   * Verifies an access token presented to the FHIR endpoint at `fhirBase` (default: BASE_URL);
   * returns its claims or throws InvalidAccessTokenError. For the enforcement step.
   */
  verifyAccessToken(token: string, fhirBase?: string): Promise<AccessTokenClaims>;
}

/** The library's client object, carrying our registration. */
export interface LibClient extends OAuth2Server.Client {
  registration: RegisteredClient;
}

export async function createAuthServer(opts: AuthOptions): Promise<AuthServer> {
  const { logger } = opts;
  const keys = await KeyStore.open(join(opts.dataDir, 'keys'), logger);
  const clients = opts.clientsFile ? await loadClients(opts.clientsFile) : new ClientRegistry();
  const revoked = new ExpiringSet(join(opts.dataDir, 'auth', 'revoked-tokens.jsonl'));
  const seenAssertions = new ExpiringSet(join(opts.dataDir, 'auth', 'client-assertion-jti.jsonl'));
  const context = new AsyncLocalStorage<TokenRequestContext>();
  const accounts = new AccountStore(opts.accountsFile ?? join(opts.dataDir, 'auth', 'accounts.json'));
  const codes = new AuthorizationCodes();
  const refreshTokens = new RefreshTokens(join(opts.dataDir, 'auth', 'refresh-tokens.json'));
  const launches = new LaunchContexts();

  const fhirBaseOf = (req: Request) => opts.fhirBaseUrl ?? `${req.protocol}://${req.get('host')}/fhir`;
  const endpointsOf = (req: Request) => endpointsFor(fhirBaseOf(req));
  const verify = (token: string, e: Endpoints) => verifyAccessToken(token, { keys, revoked, issuer: e.issuer, audience: e.fhir });
  const verified = new VerifiedTokenCache((jti) => revoked.has(jti)); // FHIR requests: one signature check per token

  const libClient = (registration: RegisteredClient): LibClient => ({
    id: registration.clientId, grants: registration.grantTypes, redirectUris: registration.redirectUris, registration,
  });
  const ctx = (): TokenRequestContext => {
    const c = context.getStore();
    if (!c) throw new Error('token request context missing');
    return c;
  };

  type Model = OAuth2Server.ClientCredentialsModel & OAuth2Server.AuthorizationCodeModel & OAuth2Server.RefreshTokenModel;
  const model: Model = {
    async getClient(clientId: string, clientSecret: string | undefined | null) {
      if (clientSecret) {
        const client = clients.authenticateSecret(clientId, clientSecret);
        return client ? libClient(client) : false;
      }
      const client = clients.get(clientId);
      if (!client) return false;
      const c = context.getStore();
      // The authorization endpoint identifies the client; it does not authenticate it.
      if (c?.grantType === 'authorize') return libClient(client);
      // A public client has nothing to authenticate with: PKCE (required at /authorize) binds the code to it.
      if (client.authMethod === 'none' && c && c.grantType !== 'client_credentials') return libClient(client);
      return c?.assertedClientId === clientId ? libClient(client) : false;
    },
    // A backend-services token acts for the client itself: there is no user.
    async getUserFromClient(client) {
      return { clientId: client.id };
    },
    async validateScope(_user, client, scope) {
      const c = ctx();
      if (c.grantType === 'authorize') return c.grantedScope ?? false;
      if (c.grantType === 'authorization_code') return scope ?? false; // granted at /authorize, carried by the code
      if (!scope || scope.length === 0) throw new OAuth2Server.InvalidScopeError('scope is required: ask for the system/ scopes the client needs');
      const granted = grantScopes(scope.join(' '), (client as LibClient).registration.scope, ['system']);
      if (granted.length === 0) {
        throw new OAuth2Server.InvalidScopeError('none of the requested scopes is registered for this client (client_credentials grants system/ scopes only)');
      }
      return granted;
    },
    async generateAccessToken(client, user, scope) {
      const c = ctx();
      const u = isAuthorizedUser(user) ? user : undefined;
      const { token, claims } = await issueAccessToken(keys, {
        issuer: c.endpoints.issuer, audience: c.endpoints.fhir, clientId: client.id, scope: scope.join(' '), lifetimeSeconds: opts.accessTokenSeconds,
        user: u && { sub: u.username, fhirUser: u.fhirUser, roles: u.roles, patient: u.patient, encounter: u.encounter },
        // A user acts for the organisation of their role profile; a backend system for its registration's.
        orgCode: u ? u.orgCode : (client as LibClient).registration.orgCode,
      });
      c.claims = claims;
      return token;
    },
    // Refresh tokens are minted in saveToken, and only when offline_access or online_access was granted.
    async generateRefreshToken() {
      return undefined as unknown as string;
    },
    // Access tokens are self-contained JWTs: nothing to store but the fact (logged without the token).
    async saveToken(token, client, user) {
      const c = ctx();
      const claims = c.claims!;
      logger.info({ client_id: claims.client_id, sub: claims.sub, scope: claims.scope, jti: claims.jti, exp: claims.exp }, 'access token issued');
      const saved: OAuth2Server.Token = {
        accessToken: token.accessToken, accessTokenExpiresAt: new Date(claims.exp * 1000), scope: token.scope, client, user,
      };
      if (!isAuthorizedUser(user)) return saved;
      const scope = token.scope ?? [];
      if (scope.includes('offline_access') || scope.includes('online_access')) {
        const expiresAt = scope.includes('offline_access')
          ? Math.floor(Date.now() / 1000) + OFFLINE_REFRESH_SECONDS
          : user.authTime + ONLINE_REFRESH_SECONDS;
        saved.refreshToken = refreshTokens.issue({ clientId: client.id, scope, user, expiresAt, family: c.refreshFamily });
        saved.refreshTokenExpiresAt = new Date(expiresAt * 1000);
      }
      // SMART launch context and identity in the token response (custom attributes of the library).
      if (user.patient) {
        saved.patient = user.patient;
        saved.need_patient_banner = true;
      }
      if (user.encounter) saved.encounter = user.encounter;
      if (scope.includes('fhirUser') && user.fhirUser) saved.fhirUser = user.fhirUser;
      if (scope.includes('openid')) {
        saved.id_token = await issueIdToken(keys, {
          issuer: c.endpoints.issuer, clientId: client.id, sub: user.username, authTime: user.authTime, nonce: user.nonce,
          fhirUser: scope.includes('fhirUser') ? user.fhirUser : undefined, lifetimeSeconds: opts.accessTokenSeconds,
          name: scope.includes('profile') ? user.name ?? accounts.get(user.username)?.displayName : undefined,
        });
      }
      return saved;
    },
    async saveAuthorizationCode(code, client, user) {
      codes.save({
        authorizationCode: code.authorizationCode, expiresAt: code.expiresAt, redirectUri: code.redirectUri, scope: code.scope ?? [],
        codeChallenge: code.codeChallenge, codeChallengeMethod: code.codeChallengeMethod, clientId: client.id, user: user as AuthorizedUser,
      });
      return { ...code, client, user };
    },
    async getAuthorizationCode(authorizationCode) {
      const stored = codes.get(authorizationCode);
      const registration = stored && clients.get(stored.clientId);
      if (!stored || !registration) return false;
      return { ...stored, client: libClient(registration), user: stored.user };
    },
    async revokeAuthorizationCode(code) {
      return codes.take(code.authorizationCode);
    },
    async getRefreshToken(refreshToken) {
      const rec = refreshTokens.find(refreshToken);
      const registration = rec && clients.get(rec.clientId);
      if (!rec || !registration) return false;
      let user: AuthorizedUser = rec.user;
      if (rec.user.source !== 'oidc') {
        const account = accounts.get(rec.user.username);
        if (!account) return false;
        // The account's current roles, not those at sign-in: a removed role stops at the next refresh.
        user = { ...rec.user, roles: account.roles };
      }
      ctx().refreshFamily = rec.family;
      return { refreshToken, refreshTokenExpiresAt: new Date(rec.expiresAt * 1000), scope: rec.scope, client: libClient(registration), user };
    },
    async revokeToken(token) {
      return refreshTokens.use(token.refreshToken);
    },
    async getAccessToken(accessToken) {
      // Only for the library's authenticate(), which vertebra does not use: FHIR enforcement calls verifyAccessToken.
      if (!opts.fhirBaseUrl) return false;
      try {
        const claims = await verify(accessToken, endpointsFor(opts.fhirBaseUrl));
        const client = clients.get(claims.client_id);
        if (!client) return false;
        return { accessToken, accessTokenExpiresAt: new Date(claims.exp * 1000), scope: claims.scope.split(' '), client: libClient(client), user: { clientId: claims.client_id } };
      } catch {
        return false;
      }
    },
  };
  const oauth = new OAuth2Server({
    model,
    accessTokenLifetime: opts.accessTokenSeconds,
    // The library would otherwise demand a client_secret; client authentication is enforced by
    // getClient above (secret, or this request's verified assertion), never skipped.
    // Public clients (token_endpoint_auth_method none) authenticate by PKCE only; confidential
    // ones still must, which getClient enforces.
    requireClientAuthentication: { client_credentials: false, authorization_code: false, refresh_token: false },
    authorizationCodeLifetime: AUTHORIZATION_CODE_SECONDS,
    refreshTokenLifetime: OFFLINE_REFRESH_SECONDS,
    allowExtendedTokenAttributes: true,
    alwaysIssueNewRefreshToken: true,
  });

  /** Client authentication for introspection and revocation: a client assertion or HTTP Basic. */
  async function authenticateClient(req: Request, form: Map<string, string>, audiences: string[]): Promise<RegisteredClient> {
    const method = clientAuthMethod(req, form);
    if (method === 'assertion') {
      const client = await verifyClientAssertion(form.get('client_assertion')!, {
        clients, audiences, seen: seenAssertions, onKeyFetchError: keyFetchError,
      });
      if (form.has('client_id') && form.get('client_id') !== client.clientId) throw oauthErrors.invalidClient('client_id does not match the client_assertion');
      return client;
    }
    const basic = parseBasic(req.get('authorization')!);
    const client = basic && clients.authenticateSecret(basic.id, basic.secret);
    if (!client) throw oauthErrors.invalidClient('client authentication failed', true);
    return client;
  }

  function keyFetchError(client: RegisteredClient, err: Error): void {
    logger.warn({ client_id: client.clientId, jwks_uri: client.jwksUri, err: err.message }, "cannot fetch a client's jwks_uri");
  }

  const router = express.Router();

  router.post('/token', async (req, res) => {
    const form = parseForm(req);
    const endpoints = endpointsOf(req);
    const grantType = form.get('grant_type');
    if (!grantType) throw oauthErrors.invalidRequest('grant_type is required');
    if (!['client_credentials', 'authorization_code', 'refresh_token'].includes(grantType)) {
      throw oauthErrors.unsupportedGrantType('grant_type must be client_credentials, authorization_code or refresh_token');
    }
    const c: TokenRequestContext = { endpoints, grantType };
    const body: Record<string, string> = { grant_type: grantType };
    for (const k of ['scope', 'code', 'code_verifier', 'redirect_uri', 'refresh_token']) if (form.has(k)) body[k] = form.get(k)!;
    const headers = { ...req.headers } as Record<string, string>;
    const method = clientAuthMethod(req, form, grantType !== 'client_credentials');
    if (method === 'none') {
      if (!form.get('client_id')) throw oauthErrors.invalidClient('client authentication is required: private_key_jwt, HTTP Basic, or client_id for a public client');
      body.client_id = form.get('client_id')!;
    }
    if (method === 'assertion') {
      const client = await verifyClientAssertion(form.get('client_assertion')!, {
        clients, audiences: [endpoints.token], seen: seenAssertions, onKeyFetchError: keyFetchError,
      });
      if (form.has('client_id') && form.get('client_id') !== client.clientId) throw oauthErrors.invalidClient('client_id does not match the client_assertion');
      c.assertedClientId = client.clientId;
      body.client_id = client.clientId;
    }
    const request = new OAuth2Server.Request({ method: 'POST', headers, query: {}, body });
    const response = new OAuth2Server.Response({ headers: {} });
    try {
      await context.run(c, () => oauth.token(request, response));
    } catch (err) {
      throw fromLibraryError(err, logger);
    }
    for (const [k, v] of Object.entries(response.headers ?? {})) res.setHeader(k, v as string);
    res.status(response.status ?? 200).json(response.body);
  });

  router.post('/introspect', async (req, res) => {
    const form = parseForm(req);
    const endpoints = endpointsOf(req);
    await authenticateClient(req, form, [endpoints.token, endpoints.introspect]);
    const token = form.get('token');
    if (!token) throw oauthErrors.invalidRequest('token is required');
    noStore(res);
    let claims: AccessTokenClaims;
    try {
      claims = await verify(token, endpoints);
    } catch (err) {
      if (err instanceof InvalidAccessTokenError) {
        res.status(200).json({ active: false });
        return;
      }
      throw err;
    }
    res.status(200).json({
      active: true, scope: claims.scope, client_id: claims.client_id, sub: claims.sub, token_type: 'Bearer',
      exp: claims.exp, iat: claims.iat, iss: claims.iss, aud: claims.aud, jti: claims.jti,
    });
  });

  router.post('/revoke', async (req, res) => {
    const form = parseForm(req);
    const endpoints = endpointsOf(req);
    const client = await authenticateClient(req, form, [endpoints.token, endpoints.revoke]);
    const token = form.get('token');
    if (!token) throw oauthErrors.invalidRequest('token is required');
    noStore(res);
    let claims: AccessTokenClaims | undefined;
    try {
      claims = await verify(token, endpoints);
    } catch (err) {
      // RFC 7009 §2.2: an invalid, expired or already revoked token is answered 200 all the same.
      if (!(err instanceof InvalidAccessTokenError)) throw err;
    }
    if (claims) {
      if (claims.client_id !== client.clientId) throw oauthErrors.unauthorizedClient('the token was not issued to this client');
      revoked.addIfAbsent(claims.jti, claims.exp);
      logger.info({ client_id: claims.client_id, jti: claims.jti }, 'access token revoked');
    }
    res.status(200).end();
  });

  router.get('/jwks.json', (_req, res) => {
    res.setHeader('Cache-Control', 'public, max-age=300');
    res.status(200).json(keys.jwks());
  });

  router.use(interactiveRoutes({
    oauth, context, clients, accounts, launches, logger, endpointsOf, findPatient: opts.findPatient,
    isPatientId: opts.isPatientId, findPractitioner: opts.findPractitioner, oidc: opts.oidc && new OidcRelyingParty(opts.oidc, logger),
    localLogin: opts.localLogin ?? true, onLoginAttempt: opts.onLoginAttempt,
    verifyBearer: (token, e) => verify(token, e),
  }));
  for (const [path, allow] of [['/token', 'POST'], ['/introspect', 'POST'], ['/revoke', 'POST'], ['/jwks.json', 'GET, HEAD']] as const) {
    router.all(path, () => {
      throw new OAuthHttpError(405, 'invalid_request', `${path.slice(1)} accepts ${allow} only`, { Allow: allow });
    });
  }
  router.use(() => {
    throw new OAuthHttpError(404, 'not_found', 'No such authorization endpoint');
  });
  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    let e: OAuthHttpError;
    if (err instanceof OAuthHttpError) e = err;
    else {
      logger.error({ err }, 'authorization server error');
      e = new OAuthHttpError(500, 'server_error', 'The authorization server could not answer; see its log');
    }
    if (res.headersSent) return;
    for (const [k, v] of Object.entries(e.headers)) res.setHeader(k, v);
    noStore(res);
    res.status(e.status).json(e.body());
  });

  return {
    router,
    discovery(req, res) {
      res.setHeader('Cache-Control', 'no-cache');
      res.status(200).json(smartConfiguration(endpointsOf(req)));
    },
    clients,
    keys,
    accounts,
    endpoints(fhirBase = opts.fhirBaseUrl) {
      return fhirBase ? endpointsFor(fhirBase) : undefined;
    },
    async verifyAccessToken(token, fhirBase = opts.fhirBaseUrl) {
      if (!fhirBase) throw new Error('verifyAccessToken needs the FHIR base URL the token was presented to (BASE_URL is not set)');
      const cached = verified.get(token, fhirBase);
      if (cached) return cached;
      const claims = await verify(token, endpointsFor(fhirBase));
      verified.set(token, fhirBase, claims);
      return claims;
    },
  };
}

function noStore(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Pragma', 'no-cache');
}

/**
 * Which client authentication the request uses; exactly one is allowed (RFC 6749 §2.3). The
 * library itself reads HTTP Basic at the token endpoint; client_secret in the body
 * (client_secret_post) is not offered.
 */
function clientAuthMethod(req: Request, form: Map<string, string>, allowNone = false): 'assertion' | 'basic' | 'none' {
  const assertion = form.has('client_assertion') || form.has('client_assertion_type');
  const basic = req.get('authorization') !== undefined;
  if (assertion && (basic || form.has('client_secret'))) throw oauthErrors.invalidRequest('use exactly one client authentication method');
  if (assertion) {
    if (form.get('client_assertion_type') !== JWT_BEARER) throw oauthErrors.invalidRequest(`client_assertion_type must be ${JWT_BEARER}`);
    if (!form.get('client_assertion')) throw oauthErrors.invalidRequest('client_assertion is required with client_assertion_type');
    return 'assertion';
  }
  if (form.has('client_secret')) throw oauthErrors.invalidClient('client_secret in the body is not supported: send it with HTTP Basic (client_secret_basic)');
  if (!basic && allowNone) return 'none';
  if (!basic) throw oauthErrors.invalidClient('client authentication is required: a private_key_jwt client_assertion, or HTTP Basic');
  if (!/^Basic /i.test(req.get('authorization')!)) throw oauthErrors.invalidClient('only the Basic scheme authenticates a client here', true);
  return 'basic';
}

/** RFC 6749 §2.3.1: client id and secret are form-urlencoded, then Basic-encoded. */
function parseBasic(header: string): { id: string; secret: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const un = (s: string) => {
    try { return decodeURIComponent(s.replace(/\+/g, ' ')); } catch { return s; }
  };
  return { id: un(decoded.slice(0, colon)), secret: un(decoded.slice(colon + 1)) };
}

/** The form body; a parameter given twice is refused (RFC 6749 §3.1, §3.2). */
function parseForm(req: Request): Map<string, string> {
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(req.get('content-type') ?? '')) {
    throw oauthErrors.invalidRequest('the body must be application/x-www-form-urlencoded');
  }
  const raw = Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '';
  const form = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(raw)) {
    if (form.has(k)) throw oauthErrors.invalidRequest(`parameter ${/^[a-z_]{1,40}$/.test(k) ? k : '(unnamed)'} is repeated`);
    form.set(k, v);
  }
  return form;
}

/** An error from @node-oauth/oauth2-server as our RFC 6749 error; server errors keep their cause in the log only. */
function fromLibraryError(err: unknown, logger: AuthLogger): OAuthHttpError {
  if (err instanceof OAuthHttpError) return err;
  if (err instanceof OAuth2Server.OAuthError && err.code < 500) {
    // invalid_client is always 401 here, as our own client checks answer it (RFC 6749 §5.2 allows it).
    const status = err.name === 'invalid_client' ? 401 : err.code;
    const headers: Record<string, string> = status === 401 ? { 'WWW-Authenticate': 'Basic realm="vertebra", charset="UTF-8"' } : {};
    return new OAuthHttpError(status, err.name as OAuthHttpError['error'], err.message, headers);
  }
  logger.error({ err }, 'token endpoint error');
  return new OAuthHttpError(500, 'server_error', 'The token endpoint could not answer; see the server log');
}
