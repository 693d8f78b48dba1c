import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { loadClients, parseClients } from '../../auth/clients.js';

const SECRET = 'correct-horse-battery-staple-42';

async function publicJwk(alg: 'ES384' | 'RS384'): Promise<JWK> {
  const { publicKey } = await generateKeyPair(alg);
  return { ...(await exportJWK(publicKey)), kid: `k-${alg}`, alg };
}

async function failure(json: unknown): Promise<string> {
  try {
    await parseClients(json, 'SMART_CLIENTS clients.json');
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the clients file to be refused');
}

describe('auth/clients: SMART_CLIENTS validation', () => {
  let es384: JWK;
  let rs384: JWK;
  before(async () => {
    es384 = await publicJwk('ES384');
    rs384 = await publicJwk('RS384');
  });
  const backend = (over: Record<string, unknown> = {}) => ({
    client_id: 'svc', client_name: 'Lab feed', scope: 'system/Patient.rs system/Observation.read', grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [es384] }, ...over,
  });

  it('accepts a backend-services client with jwks, ignoring unknown fields', async () => {
    const [c] = await parseClients([backend({ logo_uri: 'https://x.example/logo.png', software_id: 'abc' })]);
    expect(c).to.include({ clientId: 'svc', clientName: 'Lab feed', authMethod: 'private_key_jwt', scope: 'system/Patient.rs system/Observation.read' });
    expect(c.grantTypes).to.deep.equal(['client_credentials']);
    expect(c.keys).to.be.a('function');
    expect(c.scopes.resources.map((s) => s.source)).to.deep.equal(['system/Patient.rs', 'system/Observation.read']);
  });

  it('accepts RSA keys and jwks_uri; infers private_key_jwt from keys; allows http jwks_uri on loopback only', async () => {
    const [a, b] = await parseClients([
      backend({ client_id: 'a', jwks: { keys: [rs384] }, token_endpoint_auth_method: undefined }),
      backend({ client_id: 'b', jwks: undefined, jwks_uri: 'http://127.0.0.1:9/jwks.json' }),
    ]);
    expect(a.authMethod).to.equal('private_key_jwt');
    expect(b.jwksUri).to.equal('http://127.0.0.1:9/jwks.json');
    expect(await failure([backend({ jwks: undefined, jwks_uri: 'http://keys.example.org/jwks.json' })])).to.contain('https');
  });

  it('accepts a client_secret_basic client and keeps only a hash of the secret', async () => {
    const [c] = await parseClients([{ client_id: 'basic', scope: 'system/*.rs', grant_types: ['client_credentials'], client_secret: SECRET }]);
    expect(c.authMethod).to.equal('client_secret_basic');
    expect(JSON.stringify(c)).to.not.contain(SECRET);
  });

  const refusals: [string, () => unknown, string][] = [
    ['not an array', () => ({ client_id: 'x' }), 'JSON array'],
    ['a client that is not an object', () => ['svc'], 'client #1: must be a JSON object'],
    ['no client_id', () => [backend({ client_id: undefined })], 'client_id'],
    ['a duplicate client_id', () => [backend(), backend()], "client #2 ('svc'): client_id is registered twice"],
    ['no scope', () => [backend({ scope: undefined })], 'scope must be'],
    ['a malformed scope', () => [backend({ scope: 'system/Patient.rx' })], "scope 'system/Patient.rx' is malformed"],
    ['an unknown grant type', () => [backend({ grant_types: ['password'] })], "grant type 'password'"],
    ['authorization_code without redirect_uris', () => [backend({ grant_types: ['authorization_code'] })], 'redirect_uris'],
    ['an unknown auth method', () => [backend({ token_endpoint_auth_method: 'tls_client_auth' })], 'token_endpoint_auth_method'],
    ['private_key_jwt without keys', () => [backend({ jwks: undefined })], 'exactly one of jwks and jwks_uri'],
    ['both jwks and jwks_uri', () => [backend({ jwks_uri: 'https://k.example/jwks' })], 'exactly one of jwks and jwks_uri'],
    ['an empty key set', () => [backend({ jwks: { keys: [] } })], 'at least one key'],
    ['a P-256 key', () => [backend({ jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b' }] } })], 'P-384'],
    ['a private key', () => [backend({ jwks: { keys: [{ ...es384, d: 'secret-part' }] } })], 'private key material'],
    ['a broken public key', () => [backend({ jwks: { keys: [{ kty: 'EC', crv: 'P-384', x: 'AA', y: 'AA' }] } })], 'not a valid ES384 public key'],
    ['a short client_secret', () => [{ client_id: 'b', scope: 'system/*.rs', grant_types: ['client_credentials'], client_secret: 'short' }], 'at least 16'],
    ['an org_code that is not an ODS code', () => [backend({ org_code: 'FC G71' })], 'org_code must be an ODS code'],
    ['client_credentials for a public client', () => [{ client_id: 'p', scope: 'system/*.rs', grant_types: ['client_credentials'], token_endpoint_auth_method: 'none' }], 'confidential client'],
  ];
  for (const [name, json, message] of refusals) {
    it(`refuses ${name}`, async () => {
      const msg = await failure(json());
      expect(msg).to.match(/^SMART_CLIENTS clients\.json: /);
      expect(msg).to.contain(message);
    });
  }

  it('never echoes a secret in an error', async () => {
    const msg = await failure([{ client_id: 'b', scope: 'system/Patient.rx', client_secret: SECRET, grant_types: ['client_credentials'] }]);
    expect(msg).to.not.contain(SECRET);
  });

  describe('loadClients (the file)', () => {
    let dir: string;
    beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'vertebra-clients-')); });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('loads a file and looks clients up by client_id', async () => {
      const file = join(dir, 'clients.json');
      writeFileSync(file, JSON.stringify([backend()]));
      const registry = await loadClients(file);
      expect(registry.size).to.equal(1);
      expect(registry.get('svc')?.clientName).to.equal('Lab feed');
      expect(registry.get('nobody')).to.equal(undefined);
    });

    it('names the file when it is missing or not JSON', async () => {
      const file = join(dir, 'clients.json');
      writeFileSync(file, '[{"client_id": ');
      for (const f of [file, join(dir, 'missing.json')]) {
        try {
          await loadClients(f);
          expect.fail('expected an error');
        } catch (err) {
          expect((err as Error).message).to.contain(`SMART_CLIENTS ${f}:`);
        }
      }
    });

    it('authenticateSecret compares the secret', async () => {
      const file = join(dir, 'clients.json');
      writeFileSync(file, JSON.stringify([{ client_id: 'basic', scope: 'system/*.rs', grant_types: ['client_credentials'], client_secret: SECRET }, backend()]));
      const registry = await loadClients(file);
      expect(registry.authenticateSecret('basic', SECRET)?.clientId).to.equal('basic');
      expect(registry.authenticateSecret('basic', `${SECRET}x`)).to.equal(undefined);
      expect(registry.authenticateSecret('svc', SECRET)).to.equal(undefined);
    });
  });
});
