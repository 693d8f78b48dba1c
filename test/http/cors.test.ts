import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../support/server.js';

/**
 * CORS, as a browser-based SMART app on another origin needs it (what fhirclient does: GET the
 * discovery document, POST the code to the token endpoint, GET resources with an Authorization
 * header, which makes the browser send a preflight). The real-browser run of the same flow is
 * test/http/smart-browser.test.ts.
 */

const APP = 'http://app.example:3000';

describe('CORS for browser apps', function () {
  this.timeout(20_000);
  let dir: string;
  let server: TestServer;
  let origin: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vertebra-cors-'));
    const clientsFile = join(dir, 'clients.json');
    writeFileSync(clientsFile, JSON.stringify([{
      client_id: 'app', token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], redirect_uris: [`${APP}/index.html`],
      scope: 'launch/patient patient/*.rs',
    }]));
    server = await startTestServer({ smartClients: clientsFile, auth: 'smart' });
    origin = new URL(server.url).origin;
  });

  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const preflight = (url: string, method: string, headers?: string) => fetch(url, {
    method: 'OPTIONS',
    headers: { Origin: APP, 'Access-Control-Request-Method': method, ...(headers ? { 'Access-Control-Request-Headers': headers } : {}) },
  });

  describe('the FHIR API', () => {
    it('answers a preflight for a read with a Bearer token: 204, any origin, the method and the asked headers, no authentication', async () => {
      const res = await preflight(`${server.url}/Patient/9000000009`, 'GET', 'authorization,x-request-id');
      expect(res.status).to.equal(204);
      expect(res.headers.get('access-control-allow-origin')).to.equal('*');
      expect(res.headers.get('access-control-allow-methods')!.split(/,\s*/)).to.include.members(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
      expect(res.headers.get('access-control-allow-headers')).to.equal('authorization,x-request-id');
      expect(res.headers.get('access-control-allow-credentials')).to.equal(null);
      expect(Number(res.headers.get('access-control-max-age'))).to.be.greaterThan(0);
      expect(res.headers.get('www-authenticate')).to.equal(null);
      expect(await res.text()).to.equal('');
    });

    it('a preflight with a malformed Access-Control-Request-Headers allows no headers', async () => {
      const res = await preflight(`${server.url}/Patient`, 'POST', 'content-type, bad header\u00e9');
      expect(res.status).to.equal(204);
      expect(res.headers.get('access-control-allow-headers')).to.equal(null);
    });

    it('the discovery document is readable from another origin', async () => {
      const res = await fetch(`${server.url}/.well-known/smart-configuration`, { headers: { Origin: APP, Accept: 'application/json' } });
      expect(res.status).to.equal(200);
      expect(res.headers.get('access-control-allow-origin')).to.equal('*');
      expect((await res.json()).token_endpoint).to.equal(`${origin}/auth/token`);
    });

    it('errors are readable too, with WWW-Authenticate and the request ids exposed', async () => {
      const res = await fetch(`${server.url}/Patient/9000000009`, { headers: { Origin: APP } });
      expect(res.status).to.equal(401);
      expect(res.headers.get('access-control-allow-origin')).to.equal('*');
      const exposed = res.headers.get('access-control-expose-headers')!.split(/,\s*/);
      expect(exposed).to.include.members(['WWW-Authenticate', 'Location', 'ETag', 'Last-Modified', 'X-Request-ID', 'X-Correlation-ID']);
    });

    it('a request without Origin (not from a browser, or same-origin) gets no CORS headers', async () => {
      const res = await fetch(`${server.url}/metadata`);
      expect(res.status).to.equal(200);
      expect(res.headers.get('access-control-allow-origin')).to.equal(null);
    });

    it('an OPTIONS that is not a preflight is not answered as one', async () => {
      const res = await fetch(`${server.url}/Patient`, { method: 'OPTIONS', headers: { Origin: APP } });
      expect(res.status).to.not.equal(204);
      expect(res.headers.get('access-control-allow-methods')).to.equal(null);
    });
  });

  describe('the OAuth endpoints', () => {
    it('the token endpoint answers a preflight (POST) and its errors carry Access-Control-Allow-Origin', async () => {
      const pre = await preflight(`${origin}/auth/token`, 'POST', 'content-type');
      expect(pre.status).to.equal(204);
      expect(pre.headers.get('access-control-allow-origin')).to.equal('*');
      expect(pre.headers.get('access-control-allow-methods')).to.equal('POST');
      const res = await fetch(`${origin}/auth/token`, {
        method: 'POST', headers: { Origin: APP, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=authorization_code&code=nope&code_verifier=x&client_id=app&redirect_uri=' + encodeURIComponent(`${APP}/index.html`),
      });
      expect(res.status).to.equal(400);
      expect(res.headers.get('access-control-allow-origin')).to.equal('*');
      expect((await res.json()).error).to.equal('invalid_grant');
    });

    it('jwks.json is readable from another origin', async () => {
      const res = await fetch(`${origin}/auth/jwks.json`, { headers: { Origin: APP } });
      expect(res.status).to.equal(200);
      expect(res.headers.get('access-control-allow-origin')).to.equal('*');
    });

    it('the cookie-based sign-in pages get no CORS headers', async () => {
      const page = await fetch(`${origin}/auth/authorize?client_id=app`, { headers: { Origin: APP } });
      expect(page.headers.get('access-control-allow-origin')).to.equal(null);
      for (const path of ['/auth/login', '/auth/consent', '/auth/patient', '/auth/authorize']) {
        const pre = await preflight(`${origin}${path}`, 'POST', 'content-type');
        expect(pre.status, path).to.not.equal(204);
        expect(pre.headers.get('access-control-allow-origin'), path).to.equal(null);
      }
    });
  });

  describe('with AUTH=off', () => {
    it('the FHIR API still answers CORS', async () => {
      const open = await startTestServer({ auth: 'off' });
      try {
        const pre = await preflight(`${open.url}/Patient`, 'POST', 'content-type,prefer');
        expect(pre.status).to.equal(204);
        expect(pre.headers.get('access-control-allow-headers')).to.equal('content-type,prefer');
        const res = await fetch(`${open.url}/metadata`, { headers: { Origin: APP } });
        expect(res.headers.get('access-control-allow-origin')).to.equal('*');
      } finally {
        await open.stop();
      }
    });
  });
});
