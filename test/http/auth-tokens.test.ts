import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import {
  base64url, createLocalJWKSet, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT,
  type CryptoKey, type JWK,
} from 'jose';
import { issueAccessToken } from '../../auth/tokens.js';
import { defaultConfig } from '../../server/config.js';
import { startServer, type RunningServer } from '../../server/server.js';
import { startTestServer, type TestServer } from '../support/server.js';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const SECRET = 'a-long-enough-client-secret-0123';

interface ClientKey { alg: 'ES384' | 'RS384'; kid: string; privateKey: CryptoKey; publicJwk: JWK }

async function clientKey(alg: 'ES384' | 'RS384'): Promise<ClientKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const kid = `${alg}-${randomUUID()}`;
  return { alg, kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

interface AssertionOptions {
  iss?: string; sub?: string; aud?: string; exp?: number; jti?: string; alg?: string; key?: ClientKey;
}

/** A SMART Backend Services client assertion (RFC 7523), signed with the client's key unless told otherwise. */
async function assertion(clientId: string, key: ClientKey, aud: string, o: AssertionOptions = {}): Promise<string> {
  const signer = o.key ?? key;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: o.alg ?? signer.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(o.iss ?? clientId)
    .setSubject(o.sub ?? clientId)
    .setAudience(o.aud ?? aud)
    .setExpirationTime(o.exp ?? now + 120)
    .setJti(o.jti ?? randomUUID())
    .sign(signer.privateKey);
}

interface FormResponse { status: number; headers: Headers; json: any; text: string }

async function postForm(url: string, params: Record<string, string>, headers: Record<string, string> = {}): Promise<FormResponse> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
  const text = await res.text();
  let json: any;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, json, text };
}

const basic = (id: string, secret: string) => ({ Authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });

describe('SMART authorization server: backend services tokens, introspection, revocation, discovery', function () {
  this.timeout(30_000);
  let clientDir: string;
  let jwksServer: Server;
  let es: ClientKey;
  let rs: ClientKey;
  let other: ClientKey;
  let clientsFile: string;
  let server: TestServer;
  let origin: string;
  let tokenUrl: string;

  before(async () => {
    [es, rs, other] = await Promise.all([clientKey('ES384'), clientKey('RS384'), clientKey('ES384')]);
    // The RS384 client publishes its keys at a jwks_uri, as a real backend service would.
    jwksServer = createServer((req, res) => {
      res.writeHead(req.url === '/jwks.json' ? 200 : 404, { 'Content-Type': 'application/json' });
      res.end(req.url === '/jwks.json' ? JSON.stringify({ keys: [rs.publicJwk] }) : '{}');
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', () => resolve()));
    const jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
    clientDir = mkdtempSync(join(tmpdir(), 'vertebra-clients-'));
    clientsFile = join(clientDir, 'clients.json');
    writeFileSync(clientsFile, JSON.stringify([
      {
        client_id: 'lab-feed', client_name: 'Lab results feed', scope: 'system/Patient.read system/Observation.rs',
        grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [es.publicJwk] }, org_code: 'rr8',
        software_statement: 'ignored unknown field',
      },
      {
        client_id: 'bulk-export', scope: 'system/*.rs', grant_types: ['client_credentials'],
        token_endpoint_auth_method: 'private_key_jwt', jwks_uri: jwksUri,
      },
      { client_id: 'resource-server', scope: 'system/Patient.rs', grant_types: ['client_credentials'], client_secret: SECRET },
      {
        client_id: 'web-app', scope: 'system/Patient.rs', grant_types: ['authorization_code'], redirect_uris: ['https://app.example/cb'],
        token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [other.publicJwk] },
      },
    ]));
    server = await startTestServer({ auth: 'smart', smartClients: clientsFile });
    origin = new URL(server.url).origin;
    tokenUrl = `${origin}/auth/token`;
  });

  after(async () => {
    await server?.stop();
    await new Promise((resolve) => jwksServer?.close(resolve));
    rmSync(clientDir, { recursive: true, force: true });
  });

  async function tokenRequest(clientId: string, key: ClientKey, scope: string, o: AssertionOptions = {}, extra: Record<string, string> = {}) {
    return postForm(tokenUrl, {
      grant_type: 'client_credentials', scope, client_assertion_type: JWT_BEARER,
      client_assertion: await assertion(clientId, key, tokenUrl, o), ...extra,
    });
  }

  async function token(clientId = 'lab-feed', key = es, scope = 'system/Patient.read'): Promise<string> {
    const res = await tokenRequest(clientId, key, scope);
    expect(res.status, res.text).to.equal(200);
    return res.json.access_token;
  }

  const introspect = (tok: string, auth: Record<string, string> = basic('resource-server', SECRET)) =>
    postForm(`${origin}/auth/introspect`, { token: tok }, auth);

  function expectOAuthError(res: FormResponse, status: number, error: string): void {
    expect(res.status, res.text).to.equal(status);
    expect(res.headers.get('content-type')).to.match(/^application\/json/);
    expect(res.json).to.have.all.keys('error', 'error_description');
    expect(res.json.error).to.equal(error);
    expect(res.text).to.not.contain(SECRET);
  }

  describe('discovery: GET /fhir/.well-known/smart-configuration', () => {
    it('has the SMART App Launch 2.x fields, with URLs beside the FHIR base', async () => {
      const res = await server.fhir('/.well-known/smart-configuration');
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^application\/json/);
      const c = res.json;
      expect(c).to.include({
        issuer: `${origin}/auth`,
        jwks_uri: `${origin}/auth/jwks.json`,
        authorization_endpoint: `${origin}/auth/authorize`,
        token_endpoint: `${origin}/auth/token`,
        introspection_endpoint: `${origin}/auth/introspect`,
        revocation_endpoint: `${origin}/auth/revoke`,
      });
      expect(c.token_endpoint_auth_methods_supported).to.deep.equal(['private_key_jwt', 'client_secret_basic', 'none']);
      expect(c.token_endpoint_auth_signing_alg_values_supported).to.have.members(['RS384', 'ES384']);
      expect(c.grant_types_supported).to.deep.equal(['authorization_code', 'client_credentials', 'refresh_token']);
      expect(c.code_challenge_methods_supported).to.deep.equal(['S256']);
      expect(c.response_types_supported).to.deep.equal(['code']);
      expect(c.capabilities).to.include.members(['client-confidential-asymmetric', 'permission-v1', 'permission-v2', 'launch-standalone', 'client-public', 'sso-openid-connect']);
      expect(c.scopes_supported).to.include('system/*.rs');
    });

    it('the authorization endpoint shows an error page (no redirect) when redirect_uri is missing', async () => {
      const res = await fetch(`${origin}/auth/authorize?response_type=code&client_id=web-app`, { redirect: 'manual' });
      expect(res.status).to.equal(400);
      expect(res.headers.get('content-type')).to.match(/^text\/html/);
    });

    it('the CapabilityStatement stays public; FHIR requests without a token are 401', async () => {
      expect((await server.fhir('/metadata')).status).to.equal(200);
      expect((await server.fhir('/Patient')).status).to.equal(401);
    });
  });

  describe('GET /auth/jwks.json', () => {
    it('publishes the public signing key(s) only', async () => {
      const res = await fetch(`${origin}/auth/jwks.json`);
      expect(res.status).to.equal(200);
      const { keys } = await res.json();
      expect(keys).to.have.length(1);
      expect(keys[0]).to.include({ kty: 'EC', alg: 'ES256', use: 'sig' });
      expect(keys[0].kid).to.be.a('string');
      expect(keys[0]).to.not.have.property('d');
    });
  });

  describe('POST /auth/token: client_credentials with private_key_jwt', () => {
    it('ES384 with jwks: issues a JWT access token that verifies with the published JWKS', async () => {
      const res = await tokenRequest('lab-feed', es, 'system/Patient.read');
      expect(res.status, res.text).to.equal(200);
      expect(res.headers.get('cache-control')).to.equal('no-store');
      expect(res.headers.get('pragma')).to.equal('no-cache');
      expect(res.json).to.include({ token_type: 'Bearer', scope: 'system/Patient.read' });
      expect(res.json.expires_in).to.be.within(295, 300);
      expect(res.json).to.not.have.property('refresh_token');
      const { keys } = await (await fetch(`${origin}/auth/jwks.json`)).json();
      const { payload, protectedHeader } = await jwtVerify(res.json.access_token, createLocalJWKSet({ keys }), {
        issuer: `${origin}/auth`, audience: server.url,
      });
      expect(protectedHeader).to.include({ alg: 'ES256', typ: 'at+jwt', kid: keys[0].kid });
      // org_code: the organisation the registered backend system acts for (upper-cased ODS code).
      expect(payload).to.include({ sub: 'lab-feed', client_id: 'lab-feed', scope: 'system/Patient.read', org_code: 'RR8' });
      expect(payload.exp! - payload.iat!).to.equal(300);
      expect(payload.jti).to.be.a('string');
      // The exported verifier (for the enforcement step) accepts it too.
      expect((await server.auth!.verifyAccessToken(res.json.access_token, server.url)).client_id).to.equal('lab-feed');
    });

    it('RS384 with a jwks_uri: the key is fetched from the client', async () => {
      const res = await tokenRequest('bulk-export', rs, 'system/*.rs');
      expect(res.status, res.text).to.equal(200);
      expect(res.json.scope).to.equal('system/*.rs');
      expect(decodeJwt(res.json.access_token).sub).to.equal('bulk-export');
    });

    it('an explicit client_id matching the assertion is accepted', async () => {
      const res = await tokenRequest('lab-feed', es, 'system/Patient.read', {}, { client_id: 'lab-feed' });
      expect(res.status, res.text).to.equal(200);
    });

    describe('scope: requested ∩ registered, system/ only', () => {
      const cases: [string, string][] = [
        ['system/*.read', 'system/Patient.read system/Observation.rs'],
        ['system/Patient.cruds', 'system/Patient.read'],
        ['system/Observation.rs?category=laboratory', 'system/Observation.rs?category=laboratory'],
        ['system/Patient.read system/Condition.read patient/Patient.read openid', 'system/Patient.read'],
      ];
      for (const [requested, granted] of cases) {
        it(`'${requested}' → '${granted}'`, async () => {
          const res = await tokenRequest('lab-feed', es, requested);
          expect(res.status, res.text).to.equal(200);
          expect(res.json.scope).to.equal(granted);
          expect(decodeJwt(res.json.access_token).scope).to.equal(granted);
        });
      }

      it('nothing in common → 400 invalid_scope', async () => {
        expectOAuthError(await tokenRequest('lab-feed', es, 'system/Condition.read user/Patient.read'), 400, 'invalid_scope');
      });

      it('no scope → 400 invalid_scope', async () => {
        const res = await postForm(tokenUrl, {
          grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: await assertion('lab-feed', es, tokenUrl),
        });
        expectOAuthError(res, 400, 'invalid_scope');
      });
    });

    describe('rejected assertions', () => {
      it('a replayed jti → 401 invalid_client', async () => {
        const jti = randomUUID();
        expect((await tokenRequest('lab-feed', es, 'system/Patient.read', { jti })).status).to.equal(200);
        const replay = await tokenRequest('lab-feed', es, 'system/Patient.read', { jti });
        expectOAuthError(replay, 401, 'invalid_client');
        expect(replay.json.error_description).to.contain('jti');
      });

      it('the same assertion sent twice → the second is refused', async () => {
        const a = await assertion('lab-feed', es, tokenUrl);
        const form = { grant_type: 'client_credentials', scope: 'system/Patient.read', client_assertion_type: JWT_BEARER, client_assertion: a };
        expect((await postForm(tokenUrl, form)).status).to.equal(200);
        expectOAuthError(await postForm(tokenUrl, form), 401, 'invalid_client');
      });

      const now = () => Math.floor(Date.now() / 1000);
      const bad: [string, () => Promise<FormResponse>, string][] = [
        ['wrong aud', () => tokenRequest('lab-feed', es, 'system/Patient.read', { aud: `${origin}/fhir` }), 'aud'],
        ['an expired assertion', () => tokenRequest('lab-feed', es, 'system/Patient.read', { exp: now() - 120 }), 'expired'],
        ['exp more than 5 minutes ahead', () => tokenRequest('lab-feed', es, 'system/Patient.read', { exp: now() + 3600 }), '5 minutes'],
        ['an unknown client', () => tokenRequest('nobody', es, 'system/Patient.read'), 'unknown client'],
        ['sub different from iss', () => tokenRequest('lab-feed', es, 'system/Patient.read', { sub: 'bulk-export' }), 'sub'],
        ['signed with the wrong key', () => tokenRequest('lab-feed', es, 'system/Patient.read', { key: other }), 'signature'],
        ["another client's key (RS384 of bulk-export)", () => tokenRequest('lab-feed', es, 'system/Patient.read', { key: rs }), 'signature'],
        ['client_id differing from the assertion', () => tokenRequest('lab-feed', es, 'system/Patient.read', {}, { client_id: 'bulk-export' }), 'client_id'],
      ];
      for (const [name, send, hint] of bad) {
        it(`${name} → 401 invalid_client`, async () => {
          const res = await send();
          expectOAuthError(res, 401, 'invalid_client');
          expect(res.json.error_description).to.contain(hint);
        });
      }

      it('alg none → 401 invalid_client', async () => {
        const now2 = Math.floor(Date.now() / 1000);
        const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT', kid: es.kid }));
        const body = base64url.encode(JSON.stringify({ iss: 'lab-feed', sub: 'lab-feed', aud: tokenUrl, exp: now2 + 60, jti: randomUUID() }));
        const res = await postForm(tokenUrl, {
          grant_type: 'client_credentials', scope: 'system/Patient.read', client_assertion_type: JWT_BEARER, client_assertion: `${header}.${body}.`,
        });
        expectOAuthError(res, 401, 'invalid_client');
      });

      it('an RS256 assertion (not a SMART algorithm) → 401 invalid_client', async () => {
        const { privateKey } = await generateKeyPair('RS256');
        const a = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: rs.kid }).setIssuer('bulk-export').setSubject('bulk-export')
          .setAudience(tokenUrl).setExpirationTime('2m').setJti(randomUUID()).sign(privateKey);
        const res = await postForm(tokenUrl, { grant_type: 'client_credentials', scope: 'system/*.rs', client_assertion_type: JWT_BEARER, client_assertion: a });
        expectOAuthError(res, 401, 'invalid_client');
      });

      it('garbage assertion → 401 invalid_client', async () => {
        const res = await postForm(tokenUrl, { grant_type: 'client_credentials', scope: 'system/Patient.read', client_assertion_type: JWT_BEARER, client_assertion: 'not-a-jwt' });
        expectOAuthError(res, 401, 'invalid_client');
      });
    });

    describe('rejected requests', () => {
      it('no client authentication → 401 invalid_client', async () => {
        expectOAuthError(await postForm(tokenUrl, { grant_type: 'client_credentials', scope: 'system/Patient.read', client_id: 'lab-feed' }), 401, 'invalid_client');
      });

      it('client_secret in the body (client_secret_post) → 401 invalid_client, without echoing the secret', async () => {
        const res = await postForm(tokenUrl, { grant_type: 'client_credentials', scope: 'system/Patient.rs', client_id: 'resource-server', client_secret: SECRET });
        expectOAuthError(res, 401, 'invalid_client');
      });

      it('a wrong client_assertion_type → 400 invalid_request', async () => {
        const res = await postForm(tokenUrl, {
          grant_type: 'client_credentials', scope: 'system/Patient.read', client_assertion_type: 'urn:example:other', client_assertion: await assertion('lab-feed', es, tokenUrl),
        });
        expectOAuthError(res, 400, 'invalid_request');
      });

      it('an unsupported grant type → 400 unsupported_grant_type', async () => {
        expectOAuthError(await postForm(tokenUrl, { grant_type: 'password', username: 'u', password: 'p' }), 400, 'unsupported_grant_type');
        expectOAuthError(await postForm(tokenUrl, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: 'x' }), 400, 'unsupported_grant_type');
      });

      it('authorization_code without any client identification → 401 invalid_client', async () => {
        expectOAuthError(await postForm(tokenUrl, { grant_type: 'authorization_code', code: 'x' }), 401, 'invalid_client');
      });

      it('a client not registered for client_credentials → 400 unauthorized_client', async () => {
        expectOAuthError(await tokenRequest('web-app', other, 'system/Patient.rs'), 400, 'unauthorized_client');
      });

      it('a JSON body → 400 invalid_request', async () => {
        const res = await fetch(tokenUrl, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"grant_type":"client_credentials"}' });
        expect(res.status).to.equal(400);
        expect((await res.json()).error).to.equal('invalid_request');
      });

      it('a repeated parameter → 400 invalid_request', async () => {
        const res = await fetch(tokenUrl, {
          method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&scope=a&scope=b',
        });
        expect(res.status).to.equal(400);
        expect((await res.json()).error).to.equal('invalid_request');
      });

      it('GET → 405 with Allow: POST', async () => {
        const res = await fetch(tokenUrl);
        expect(res.status).to.equal(405);
        expect(res.headers.get('allow')).to.equal('POST');
      });

      it('an unknown /auth path → 404 JSON', async () => {
        const res = await fetch(`${origin}/auth/nowhere`);
        expect(res.status).to.equal(404);
        expect((await res.json()).error).to.equal('not_found');
      });
    });
  });

  describe('POST /auth/token: client_credentials with client_secret_basic', () => {
    it('issues a token for the right secret', async () => {
      const res = await postForm(tokenUrl, { grant_type: 'client_credentials', scope: 'system/Patient.rs' }, basic('resource-server', SECRET));
      expect(res.status, res.text).to.equal(200);
      expect(res.json.scope).to.equal('system/Patient.rs');
    });

    it('a wrong secret → 401 invalid_client with WWW-Authenticate: Basic', async () => {
      const res = await postForm(tokenUrl, { grant_type: 'client_credentials', scope: 'system/Patient.rs' }, basic('resource-server', `${SECRET}-wrong`));
      expectOAuthError(res, 401, 'invalid_client');
      expect(res.headers.get('www-authenticate')).to.match(/^Basic /);
      expect(res.text).to.not.contain(`${SECRET}-wrong`);
    });

    it('a private_key_jwt client cannot authenticate with a secret', async () => {
      const res = await postForm(tokenUrl, { grant_type: 'client_credentials', scope: 'system/Patient.read' }, basic('lab-feed', SECRET));
      expectOAuthError(res, 401, 'invalid_client');
    });
  });

  describe('POST /auth/introspect (RFC 7662)', () => {
    it('a valid token → active with scope, client_id, sub, exp, token_type', async () => {
      const tok = await token();
      const res = await introspect(tok);
      expect(res.status).to.equal(200);
      expect(res.headers.get('cache-control')).to.equal('no-store');
      const claims = decodeJwt(tok);
      expect(res.json).to.include({
        active: true, scope: 'system/Patient.read', client_id: 'lab-feed', sub: 'lab-feed', token_type: 'Bearer', exp: claims.exp, iss: `${origin}/auth`, aud: server.url,
      });
    });

    it('also authenticates a private_key_jwt client (assertion aud = the token or introspection endpoint)', async () => {
      const tok = await token();
      for (const aud of [tokenUrl, `${origin}/auth/introspect`]) {
        const res = await postForm(`${origin}/auth/introspect`, {
          token: tok, client_assertion_type: JWT_BEARER, client_assertion: await assertion('bulk-export', rs, aud),
        });
        expect(res.status, res.text).to.equal(200);
        expect(res.json.active).to.equal(true);
      }
    });

    it('an expired token → active false only', async () => {
      const { token: expired } = await issueAccessToken(server.auth!.keys, {
        issuer: `${origin}/auth`, audience: server.url, clientId: 'lab-feed', scope: 'system/Patient.read', lifetimeSeconds: -10,
      });
      expect((await introspect(expired)).json).to.deep.equal({ active: false });
    });

    it('garbage, a tampered token, and a token for another audience → active false', async () => {
      const tok = await token();
      const [h, p, s] = tok.split('.');
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
      payload.scope = 'system/*.cruds';
      const tampered = `${h}.${base64url.encode(JSON.stringify(payload))}.${s}`;
      const { token: elsewhere } = await issueAccessToken(server.auth!.keys, {
        issuer: `${origin}/auth`, audience: 'https://other.example.org/fhir', clientId: 'lab-feed', scope: 'system/Patient.read', lifetimeSeconds: 60,
      });
      for (const t of ['garbage', tampered, elsewhere]) expect((await introspect(t)).json).to.deep.equal({ active: false });
    });

    it('requires client authentication (401), and a token parameter (400)', async () => {
      const tok = await token();
      expectOAuthError(await introspect(tok, {}), 401, 'invalid_client');
      expectOAuthError(await introspect(tok, basic('resource-server', 'wrong-secret-wrong-secret')), 401, 'invalid_client');
      expectOAuthError(await postForm(`${origin}/auth/introspect`, {}, basic('resource-server', SECRET)), 400, 'invalid_request');
    });
  });

  describe('POST /auth/revoke (RFC 7009)', () => {
    async function revoke(tok: string, clientId = 'lab-feed', key = es) {
      return postForm(`${origin}/auth/revoke`, {
        token: tok, token_type_hint: 'access_token', client_assertion_type: JWT_BEARER, client_assertion: await assertion(clientId, key, tokenUrl),
      });
    }

    it('revokes the client\'s own token: 200, then introspection says inactive and the verifier refuses it', async () => {
      const tok = await token();
      expect((await introspect(tok)).json.active).to.equal(true);
      const res = await revoke(tok);
      expect(res.status, res.text).to.equal(200);
      expect(res.text).to.equal('');
      expect((await introspect(tok)).json).to.deep.equal({ active: false });
      try {
        await server.auth!.verifyAccessToken(tok, server.url);
        expect.fail('expected the revoked token to be refused');
      } catch (err) {
        expect((err as Error).message).to.contain('revoked');
      }
      // Revoking again, or revoking garbage, is still 200 (RFC 7009 §2.2).
      expect((await revoke(tok)).status).to.equal(200);
      expect((await revoke('garbage')).status).to.equal(200);
    });

    it("refuses to revoke another client's token (400 unauthorized_client); the token stays active", async () => {
      const tok = await token();
      expectOAuthError(await revoke(tok, 'bulk-export', rs), 400, 'unauthorized_client');
      expect((await introspect(tok)).json.active).to.equal(true);
    });

    it('requires client authentication', async () => {
      const tok = await token();
      expectOAuthError(await postForm(`${origin}/auth/revoke`, { token: tok }), 401, 'invalid_client');
    });
  });
});

describe('SMART authorization server across a restart on the same DATA_DIR', function () {
  this.timeout(60_000);
  let dataDir: string;
  let running: RunningServer | undefined;
  const logger = pino({ level: 'silent' });
  before(() => { dataDir = mkdtempSync(join(tmpdir(), 'vertebra-auth-restart-')); });
  after(async () => {
    await running?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('keeps the signing key: a token issued before the restart still verifies after, revocations and used jtis persist', async () => {
    const key = await clientKey('ES384');
    const clientsFile = join(dataDir, 'clients.json');
    writeFileSync(clientsFile, JSON.stringify([{ client_id: 'svc', scope: 'system/*.rs', grant_types: ['client_credentials'], jwks: { keys: [key.publicJwk] } }]));
    // A fixed public base (BASE_URL): the restarted server gets another port, and the tokens' aud
    // and the assertions' aud are the public URLs, not the port.
    const base = 'https://vertebra.test/fhir';
    const tokenEndpoint = 'https://vertebra.test/auth/token';
    const config = defaultConfig({ port: 0, dataDir, logLevel: 'silent', pds: false, smartClients: clientsFile, baseUrl: base });

    running = await startServer(config, logger);
    let origin = `http://127.0.0.1:${running.port}`;
    const ask = async (o: string, jti: string) => postForm(`${o}/auth/token`, {
      grant_type: 'client_credentials', scope: 'system/*.rs', client_assertion_type: JWT_BEARER,
      client_assertion: await assertion('svc', key, tokenEndpoint, { jti }),
    });
    const first = await ask(origin, 'first');
    expect(first.status, first.text).to.equal(200);
    const kept = first.json.access_token;
    expect(decodeJwt(kept)).to.include({ iss: 'https://vertebra.test/auth', aud: base });
    const revoked = (await ask(origin, 'second')).json.access_token;
    const kidBefore = decodeProtectedHeader(kept).kid;
    const rev = await postForm(`${origin}/auth/revoke`, {
      token: revoked, client_assertion_type: JWT_BEARER, client_assertion: await assertion('svc', key, tokenEndpoint, { jti: 'third' }),
    });
    expect(rev.status).to.equal(200);
    await running.close();
    running = undefined;

    running = await startServer(config, logger);
    origin = `http://127.0.0.1:${running.port}`;
    const { keys } = await (await fetch(`${origin}/auth/jwks.json`)).json();
    expect(keys.map((k: JWK) => k.kid)).to.deep.equal([kidBefore]);
    expect((await running.auth!.verifyAccessToken(kept)).sub).to.equal('svc');
    const introspection = async (tok: string) => (await postForm(`${origin}/auth/introspect`, {
      token: tok, client_assertion_type: JWT_BEARER, client_assertion: await assertion('svc', key, tokenEndpoint),
    })).json;
    expect((await introspection(kept)).active).to.equal(true);
    expect((await introspection(revoked)).active).to.equal(false);
    // An assertion jti used before the restart is still a replay after it.
    const replay = await ask(origin, 'first');
    expect(replay.status).to.equal(401);
    expect(replay.json.error).to.equal('invalid_client');
  });

  it('a malformed SMART_CLIENTS file stops the start with a clear message', async () => {
    const bad = join(dataDir, 'bad-clients.json');
    writeFileSync(bad, JSON.stringify([{ client_id: 'svc', scope: 'system/Patient.rx', grant_types: ['client_credentials'], jwks_uri: 'https://k.example/jwks' }]));
    try {
      await startServer(defaultConfig({ port: 0, dataDir: join(dataDir, 'other'), logLevel: 'silent', smartClients: bad }), logger);
      expect.fail('expected the start to fail');
    } catch (err) {
      expect((err as Error).message).to.equal(`SMART_CLIENTS ${bad}: client #1 ('svc'): scope 'system/Patient.rx' is malformed: 'rx' is neither read, write, * nor a subset of cruds in that order`);
    }
  });
});

describe('AUTH=off', function () {
  this.timeout(30_000);
  let server: TestServer;
  before(async () => { server = await startTestServer({ auth: 'off' }); });
  after(async () => server?.stop());

  it('serves no authorization server and no SMART discovery; FHIR still answers', async () => {
    const origin = new URL(server.url).origin;
    expect((await fetch(`${origin}/auth/jwks.json`)).status).to.equal(404);
    expect((await server.fhir('/.well-known/smart-configuration')).status).to.equal(404);
    expect((await server.fhir('/metadata')).status).to.equal(200);
  });
});
