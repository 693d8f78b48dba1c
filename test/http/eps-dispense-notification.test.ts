import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { startTestServer, type FhirResponse, type TestServer } from '../support/server.js';
import { signToken } from '../support/tokens.js';
import { cancellation, dispenseNotification, prescriptionOrder, releaseRequest, returnTask, withdrawTask, type Prescription } from '../support/eps.js';

const SPINE = 'https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode';
const spineCode = (res: FhirResponse) => res.json?.issue?.[0]?.details?.coding?.find((c: any) => c.system === SPINE)?.code;
const lineStatus = (mr: any) => mr.extension.find((e: any) => e.url.endsWith('Extension-EPS-DispensingInformation')).extension[0].valueCoding.code;

/** EPS dispense notifications (issue 7): line-item and prescription statuses, amendments, withdrawal. */
describe('HTTP: EPS dispense-notification, amend and withdraw', function () {
  this.timeout(120_000);
  let server: TestServer;
  let prescriber: string;
  let admin: string;
  let fcg71: string;
  let other: string;

  const as = (token: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    server.fhir(path, { method: body === undefined ? 'GET' : 'POST', body, headers: { Authorization: `Bearer ${token}`, ...headers } });
  /** A prescription (3 items by default) released to FCG71. */
  const released = async (items = 3): Promise<Prescription> => {
    const p = prescriptionOrder({ items, nominated: null });
    expect((await as(prescriber, '/$process-message', p.bundle)).status).to.equal(200);
    const res = await as(fcg71, '/Task/$release', releaseRequest('FCG71', p.shortId));
    expect(res.status, res.text).to.equal(200);
    return p;
  };
  const state = async (p: Prescription) => {
    const task = (await as(admin, `/Task/${p.longId}`)).json;
    const lines = await Promise.all(p.lineIds.map(async (id) => lineStatus((await as(admin, `/MedicationRequest/${id}`)).json)));
    return { task: task.status, business: task.businessStatus.coding[0].code, lines };
  };
  const dn = async (body: any, token = fcg71, headers: Record<string, string> = {}) => as(token, '/$process-message', body, headers);

  before(async () => {
    server = await startTestServer({ auth: 'smart' });
    prescriber = await signToken(server, 'user/MedicationRequest.cruds', { fhirUser: 'Practitioner/555086689106', roles: ['R8000'] });
    admin = await signToken(server, 'system/*.cruds');
    fcg71 = await signToken(server, 'system/Task.cru system/MedicationRequest.rs system/MedicationDispense.cr', { client_id: 'pharmacy-FCG71', org_code: 'FCG71' });
    other = await signToken(server, 'system/Task.cru system/MedicationRequest.rs system/MedicationDispense.cr', { client_id: 'pharmacy-FCG80', org_code: 'FCG80' });
  });
  after(async () => { await server.stop(); });

  it('a partial dispense makes the prescription 0003 With Dispenser - Active; the rest completes it (0006)', async () => {
    const p = await released();
    const first = dispenseNotification(p, 'FCG71', [{ line: 0, type: '0001' }, { line: 1, type: '0003' }], '0003');
    const res = await dn(first);
    expect(res.status, res.text).to.equal(200);
    expect(await state(p)).to.deep.equal({ task: 'in-progress', business: '0003', lines: ['0001', '0003', '0008'] });
    const stored = await as(admin, `/MedicationDispense?prescription=MedicationRequest/${p.lineIds[0]}`);
    expect(stored.json.entry).to.have.length(1);
    expect(stored.json.entry[0].resource.subject.reference).to.equal(`Patient/${p.nhsNumber}`);
    expect(stored.json.entry[0].resource.performer[0].actor.reference).to.equal('Organization/FCG71');
    const rest = await dn(dispenseNotification(p, 'FCG71', [{ line: 1, type: '0001' }, { line: 2, type: '0002' }], '0006'));
    expect(rest.status, rest.text).to.equal(200);
    expect(await state(p)).to.deep.equal({ task: 'completed', business: '0006', lines: ['0001', '0001', '0002'] });
    const mr = (await as(admin, `/MedicationRequest/${p.lineIds[0]}`)).json;
    expect(mr.status).to.equal('completed');
  });

  it('all items not dispensed: 0007 Not Dispensed', async () => {
    const p = await released(1);
    expect((await dn(dispenseNotification(p, 'FCG71', [{ line: 0, type: '0002' }], '0007'))).status).to.equal(200);
    expect(await state(p)).to.deep.include({ task: 'completed', business: '0007' });
  });

  it('refuses a declared prescription status the items do not call for, and a dispensed item dispensed again', async () => {
    const p = await released(2);
    const wrong = await dn(dispenseNotification(p, 'FCG71', [{ line: 0, type: '0001' }], '0006'));
    expect(wrong.status).to.equal(400);
    expect(spineCode(wrong)).to.equal('PRESCRIPTION_INVALID_STATE_TRANSITION');
    expect(await state(p)).to.deep.equal({ task: 'accepted', business: '0002', lines: ['0008', '0008'] });
    expect((await dn(dispenseNotification(p, 'FCG71', [{ line: 0, type: '0001' }], '0003'))).status).to.equal(200);
    const again = await dn(dispenseNotification(p, 'FCG71', [{ line: 0, type: '0001' }], '0003'));
    expect(spineCode(again)).to.equal('PRESCRIPTION_INVALID_LINE_STATE_TRANSITION');
    const undeclarable = await dn(dispenseNotification(p, 'FCG71', [{ line: 1, type: '0001' }], '0002'));
    expect(spineCode(undeclarable)).to.equal('INVALID_VALUE');
  });

  it('refuses a notification for a prescription not released, or released to another pharmacy', async () => {
    const p = prescriptionOrder({ items: 1 });
    await as(prescriber, '/$process-message', p.bundle);
    const early = await dn(dispenseNotification(p, 'FCG71', [{ line: 0, type: '0001' }], '0006'));
    expect(spineCode(early)).to.equal('PRESCRIPTION_INVALID_STATE_TRANSITION');
    const q = await released(1);
    const stranger = await dn(dispenseNotification(q, 'FCG80', [{ line: 0, type: '0001' }], '0006'), other);
    expect(spineCode(stranger)).to.equal('PRESCRIPTION_WITH_ANOTHER_DISPENSER');
    // A notification that claims to come from the dispenser but is sent with another pharmacy's token.
    const impostor = await dn(dispenseNotification(q, 'FCG71', [{ line: 0, type: '0001' }], '0006'), other);
    expect(impostor.status).to.equal(403);
    // A token restricted on a type the operation writes but does not name (Task here) runs no operation.
    const restricted = await signToken(server, 'system/MedicationDispense.cr patient/Task.u', { client_id: 'pharmacy-FCG71', org_code: 'FCG71', patient: '9990000018' });
    expect((await dn(dispenseNotification(q, 'FCG71', [{ line: 0, type: '0001' }], '0006'), restricted)).status).to.equal(403);
    expect((await state(q)).business).to.equal('0002');
    const unknown = await dn(dispenseNotification(prescriptionOrder(), 'FCG71', [{ line: 0, type: '0001' }], '0006'));
    expect(unknown.status).to.equal(404);
    expect(spineCode(unknown)).to.equal('PRESCRIPTION_NOT_FOUND');
  });

  it('a cancelled item cannot be dispensed', async () => {
    const p = prescriptionOrder({ items: 2, nominated: null });
    await as(prescriber, '/$process-message', p.bundle);
    expect((await as(prescriber, '/$process-message', cancellation(p, 1))).status).to.equal(200);
    await as(fcg71, '/Task/$release', releaseRequest('FCG71', p.shortId));
    expect((await state(p)).lines).to.deep.equal(['0008', '0005']);
    const res = await dn(dispenseNotification(p, 'FCG71', [{ line: 1, type: '0001' }], '0003'));
    expect(spineCode(res)).to.equal('PRESCRIPTION_INVALID_LINE_STATE_TRANSITION');
    expect((await dn(dispenseNotification(p, 'FCG71', [{ line: 0, type: '0001' }], '0006'))).status).to.equal(200);
    expect(await state(p)).to.deep.include({ business: '0006', lines: ['0001', '0005'] });
  });

  it('amends the latest notification (replacementOf), recomputing from the one before; an older one cannot be amended', async () => {
    const p = await released(2);
    const first = dispenseNotification(p, 'FCG71', [{ line: 0, type: '0003' }], '0003');
    await dn(first);
    const second = dispenseNotification(p, 'FCG71', [{ line: 0, type: '0001' }, { line: 1, type: '0001' }], '0006');
    expect((await dn(second)).status).to.equal(200);
    const stale = await dn(dispenseNotification(p, 'FCG71', [{ line: 0, type: '0001' }], '0003', first.identifier.value));
    expect(spineCode(stale)).to.equal('DISPENSE_AMEND_IDENTIFIER_MISMATCH');
    // The amendment replaces the second notification: item 0 goes from 0003 (after the first) to 0001, item 1 stays with the dispenser.
    const amend = dispenseNotification(p, 'FCG71', [{ line: 0, type: '0001' }], '0003', second.identifier.value);
    const res = await dn(amend);
    expect(res.status, res.text).to.equal(200);
    expect(await state(p)).to.deep.equal({ task: 'in-progress', business: '0003', lines: ['0001', '0008'] });
    const replaced = await as(admin, `/MedicationDispense?identifier=urn:vertebra:eps:dispense-notification-id|${second.identifier.value}`);
    expect(replaced.json.entry.map((e: any) => e.resource.status)).to.deep.equal(['entered-in-error', 'entered-in-error']);
  });

  it('withdraws the latest notification (POST /Task, code abort), back to the state before it', async () => {
    const p = await released(2);
    const first = dispenseNotification(p, 'FCG71', [{ line: 0, type: '0001' }], '0003');
    await dn(first);
    const second = dispenseNotification(p, 'FCG71', [{ line: 1, type: '0001' }], '0006');
    await dn(second);
    const wrong = await as(fcg71, '/Task', withdrawTask(p.shortId, 'FCG71', first.identifier.value));
    expect(spineCode(wrong)).to.equal('DISPENSE_AMEND_IDENTIFIER_MISMATCH');
    const res = await as(fcg71, '/Task', withdrawTask(p.shortId, 'FCG71', second.identifier.value));
    expect(res.status, res.text).to.equal(200);
    expect(await state(p)).to.deep.equal({ task: 'in-progress', business: '0003', lines: ['0001', '0008'] });
    expect((await as(fcg71, '/Task', withdrawTask(p.shortId, 'FCG71', first.identifier.value))).status).to.equal(200);
    expect(await state(p)).to.deep.equal({ task: 'accepted', business: '0002', lines: ['0008', '0008'] });
    // Nothing dispensed any more: it can be returned now, and a further withdraw is an illegal transition.
    expect(spineCode(await as(fcg71, '/Task', withdrawTask(p.shortId, 'FCG71', first.identifier.value)))).to.equal('PRESCRIPTION_INVALID_STATE_TRANSITION');
    expect((await as(fcg71, '/Task', returnTask(p.shortId, 'FCG71'))).status).to.equal(200);
    expect((await state(p)).business).to.equal('0001');
  });

  it('a prescription with a dispense notification standing cannot be returned', async () => {
    const p = await released(1);
    await dn(dispenseNotification(p, 'FCG71', [{ line: 0, type: '0003' }], '0003'));
    expect(spineCode(await as(fcg71, '/Task', returnTask(p.shortId, 'FCG71')))).to.equal('PRESCRIPTION_INVALID_STATE_TRANSITION');
  });

  it('needs create rights on MedicationDispense (a prescriber cannot send one) and is audited for the patient', async () => {
    const p = await released(1);
    expect((await dn(dispenseNotification(p, 'FCG71', [{ line: 0, type: '0001' }], '0006'), prescriber)).status).to.equal(403);
    const requestId = randomUUID();
    const res = await dn(dispenseNotification(p, 'FCG71', [{ line: 0, type: '0001' }], '0006'), fcg71, { 'X-Request-ID': requestId });
    expect(res.status).to.equal(200);
    const events = (await as(admin, `/AuditEvent?patient=Patient/${p.nhsNumber}&_count=1000`)).json.entry.map((e: any) => e.resource)
      .filter((e: any) => e.entity?.some((x: any) => x.what?.identifier?.value === requestId));
    expect(events).to.have.length(1);
    expect(events[0].agent[0].who.identifier.value).to.equal('pharmacy-FCG71');
  });
});
