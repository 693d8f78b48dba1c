import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server.js';

const SDS_USER = 'https://fhir.nhs.uk/Id/sds-user-id';
const ROLE_PROFILE = 'https://fhir.nhs.uk/Id/sds-role-profile-id';
const JOB_ROLE_CODE = 'https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode';
const JOB_ROLE_NAME = 'https://fhir.hl7.org.uk/CodeSystem/UKCore-SDSJobRoleName';
const SPINE = 'https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode';

function practitioner(id: string, identifier: { system: string; value?: string }[]): Record<string, unknown> {
  return { resourceType: 'Practitioner', id, identifier, name: [{ family: 'Testwell', given: ['Sam'], prefix: ['Dr'] }] };
}

function role(id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    resourceType: 'PractitionerRole', id,
    identifier: [{ system: ROLE_PROFILE, value: '910000000001' }],
    practitioner: { reference: 'Practitioner/555086689106' },
    organization: { reference: 'Organization/Y90001' },
    code: [{ coding: [{ system: JOB_ROLE_CODE, code: 'R8000' }, { system: JOB_ROLE_NAME, code: 'R8000', display: 'Clinical Practitioner Access Role' }] }],
    ...overrides,
  };
}

describe('HTTP: SDS Practitioner and PractitionerRole', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    const org = await server.fhir('/Organization/Y90001', {
      method: 'PUT',
      body: { resourceType: 'Organization', id: 'Y90001', identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'Y90001' }], name: 'ELM TREE SURGERY' },
    });
    expect(org.status, org.text).to.equal(201);
    const other = await server.fhir('/Organization/Y90002', {
      method: 'PUT',
      body: { resourceType: 'Organization', id: 'Y90002', identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'Y90002' }], name: 'OAK PHARMACY' },
    });
    expect(other.status, other.text).to.equal(201);
  });
  after(async () => { await server.stop(); });

  /** Asserts a 422 whose one issue is Spine-coded `code` and points at `expression`. */
  function expectRefused(res: { status: number; json: any; text: string }, expression: string, code = 'INVALID_VALUE'): void {
    expect(res.status, res.text).to.equal(422);
    expect(res.json.resourceType).to.equal('OperationOutcome');
    const issue = res.json.issue.find((i: any) => i.expression?.includes(expression));
    expect(issue, `no issue at ${expression}: ${res.text}`).to.not.equal(undefined);
    expect(issue.details.coding[0]).to.include({ system: SPINE, code });
  }

  it('accepts a Practitioner with an SDS user id and well-formed registrations', async () => {
    const res = await server.fhir('/Practitioner/555086689106', {
      method: 'PUT',
      body: practitioner('555086689106', [
        { system: SDS_USER, value: '555086689106' },
        { system: 'https://fhir.hl7.org.uk/Id/gmc-number', value: '6095103' },
        { system: 'https://fhir.hl7.org.uk/Id/gmp-number', value: 'G1234567' },
      ]),
    });
    expect(res.status, res.text).to.equal(201);
    const nurse = await server.fhir('/Practitioner', {
      method: 'POST',
      body: practitioner('x', [
        { system: SDS_USER, value: '555086689107' },
        { system: 'https://fhir.hl7.org.uk/Id/nmc-number', value: '12A3456B' },
        { system: 'https://fhir.hl7.org.uk/Id/hcpc-number', value: 'CH001234' },
        { system: 'https://fhir.hl7.org.uk/Id/gphc-number', value: '2095103' },
        { system: 'https://example.org/local-staff-number', value: 'anything goes' },
      ]),
    });
    expect(nurse.status, nurse.text).to.equal(201);
  });

  const badPractitioners: [string, { system: string; value?: string }, string][] = [
    ['an SDS user id that is not 12 digits', { system: SDS_USER, value: 'P12345678' }, 'INVALID_VALUE'],
    ['a GMC number of 8 digits', { system: 'https://fhir.hl7.org.uk/Id/gmc-number', value: 'C12345678' }, 'INVALID_VALUE'],
    ['a GMP number of 8 digits', { system: 'https://fhir.hl7.org.uk/Id/gmp-number', value: 'G12345678' }, 'INVALID_VALUE'],
    ['an NMC PIN of 7 characters', { system: 'https://fhir.hl7.org.uk/Id/nmc-number', value: '12A3456' }, 'INVALID_VALUE'],
    ['a GPhC number not starting with 2', { system: 'https://fhir.hl7.org.uk/Id/gphc-number', value: '1095103' }, 'INVALID_VALUE'],
    ['an HCPC number with one letter', { system: 'https://fhir.hl7.org.uk/Id/hcpc-number', value: 'C001234' }, 'INVALID_VALUE'],
    ['a GMC identifier without a value', { system: 'https://fhir.hl7.org.uk/Id/gmc-number' }, 'MISSING_VALUE'],
  ];
  for (const [what, identifier, code] of badPractitioners) {
    it(`refuses ${what}: 422 pointing at Practitioner.identifier[1].value`, async () => {
      const body = practitioner('x', [{ system: SDS_USER, value: '555086689199' }, identifier]);
      expectRefused(await server.fhir('/Practitioner', { method: 'POST', body }), 'Practitioner.identifier[1].value', code);
      // The same rule holds for update.
      const put = await server.fhir('/Practitioner/555086689199', { method: 'PUT', body: { ...body, id: '555086689199' } });
      expectRefused(put, 'Practitioner.identifier[1].value', code);
    });
  }

  it('reports every bad identifier at once, and refuses two SDS user ids', async () => {
    const res = await server.fhir('/Practitioner', {
      method: 'POST',
      body: practitioner('x', [
        { system: SDS_USER, value: '555086689106' },
        { system: SDS_USER, value: '555086689107' },
        { system: 'https://fhir.hl7.org.uk/Id/gphc-number', value: 'nope' },
      ]),
    });
    expectRefused(res, 'Practitioner.identifier[1]', 'TOO_MANY_VALUES_SUBMITTED');
    expectRefused(res, 'Practitioner.identifier[2].value');
    expect((await server.fhir(`/Practitioner?identifier=${SDS_USER}|555086689107`)).json.entry).to.have.length(1); // only the earlier nurse
  });

  it('finds a Practitioner by SDS user id', async () => {
    const res = await server.fhir(`/Practitioner?identifier=${encodeURIComponent(`${SDS_USER}|555086689106`)}`);
    expect(res.status).to.equal(200);
    expect(res.json.entry.map((e: any) => e.resource.id)).to.deep.equal(['555086689106']);
    const none = await server.fhir(`/Practitioner?identifier=${encodeURIComponent(`${SDS_USER}|555086689100`)}`);
    expect(none.json.entry ?? []).to.have.length(0);
  });

  it('accepts an SDS role profile with practitioner, organization and job roles (bare and triple form)', async () => {
    const res = await server.fhir('/PractitionerRole/910000000001', { method: 'PUT', body: role('910000000001') });
    expect(res.status, res.text).to.equal(201);
    const triple = await server.fhir('/PractitionerRole/910000000002', {
      method: 'PUT',
      body: role('910000000002', {
        identifier: [{ system: ROLE_PROFILE, value: '910000000002' }],
        organization: { reference: 'Organization/Y90002' },
        code: [{ coding: [{ system: JOB_ROLE_CODE, code: 'S8000:G8000:R1290' }, { system: JOB_ROLE_NAME, code: 'R1290', display: 'Pharmacist' }] }],
      }),
    });
    expect(triple.status, triple.text).to.equal(201);
    // An organization named by ODS identifier only, as in UK Core's snippet, is enough.
    const byIdentifier = await server.fhir('/PractitionerRole', {
      method: 'POST',
      body: role('x', { organization: { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'RD8' } } }),
    });
    expect(byIdentifier.status, byIdentifier.text).to.equal(201);
    // Without an SDS role profile id, the references are optional.
    const plain = await server.fhir('/PractitionerRole', { method: 'POST', body: { resourceType: 'PractitionerRole', active: true } });
    expect(plain.status, plain.text).to.equal(201);
  });

  it('refuses an SDS role profile id that is not 12 digits', async () => {
    const res = await server.fhir('/PractitionerRole', { method: 'POST', body: role('x', { identifier: [{ system: ROLE_PROFILE, value: 'URP-1' }] }) });
    expectRefused(res, 'PractitionerRole.identifier[0].value');
  });

  it('refuses an SDS role profile without practitioner or organization', async () => {
    const { practitioner: _p, organization: _o, ...bare } = role('x');
    const res = await server.fhir('/PractitionerRole', { method: 'POST', body: bare });
    expectRefused(res, 'PractitionerRole.practitioner', 'MISSING_VALUE');
    expectRefused(res, 'PractitionerRole.organization', 'MISSING_VALUE');
  });

  it('refuses references to the wrong type', async () => {
    const res = await server.fhir('/PractitionerRole', { method: 'POST', body: role('x', { practitioner: { reference: 'Patient/9990000018' } }) });
    expectRefused(res, 'PractitionerRole.practitioner.reference');
  });

  for (const [system, code] of [[JOB_ROLE_CODE, '8000'], [JOB_ROLE_NAME, 'R800'], [JOB_ROLE_CODE, 'S8000:R8000'], [JOB_ROLE_NAME, 'Clinical Practitioner']]) {
    it(`refuses job role code '${code}' (${system.split('/').pop()}) with 422 at its coding`, async () => {
      const body = role('x', { code: [{ text: 'GP' }, { coding: [{ system: 'http://snomed.info/sct', code: '62247001' }, { system, code }] }] });
      expectRefused(await server.fhir('/PractitionerRole', { method: 'POST', body }), 'PractitionerRole.code[1].coding[1].code');
    });
  }

  it('searches PractitionerRole by practitioner, organization and role, with _include of the practitioner', async () => {
    const ids = (res: any) => (res.json.entry ?? []).filter((e: any) => e.search?.mode !== 'include').map((e: any) => e.resource.id).sort();
    const byPractitioner = await server.fhir('/PractitionerRole?practitioner=Practitioner/555086689106');
    expect(byPractitioner.status, byPractitioner.text).to.equal(200);
    expect(ids(byPractitioner)).to.include.members(['910000000001', '910000000002']);
    expect(ids(await server.fhir('/PractitionerRole?organization=Organization/Y90002'))).to.deep.equal(['910000000002']);
    expect(ids(await server.fhir('/PractitionerRole?organization=Y90001&_id=910000000001,910000000002'))).to.deep.equal(['910000000001']);
    expect(ids(await server.fhir(`/PractitionerRole?role=${encodeURIComponent(`${JOB_ROLE_NAME}|R1290`)}`))).to.deep.equal(['910000000002']);
    expect(ids(await server.fhir('/PractitionerRole?role=R8000&organization=Y90001'))).to.deep.equal(['910000000001']);

    const included = await server.fhir('/PractitionerRole?organization=Y90002&_include=PractitionerRole:practitioner');
    expect(included.status, included.text).to.equal(200);
    const entries = included.json.entry.map((e: any) => [e.resource.resourceType, e.resource.id, e.search?.mode]);
    expect(entries).to.deep.include(['PractitionerRole', '910000000002', 'match']);
    expect(entries).to.deep.include(['Practitioner', '555086689106', 'include']);
    expect(entries).to.have.length(2);
  });

  it('finds a PractitionerRole by its SDS role profile id', async () => {
    const res = await server.fhir(`/PractitionerRole?identifier=${encodeURIComponent(`${ROLE_PROFILE}|910000000002`)}`);
    expect(res.json.entry.map((e: any) => e.resource.id)).to.deep.equal(['910000000002']);
  });
});
