import { expect } from 'chai';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64url, decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { ExpiringSet } from '../../auth/expiring-set.js';
import { grantScopes } from '../../auth/grant.js';
import { KeyStore } from '../../auth/keys.js';
import { endpointsFor } from '../../auth/discovery.js';
import { InvalidAccessTokenError, issueAccessToken, verifyAccessToken, type VerifyOptions } from '../../auth/tokens.js';

const ISSUER = 'https://ehr.example.org/auth';
const FHIR = 'https://ehr.example.org/fhir';

async function rejects(p: Promise<unknown>): Promise<InvalidAccessTokenError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(InvalidAccessTokenError);
    return err as InvalidAccessTokenError;
  }
  throw new Error('expected the token to be rejected');
}

describe('auth: server keys, access tokens and verifyAccessToken', () => {
  let dir: string;
  let keys: KeyStore;
  let revoked: ExpiringSet;
  let opts: VerifyOptions;
  const issue = (over: { audience?: string; lifetimeSeconds?: number } = {}) => issueAccessToken(keys, {
    issuer: ISSUER, audience: over.audience ?? FHIR, clientId: 'svc', scope: 'system/Patient.rs', lifetimeSeconds: over.lifetimeSeconds ?? 300,
  });

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vertebra-auth-'));
    keys = await KeyStore.open(join(dir, 'keys'));
    revoked = new ExpiringSet(join(dir, 'revoked.jsonl'));
    opts = { keys, revoked, issuer: ISSUER, audience: FHIR };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('KeyStore', () => {
    it('generates one ES256 key with a kid on first open, private file mode 0600, folder 0700', () => {
      const files = readdirSync(join(dir, 'keys'));
      expect(files).to.have.length(1);
      expect(files[0]).to.match(/\.jwk$/);
      expect(statSync(join(dir, 'keys', files[0])).mode & 0o777).to.equal(0o600);
      expect(statSync(join(dir, 'keys')).mode & 0o777).to.equal(0o700);
      const jwk = JSON.parse(readFileSync(join(dir, 'keys', files[0]), 'utf8'));
      expect(jwk).to.include({ kty: 'EC', crv: 'P-256', alg: 'ES256', kid: keys.signingKey().kid });
      expect(jwk.d).to.be.a('string');
    });

    it('publishes public keys only', () => {
      const { keys: published } = keys.jwks();
      expect(published).to.have.length(1);
      expect(published[0]).to.have.all.keys('kty', 'crv', 'x', 'y', 'kid', 'alg', 'use');
      expect(published[0]).to.not.have.property('d');
    });

    it('reopening the folder finds the same key', async () => {
      const again = await KeyStore.open(join(dir, 'keys'));
      expect(again.signingKey().kid).to.equal(keys.signingKey().kid);
      expect(readdirSync(join(dir, 'keys'))).to.have.length(1);
    });

    it('rotation: the newest key signs, every key is published and verifies, also after a reopen', async () => {
      const old = await issue();
      const newKey = await keys.rotate();
      expect(keys.signingKey().kid).to.equal(newKey.kid);
      expect(keys.jwks().keys.map((k) => k.kid)).to.deep.equal([decodeProtectedHeader(old.token).kid, newKey.kid]);
      const fresh = await issue();
      expect(decodeProtectedHeader(fresh.token).kid).to.equal(newKey.kid);
      const reopened = await KeyStore.open(join(dir, 'keys'));
      expect(reopened.signingKey().kid).to.equal(newKey.kid);
      for (const t of [old, fresh]) await verifyAccessToken(t.token, { ...opts, keys: reopened });
    });

    it('refuses a key file that is not a private JWK, naming the file', async () => {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(dir, 'keys', 'zz-broken.jwk'), '{"kty":"EC"}', { mode: 0o600 });
      try {
        await KeyStore.open(join(dir, 'keys'));
        expect.fail('expected an error');
      } catch (err) {
        expect((err as Error).message).to.contain('zz-broken.jwk').and.contain('private JWK');
      }
    });
  });

  describe('issueAccessToken', () => {
    it('signs a JWT with typ at+jwt, the server kid and the SMART claims', async () => {
      const { token, claims } = await issue();
      expect(decodeProtectedHeader(token)).to.deep.equal({ alg: 'ES256', kid: keys.signingKey().kid, typ: 'at+jwt' });
      const payload = decodeJwt(token);
      expect(payload).to.deep.equal(claims);
      expect(payload).to.include({ iss: ISSUER, aud: FHIR, sub: 'svc', client_id: 'svc', scope: 'system/Patient.rs' });
      expect(payload.exp! - payload.iat!).to.equal(300);
      expect(payload.jti).to.match(/^[0-9a-f-]{36}$/);
    });
  });

  describe('verifyAccessToken', () => {
    it('accepts a valid token and returns its claims', async () => {
      const { token, claims } = await issue();
      expect(await verifyAccessToken(token, opts)).to.deep.equal(claims);
    });

    it('rejects an expired token', async () => {
      const { token } = await issue({ lifetimeSeconds: -5 });
      expect((await rejects(verifyAccessToken(token, opts))).reason).to.equal('expired');
    });

    it('rejects a tampered payload (scope widened)', async () => {
      const { token } = await issue();
      const [h, p, s] = token.split('.');
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
      payload.scope = 'system/*.cruds';
      const tampered = [h, base64url.encode(JSON.stringify(payload)), s].join('.');
      expect((await rejects(verifyAccessToken(tampered, opts))).reason).to.equal('signature');
    });

    it('rejects a tampered signature', async () => {
      const { token } = await issue();
      const last = token.at(-2) === 'A' ? 'B' : 'A';
      expect((await rejects(verifyAccessToken(`${token.slice(0, -2)}${last}${token.at(-1)}`, opts))).reason).to.equal('signature');
    });

    it('rejects a token for another audience', async () => {
      const { token } = await issue({ audience: 'https://other.example.org/fhir' });
      const err = await rejects(verifyAccessToken(token, opts));
      expect(err.reason).to.equal('claims');
      expect(err.message).to.contain('aud');
    });

    it('rejects a token from another issuer', async () => {
      const { token } = await issue();
      expect((await rejects(verifyAccessToken(token, { ...opts, issuer: 'https://evil.example.org/auth' }))).reason).to.equal('claims');
    });

    it('rejects alg=none', async () => {
      const { claims } = await issue();
      const unsecured = new UnsecuredJWT({ ...claims }).encode();
      await rejects(verifyAccessToken(unsecured, opts));
      // Also with the server's kid and typ in the header.
      const header = base64url.encode(JSON.stringify({ alg: 'none', kid: keys.signingKey().kid, typ: 'at+jwt' }));
      await rejects(verifyAccessToken(`${header}.${base64url.encode(JSON.stringify(claims))}.`, opts));
    });

    it('rejects a token signed by another key with the server kid (wrong key), and an unknown kid', async () => {
      const { claims } = await issue();
      const { privateKey } = await generateKeyPair('ES256');
      const forged = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', kid: keys.signingKey().kid, typ: 'at+jwt' }).sign(privateKey);
      expect((await rejects(verifyAccessToken(forged, opts))).reason).to.equal('signature');
      const unknownKid = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', kid: 'not-ours', typ: 'at+jwt' }).sign(privateKey);
      expect((await rejects(verifyAccessToken(unknownKid, opts))).reason).to.equal('signature');
    });

    it('rejects an HS256 token keyed with the public key bytes (algorithm confusion)', async () => {
      const { claims } = await issue();
      const secret = new TextEncoder().encode(JSON.stringify(keys.jwks().keys[0]));
      const hs = await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256', kid: keys.signingKey().kid, typ: 'at+jwt' }).sign(secret);
      await rejects(verifyAccessToken(hs, opts));
    });

    it('rejects a JWT that is not an access token (typ)', async () => {
      const { claims } = await issue();
      const key = keys.signingKey();
      const idToken = await new SignJWT({ ...claims }).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
      expect((await rejects(verifyAccessToken(idToken, opts))).reason).to.equal('claims');
    });

    it('rejects a revoked token, and remembers the revocation across a reopen', async () => {
      const { token, claims } = await issue();
      revoked.addIfAbsent(claims.jti, claims.exp);
      expect((await rejects(verifyAccessToken(token, opts))).reason).to.equal('revoked');
      const reopened = new ExpiringSet(join(dir, 'revoked.jsonl'));
      expect((await rejects(verifyAccessToken(token, { ...opts, revoked: reopened }))).reason).to.equal('revoked');
    });

    it('rejects garbage', async () => {
      for (const junk of ['', 'abc', 'a.b.c']) {
        expect((await rejects(verifyAccessToken(junk, opts))).reason).to.equal('malformed');
      }
      await rejects(verifyAccessToken('eyJhbGciOiJFUzI1NiJ9.e30.', opts)); // empty signature
    });
  });

  describe('ExpiringSet', () => {
    it('forgets entries at their expiry, and drops them from the file when reopened', () => {
      let now = 1000;
      const file = join(dir, 'set.jsonl');
      const set = new ExpiringSet(file, () => now);
      expect(set.addIfAbsent('a', 1010)).to.equal(true);
      expect(set.addIfAbsent('a', 1010)).to.equal(false);
      expect(set.addIfAbsent('b', 2000)).to.equal(true);
      now = 1011;
      expect(set.has('a')).to.equal(false);
      expect(set.addIfAbsent('a', 1100)).to.equal(true);
      now = 1101;
      const reopened = new ExpiringSet(file, () => now);
      expect(reopened.has('a')).to.equal(false);
      expect(reopened.has('b')).to.equal(true);
      expect(readFileSync(file, 'utf8').trim().split('\n')).to.have.length(1);
    });
  });
});

describe('auth/grant: requested ∩ registered scopes', () => {
  const registered = 'system/Patient.read system/Observation.rs';
  const cases: [string, string, string[]][] = [
    ['a wildcard request narrows to the registered scopes', 'system/*.read', ['system/Patient.read', 'system/Observation.rs']],
    ['an exact request is kept as written', 'system/Patient.read', ['system/Patient.read']],
    ['v2 subset of a v1 registration is kept', 'system/Patient.rs', ['system/Patient.rs']],
    ['more letters than registered are cut to the registered ones', 'system/Patient.cruds', ['system/Patient.read']],
    ['letters are intersected', 'system/Observation.cr', ['system/Observation.r']],
    ['an unregistered type is not granted', 'system/Condition.read', []],
    ['patient/ and user/ scopes are not granted to client_credentials', 'patient/Patient.read user/Patient.read openid launch', []],
    ['malformed scopes grant nothing', 'system/Patient.rx system/Pateint.read', []],
    ['duplicates collapse', 'system/Patient.read system/Patient.read system/*.rs', ['system/Patient.read', 'system/Observation.rs']],
  ];
  for (const [name, requested, granted] of cases) {
    it(`${name}: '${requested}'`, () => {
      expect(grantScopes(requested, registered)).to.deep.equal(granted);
    });
  }

  it('v2 queries of both sides apply', () => {
    expect(grantScopes('system/Observation.rs', 'system/Observation.rs?category=laboratory')).to.deep.equal(['system/Observation.rs?category=laboratory']);
    expect(grantScopes('system/Observation.rs?status=final', 'system/*.rs?category=laboratory'))
      .to.deep.equal(['system/Observation.rs?status=final&category=laboratory']);
    expect(grantScopes('system/Observation.rs?category=laboratory', 'system/Observation.read')).to.deep.equal(['system/Observation.rs?category=laboratory']);
  });
});

describe('auth/discovery: endpoint URLs', () => {
  it('puts /auth beside /fhir, keeping a path prefix', () => {
    expect(endpointsFor('http://localhost:8080/fhir')).to.include({ issuer: 'http://localhost:8080/auth', token: 'http://localhost:8080/auth/token', jwks: 'http://localhost:8080/auth/jwks.json' });
    expect(endpointsFor('https://host.example/vertebra/fhir/')).to.include({ fhir: 'https://host.example/vertebra/fhir', issuer: 'https://host.example/vertebra/auth' });
  });
});
