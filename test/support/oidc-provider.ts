import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, importJWK, jwtVerify, SignJWT, type CryptoKey, type JWK } from 'jose';

/**
 * A minimal OpenID Connect provider for the HTTP tests, shaped like NHS CIS2 Authentication:
 * discovery, /authorize (no UI: it "signs in" whoever the test queued and redirects back with a
 * code), /token (client_secret_basic, single-use codes, PKCE S256 checked, RS256 ID token with
 * `selected_roleid` when set), /userinfo (`uid`, `name`, `nhsid_nrbac_roles`), /jwks.
 * The test can make the next sign-in misbehave: wrong signing key, nonce, audience, state, or an
 * access_denied answer. Runs in the test process on a random port over plain http (loopback).
 */

export interface IdpUser {
  sub: string;
  /** Extra ID token claims (CIS2: `selected_roleid`). */
  idToken?: Record<string, unknown>;
  /** UserInfo claims besides sub (CIS2: `uid`, `name`, `nhsid_nrbac_roles`). */
  userinfo?: Record<string, unknown>;
}

export interface Misbehaviour {
  /** Sign the ID token with a key the IdP does not publish (same kid). */
  wrongKey?: boolean;
  nonce?: string;
  aud?: string;
  /** Answer with this state instead of the one sent. */
  state?: string;
  /** Answer the authorization request with error=access_denied. */
  deny?: boolean;
}

interface Grant { user: IdpUser; params: URLSearchParams; misbehave: Misbehaviour }

export class TestIdp {
  /** The issuer identifier, e.g. http://127.0.0.1:41234 */
  issuer = '';
  /** Who signs in at the next /authorize, and how the IdP misbehaves then. */
  next: { user: IdpUser; misbehave?: Misbehaviour } | undefined;
  /** The query of the last authorization request (what our server sent). */
  lastAuthorize?: URLSearchParams;
  tokenRequests = 0;
  /** When set, the client authenticates with private_key_jwt signed by this key's private half. */
  clientPublicJwk?: JWK;
  /** How the client authenticated at the last token request. */
  lastClientAuth?: 'client_secret_basic' | 'private_key_jwt';
  private readonly codes = new Map<string, Grant>();
  private readonly accessTokens = new Map<string, IdpUser>();
  private server!: Server;
  private key!: { privateKey: CryptoKey; jwk: JWK };
  private otherKey!: CryptoKey;

  private constructor(readonly clientId: string, readonly clientSecret: string) {}

  static async start(clientId: string, clientSecret: string): Promise<TestIdp> {
    const idp = new TestIdp(clientId, clientSecret);
    const pair = await generateKeyPair('RS256', { extractable: true });
    idp.key = { privateKey: pair.privateKey, jwk: { ...await exportJWK(pair.publicKey), kid: 'idp-key-1', alg: 'RS256', use: 'sig' } };
    idp.otherKey = (await generateKeyPair('RS256')).privateKey;
    idp.server = createServer((req, res) => {
      idp.handle(req, res).catch((err: Error) => {
        res.statusCode = 500;
        res.end(err.message);
      });
    });
    await new Promise<void>((resolve) => idp.server.listen(0, '127.0.0.1', resolve));
    idp.issuer = `http://127.0.0.1:${(idp.server.address() as AddressInfo).port}`;
    return idp;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.issuer);
    switch (`${req.method} ${url.pathname}`) {
      case 'GET /.well-known/openid-configuration':
        return this.json(res, 200, {
          issuer: this.issuer,
          authorization_endpoint: `${this.issuer}/authorize`,
          token_endpoint: `${this.issuer}/token`,
          userinfo_endpoint: `${this.issuer}/userinfo`,
          jwks_uri: `${this.issuer}/jwks`,
          response_types_supported: ['code'],
          subject_types_supported: ['public'],
          id_token_signing_alg_values_supported: ['RS256'],
          code_challenge_methods_supported: ['S256'],
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt'],
          token_endpoint_auth_signing_alg_values_supported: ['RS256', 'ES256'],
          scopes_supported: ['openid', 'profile', 'nationalrbacaccess', 'selectedrole'],
        });
      case 'GET /jwks':
        return this.json(res, 200, { keys: [this.key.jwk] });
      case 'GET /authorize':
        return this.authorize(url.searchParams, res);
      case 'POST /token':
        return this.token(req, res);
      case 'GET /userinfo': {
        const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
        const user = token && this.accessTokens.get(token);
        if (!user) return this.json(res, 401, { error: 'invalid_token' });
        return this.json(res, 200, { sub: user.sub, ...(user.userinfo ?? {}) });
      }
      default:
        return this.json(res, 404, { error: 'not_found' });
    }
  }

  private authorize(q: URLSearchParams, res: ServerResponse): void {
    this.lastAuthorize = q;
    const redirect = q.get('redirect_uri');
    if (q.get('client_id') !== this.clientId || !redirect || q.get('response_type') !== 'code') return this.json(res, 400, { error: 'invalid_request' });
    const back = new URL(redirect);
    const next = this.next;
    this.next = undefined;
    const misbehave = next?.misbehave ?? {};
    if (!next || misbehave.deny) {
      back.searchParams.set('error', 'access_denied');
    } else {
      const code = randomBytes(16).toString('base64url');
      this.codes.set(code, { user: next.user, params: q, misbehave });
      back.searchParams.set('code', code);
    }
    back.searchParams.set('state', misbehave.state ?? q.get('state') ?? '');
    res.writeHead(302, { Location: back.href });
    res.end();
  }

  /** client_secret_basic (RFC 6749 §2.3.1: form-urlencoded, then Basic), or private_key_jwt (RFC 7523). */
  private async clientAuthenticated(req: IncomingMessage, form: URLSearchParams): Promise<boolean> {
    if (this.clientPublicJwk) {
      if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return false;
      try {
        const key = await importJWK(this.clientPublicJwk, this.clientPublicJwk.alg);
        await jwtVerify(form.get('client_assertion') ?? '', key, { issuer: this.clientId, subject: this.clientId, audience: [this.issuer, `${this.issuer}/token`] });
      } catch {
        return false;
      }
      this.lastClientAuth = 'private_key_jwt';
      return true;
    }
    const basic = /^Basic (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [id, secret] = basic ? Buffer.from(basic, 'base64').toString('utf8').split(':').map((x) => decodeURIComponent(x.replace(/\+/g, ' '))) : [];
    const given = Buffer.from(secret ?? '');
    const expected = Buffer.from(this.clientSecret);
    if (id !== this.clientId || given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    this.lastClientAuth = 'client_secret_basic';
    return true;
  }

  private async token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.tokenRequests++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    if (!(await this.clientAuthenticated(req, form))) return this.json(res, 401, { error: 'invalid_client' });
    const code = form.get('code') ?? '';
    const grant = this.codes.get(code);
    this.codes.delete(code);
    if (form.get('grant_type') !== 'authorization_code' || !grant) return this.json(res, 400, { error: 'invalid_grant' });
    if (form.get('redirect_uri') !== grant.params.get('redirect_uri')) return this.json(res, 400, { error: 'invalid_grant', error_description: 'redirect_uri' });
    const challenge = createHash('sha256').update(form.get('code_verifier') ?? '').digest('base64url');
    if (grant.params.get('code_challenge_method') !== 'S256' || challenge !== grant.params.get('code_challenge')) {
      return this.json(res, 400, { error: 'invalid_grant', error_description: 'PKCE' });
    }
    const accessToken = randomBytes(24).toString('base64url');
    this.accessTokens.set(accessToken, grant.user);
    const m = grant.misbehave;
    const nonce = m.nonce ?? grant.params.get('nonce') ?? undefined;
    const idToken = await new SignJWT({ ...(grant.user.idToken ?? {}), ...(nonce ? { nonce } : {}) })
      .setProtectedHeader({ alg: 'RS256', kid: 'idp-key-1', typ: 'JWT' })
      .setIssuer(this.issuer).setSubject(grant.user.sub).setAudience(m.aud ?? this.clientId)
      .setIssuedAt().setExpirationTime('5m')
      .sign(m.wrongKey ? this.otherKey : this.key.privateKey);
    return this.json(res, 200, { access_token: accessToken, token_type: 'Bearer', expires_in: 300, id_token: idToken, scope: grant.params.get('scope') });
  }
}
