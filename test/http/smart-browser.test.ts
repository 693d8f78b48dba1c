import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startTestServer, samplePatient, type TestServer } from '../support/server.js';

/**
 * A real browser runs a real SMART app: the unmodified browser build of `fhirclient` (the SMART
 * Health IT JavaScript client) in headless Chromium does a standalone launch against vertebra:
 * discovery, PKCE authorization request, the staff sign-in page (real form, real CSRF token,
 * real session cookie), the patient picker, consent, the code exchange at the token endpoint
 * and a Patient read with the Bearer token. The app is served from another origin (and another
 * site: `localhost` against the server's `127.0.0.1`), so every call the library makes is a
 * cross-origin fetch that the browser lets through only when vertebra answers CORS properly.
 *
 * Chromium is Debian's `chromium` package (.ci/run installs it when it can); without it the
 * suite skips, saying why.
 */

const CHROMIUM = '/usr/bin/chromium';
const PASSWORD = 'correct horse battery staple';
const SECRET = 'a-long-enough-client-secret-0123';
const CLIENT_ID = 'growth-chart';
const SCOPE = 'launch/patient openid fhirUser patient/Patient.rs';

/** The unmodified UMD build that defines the global `FHIR` (fhirclient/build/fhir-client.js). */
function fhirClientBundle(): Buffer {
  return readFileSync(createRequire(import.meta.url).resolve('fhirclient/build/fhir-client.js'));
}

/** The tiny SMART app: launch.html starts the authorization, index.html finishes it and reads the Patient. */
function appPages(iss: string, redirectUri: string): Record<string, string> {
  const config = JSON.stringify({ clientId: CLIENT_ID, scope: SCOPE, iss, redirectUri }).replace(/</g, '\\u003c');
  return {
    '/launch.html': `<!DOCTYPE html><html><head><meta charset="utf-8"><title>launch</title>
<script src="/fhir-client.js"></script></head><body><p id="status">launching</p>
<script>FHIR.oauth2.authorize(${config}).catch(function (e) { document.getElementById('status').textContent = 'error: ' + e; });</script>
</body></html>`,
    '/index.html': `<!DOCTYPE html><html><head><meta charset="utf-8"><title>app</title>
<script src="/fhir-client.js"></script></head><body><pre id="result"></pre><pre id="error"></pre>
<script>
FHIR.oauth2.ready()
  .then(function (client) {
    return client.patient.read().then(function (p) {
      var name = (p.name && p.name[0]) || {};
      document.getElementById('result').textContent = JSON.stringify({
        contextPatient: client.patient.id,
        fhirUser: client.user.fhirUser,
        resourceType: p.resourceType,
        id: p.id,
        name: (name.given || []).join(' ') + ' ' + (name.family || ''),
      });
    });
  })
  .catch(function (e) { document.getElementById('error').textContent = 'error: ' + (e && e.message || e); });
</script></body></html>`,
  };
}

/** A static server for the app on its own random port. */
async function startAppServer(): Promise<{ server: Server; port: number; setPages(pages: Record<string, string>): void }> {
  const bundle = fhirClientBundle();
  let pages: Record<string, string> = {};
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/fhir-client.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' }).end(bundle);
    } else if (pages[path]) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(pages[path]);
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    }
  });
  // No host: listens on both IPv6 and IPv4 loopback, whichever `localhost` resolves to first.
  await new Promise<void>((resolve) => server.listen(0, resolve));
  return { server, port: (server.address() as AddressInfo).port, setPages: (p) => { pages = p; } };
}

describe('SMART standalone launch in a real browser (fhirclient in headless Chromium)', function () {
  this.timeout(30_000);
  let dir: string;
  let server: TestServer | undefined;
  let app: Awaited<ReturnType<typeof startAppServer>> | undefined;
  let browser: Browser | undefined;
  let appOrigin: string;

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`skipped: ${CHROMIUM} is not installed; .ci/run installs it`);
      this.skip();
    }
    app = await startAppServer();
    appOrigin = `http://localhost:${app.port}`;
    dir = mkdtempSync(join(tmpdir(), 'vertebra-browser-'));
    const clientsFile = join(dir, 'clients.json');
    writeFileSync(clientsFile, JSON.stringify([
      {
        client_id: CLIENT_ID, client_name: 'Growth Chart (browser test)', token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code'], redirect_uris: [`${appOrigin}/index.html`], scope: SCOPE,
      },
      { client_id: 'seeder', client_secret: SECRET, grant_types: ['client_credentials'], scope: 'system/Patient.cruds' },
    ]));
    server = await startTestServer({ smartClients: clientsFile, auth: 'smart', pds: true });
    app.setPages(appPages(server.url, `${appOrigin}/index.html`));

    await server.auth!.accounts.put({
      username: 'dr.browser', password: PASSWORD, fhirUser: 'Practitioner/p1', roles: ['R8000'], patients: ['9000000009', '9000000017'],
    });
    const origin = new URL(server.url).origin;
    const seed = await fetch(`${origin}/auth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${Buffer.from(`seeder:${SECRET}`).toString('base64')}` },
      body: 'grant_type=client_credentials&scope=system%2FPatient.cruds',
    });
    const { access_token: token } = await seed.json() as { access_token: string };
    expect(seed.status).to.equal(200);
    for (const [id, family, given] of [['9000000009', 'Smith', 'Jane'], ['9000000017', 'Okafor', 'Chidi']]) {
      const res = await server.fhir(`/Patient/${id}`, {
        method: 'PUT', headers: { Authorization: `Bearer ${token}` },
        body: samplePatient({ id, identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: id }], name: [{ use: 'official', family, given: [given] }] }),
      });
      expect(res.status, res.text).to.be.oneOf([200, 201]);
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync'],
    });
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (app) await new Promise<void>((resolve) => { app!.server.close(() => resolve()); app!.server.closeAllConnections(); });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('launch.html → sign-in page → patient picker → consent → index.html shows the chosen Patient', async () => {
    const context = await browser!.newContext(); // fresh profile: no cookies, no storage
    // Nothing leaves this machine: the nhsuk-frontend stylesheet asks for its web fonts at
    // assets.nhs.uk (the login page's CSP allows that host), so such requests are refused here.
    const blocked = new Set<string>();
    await context.route((u) => !['localhost', '127.0.0.1'].includes(u.hostname), (route) => {
      blocked.add(route.request().url());
      return route.abort('blockedbyclient');
    });
    const page = await context.newPage();
    const log: string[] = [];
    const errors: string[] = [];
    page.on('console', (m) => {
      log.push(`console.${m.type()}: ${m.text()}`);
      if (m.type() === 'error' && !blocked.has(m.location().url)) errors.push(m.text());
    });
    page.on('pageerror', (e) => {
      log.push(`pageerror: ${e.message}`);
      errors.push(e.message);
    });
    page.on('requestfailed', (r) => log.push(`requestfailed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`));
    const origin = new URL(server!.url).origin;
    const seen: string[] = [];
    page.on('request', (r) => seen.push(`${r.method()} ${r.url().replace(/\?.*$/, '')}`));
    const tokenResponse = page.waitForResponse((r) => r.url() === `${origin}/auth/token` && r.request().method() === 'POST');
    const why = () => `\n${log.join('\n')}\nrequests:\n${seen.join('\n')}`;

    try {
      await page.goto(`${appOrigin}/launch.html`);
      // fhirclient discovered the endpoints and sent the browser to the sign-in page.
      await page.waitForURL((u) => u.origin === origin && u.pathname === '/auth/authorize', { timeout: 10_000 })
        .catch((e) => { throw new Error(`${e.message}${why()}`); });
      const authorize = new URL(page.url());
      expect(authorize.searchParams.get('code_challenge_method')).to.equal('S256');
      expect(authorize.searchParams.get('aud')).to.equal(server!.url);
      await page.fill('#username', 'dr.browser');
      await page.fill('#password', PASSWORD);
      await Promise.all([page.waitForURL(/\/auth\/authorize\/continue/), page.click('button[type=submit]')]);

      // Two allowed patients: the picker.
      expect(await page.title()).to.match(/Choose a patient/);
      expect(await page.textContent('main')).to.contain('OKAFOR, Chidi');
      await page.check('input[name=patient][value="9000000017"]');
      await Promise.all([page.waitForURL(/\/auth\/authorize\/continue/), page.click('button[type=submit]')]);

      expect(await page.title()).to.match(/Allow access/);
      await Promise.all([page.waitForURL((u) => u.origin === appOrigin && u.pathname === '/index.html'), page.click('button[value=allow]')]);

      await page.waitForFunction(() => document.getElementById('result')!.textContent || document.getElementById('error')!.textContent, undefined, { timeout: 10_000 });
      const error = await page.textContent('#error');
      expect(error, `the app failed${why()}`).to.equal('');
      const result = JSON.parse((await page.textContent('#result'))!);
      expect(result).to.deep.equal({
        // fhirclient reads fhirUser from the id_token and keeps its last two segments.
        contextPatient: '9000000017', fhirUser: 'Practitioner/p1',
        resourceType: 'Patient', id: '9000000017', name: 'Chidi Okafor',
      });
      // The token response itself carried the launch context.
      const token = await (await tokenResponse).json();
      // Only the refused font requests failed: no CORS refusal, no script error, no CSP violation.
      expect(errors, `errors in the browser${why()}`).to.deep.equal([]);
      expect([...blocked].every((u) => u.startsWith('https://assets.nhs.uk/fonts/')), [...blocked].join('\n')).to.equal(true);
      expect(token).to.include({ patient: '9000000017', token_type: 'Bearer', fhirUser: `${server!.url}/Practitioner/p1` });
      expect(token.scope.split(' ')).to.have.members(SCOPE.split(' '));
    } finally {
      await context.close();
    }
  });
});
