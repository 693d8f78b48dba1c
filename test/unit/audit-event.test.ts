import { expect } from 'chai';
import { auditEvent, auditEventHooks, auditOutcome, CLIENT_ID_SYSTEM, JOB_ROLE_SYSTEM } from '../../resources/audit-event/index.js';
import { validateStructure } from '../../profiles/schema-validator.js';
import { FhirError } from '../../fhir/errors.js';

describe('unit: the AuditEvent builder (IHE BALP style) and the AuditEvent write guard', () => {
  const recorded = '2026-01-02T03:04:05.000Z';

  it('a read by a user through a client: rest/read, action R, outcome 0, client + user agents, patient and resource entities', () => {
    const e = auditEvent({
      interaction: 'read', recorded, status: 200, clientId: 'app-1',
      user: { fhirUser: 'Practitioner/dr', roles: ['R8000'] }, patient: '9990000018', resource: 'Observation/o1',
      purposeOfUse: ['TREAT', 'http://example.org/pou|AUDIT'], requestId: 'req-1',
    });
    expect(e.resourceType).to.equal('AuditEvent');
    expect(e.type).to.deep.include({ system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' });
    expect(e.subtype).to.deep.equal([{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }]);
    expect(e.action).to.equal('R');
    expect(e.recorded).to.equal(recorded);
    expect(e.outcome).to.equal('0');
    expect(e.agent).to.have.length(2);
    expect(e.agent[0].who).to.deep.equal({ identifier: { system: CLIENT_ID_SYSTEM, value: 'app-1' } });
    expect(e.agent[0].requestor).to.equal(true);
    expect(e.agent[1].who).to.deep.equal({ reference: 'Practitioner/dr' });
    expect(e.agent[1].role).to.deep.equal([{ coding: [{ system: JOB_ROLE_SYSTEM, code: 'R8000' }] }]);
    expect(e.source.observer.display).to.equal('vertebra');
    const [patient, resource, requestId] = e.entity!;
    expect(patient.what).to.deep.equal({ reference: 'Patient/9990000018' });
    expect(patient.role).to.deep.include({ code: '1', display: 'Patient' });
    expect(resource.what).to.deep.equal({ reference: 'Observation/o1' });
    expect(requestId.what).to.deep.equal({ identifier: { value: 'req-1' } });
    expect(e.purposeOfEvent).to.deep.equal([
      { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }] },
      { coding: [{ system: 'http://example.org/pou', code: 'AUDIT' }] },
    ]);
    expect(validateStructure(e as never)).to.deep.equal([]);
  });

  it('a search: action E, the query base64 with role 24; a Patient resource is not repeated as a second entity', () => {
    const e = auditEvent({ interaction: 'search-type', recorded, status: 200, clientId: 'c', patient: 'p1', query: 'family=smith&_count=5' });
    expect(e.action).to.equal('E');
    expect(e.entity).to.have.length(2);
    expect(e.entity![1].role).to.deep.include({ code: '24', display: 'Query' });
    expect(Buffer.from(e.entity![1].query!, 'base64').toString()).to.equal('family=smith&_count=5');
    const read = auditEvent({ interaction: 'read', recorded, status: 200, clientId: 'c', patient: 'p1', resource: 'Patient/p1' });
    expect(read.entity).to.have.length(1);
    expect(validateStructure(e as never)).to.deep.equal([]);
  });

  it('actions and outcomes: C/U/D, 4 for denials and 4xx (with the reason), 8 for 5xx; anonymous agent without a token', () => {
    expect(auditEvent({ interaction: 'create', recorded, status: 201 }).action).to.equal('C');
    expect(auditEvent({ interaction: 'patch', recorded, status: 200 }).action).to.equal('U');
    expect(auditEvent({ interaction: 'delete', recorded, status: 204 }).action).to.equal('D');
    expect(auditEvent({ interaction: 'operation', recorded, status: 200 }).action).to.equal('E');
    expect([auditOutcome(200), auditOutcome(403), auditOutcome(404), auditOutcome(503)]).to.deep.equal(['0', '4', '4', '8']);
    const denied = auditEvent({ interaction: 'read', recorded, status: 403, outcomeDesc: 'not allowed', anonymous: 'anonymous (AUTH=off)' });
    expect(denied.outcomeDesc).to.equal('not allowed');
    expect(denied.agent).to.deep.equal([{
      type: { coding: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150', display: 'Application' }] },
      who: { display: 'anonymous (AUTH=off)' }, requestor: true,
    }]);
    expect(auditEvent({ interaction: 'read', recorded, status: 200, outcomeDesc: 'x' }).outcomeDesc).to.equal(undefined);
    expect(validateStructure(denied as never)).to.deep.equal([]);
  });

  it('the guard refuses every client write with 405 and lets the server\'s own writes through', () => {
    for (const i of ['create', 'update', 'patch', 'delete'] as const) {
      let thrown: unknown;
      try { auditEventHooks.guardWrite!(i, 'client'); } catch (e) { thrown = e; }
      expect(thrown).to.be.instanceOf(FhirError);
      expect((thrown as FhirError).status).to.equal(405);
      expect(() => auditEventHooks.guardWrite!(i, 'server')).to.not.throw();
    }
  });
});
