import { expect } from 'chai';
import { resourceTypes } from '../../fhir/definitions.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('HTTP: /metadata and every R4 resource type', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server.stop(); });

  it('serves an R4 CapabilityStatement listing every resource type with the interactions the server has', async () => {
    const { status, json } = await server.fhir('/metadata');
    expect(status).to.equal(200);
    expect(json.resourceType).to.equal('CapabilityStatement');
    expect(json.fhirVersion).to.equal('4.0.1');
    expect(json.kind).to.equal('instance');
    expect(json.format).to.include('application/fhir+json');
    const rest = json.rest[0];
    expect(rest.mode).to.equal('server');
    expect(rest.resource).to.have.length(146);
    const patient = rest.resource.find((r: any) => r.type === 'Patient');
    expect(patient.interaction.map((i: any) => i.code).sort()).to.deep.equal(
      ['create', 'delete', 'history-instance', 'history-type', 'patch', 'read', 'search-type', 'update', 'vread']);
    expect(patient.versioning).to.equal('versioned-update');
    expect(patient.updateCreate).to.equal(true);
    expect(patient.conditionalRead).to.equal('full-support');
    expect(patient.conditionalCreate).to.equal(true);
    expect(patient.conditionalUpdate).to.equal(true);
    expect(patient.conditionalDelete).to.equal('single');
    expect(rest.interaction.map((i: any) => i.code)).to.deep.equal(['transaction', 'batch', 'history-system', 'search-system']);
  });

  it('lists the operations of the route table, the Spine modules\' own routes included', async () => {
    const rest = (await server.fhir('/metadata')).json.rest[0];
    const names = (ops: any[] | undefined) => (ops ?? []).map((o: any) => o.name);
    expect(names(rest.operation)).to.include.members(['reindex', 'process-message', 'setPermission']);
    expect(names(rest.resource.find((r: any) => r.type === 'Composition').operation)).to.include('document');
    expect(names(rest.resource.find((r: any) => r.type === 'Task').operation)).to.include('release');
  });

  it('the CapabilityStatement is itself valid against the R4 schema (round-trips through a create)', async () => {
    const { json } = await server.fhir('/metadata');
    delete json.id;
    const res = await server.fhir('/CapabilityStatement', { method: 'POST', body: json });
    expect(res.status, JSON.stringify(res.json?.issue?.slice(0, 3))).to.equal(201);
  });

  it('supports create, read, history and delete on every R4 resource type', async function () {
    this.timeout(60_000);
    const failures: string[] = [];
    for (const type of resourceTypes().keys()) {
      // The smallest body: types with required elements must name what is missing (400 'required').
      const created = await server.fhir(`/${type}`, { method: 'POST', body: { resourceType: type, id: 'ignored' } });
      if (type === 'AuditEvent') { // written by the server's audit trail only: read and search through the API
        if (created.status !== 405) failures.push(`${type}: create ${created.status} (405 expected)`);
        continue;
      }
      if (created.status === 400) {
        if (!created.json.issue.every((i: any) => i.code === 'required')) failures.push(`${type}: ${JSON.stringify(created.json.issue)}`);
        expect((await server.fhir(`/${type}/x1`)).status, type).to.equal(404);
        continue;
      }
      if (created.status !== 201) { failures.push(`${type}: create ${created.status}`); continue; }
      const id = created.json.id;
      if ((await server.fhir(`/${type}/${id}`)).status !== 200) failures.push(`${type}: read`);
      if ((await server.fhir(`/${type}/${id}`, { method: 'PUT', body: { resourceType: type, id } })).status !== 200) failures.push(`${type}: update`);
      if ((await server.fhir(`/${type}/${id}/_history`)).json.total !== 2) failures.push(`${type}: history`);
      if ((await server.fhir(`/${type}/${id}`, { method: 'DELETE' })).status !== 200) failures.push(`${type}: delete`);
    }
    expect(failures).to.deep.equal([]);
  });
});
