import { expect } from 'chai';
import { fhirFetch, startTestServer, type TestServer } from '../support/server.js';

describe('HTTP: health probes outside /fhir', () => {
  let server: TestServer;
  let origin: string;
  before(async () => {
    server = await startTestServer();
    origin = server.url.replace(/\/fhir$/, '');
  });
  after(async () => { await server.stop(); });

  it('GET /health/live is always 200', async () => {
    const res = await fhirFetch(origin, '/health/live');
    expect(res.status).to.equal(200);
    expect(res.json).to.deep.equal({ status: 'live' });
    expect(res.headers.get('x-request-id')).to.be.a('string');
  });

  it('GET /health/ready is 200 when the store answers', async () => {
    const res = await fhirFetch(origin, '/health/ready');
    expect(res.status).to.equal(200);
    expect(res.json).to.deep.equal({ status: 'ready', store: 'sqlite' });
  });

  it('GET /health/ready is a 503 OperationOutcome (without the cause) when the store fails, and live stays 200', async () => {
    const original = server.engine.ping.bind(server.engine);
    server.engine.ping = async () => { throw new Error('secret store detail'); };
    try {
      const res = await fhirFetch(origin, '/health/ready');
      expect(res.status).to.equal(503);
      expect(res.headers.get('content-type')).to.match(/^application\/fhir\+json/);
      expect(res.json.resourceType).to.equal('OperationOutcome');
      expect(res.json.issue[0]).to.include({ severity: 'error', code: 'transient' });
      expect(res.text).to.not.include('secret store detail');
      expect((await fhirFetch(origin, '/health/live')).status).to.equal(200);
    } finally {
      server.engine.ping = original;
    }
    expect((await fhirFetch(origin, '/health/ready')).status).to.equal(200);
  });

  it('the probes are not FHIR endpoints: /fhir/health/live is not one of them', async () => {
    expect((await server.fhir('/health/live')).status).to.not.equal(200);
  });
});
