import { expect } from 'chai';
import { loginAuditEvent, STAFF_USERNAME_SYSTEM } from '../../resources/audit-event/login.js';
import { CLIENT_ID_SYSTEM, JOB_ROLE_SYSTEM } from '../../resources/audit-event/index.js';
import { validateStructure } from '../../profiles/schema-validator.js';

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';

describe('unit: the sign-in AuditEvent builder (DCM 110114 User Authentication)', () => {
  const recorded = '2026-01-02T03:04:05.000Z';

  it('a successful IdP sign-in: Login, outcome 0, the user by fhirUser and SDS id with the role, the client, the role profile', () => {
    const e = loginAuditEvent({
      action: 'login', success: true, recorded, clientId: 'app', requestId: 'r1',
      user: { username: 'oidc:555086689106', fhirUser: 'Practitioner/p1', roles: ['R8000'], sdsUserId: '555086689106', roleProfileId: '555254242105', orgCode: 'A83008' },
    });
    expect(e.type).to.deep.equal({ system: DCM, code: '110114', display: 'User Authentication' });
    expect(e.subtype).to.deep.equal([{ system: DCM, code: '110122', display: 'Login' }]);
    expect(e).to.include({ action: 'E', outcome: '0', recorded });
    expect(e.agent[0]).to.deep.include({ requestor: true, who: { reference: 'Practitioner/p1', identifier: { system: 'https://fhir.nhs.uk/Id/sds-user-id', value: '555086689106' } } });
    expect(e.agent[0].role).to.deep.equal([{ coding: [{ system: JOB_ROLE_SYSTEM, code: 'R8000' }] }]);
    expect(e.agent[1]).to.deep.include({ requestor: false, who: { identifier: { system: CLIENT_ID_SYSTEM, value: 'app' } } });
    expect(e.entity![0].what).to.deep.equal({ identifier: { system: 'https://fhir.nhs.uk/Id/sds-role-profile-id', value: '555254242105' } });
    expect(e.entity![0].detail).to.deep.equal([{ type: 'organisation', valueString: 'https://fhir.nhs.uk/Id/ods-organization-code|A83008' }]);
    expect(e.source.observer.display).to.equal('vertebra');
    expect(e).to.not.have.property('outcomeDesc');
    expect(validateStructure(e as never)).to.deep.equal([]);
  });

  it('a failed local sign-in: outcome 4 with the reason, the typed username as identifier; a logout is 110123', () => {
    const e = loginAuditEvent({ action: 'login', success: false, recorded, clientId: 'app', user: { username: 'dr.who' }, outcomeDesc: 'wrong username or password' });
    expect(e).to.include({ outcome: '4', outcomeDesc: 'wrong username or password' });
    expect(e.agent[0].who).to.deep.equal({ identifier: { system: STAFF_USERNAME_SYSTEM, value: 'dr.who' } });
    expect(validateStructure(e as never)).to.deep.equal([]);
    const out = loginAuditEvent({ action: 'logout', success: true, recorded });
    expect(out.subtype![0].code).to.equal('110123');
    expect(out.agent).to.have.length(1);
    expect(out.agent[0].who).to.deep.equal({ display: 'unknown user' });
  });
});
