import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { Browser, hiddenField, pkce, postForm } from '../support/browser.js';
import { startTestServer, samplePatient, type TestServer } from '../support/server.js';

const SECRET = 'a-long-enough-client-secret-0123';
const REDIRECT = 'https://app.example/cb';
const PASSWORD = 'correct horse battery staple';

describe('SMART app launch: authorization code + PKCE, staff login, consent, refresh, id_token', function () {
  this.timeout(30_000);
  let dir: string;
  let server: TestServer;
  let origin: string;
  let tokenUrl: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vertebra-code-'));
    const clientsFile = join(dir, 'clients.json');
    writeFileSync(clientsFile, JSON.stringify([
      {
        client_id: 'public-app', client_name: 'Growth <Charts> & Co', token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [REDIRECT, 'https://app.example/other'],
        scope: 'openid fhirUser profile launch launch/patient launch/encounter offline_access online_access patient/*.rs user/*.rs',
      },
      {
        client_id: 'conf-app', client_secret: SECRET, grant_types: ['authorization_code'], redirect_uris: [REDIRECT],
        scope: 'openid fhirUser user/Patient.rs',
      },
      { client_id: 'ehr', client_secret: SECRET, grant_types: ['client_credentials'], scope: 'system/*.cruds' },
    ]));
    server = await startTestServer({ smartClients: clientsFile, auth: 'smart' });
    origin = new URL(server.url).origin;
    tokenUrl = `${origin}/auth/token`;
    const accounts = server.auth!.accounts;
    await accounts.put({ username: 'dr.jones', password: PASSWORD, fhirUser: 'Practitioner/p1', roles: ['R8000'], patients: ['9000000009'], displayName: 'Dr <b>Jones</b>' });
    await accounts.put({ username: 'nurse', password: PASSWORD, fhirUser: 'Practitioner/p2', roles: ['R8001'], patients: ['9000000009', '9000000017'] });
    await accounts.put({ username: 'clerk', password: PASSWORD, fhirUser: 'Practitioner/p3', roles: ['R8001'] });
    const seed = await postForm(tokenUrl, { grant_type: 'client_credentials', scope: 'system/Patient.cruds' },
      { Authorization: `Basic ${Buffer.from(`ehr:${SECRET}`).toString('base64')}` });
    expect(seed.status, seed.text).to.equal(200);
    for (const id of ['9000000009', '9000000017']) {
      const res = await server.fhir(`/Patient/${id}`, {
        method: 'PUT', headers: { Authorization: `Bearer ${seed.json.access_token}` },
        body: samplePatient({ id, identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: id }] }),
      });
      expect(res.status, res.text).to.be.oneOf([200, 201]);
    }
  });

  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function authorizeUrl(o: Record<string, string | undefined> = {}): string {
    const p = pkce();
    const params: Record<string, string | undefined> = {
      response_type: 'code', client_id: 'public-app', redirect_uri: REDIRECT, scope: 'openid fhirUser launch/patient patient/*.rs offline_access',
      state: 'st-123', aud: server.url, code_challenge: p.challenge, code_challenge_method: 'S256', ...o,
    };
    const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined) as [string, string][]);
    return `${origin}/auth/authorize?${q}`;
  }

  /** Drives the browser through login (and the picker, if shown) to the consent page. */
  async function toConsent(b: Browser, url: string, username = 'dr.jones', pick?: Record<string, string>) {
    const login = await b.get(url);
    expect(login.status, login.text).to.equal(200);
    expect(login.text).to.contain('<form method="post" action="/auth/login"');
    const rid = hiddenField(login.text, 'rid');
    const posted = await b.post('/auth/login', { username, password: PASSWORD, csrf_token: hiddenField(login.text, 'csrf_token'), rid });
    expect(posted.status, posted.text).to.equal(303);
    let page = await b.get(posted.location!);
    if (page.text.includes('action="/auth/patient"')) {
      expect(pick, 'a patient picker was shown').to.not.equal(undefined);
      const chosen = await b.post('/auth/patient', { ...pick, csrf_token: hiddenField(page.text, 'csrf_token'), rid });
      expect(chosen.status, chosen.text).to.equal(303);
      page = await b.get(chosen.location!);
    }
    expect(page.status, page.text).to.equal(200);
    expect(page.text).to.contain('action="/auth/consent"');
    return { page, rid, csrf: hiddenField(page.text, 'csrf_token') };
  }

  async function codeFor(o: Record<string, string | undefined> = {}, username = 'dr.jones', pick?: Record<string, string>) {
    const p = pkce();
    const b = new Browser(origin);
    const { rid, csrf, page } = await toConsent(b, authorizeUrl({ code_challenge: p.challenge, ...o }), username, pick);
    const res = await b.post('/auth/consent', { decision: 'allow', csrf_token: csrf, rid });
    expect(res.status, res.text).to.equal(303);
    const loc = new URL(res.location!);
    expect(`${loc.origin}${loc.pathname}`).to.equal(o.redirect_uri ?? REDIRECT);
    expect(loc.searchParams.get('state')).to.equal(o.state ?? 'st-123');
    const code = loc.searchParams.get('code');
    expect(code, res.location).to.be.a('string');
    return { code: code!, verifier: p.verifier, page };
  }

  const exchange = (code: string, verifier: string | undefined, extra: Record<string, string> = {}) =>
    postForm(tokenUrl, {
      grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: 'public-app',
      ...(verifier === undefined ? {} : { code_verifier: verifier }), ...extra,
    });

  async function jwks() {
    return createLocalJWKSet(await (await fetch(`${origin}/auth/jwks.json`)).json());
  }

  describe('the full flow for a public client', () => {
    it('login page → consent → code → token with patient, fhirUser, need_patient_banner, id_token, refresh_token', async () => {
      const { code, verifier, page } = await codeFor();
      // Consent lists the granted scopes, with client-controlled text escaped.
      expect(page.text).to.contain('Growth &#60;Charts&#62; &#38; Co');
      expect(page.text).to.not.contain('<Charts>');
      expect(page.text).to.contain('Dr &#60;b&#62;Jones&#60;/b&#62;');
      for (const s of ['openid', 'fhirUser', 'launch/patient', 'patient/*.rs', 'offline_access']) expect(page.text).to.contain(`<code>${s}</code>`);
      expect(page.headers.get('x-frame-options')).to.equal('DENY');
      expect(page.headers.get('cache-control')).to.equal('no-store');

      const res = await exchange(code, verifier);
      expect(res.status, res.text).to.equal(200);
      const t = res.json;
      expect(t).to.include({ token_type: 'Bearer', patient: '9000000009', need_patient_banner: true, fhirUser: `${server.url}/Practitioner/p1` });
      expect(t.scope.split(' ')).to.have.members(['openid', 'fhirUser', 'launch/patient', 'patient/*.rs', 'offline_access']);
      expect(t.refresh_token).to.be.a('string');
      expect(t).to.not.have.property('authorizationCode');

      const keySet = await jwks();
      const { payload: at } = await jwtVerify(t.access_token, keySet, { issuer: `${origin}/auth`, audience: server.url, typ: 'at+jwt' });
      expect(at).to.include({ sub: 'dr.jones', client_id: 'public-app', patient: '9000000009', fhirUser: `${server.url}/Practitioner/p1` });
      expect(at.roles).to.deep.equal(['R8000']);
      expect((await server.auth!.verifyAccessToken(t.access_token, server.url)).patient).to.equal('9000000009');

      const { payload: id } = await jwtVerify(t.id_token, keySet, { issuer: `${origin}/auth`, audience: 'public-app' });
      expect(id).to.include({ sub: 'dr.jones', fhirUser: `${server.url}/Practitioner/p1` });
      expect(id.auth_time).to.be.a('number');
    });

    it('the login page is styled by nhsuk-frontend, served under /auth/assets/', async () => {
      const b = new Browser(origin);
      const login = await b.get(authorizeUrl());
      expect(login.text).to.contain('href="/auth/assets/nhsuk-frontend.min.css"');
      const css = await fetch(`${origin}/auth/assets/nhsuk-frontend.min.css`);
      expect(css.status).to.equal(200);
      expect(css.headers.get('content-type')).to.match(/text\/css/);
      expect((await css.text()).length).to.be.greaterThan(10_000);
      expect(login.headers.get('set-cookie')).to.match(/HttpOnly/i).and.match(/SameSite=Lax/i);
    });

    it('an OIDC nonce is echoed in the id_token', async () => {
      const { code, verifier } = await codeFor({ nonce: 'n-0S6_WzA2Mj' });
      const res = await exchange(code, verifier);
      expect(decodeJwt(res.json.id_token).nonce).to.equal('n-0S6_WzA2Mj');
    });

    it('no openid → no id_token; no offline/online_access → no refresh_token', async () => {
      const { code, verifier } = await codeFor({ scope: 'launch/patient patient/*.rs' });
      const res = await exchange(code, verifier);
      expect(res.status, res.text).to.equal(200);
      expect(res.json).to.not.have.property('id_token');
      expect(res.json).to.not.have.property('refresh_token');
      expect(res.json).to.not.have.property('fhirUser');
      expect(res.json.patient).to.equal('9000000009');
    });
  });

  describe('the code exchange refuses', () => {
    it('a wrong code_verifier → invalid_grant, and the code is spent', async () => {
      const { code, verifier } = await codeFor();
      const bad = await exchange(code, pkce().verifier);
      expect(bad.status).to.equal(400);
      expect(bad.json.error).to.equal('invalid_grant');
      expect((await exchange(code, verifier)).json.error).to.equal('invalid_grant');
    });

    it('a missing code_verifier → invalid_grant', async () => {
      const { code } = await codeFor();
      const res = await exchange(code, undefined);
      expect(res.status).to.equal(400);
      expect(res.json.error).to.equal('invalid_grant');
    });

    it('a reused code → invalid_grant', async () => {
      const { code, verifier } = await codeFor();
      expect((await exchange(code, verifier)).status).to.equal(200);
      const again = await exchange(code, verifier);
      expect(again.status).to.equal(400);
      expect(again.json.error).to.equal('invalid_grant');
    });

    it('a redirect_uri different from the authorization request → invalid_request', async () => {
      const { code, verifier } = await codeFor();
      const res = await exchange(code, verifier, { redirect_uri: 'https://app.example/other' });
      expect(res.status).to.equal(400);
      expect(res.json.error).to.equal('invalid_request');
    });

    it("another client's code → invalid_grant", async () => {
      const { code, verifier } = await codeFor();
      const res = await postForm(tokenUrl, { grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: REDIRECT },
        { Authorization: `Basic ${Buffer.from(`conf-app:${SECRET}`).toString('base64')}` });
      expect(res.status).to.equal(400);
      expect(res.json.error).to.equal('invalid_grant');
    });
  });

  describe('the authorization request refuses', () => {
    const errorOf = async (o: Record<string, string | undefined>) => {
      const res = await new Browser(origin).get(authorizeUrl(o));
      expect(res.status, res.text).to.equal(302);
      const loc = new URL(res.location!);
      expect(`${loc.origin}${loc.pathname}`).to.equal(REDIRECT);
      expect(loc.searchParams.get('state')).to.equal('st-123');
      return loc.searchParams.get('error');
    };

    it('a public client without PKCE → invalid_request', async () => {
      expect(await errorOf({ code_challenge: undefined, code_challenge_method: undefined })).to.equal('invalid_request');
    });

    it('code_challenge_method=plain → invalid_request', async () => {
      expect(await errorOf({ code_challenge_method: 'plain' })).to.equal('invalid_request');
    });

    it('a wrong aud → invalid_request', async () => {
      expect(await errorOf({ aud: 'https://other.example/fhir' })).to.equal('invalid_request');
    });

    it('no aud → invalid_request', async () => {
      expect(await errorOf({ aud: undefined })).to.equal('invalid_request');
    });

    it('response_type=token → unsupported_response_type', async () => {
      expect(await errorOf({ response_type: 'token' })).to.equal('unsupported_response_type');
    });

    it('only unregistered scopes → invalid_scope', async () => {
      expect(await errorOf({ scope: 'system/*.rs' })).to.equal('invalid_scope');
    });

    it('an unknown launch → invalid_request', async () => {
      expect(await errorOf({ launch: 'nope', scope: 'launch patient/*.rs' })).to.equal('invalid_request');
    });

    for (const [name, o] of [
      ['an unregistered redirect_uri', { redirect_uri: 'https://evil.example/cb' }],
      ['no redirect_uri', { redirect_uri: undefined }],
      ['an unknown client', { client_id: 'nobody' }],
    ] as [string, Record<string, string | undefined>][]) {
      it(`${name} → an error page, never a redirect`, async () => {
        const res = await new Browser(origin).get(authorizeUrl(o));
        expect(res.status).to.equal(400);
        expect(res.location).to.equal(undefined);
        expect(res.headers.get('content-type')).to.match(/^text\/html/);
        expect(res.text).to.not.contain('evil.example');
      });
    }
  });

  describe('login and CSRF', () => {
    it('a wrong password → 401 with the login page again, no session user', async () => {
      const b = new Browser(origin);
      const login = await b.get(authorizeUrl());
      const res = await b.post('/auth/login', { username: 'dr.jones', password: 'wrong password!', csrf_token: hiddenField(login.text, 'csrf_token'), rid: hiddenField(login.text, 'rid') });
      expect(res.status).to.equal(401);
      expect(res.text).to.contain('username or password is not correct');
      expect(res.text).to.not.contain('wrong password!');
      const again = await b.get(`/auth/authorize/continue?rid=${hiddenField(login.text, 'rid')}`);
      expect(again.text).to.contain('action="/auth/login"');
    });

    it('an unknown user → 401, same message', async () => {
      const b = new Browser(origin);
      const login = await b.get(authorizeUrl());
      const res = await b.post('/auth/login', { username: 'nobody', password: PASSWORD, csrf_token: hiddenField(login.text, 'csrf_token'), rid: hiddenField(login.text, 'rid') });
      expect(res.status).to.equal(401);
      expect(res.text).to.contain('username or password is not correct');
    });

    it('login without or with a wrong CSRF token → 403', async () => {
      const b = new Browser(origin);
      const login = await b.get(authorizeUrl());
      const rid = hiddenField(login.text, 'rid');
      expect((await b.post('/auth/login', { username: 'dr.jones', password: PASSWORD, rid })).status).to.equal(403);
      expect((await b.post('/auth/login', { username: 'dr.jones', password: PASSWORD, rid, csrf_token: 'x'.repeat(43) })).status).to.equal(403);
      // Another browser's (valid) token does not work in this session.
      const other = new Browser(origin);
      const otherLogin = await other.get(authorizeUrl());
      expect((await b.post('/auth/login', { username: 'dr.jones', password: PASSWORD, rid, csrf_token: hiddenField(otherLogin.text, 'csrf_token') })).status).to.equal(403);
    });

    it('consent without the CSRF token → 403, and no code', async () => {
      const b = new Browser(origin);
      const { rid } = await toConsent(b, authorizeUrl());
      const res = await b.post('/auth/consent', { decision: 'allow', rid });
      expect(res.status).to.equal(403);
      expect(res.location).to.equal(undefined);
    });

    it('the session id changes at sign-in (no fixation)', async () => {
      const b = new Browser(origin);
      const login = await b.get(authorizeUrl());
      const before = b.cookies.get('vertebra.sid');
      await b.post('/auth/login', { username: 'dr.jones', password: PASSWORD, csrf_token: hiddenField(login.text, 'csrf_token'), rid: hiddenField(login.text, 'rid') });
      expect(b.cookies.get('vertebra.sid')).to.be.a('string').and.not.equal(before);
    });
  });

  describe('consent', () => {
    it('Deny → redirect with error=access_denied and the state', async () => {
      const b = new Browser(origin);
      const { rid, csrf } = await toConsent(b, authorizeUrl({ state: 'deny-state' }));
      const res = await b.post('/auth/consent', { decision: 'deny', csrf_token: csrf, rid });
      expect(res.status).to.equal(303);
      const loc = new URL(res.location!);
      expect(loc.searchParams.get('error')).to.equal('access_denied');
      expect(loc.searchParams.get('state')).to.equal('deny-state');
      expect(loc.searchParams.has('code')).to.equal(false);
    });

    it('a signed-in user is not asked to sign in again', async () => {
      const b = new Browser(origin);
      await toConsent(b, authorizeUrl());
      const second = await b.get(authorizeUrl());
      expect(second.text).to.contain('action="/auth/consent"');
    });
  });

  describe('refresh tokens', () => {
    it('rotation: the refresh gives a new pair; the old refresh token is then refused, and its reuse revokes the new one', async () => {
      const { code, verifier } = await codeFor();
      const first = (await exchange(code, verifier)).json;
      const r1 = await postForm(tokenUrl, { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: 'public-app' });
      expect(r1.status, r1.text).to.equal(200);
      expect(r1.json.refresh_token).to.be.a('string').and.not.equal(first.refresh_token);
      expect(r1.json.patient).to.equal('9000000009');
      expect(decodeJwt(r1.json.access_token).patient).to.equal('9000000009');
      const reuse = await postForm(tokenUrl, { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: 'public-app' });
      expect(reuse.status).to.equal(400);
      expect(reuse.json.error).to.equal('invalid_grant');
      // The reuse looked like theft: the whole family is revoked.
      const after = await postForm(tokenUrl, { grant_type: 'refresh_token', refresh_token: r1.json.refresh_token, client_id: 'public-app' });
      expect(after.json.error).to.equal('invalid_grant');
    });

    it('a refresh may narrow the scope, never widen it', async () => {
      const { code, verifier } = await codeFor();
      const first = (await exchange(code, verifier)).json;
      const wide = await postForm(tokenUrl, { grant_type: 'refresh_token', refresh_token: first.refresh_token, client_id: 'public-app', scope: 'user/*.rs offline_access' });
      expect(wide.json.error).to.equal('invalid_scope');
    });

    it('online_access also yields a refresh token', async () => {
      const { code, verifier } = await codeFor({ scope: 'launch/patient patient/*.rs online_access' });
      expect((await exchange(code, verifier)).json.refresh_token).to.be.a('string');
    });
  });

  describe('confidential clients', () => {
    it('client_secret_basic without PKCE works; without the secret → invalid_client', async () => {
      const { code } = await codeFor({ client_id: 'conf-app', scope: 'openid fhirUser user/Patient.rs', code_challenge: undefined, code_challenge_method: undefined });
      const noAuth = await postForm(tokenUrl, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: 'conf-app' });
      expect(noAuth.status).to.equal(401);
      const { code: code2 } = await codeFor({ client_id: 'conf-app', scope: 'openid fhirUser user/Patient.rs', code_challenge: undefined, code_challenge_method: undefined });
      const res = await postForm(tokenUrl, { grant_type: 'authorization_code', code: code2, redirect_uri: REDIRECT },
        { Authorization: `Basic ${Buffer.from(`conf-app:${SECRET}`).toString('base64')}` });
      expect(res.status, res.text).to.equal(200);
      expect(res.json.scope).to.equal('user/Patient.rs openid fhirUser');
      expect(decodeJwt(res.json.id_token).aud).to.equal('conf-app');
    });
  });

  describe('standalone launch: patient picker', () => {
    it('a user with several allowed patients picks one; it becomes the token patient', async () => {
      const b = new Browser(origin);
      const login = await b.get(authorizeUrl());
      const rid = hiddenField(login.text, 'rid');
      const li = await b.post('/auth/login', { username: 'nurse', password: PASSWORD, csrf_token: hiddenField(login.text, 'csrf_token'), rid });
      const picker = await b.get(li.location!);
      expect(picker.text).to.contain('action="/auth/patient"');
      expect(picker.text).to.contain('SMITH, Jane');
      const csrf = hiddenField(picker.text, 'csrf_token');
      // A patient outside the user's list is refused.
      expect((await b.post('/auth/patient', { patient: '9000000025', csrf_token: csrf, rid })).status).to.equal(400);
      const { code, verifier } = await codeFor({}, 'nurse', { patient: '9000000017' });
      const res = await exchange(code, verifier);
      expect(res.json.patient).to.equal('9000000017');
    });

    it('a user without a list searches by NHS number (valid and existing only)', async () => {
      const b = new Browser(origin);
      const login = await b.get(authorizeUrl());
      const rid = hiddenField(login.text, 'rid');
      const li = await b.post('/auth/login', { username: 'clerk', password: PASSWORD, csrf_token: hiddenField(login.text, 'csrf_token'), rid });
      const picker = await b.get(li.location!);
      expect(picker.text).to.contain('name="nhs_number"');
      const csrf = hiddenField(picker.text, 'csrf_token');
      expect((await b.post('/auth/patient', { nhs_number: '9000000008', csrf_token: csrf, rid })).status).to.equal(400); // bad check digit
      expect((await b.post('/auth/patient', { nhs_number: '9000000025', csrf_token: csrf, rid })).status).to.equal(400); // valid, unknown
      const ok = await b.post('/auth/patient', { nhs_number: '900 000 0017', csrf_token: csrf, rid });
      expect(ok.status).to.equal(303);
      const consent = await b.get(ok.location!);
      expect(consent.text).to.contain('9000000017');
    });

    it('with exactly one allowed patient the picker is skipped', async () => {
      const b = new Browser(origin);
      const { page } = await toConsent(b, authorizeUrl(), 'dr.jones');
      expect(page.text).to.contain('9000000009');
    });
  });

  describe('EHR launch: POST /auth/launch', () => {
    it('an EHR stores {patient, encounter}; the app launched with it gets both in the token response', async () => {
      const ehrToken = await postForm(tokenUrl, { grant_type: 'client_credentials', scope: 'system/*.rs' },
        { Authorization: `Basic ${Buffer.from(`ehr:${SECRET}`).toString('base64')}` });
      expect(ehrToken.status, ehrToken.text).to.equal(200);
      const created = await fetch(`${origin}/auth/launch`, {
        method: 'POST', headers: { Authorization: `Bearer ${ehrToken.json.access_token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ patient: '9000000017', encounter: 'enc-1' }),
      });
      expect(created.status).to.equal(201);
      const { launch } = await created.json();
      const { code, verifier } = await codeFor({ launch, scope: 'launch launch/encounter patient/*.rs openid fhirUser' }, 'clerk');
      const res = await exchange(code, verifier);
      expect(res.status, res.text).to.equal(200);
      expect(res.json).to.include({ patient: '9000000017', encounter: 'enc-1', need_patient_banner: true });
      expect(res.json.scope.split(' ')).to.include.members(['launch', 'launch/encounter']);
    });

    it('without a valid Bearer token → 401', async () => {
      const res = await fetch(`${origin}/auth/launch`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"patient":"9000000017"}' });
      expect(res.status).to.equal(401);
      const bad = await fetch(`${origin}/auth/launch`, { method: 'POST', headers: { Authorization: 'Bearer x.y.z' }, body: '{"patient":"9000000017"}' });
      expect(bad.status).to.equal(401);
    });
  });
});
