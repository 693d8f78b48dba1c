import { expect } from 'chai';
import { samplePatient, startTestServer, type TestServer } from '../support/server.js';

describe('HTTP: $validate against the base R4 definitions', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server.stop(); });

  const validate = (path: string, body: unknown) => server.fhir(path, { method: 'POST', body });

  it('a valid resource: 200 with an informational outcome, and nothing is written', async () => {
    const res = await validate('/Patient/$validate', samplePatient());
    expect(res.status).to.equal(200);
    expect(res.json.resourceType).to.equal('OperationOutcome');
    expect(res.json.issue.map((i: any) => i.severity)).to.deep.equal(['information']);
    expect((await server.fhir('/Patient?_summary=count')).json.total).to.equal(0);
  });

  it('an invalid resource: still 200, with error issues pointing at the elements', async () => {
    const res = await validate('/Patient/$validate', samplePatient({ gender: 'robot', shoeSize: 9 }));
    expect(res.status).to.equal(200);
    const byPath = Object.fromEntries(res.json.issue.map((i: any) => [i.expression[0], i.severity]));
    expect(byPath).to.deep.equal({ 'Patient.gender': 'error', 'Patient.shoeSize': 'error' });
  });

  it('takes a Parameters body with resource, profile and mode parts', async () => {
    const ok = await validate('/Observation/$validate', {
      resourceType: 'Parameters',
      parameter: [
        { name: 'resource', resource: { resourceType: 'Observation', code: { text: 'x' } } },
        { name: 'profile', valueUri: 'http://hl7.org/fhir/StructureDefinition/Observation' },
      ],
    });
    expect(ok.status).to.equal(200);
    expect(ok.json.issue[0].expression).to.deep.equal(['Observation.status']);
  });

  it('instance level checks the id too; a profile it cannot check is a 400, not a false "valid"', async () => {
    const mismatch = await validate('/Patient/p9/$validate', samplePatient({ id: 'other' }));
    expect(mismatch.json.issue[0].severity).to.equal('error');
    const ukCore = await server.fhir('/Patient/$validate?profile=https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient', { method: 'POST', body: samplePatient() });
    expect(ukCore.status).to.equal(400);
    expect(ukCore.json.resourceType).to.equal('OperationOutcome');
  });

  it('is listed in the CapabilityStatement', async () => {
    const patient = (await server.fhir('/metadata')).json.rest[0].resource.find((r: any) => r.type === 'Patient');
    expect(patient.operation.map((o: any) => o.name)).to.include('validate');
  });
});
