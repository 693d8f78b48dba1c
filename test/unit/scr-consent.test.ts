import { expect } from 'chai';
import { FhirError } from '../../fhir/errors.js';
import { alertEvent } from '../../resources/composition/alert.js';
import { decideRead, parseAlert } from '../../resources/composition/consent.js';

/** The SCR consent decision and the alert pairs (nhs-spine.md §5.3, §5.4), without a server. */
describe('SCR consent decision and alerts', () => {
  const none = { permissionToView: false, legitimateRelationship: false };

  it('No refuses every read, emergency included; Ask and Yes need an assertion or a declared alert', () => {
    expect(decideRead('No', { permissionToView: true, legitimateRelationship: true, alert: { type: '2', reason: '5' } }).allow).to.equal(false);
    for (const permission of ['Ask', 'Yes'] as const) {
      expect(decideRead(permission, none).allow).to.equal(false);
      expect(decideRead(permission, { ...none, permissionToView: true })).to.deep.equal({ allow: true });
      expect(decideRead(permission, { ...none, legitimateRelationship: true })).to.deep.equal({ allow: true });
      expect(decideRead(permission, { ...none, alert: { type: '1', reason: '4' } })).to.deep.equal({ allow: true, alert: { type: '1', reason: '4' } });
    }
  });

  it('accepts exactly the permitted type/reason pairs', () => {
    const accepted: string[] = [];
    for (const type of ['1', '2', '3']) {
      for (const reason of ['0', '1', '2', '3', '4', '5', '6', '7']) {
        try {
          parseAlert(type, reason);
          accepted.push(`${type}/${reason}`);
        } catch (e) {
          expect(e).to.be.instanceOf(FhirError);
          expect((e as FhirError).status).to.equal(400);
        }
      }
    }
    expect(accepted).to.deep.equal(['1/1', '1/2', '1/3', '1/4', '1/6', '2/1', '2/2', '2/3', '2/5']);
    expect(parseAlert(undefined, undefined)).to.equal(undefined);
    expect(() => parseAlert('2', undefined)).to.throw(FhirError);
    expect(parseAlert('2', '5', '  why  ')).to.deep.equal({ type: '2', reason: '5', message: 'why' });
  });

  it('builds the alert AuditEvent with the SCR codings, the organisation and the SCR UUID', () => {
    const event = alertEvent({
      alert: { type: '2', reason: '5', message: 'm' }, nhsNumber: '9000000009', uuid: 'u', organization: 'A81001',
      clientId: 'app', user: { fhirUser: 'Practitioner/x', roles: ['R8000'] }, recorded: '2026-11-30T00:00:00Z',
    });
    expect(event.type).to.deep.equal({ system: 'https://fhir.nhs.uk/CodeSystem/SCR-AlertType', code: '2', display: 'Access Alert' });
    expect(event.subtype![0].code).to.equal('5');
    expect(event.agent.map((a) => a.who?.reference ?? a.who?.identifier?.value)).to.deep.equal(['Practitioner/x', 'app', 'Organization/A81001', 'Patient/9000000009']);
    expect(event.entity!.map((e) => e.what?.reference ?? e.what?.identifier?.value)).to.deep.equal(['Patient/9000000009', 'u']);
    expect(event.extension).to.deep.equal([{ url: 'https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage', valueString: 'm' }]);
  });
});
