import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { Browser, hiddenField, pkce, postForm } from '../support/browser.js';
import { TestIdp, type IdpUser, type Misbehaviour } from '../support/oidc-provider.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Staff sign-in through an OpenID Connect IdP shaped like NHS CIS2 (issue 5), over real HTTP: a
 * test IdP on its own port, our /auth/authorize → sign-in page → IdP → /auth/oidc/callback →
 * (role picker) → consent → code → /auth/token → a FHIR read with the token. And the refusals:
 * wrong state, ID token signed by another key, wrong nonce or audience, IdP denial, no role.
 */
const SECRET = 'a-long-enough-client-secret-0123';
const IDP_SECRET = 'idp-client-secret-for-vertebra-rp';
const REDIRECT = 'https://app.example/cb';
const SDS = '555086689106';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const GP = { person_roleid: '555254242105', role_code: 'S8000:G8000:R8000', org_code: 'A83008', role_name: '"Clinical":"Clinical Provision":"Clinical Practitioner Access Role"' };
const CLERK = { person_roleid: '555254242106', role_code: 'S8002:G8003:R8010', org_code: 'RR8', role_name: '"Admin":"Clerical":"Clerical Access Role"' };

function cis2User(roles: object[], selected?: string, sds = SDS): IdpUser {
  return {
    sub: sds,
    idToken: selected ? { selected_roleid: selected } : {},
    userinfo: { uid: sds, name: 'Dr Ada Test', nhsid_nrbac_roles: roles },
  };
}

describe('HTTP: staff sign-in through an OpenID Connect IdP (CIS2-shaped)', function () {
  this.timeout(60_000);
  let dir: string;
  let idp: TestIdp;
  let server: TestServer;
  let origin: string;
  let admin: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vertebra-oidc-'));
    idp = await TestIdp.start('vertebra-rp', IDP_SECRET);
    const clientsFile = join(dir, 'clients.json');
    writeFileSync(clientsFile, JSON.stringify([
      {
        client_id: 'public-app', client_name: 'Ward App', token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT],
        scope: 'openid fhirUser profile offline_access user/Patient.rs user/Observation.rs',
      },
      { client_id: 'ehr', client_secret: SECRET, grant_types: ['client_credentials'], scope: 'system/*.cruds' },
    ]));
    server = await startTestServer({
      auth: 'smart', smartClients: clientsFile, localLogin: false,
      oidc: {
        issuer: idp.issuer, clientId: 'vertebra-rp', clientSecret: IDP_SECRET, tokenAuthMethod: 'client_secret_basic',
        scopes: 'openid profile nationalrbacaccess selectedrole', displayName: 'Test CIS2', prompt: 'login',
      },
    });
    origin = new URL(server.url).origin;
    const seed = await postForm(`${origin}/auth/token`, { grant_type: 'client_credentials', scope: 'system/*.cruds' },
      { Authorization: `Basic ${Buffer.from(`ehr:${SECRET}`).toString('base64')}` });
    expect(seed.status, seed.text).to.equal(200);
    admin = seed.json.access_token;
    for (const [path, body] of [
      ['/Practitioner/prac-1', { resourceType: 'Practitioner', id: 'prac-1', identifier: [{ system: 'https://fhir.nhs.uk/Id/sds-user-id', value: SDS }], name: [{ family: 'Test', given: ['Ada'] }] }],
      ['/Patient/pt1', { resourceType: 'Patient', id: 'pt1', name: [{ family: 'Smith' }] }],
      ['/Observation/obs1', { resourceType: 'Observation', id: 'obs1', status: 'final', code: { text: 'pulse' }, subject: { reference: 'Patient/pt1' } }],
    ] as const) {
      const res = await server.fhir(path, { method: 'PUT', body, headers: { Authorization: `Bearer ${admin}` } });
      expect(res.status, res.text).to.be.oneOf([200, 201]);
    }
  });

  after(async () => {
    await server?.stop();
    await idp?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const authorizeUrl = (challenge: string, scope = 'openid fhirUser user/Patient.rs user/Observation.rs') => `${origin}/auth/authorize?${new URLSearchParams({
    response_type: 'code', client_id: 'public-app', redirect_uri: REDIRECT, scope, state: 'app-state', aud: server.url,
    code_challenge: challenge, code_challenge_method: 'S256',
  })}`;

  /** Our authorize → sign-in page → "Sign in with Test CIS2" → the IdP → back at our callback. */
  async function throughIdp(user: IdpUser, misbehave?: Misbehaviour, scope?: string) {
    const p = pkce();
    const b = new Browser(origin);
    const login = await b.get(authorizeUrl(p.challenge, scope));
    expect(login.status, login.text).to.equal(200);
    expect(login.text).to.contain('action="/auth/oidc/start"').and.contain('Sign in with Test CIS2');
    const rid = hiddenField(login.text, 'rid');
    idp.next = { user, misbehave };
    const start = await b.post('/auth/oidc/start', { csrf_token: hiddenField(login.text, 'csrf_token'), rid });
    expect(start.status, start.text).to.equal(302);
    expect(start.location!.startsWith(`${idp.issuer}/authorize?`), start.location).to.equal(true);
    const atIdp = await b.get(start.location!);
    expect(atIdp.status, atIdp.text).to.equal(302);
    const back = await b.get(atIdp.location!);
    return { b, rid, verifier: p.verifier, back };
  }

  /** From a page that redirected on to the next step, through consent, to the token response. */
  async function consentAndToken(b: Browser, rid: string, verifier: string, next: string) {
    const consent = await b.get(next);
    expect(consent.status, consent.text).to.equal(200);
    expect(consent.text).to.contain('action="/auth/consent"');
    const allowed = await b.post('/auth/consent', { decision: 'allow', csrf_token: hiddenField(consent.text, 'csrf_token'), rid });
    expect(allowed.status, allowed.text).to.equal(303);
    const code = new URL(allowed.location!).searchParams.get('code');
    expect(code, allowed.location).to.be.a('string');
    const token = await postForm(`${origin}/auth/token`, { grant_type: 'authorization_code', code: code!, redirect_uri: REDIRECT, client_id: 'public-app', code_verifier: verifier });
    expect(token.status, token.text).to.equal(200);
    return { consent, token: token.json };
  }

  const claimsOf = async (accessToken: string) => {
    const keys = createLocalJWKSet(await (await fetch(`${origin}/auth/jwks.json`)).json());
    return (await jwtVerify(accessToken, keys, { issuer: `${origin}/auth`, audience: server.url })).payload;
  };
  const read = (path: string, token: string) => server.fhir(path, { headers: { Authorization: `Bearer ${token}` } });
  /** The sign-in AuditEvents so far (DCM 110114), newest last. */
  const loginEvents = async (): Promise<any[]> => {
    const res = await read(`/AuditEvent?type=${encodeURIComponent(`${DCM}|110114`)}&_count=1000`, admin);
    expect(res.status, res.text).to.equal(200);
    return (res.json.entry ?? []).map((e: any) => e.resource).sort((a: any, b: any) => a.meta.lastUpdated.localeCompare(b.meta.lastUpdated));
  };
  /** After a refused sign-in: the request is still open and the browser is not signed in. */
  async function expectSignedOut(b: Browser, rid: string) {
    const again = await b.get(`/auth/authorize/continue?rid=${encodeURIComponent(rid)}`);
    expect(again.status, again.text).to.equal(200);
    expect(again.text).to.contain('action="/auth/oidc/start"').and.not.contain('action="/auth/consent"');
  }

  it('selected_roleid picks the role profile: code, token with the role and fhirUser, and a FHIR read that the role allows', async () => {
    const before = (await loginEvents()).length;
    const { b, rid, verifier, back } = await throughIdp(cis2User([CLERK, GP], GP.person_roleid), undefined, 'openid fhirUser profile offline_access user/Patient.rs user/Observation.rs');
    // What our server asked the IdP for: code flow with PKCE, state, nonce, CIS2's scopes and role selection.
    const q = idp.lastAuthorize!;
    expect(q.get('response_type')).to.equal('code');
    expect(q.get('code_challenge_method')).to.equal('S256');
    for (const k of ['state', 'nonce', 'code_challenge']) expect(q.get(k), k).to.be.a('string').and.have.length.greaterThan(20);
    expect(q.get('scope')).to.equal('openid profile nationalrbacaccess selectedrole');
    expect(q.get('prompt')).to.equal('login');
    expect(q.get('redirect_uri')).to.equal(`${origin}/auth/oidc/callback`);

    expect(back.status, back.text).to.equal(303);
    const { consent, token } = await consentAndToken(b, rid, verifier, back.location!);
    expect(consent.text).to.contain('Dr Ada Test');
    expect(token.fhirUser).to.equal(`${server.url}/Practitioner/prac-1`);
    const at = await claimsOf(token.access_token);
    // The selected role profile's organisation travels in the token (org_code).
    expect(at).to.include({ sub: `oidc:${SDS}`, client_id: 'public-app', fhirUser: `${server.url}/Practitioner/prac-1`, org_code: 'A83008' });
    expect(at.roles).to.deep.equal(['R8000']);
    const obs = await read('/Observation/obs1', token.access_token);
    expect(obs.status, obs.text).to.equal(200);

    // The id_token we issue names the IdP user; a refresh keeps the role chosen at sign-in.
    const id = (await jwtVerify(token.id_token, createLocalJWKSet(await (await fetch(`${origin}/auth/jwks.json`)).json()))).payload;
    expect(id).to.include({ sub: `oidc:${SDS}`, name: 'Dr Ada Test' });
    const refreshed = await postForm(`${origin}/auth/token`, { grant_type: 'refresh_token', refresh_token: token.refresh_token, client_id: 'public-app' });
    expect(refreshed.status, refreshed.text).to.equal(200);
    expect((await claimsOf(refreshed.json.access_token)).roles).to.deep.equal(['R8000']);

    const events = (await loginEvents()).slice(before);
    expect(events).to.have.length(1);
    const [e] = events;
    expect(e.subtype[0]).to.include({ system: DCM, code: '110122' });
    expect(e.outcome).to.equal('0');
    const user = e.agent.find((a: any) => a.requestor);
    expect(user.who.reference).to.equal('Practitioner/prac-1');
    expect(user.who.identifier).to.deep.equal({ system: 'https://fhir.nhs.uk/Id/sds-user-id', value: SDS });
    expect(user.role[0].coding[0].code).to.equal('R8000');
    expect(e.agent.find((a: any) => !a.requestor).who.identifier.value).to.equal('public-app');
    expect(e.entity.find((x: any) => x.description === 'selected role profile').what.identifier.value).to.equal(GP.person_roleid);
    expect(e.source.observer.display).to.equal('vertebra');
  });

  it('several role profiles and no selected_roleid: a role picker (CSRF-protected), and the chosen role is the one in the token', async () => {
    const { b, rid, verifier, back } = await throughIdp(cis2User([GP, CLERK]));
    expect(back.status, back.text).to.equal(200);
    expect(back.text).to.contain('Select your role').and.contain('action="/auth/oidc/role"');
    expect(back.text).to.contain('Clinical Practitioner Access Role (R8000), organisation A83008').and.contain('Clerical Access Role (R8010), organisation RR8');
    const csrf = hiddenField(back.text, 'csrf_token');
    expect((await b.post('/auth/oidc/role', { role: CLERK.person_roleid, rid, csrf_token: 'wrong' })).status).to.equal(403);
    const unknown = await b.post('/auth/oidc/role', { role: '999999999999', rid, csrf_token: csrf });
    expect(unknown.status, unknown.text).to.equal(400);
    expect(unknown.text).to.contain('Select one of your roles');
    const chosen = await b.post('/auth/oidc/role', { role: CLERK.person_roleid, rid, csrf_token: csrf });
    expect(chosen.status, chosen.text).to.equal(303);
    const { token } = await consentAndToken(b, rid, verifier, chosen.location!);
    expect((await claimsOf(token.access_token)).roles).to.deep.equal(['R8010']);
    // A clerk may read the Patient, not clinical records.
    expect((await read('/Patient/pt1', token.access_token)).status).to.equal(200);
    expect((await read('/Observation/obs1', token.access_token)).status).to.equal(403);
  });

  it('exactly one role profile is taken without asking; an SDS user id that no Practitioner holds gives no fhirUser', async () => {
    const { b, rid, verifier, back } = await throughIdp(cis2User([GP], undefined, '555000000001'));
    expect(back.status, back.text).to.equal(303);
    const { token } = await consentAndToken(b, rid, verifier, back.location!);
    const at = await claimsOf(token.access_token);
    expect(at.roles).to.deep.equal(['R8000']);
    expect(at).to.not.have.property('fhirUser');
    expect(token).to.not.have.property('fhirUser');
    expect((await read('/Observation/obs1', token.access_token)).status).to.equal(200);
  });

  it('no role profile, or a selected_roleid that is not one of them: a clear 403 page, no session, and an audited failure', async () => {
    for (const user of [cis2User([]), cis2User([GP], '555254249999')]) {
      const before = (await loginEvents()).length;
      const { b, rid, back } = await throughIdp(user);
      expect(back.status, back.text).to.equal(403);
      expect(back.text).to.contain('No role to sign in with');
      await expectSignedOut(b, rid);
      const events = (await loginEvents()).slice(before);
      expect(events).to.have.length(1);
      expect(events[0].outcome).to.equal('4');
      expect(events[0].outcomeDesc).to.match(/role/);
      expect(events[0].agent.find((a: any) => a.requestor).who.identifier.value).to.equal(SDS);
    }
  });

  // Each with the check that refused it (the audit's outcomeDesc), so that none passes by accident.
  const refusals: [string, Misbehaviour, RegExp][] = [
    ['a state that is not the one sent', { state: 'forged-state' }, /"state"/],
    ['an ID token signed by a key the IdP does not publish', { wrongKey: true }, /signature/],
    ['an ID token with the wrong nonce', { nonce: 'not-the-nonce' }, /"nonce"/],
    ['an ID token for another audience', { aud: 'some-other-client' }, /"aud"/],
    ['the IdP answering access_denied', { deny: true }, /access_denied/],
  ];
  for (const [what, misbehave, check] of refusals) {
    it(`refuses ${what}: a 401 page, no session, no code, an audited failure`, async () => {
      const before = (await loginEvents()).length;
      const { b, rid, back } = await throughIdp(cis2User([GP], GP.person_roleid), misbehave);
      expect(back.status, back.text).to.equal(401);
      expect(back.text).to.contain('Sign-in refused').and.contain('Test CIS2');
      expect(back.headers.get('location')).to.equal(null);
      await expectSignedOut(b, rid);
      const events = (await loginEvents()).slice(before);
      expect(events).to.have.length(1);
      expect(events[0]).to.include({ outcome: '4' });
      expect(events[0].outcomeDesc).to.match(check);
      expect(events[0].subtype[0].code).to.equal('110122');
      expect(events[0].agent.find((a: any) => !a.requestor)?.who.identifier.value).to.equal('public-app');
    });
  }

  it('a replayed callback (the state was spent) is refused, not a 500', async () => {
    const { b, back } = await throughIdp(cis2User([GP], GP.person_roleid));
    expect(back.status).to.equal(303);
    const callback = `${origin}/auth/oidc/callback?code=whatever&state=whatever`;
    const replay = await b.get(callback);
    expect(replay.status, replay.text).to.equal(401);
    const [last] = (await loginEvents()).slice(-1);
    expect(last.outcomeDesc).to.match(/Unable to verify authorization request state/);
  });

  it('with LOCAL_LOGIN off (the default with an IdP): no password form, and POST /auth/login is 404', async () => {
    const b = new Browser(origin);
    const login = await b.get(authorizeUrl(pkce().challenge));
    expect(login.text).to.not.contain('name="password"');
    const res = await b.post('/auth/login', { username: 'x', password: 'y', csrf_token: hiddenField(login.text, 'csrf_token'), rid: hiddenField(login.text, 'rid') });
    expect(res.status).to.equal(404);
  });

  it('private_key_jwt at the IdP token endpoint (OIDC_PRIVATE_KEY_FILE): the sign-in completes', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    const other = await TestIdp.start('vertebra-pkj', 'unused-secret-unused-secret');
    other.clientPublicJwk = { ...await exportJWK(publicKey), alg: 'ES256', kid: 'rp-1' };
    const keyFile = join(dir, 'rp-key.jwk');
    writeFileSync(keyFile, JSON.stringify({ ...await exportJWK(privateKey), alg: 'ES256', kid: 'rp-1' }), { mode: 0o600 });
    const pkj = await startTestServer({
      auth: 'smart', smartClients: join(dir, 'clients.json'),
      oidc: { issuer: other.issuer, clientId: 'vertebra-pkj', tokenAuthMethod: 'private_key_jwt', privateKeyFile: keyFile, scopes: 'openid profile nationalrbacaccess', displayName: 'Keyed IdP' },
    });
    try {
      const o = new URL(pkj.url).origin;
      const b = new Browser(o);
      const login = await b.get(`${o}/auth/authorize?${new URLSearchParams({
        response_type: 'code', client_id: 'public-app', redirect_uri: REDIRECT, scope: 'openid user/Patient.rs', state: 's', aud: pkj.url,
        code_challenge: pkce().challenge, code_challenge_method: 'S256',
      })}`);
      other.next = { user: cis2User([GP]) };
      const start = await b.post('/auth/oidc/start', { csrf_token: hiddenField(login.text, 'csrf_token'), rid: hiddenField(login.text, 'rid') });
      const back = await b.get((await b.get(start.location!)).location!);
      expect(back.status, back.text).to.equal(303);
      expect(other.lastClientAuth).to.equal('private_key_jwt');
    } finally {
      await pkj.stop();
      await other.stop();
    }
  });

  it('an unreachable IdP: the sign-in button answers a 502 page, not a 500', async () => {
    const down = await startTestServer({
      auth: 'smart', smartClients: join(dir, 'clients.json'),
      oidc: { issuer: 'http://127.0.0.1:9', clientId: 'x', clientSecret: IDP_SECRET, tokenAuthMethod: 'client_secret_basic', scopes: 'openid', displayName: 'Nowhere' },
      localLogin: true,
    });
    try {
      const o = new URL(down.url).origin;
      const b = new Browser(o);
      const login = await b.get(`${o}/auth/authorize?${new URLSearchParams({
        response_type: 'code', client_id: 'public-app', redirect_uri: REDIRECT, scope: 'openid', state: 's', aud: down.url,
        code_challenge: pkce().challenge, code_challenge_method: 'S256',
      })}`);
      // Both ways are offered when LOCAL_LOGIN=on.
      expect(login.text).to.contain('Sign in with Nowhere').and.contain('name="password"');
      const res = await b.post('/auth/oidc/start', { csrf_token: hiddenField(login.text, 'csrf_token'), rid: hiddenField(login.text, 'rid') });
      expect(res.status, res.text).to.equal(502);
      expect(res.text).to.contain('Sign-in not available');
    } finally {
      await down.stop();
    }
  });
});
