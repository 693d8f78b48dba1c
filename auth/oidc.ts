import * as client from 'openid-client';
import { Strategy, type AuthenticateOptions } from 'openid-client/passport';
import type { Request } from 'express';
import type { AuthLogger } from './auth-logger.js';
import { identityFromClaims, type IdpIdentity } from './idp-identity.js';

/**
 * Staff sign-in through an external OpenID Connect IdP (a national one such as NHS CIS2
 * Authentication), as a passport strategy: `openid-client`'s own (`openid-client/passport`), so
 * discovery, the authorization code flow with PKCE, state and nonce, the code exchange and the
 * ID token checks (iss, aud, azp, exp, iat, nonce, and, as `enableNonRepudiationChecks` is on, the
 * signature against the IdP's jwks_uri) are the library's, not ours.
 *
 * The strategy yields an IdpIdentity (auth/idp-identity.ts), never a session user: the
 * sign-in steps (auth/oidc-sign-in.ts, auth/role-selection.ts) map it onto a staff user, with role selection.
 *
 * Discovery is lazy and retried: the server starts while the IdP is unreachable, and the sign-in
 * button answers "not available" until discovery succeeds.
 */

export interface OidcOptions {
  /** The IdP's issuer identifier; `<issuer>/.well-known/openid-configuration` must answer. */
  issuer: string;
  clientId: string;
  clientSecret?: string;
  /** For private_key_jwt: a private JWK (with `alg`; `kid` is sent as the assertion's kid). */
  privateKey?: { jwk: client.JWK & { alg?: string; kid?: string } };
  tokenAuthMethod: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  /** Space-separated scopes asked of the IdP. */
  scopes: string;
  /** Shown on the sign-in button: "Sign in with <displayName>". */
  displayName: string;
  /** The `prompt` parameter (CIS2 asks for `login` so that role selection is offered); empty for none. */
  prompt?: string;
}

/** The session key under which openid-client keeps the pending request (PKCE verifier, state, nonce). */
const SESSION_KEY = 'oidcRequest';
export const STRATEGY = 'oidc';

/** Our authenticate() options: which half of the flow this request is. */
export interface OidcAuthenticateOptions extends AuthenticateOptions {
  /** true: start (redirect to the IdP); false: the IdP's answer at our callback. */
  initiate: boolean;
}

/**
 * The stock strategy, with two changes: every authorization request carries `state` and `nonce`
 * (the stock one relies on PKCE alone when the IdP supports it), and which half of the flow runs
 * is decided by the route (the start is a CSRF-protected POST, which the stock strategy would take
 * for an answer; a callback without `code` must be refused, not start a new sign-in).
 */
class StateAndNonceStrategy extends Strategy {
  override authorizationRequestParams<T extends AuthenticateOptions>(req: Request, options: T): URLSearchParams {
    const params = new URLSearchParams(super.authorizationRequestParams(req, options) ?? undefined);
    params.set('state', client.randomState());
    params.set('nonce', client.randomNonce());
    return params;
  }

  override shouldInitiateAuthRequest<T extends AuthenticateOptions>(_req: Request, _currentUrl: URL, options: T): boolean {
    return (options as unknown as OidcAuthenticateOptions).initiate === true;
  }
}

function isLoopback(url: URL): boolean {
  return ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

export class OidcRelyingParty {
  private pending?: Promise<Strategy>;

  constructor(readonly options: OidcOptions, private readonly logger: AuthLogger) {}

  get displayName(): string {
    return this.options.displayName;
  }

  /** The authenticate() options for one request: start or callback, our callback URL, scope, prompt. */
  authenticateOptions(initiate: boolean, callbackURL: string): OidcAuthenticateOptions {
    const o: OidcAuthenticateOptions = { initiate, callbackURL, scope: this.options.scopes, session: false };
    if (this.options.prompt) o.prompt = this.options.prompt;
    return o;
  }

  /** The passport strategy, after discovery; a failed discovery is retried on the next call. */
  strategy(): Promise<Strategy> {
    this.pending ??= this.discover().catch((err: unknown) => {
      this.pending = undefined;
      throw err;
    });
    return this.pending;
  }

  private async clientAuth(): Promise<client.ClientAuth> {
    const o = this.options;
    if (o.tokenAuthMethod === 'private_key_jwt') {
      const { importJWK } = await import('jose');
      const jwk = o.privateKey?.jwk;
      if (!jwk?.alg) throw new Error('OIDC private_key_jwt needs a private JWK with alg');
      const key = await importJWK(jwk, jwk.alg);
      if (!(key instanceof CryptoKey)) throw new Error('OIDC private key must be an asymmetric private JWK');
      return client.PrivateKeyJwt(jwk.kid ? { key, kid: jwk.kid } : key);
    }
    if (!o.clientSecret) throw new Error(`OIDC ${o.tokenAuthMethod} needs a client secret`);
    return o.tokenAuthMethod === 'client_secret_post' ? client.ClientSecretPost(o.clientSecret) : client.ClientSecretBasic(o.clientSecret);
  }

  private async discover(): Promise<Strategy> {
    const issuer = new URL(this.options.issuer);
    const execute = [client.enableNonRepudiationChecks];
    // Plain http only to an IdP on this machine (tests, local trials); anything else must be https.
    if (issuer.protocol === 'http:' && isLoopback(issuer)) execute.push(client.allowInsecureRequests);
    const config = await client.discovery(issuer, this.options.clientId, undefined, await this.clientAuth(), { execute, timeout: 10 });
    const hasUserInfo = config.serverMetadata().userinfo_endpoint !== undefined;
    this.logger.info({ issuer: config.serverMetadata().issuer }, 'OpenID Connect IdP discovered');
    return new StateAndNonceStrategy({ config, name: STRATEGY, sessionKey: SESSION_KEY, scope: this.options.scopes }, (tokens, verified) => {
      // ID token claims are validated by the library by now; UserInfo (CIS2 puts the RBAC roles
      // there) must be about the same subject, which fetchUserInfo checks.
      (async () => {
        const claims = tokens.claims();
        if (!claims) throw new client.ClientError('the IdP returned no ID token');
        const userinfo = hasUserInfo ? await client.fetchUserInfo(config, tokens.access_token, claims.sub) : {};
        return identityFromClaims(claims as Record<string, unknown>, userinfo as Record<string, unknown>);
      })().then((identity: IdpIdentity) => verified(null, identity), (err: unknown) => verified(err));
    });
  }
}

/**
 * How a failed IdP sign-in is explained: unavailable (the IdP could not be reached or answered
 * garbage: 502) or refused (its answer did not check out, or said no: 401).
 */
export function oidcFailureKind(err: unknown): 'refused' | 'unavailable' {
  if (err instanceof TypeError) return 'unavailable'; // fetch failed: DNS, refused connection, TLS
  if (err instanceof client.ClientError) {
    return ['OAUTH_TIMEOUT', 'OAUTH_ABORT', 'OAUTH_RESPONSE_IS_NOT_CONFORM', 'OAUTH_RESPONSE_IS_NOT_JSON'].includes(err.code ?? '') ? 'unavailable' : 'refused';
  }
  return 'refused';
}
