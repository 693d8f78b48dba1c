import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Browser, hiddenField, pkce, postForm } from '../support/browser.js';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * Every staff sign-in attempt leaves one AuditEvent (DCM 110114 User Authentication / 110122
 * Login, outcome 0 or 4), sign-out one 110123 Logout, never with the password; if the audit
 * cannot be written the sign-in fails closed (503 page, no session, so no code).
 */
const SECRET = 'a-long-enough-client-secret-0123';
const REDIRECT = 'https://app.example/cb';
const PASSWORD = 'correct horse battery staple';
const WRONG = 'Tr0ub4dor&3-not-it';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';

describe('HTTP: audit of staff sign-in (local accounts)', function () {
  this.timeout(60_000);
  let dir: string;
  let server: TestServer;
  let origin: string;
  let admin: string;
  let failAudit = false;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vertebra-login-audit-'));
    const clientsFile = join(dir, 'clients.json');
    writeFileSync(clientsFile, JSON.stringify([
      { client_id: 'public-app', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], redirect_uris: [REDIRECT], scope: 'openid fhirUser user/Patient.rs' },
      { client_id: 'ehr', client_secret: SECRET, grant_types: ['client_credentials'], scope: 'system/*.cruds' },
    ]));
    server = await startTestServer({ auth: 'smart', smartClients: clientsFile }, {
      loginAudit: { writer: async (event, write) => { if (failAudit) throw new Error('audit store down (test)'); await write(event); } },
    });
    origin = new URL(server.url).origin;
    await server.auth!.accounts.put({ username: 'dr.jones', password: PASSWORD, fhirUser: 'Practitioner/p1', roles: ['R8000'] });
    const seed = await postForm(`${origin}/auth/token`, { grant_type: 'client_credentials', scope: 'system/*.cruds' },
      { Authorization: `Basic ${Buffer.from(`ehr:${SECRET}`).toString('base64')}` });
    expect(seed.status, seed.text).to.equal(200);
    admin = seed.json.access_token;
  });

  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The sign-in AuditEvents (DCM 110114), read through the API, and the raw response text. */
  const loginEvents = async (): Promise<{ events: any[]; text: string }> => {
    const res = await server.fhir(`/AuditEvent?type=${encodeURIComponent(`${DCM}|110114`)}&_count=1000`, { headers: { Authorization: `Bearer ${admin}` } });
    expect(res.status, res.text).to.equal(200);
    return { events: (res.json.entry ?? []).map((e: any) => e.resource), text: res.text };
  };
  const newEvents = async (before: any[]) => {
    const ids = new Set(before.map((e) => e.id));
    const { events, text } = await loginEvents();
    return { fresh: events.filter((e) => !ids.has(e.id)), text };
  };

  async function signIn(password: string, username = 'dr.jones') {
    const b = new Browser(origin);
    const login = await b.get(`${origin}/auth/authorize?${new URLSearchParams({
      response_type: 'code', client_id: 'public-app', redirect_uri: REDIRECT, scope: 'openid fhirUser user/Patient.rs', state: 's1', aud: server.url,
      code_challenge: pkce().challenge, code_challenge_method: 'S256',
    })}`);
    expect(login.status, login.text).to.equal(200);
    const rid = hiddenField(login.text, 'rid');
    const posted = await b.post('/auth/login', { username, password, csrf_token: hiddenField(login.text, 'csrf_token'), rid });
    return { b, rid, posted };
  }
  const signedIn = async (b: Browser, rid: string) => (await b.get(`/auth/authorize/continue?rid=${encodeURIComponent(rid)}`)).text.includes('action="/auth/consent"');

  it('five wrong passwords lock the account for 15 minutes: while locked no password is checked (429, Retry-After), each attempt audited', async () => {
    await server.auth!.accounts.put({ username: 'dr.locked', password: PASSWORD, fhirUser: 'Practitioner/p2', roles: ['R8000'] });
    const { events: before } = await loginEvents();
    for (let i = 0; i < 4; i++) expect((await signIn(WRONG, 'dr.locked')).posted.status).to.equal(401);
    const fifth = await signIn(WRONG, 'DR.Locked'); // the same account whatever the case typed
    expect(fifth.posted.status).to.equal(401);
    expect(fifth.posted.text).to.contain('locked for 15 minutes');
    const { b, rid, posted } = await signIn(PASSWORD, 'dr.locked');
    expect(posted.status).to.equal(429);
    expect(Number(posted.headers.get('retry-after'))).to.be.within(850, 900);
    expect(posted.text).to.contain('Too many failed sign-ins');
    expect(await signedIn(b, rid)).to.equal(false);
    const { fresh } = await newEvents(before);
    expect(fresh.map((e) => e.outcome)).to.deep.equal(['4', '4', '4', '4', '4', '4']);
    expect(fresh.filter((e) => /temporarily locked/.test(e.outcomeDesc))).to.have.length(1);
    // Another account from the same address still signs in.
    expect((await signIn(PASSWORD)).posted.status).to.equal(303);
  });

  it('attempts sent at once are checked one at a time per account: at most five wrong passwords are ever tried', async () => {
    await server.auth!.accounts.put({ username: 'dr.race', password: PASSWORD, fhirUser: 'Practitioner/p3', roles: ['R8000'] });
    const b = new Browser(origin);
    const login = await b.get(`${origin}/auth/authorize?${new URLSearchParams({
      response_type: 'code', client_id: 'public-app', redirect_uri: REDIRECT, scope: 'openid fhirUser user/Patient.rs', state: 's1', aud: server.url,
      code_challenge: pkce().challenge, code_challenge_method: 'S256',
    })}`);
    const form = { username: 'dr.race', csrf_token: hiddenField(login.text, 'csrf_token'), rid: hiddenField(login.text, 'rid') };
    const answers = await Promise.all(Array.from({ length: 40 }, () => b.post('/auth/login', { ...form, password: WRONG })));
    const checked = answers.filter((a) => a.status === 401).length;
    expect(checked).to.be.within(1, 5);
    expect(answers.every((a) => a.status === 401 || a.status === 429)).to.equal(true);
  });

  it('a successful sign-in leaves exactly one Login AuditEvent, outcome 0, naming the user and the client, with no password', async () => {
    const { events: before } = await loginEvents();
    const { b, rid, posted } = await signIn(PASSWORD);
    expect(posted.status, posted.text).to.equal(303);
    expect(await signedIn(b, rid)).to.equal(true);
    const { fresh, text } = await newEvents(before);
    expect(fresh).to.have.length(1);
    const [e] = fresh;
    expect(e.type).to.deep.include({ system: DCM, code: '110114' });
    expect(e.subtype[0]).to.deep.include({ system: DCM, code: '110122' });
    expect(e.outcome).to.equal('0');
    const user = e.agent.find((a: any) => a.requestor);
    expect(user.who).to.deep.equal({ reference: 'Practitioner/p1', identifier: { system: 'urn:vertebra:staff-username', value: 'dr.jones' } });
    expect(user.role[0].coding[0].code).to.equal('R8000');
    expect(e.agent.find((a: any) => !a.requestor).who.identifier).to.deep.equal({ system: 'urn:ietf:params:oauth:client-id', value: 'public-app' });
    expect(e.source.observer.display).to.equal('vertebra');
    // The sign-in request's X-Request-ID ties the event to the server's logs.
    const requestId = e.entity.find((x: any) => x.type?.code === 'XrequestId');
    expect(requestId?.what.identifier.value).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(text).to.not.contain(PASSWORD);
  });

  it('a failed sign-in leaves exactly one Login AuditEvent, outcome 4, with the username typed and no password', async () => {
    const { events: before } = await loginEvents();
    const { b, rid, posted } = await signIn(WRONG);
    expect(posted.status).to.equal(401);
    expect(await signedIn(b, rid)).to.equal(false);
    const { fresh, text } = await newEvents(before);
    expect(fresh).to.have.length(1);
    expect(fresh[0]).to.include({ outcome: '4', outcomeDesc: 'wrong username or password' });
    expect(fresh[0].agent.find((a: any) => a.requestor).who).to.deep.equal({ identifier: { system: 'urn:vertebra:staff-username', value: 'dr.jones' } });
    expect(text).to.not.contain(WRONG);
  });

  it('signing out leaves a Logout AuditEvent (110123)', async () => {
    const { b, rid, posted } = await signIn(PASSWORD);
    expect(posted.status).to.equal(303);
    const consent = await b.get(`/auth/authorize/continue?rid=${encodeURIComponent(rid)}`);
    const { events: before } = await loginEvents();
    const out = await b.post('/auth/logout', { csrf_token: hiddenField(consent.text, 'csrf_token') });
    expect(out.status, out.text).to.equal(200);
    const { fresh } = await newEvents(before);
    expect(fresh).to.have.length(1);
    expect(fresh[0].subtype[0].code).to.equal('110123');
    expect(fresh[0].agent.find((a: any) => a.requestor).who.reference).to.equal('Practitioner/p1');
  });

  it('when the audit cannot be written, the sign-in fails closed: a 503 page, no session, no code', async () => {
    const { events: before } = await loginEvents();
    failAudit = true;
    try {
      const ok = await signIn(PASSWORD);
      expect(ok.posted.status, ok.posted.text).to.equal(503);
      expect(ok.posted.text).to.contain('could not be recorded');
      expect(ok.posted.headers.get('location')).to.equal(null);
      expect(await signedIn(ok.b, ok.rid)).to.equal(false);
      const bad = await signIn(WRONG);
      expect(bad.posted.status).to.equal(503);
    } finally {
      failAudit = false;
    }
    expect((await newEvents(before)).fresh).to.have.length(0);
  });
});
