import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { startTestServer, type FhirResponse, type TestServer } from '../support/server.js';
import { signToken } from '../support/tokens.js';
import { prescriptionOrder } from '../support/eps.js';

const SPINE = 'https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode';
export const spineCode = (res: FhirResponse) => res.json?.issue?.[0]?.details?.coding?.find((c: any) => c.system === SPINE)?.code;

/** EPS prescribing (issue 7): POST /$process-message with a prescription-order, under SMART tokens. */
describe('HTTP: EPS prescription-order ($process-message)', function () {
  this.timeout(60_000);
  let server: TestServer;
  let prescriber: string;
  let admin: string;

  const post = async (body: unknown, token = prescriber, headers: Record<string, string> = {}) =>
    server.fhir('/$process-message', { method: 'POST', body, headers: { Authorization: `Bearer ${token}`, ...headers } });
  const get = async (path: string) => {
    const res = await server.fhir(path, { headers: { Authorization: `Bearer ${admin}` } });
    expect(res.status, res.text).to.equal(200);
    return res.json;
  };
  const ids = (bundle: any) => (bundle.entry ?? []).filter((e: any) => e.search?.mode !== 'outcome').map((e: any) => e.resource.id).sort();

  before(async () => {
    server = await startTestServer({ auth: 'smart' });
    prescriber = await signToken(server, 'user/MedicationRequest.cruds user/Patient.r', { fhirUser: 'Practitioner/555086689106', roles: ['R8000'] });
    admin = await signToken(server, 'system/*.cruds');
  });
  after(async () => { await server.stop(); });

  it('accepts a prescription: line items stored as MedicationRequests (0007), a Task at 0001, searchable', async () => {
    const p = prescriptionOrder({ items: 3, nhsNumber: '9990000018' });
    const res = await post(p.bundle);
    expect(res.status, res.text).to.equal(200);
    expect(res.json.resourceType).to.equal('OperationOutcome');
    expect(res.json.issue[0].severity).to.equal('information');

    const byGroup = await get(`/MedicationRequest?group-identifier=https://fhir.nhs.uk/Id/prescription-order-number|${p.shortId}`);
    expect(ids(byGroup)).to.deep.equal([...p.lineIds].sort());
    const mr = byGroup.entry[0].resource;
    expect(mr.subject).to.deep.include({ reference: 'Patient/9990000018' });
    expect(mr.dispenseRequest.performer.reference).to.equal('Organization/FCG71');
    expect(mr.extension.find((e: any) => e.url.endsWith('Extension-EPS-DispensingInformation')).extension[0].valueCoding.code).to.equal('0007');

    expect(ids(await get('/MedicationRequest?patient=Patient/9990000018&status=active'))).to.include.members(p.lineIds);
    expect(ids(await get('/MedicationRequest?intended-dispenser=Organization/FCG71&line-item-status=0007'))).to.include.members(p.lineIds);
    expect(ids(await get('/MedicationRequest?requester:identifier=https://fhir.nhs.uk/Id/sds-role-profile-id|555086415105'))).to.include.members(p.lineIds);

    const task = await get(`/Task/${p.longId}`);
    expect(task.groupIdentifier.value).to.equal(p.shortId);
    expect(task.status).to.equal('requested');
    expect(task.businessStatus.coding[0]).to.deep.include({ system: 'https://fhir.nhs.uk/CodeSystem/EPS-task-business-status', code: '0001' });
    expect(task.owner.reference).to.equal('Organization/FCG71');
    expect(task.for.reference).to.equal('Patient/9990000018');
    expect(ids(await get(`/Task?group-identifier=${p.shortId}&business-status=0001`))).to.deep.equal([p.longId]);
  });

  it('audits the message: AuditEvents for the patient, tied to the request', async () => {
    const p = prescriptionOrder({ nhsNumber: '9990000026' });
    const requestId = randomUUID();
    const res = await post(p.bundle, prescriber, { 'X-Request-ID': requestId });
    expect(res.status, res.text).to.equal(200);
    const events = (await get('/AuditEvent?patient=Patient/9990000026&_count=100')).entry.map((e: any) => e.resource)
      .filter((e: any) => e.entity?.some((x: any) => x.what?.identifier?.value === requestId));
    expect(events).to.have.length(1);
    expect(events[0].subtype[0].code).to.equal('operation');
    expect(events[0].agent.some((a: any) => a.who?.reference === 'Practitioner/555086689106')).to.equal(true);
  });

  it('refuses a prescription id sent before (short or long) with DUPLICATE_PRESCRIPTION_ID, writing nothing', async () => {
    const p = prescriptionOrder();
    expect((await post(p.bundle)).status).to.equal(200);
    const again = prescriptionOrder({ shortId: p.shortId });
    const res = await post(again.bundle);
    expect(res.status).to.equal(400);
    expect(spineCode(res)).to.equal('DUPLICATE_PRESCRIPTION_ID');
    const sameLong = await post(prescriptionOrder({ longId: p.longId }).bundle);
    expect(spineCode(sameLong)).to.equal('DUPLICATE_PRESCRIPTION_ID');
    for (const line of again.lineIds) expect((await server.fhir(`/MedicationRequest/${line}`, { headers: { Authorization: `Bearer ${admin}` } })).status).to.equal(404);
  });

  it('refuses a short id with a wrong check character: 400 FAILURE_TO_PROCESS_MESSAGE', async () => {
    const good = prescriptionOrder().shortId;
    const last = good[good.length - 1];
    const bad = good.slice(0, -1) + (last === 'A' ? 'B' : 'A');
    const res = await post(prescriptionOrder({ shortId: bad }).bundle);
    expect(res.status).to.equal(400);
    expect(spineCode(res)).to.equal('FAILURE_TO_PROCESS_MESSAGE');
    expect(res.json.issue[0].diagnostics).to.match(/checksum/);
  });

  const rejects = async (name: string, options: Parameters<typeof prescriptionOrder>[0], code: string, expression?: RegExp) => {
    it(`refuses ${name} (${code})`, async () => {
      const res = await post(prescriptionOrder(options).bundle);
      expect(res.status, res.text).to.equal(400);
      expect(spineCode(res)).to.equal(code);
      if (expression) expect(res.json.issue[0].expression[0]).to.match(expression);
    });
  };
  rejects('five items', { items: 5 }, 'TOO_MANY_VALUES_SUBMITTED');
  rejects('intent plan', { item: (mr) => { mr.intent = 'plan'; } }, 'INVALID_VALUE', /intent$/);
  rejects('an unknown category', { item: (mr) => { mr.category[0].coding[0].code = 'home'; } }, 'INVALID_VALUE', /category$/);
  rejects('an unknown courseOfTherapyType', { item: (mr) => { mr.courseOfTherapyType.coding[0].code = 'seasonal'; } }, 'INVALID_VALUE', /courseOfTherapyType$/);
  rejects('no dispenseRequest', { item: (mr) => { delete mr.dispenseRequest; } }, 'MISSING_VALUE', /dispenseRequest$/);
  rejects('substitution allowed', { item: (mr) => { mr.substitution.allowedBoolean = true; } }, 'INVALID_VALUE', /substitution$/);
  rejects('two nominated pharmacies', { item: (mr, i) => { if (i === 1) mr.dispenseRequest.performer.identifier.value = 'FA565'; } }, 'INVALID_VALUE', /performer$/);
  rejects('an invalid NHS number', { nhsNumber: '9990000019' }, 'FAILURE_TO_PROCESS_MESSAGE');
  rejects('a repeat-dispensing item without numberOfRepeatsAllowed', { item: (mr) => { mr.courseOfTherapyType.coding[0].code = 'continuous-repeat-dispensing'; } }, 'MISSING_VALUE');

  it('refuses a message without a signature (MISSING_DIGITAL_SIGNATURE) and one with another event', async () => {
    const p = prescriptionOrder();
    p.bundle.entry = p.bundle.entry.filter((e: any) => e.resource.resourceType !== 'Provenance');
    expect(spineCode(await post(p.bundle))).to.equal('MISSING_DIGITAL_SIGNATURE');
    const other = prescriptionOrder();
    other.bundle.entry[0].resource.eventCoding.code = 'prescription-order-hold';
    const res = await post(other.bundle);
    expect(res.status).to.equal(400);
    expect(res.json.issue[0].expression[0]).to.match(/eventCoding/);
    const notMessage = prescriptionOrder();
    notMessage.bundle.type = 'collection';
    expect((await post(notMessage.bundle)).status).to.equal(400);
  });

  it('is atomic: an item the R4 schema refuses leaves no other item stored', async () => {
    const p = prescriptionOrder({ items: 3, item: (mr, i) => { if (i === 2) mr.unknownElement = true; } });
    const res = await post(p.bundle);
    expect(res.status, res.text).to.equal(400);
    for (const line of p.lineIds) expect((await server.fhir(`/MedicationRequest/${line}`, { headers: { Authorization: `Bearer ${admin}` } })).status).to.equal(404);
    expect((await server.fhir(`/Task/${p.longId}`, { headers: { Authorization: `Bearer ${admin}` } })).status).to.equal(404);
  });

  it('lists $process-message and Task/$release, $return, $withdraw in the CapabilityStatement', async () => {
    const cs = (await server.fhir('/metadata')).json;
    expect(cs.rest[0].operation.map((o: any) => o.name)).to.include('process-message');
    const task = cs.rest[0].resource.find((r: any) => r.type === 'Task');
    expect(task.operation.map((o: any) => o.name)).to.include.members(['release', 'return', 'withdraw']);
    const mr = cs.rest[0].resource.find((r: any) => r.type === 'MedicationRequest');
    expect(mr.searchParam.map((p: any) => p.name)).to.include.members(['group-identifier', 'line-item-status', 'intended-dispenser', 'requester']);
  });

  it('needs a token allowed to create MedicationRequests, and a clinical role for staff', async () => {
    const p = prescriptionOrder();
    expect((await server.fhir('/$process-message', { method: 'POST', body: p.bundle })).status).to.equal(401);
    const readOnly = await signToken(server, 'user/MedicationRequest.rs', { fhirUser: 'Practitioner/x', roles: ['R8000'] });
    expect((await post(p.bundle, readOnly)).status).to.equal(403);
    const clerk = await signToken(server, 'user/MedicationRequest.cruds', { fhirUser: 'Practitioner/x', roles: ['R8001x'] });
    expect((await post(p.bundle, clerk)).status).to.equal(403);
    const patientScoped = await signToken(server, 'patient/MedicationRequest.cruds', { patient: p.nhsNumber });
    expect((await post(p.bundle, patientScoped)).status).to.equal(403);
    expect((await server.fhir('/$no-such-operation', { method: 'POST', body: {}, headers: { Authorization: `Bearer ${admin}` } })).status).to.equal(404);
  });
});
