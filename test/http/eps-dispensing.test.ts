import { expect } from 'chai';
import { startTestServer, type FhirResponse, type TestServer } from '../support/server.js';
import { signToken } from '../support/tokens.js';
import { cancellation, prescriptionOrder, releaseRequest, returnTask, type Prescription } from '../support/eps.js';

const SPINE = 'https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode';
const spineCode = (res: FhirResponse) => res.json?.issue?.[0]?.details?.coding?.find((c: any) => c.system === SPINE)?.code;
const cancelCode = (res: FhirResponse) => res.json?.issue?.[0]?.details?.coding?.find((c: any) => c.system === 'urn:vertebra:eps:cancel-response')?.code;
const lineStatus = (mr: any) => mr.extension.find((e: any) => e.url.endsWith('Extension-EPS-DispensingInformation')).extension[0].valueCoding.code;

/** EPS cancellation and dispensing (issue 7): status transitions, errors and the release race. */
describe('HTTP: EPS cancellation, release and return', function () {
  this.timeout(120_000);
  let server: TestServer;
  let prescriber: string;
  let admin: string;
  const pharmacies = new Map<string, string>();

  /** A pharmacy system's token (SMART backend services scopes). */
  const pharmacy = async (ods: string) => {
    if (!pharmacies.has(ods)) pharmacies.set(ods, await signToken(server, 'system/Task.cru system/MedicationRequest.rs system/MedicationDispense.cr', { client_id: `pharmacy-${ods}`, org_code: ods }));
    return pharmacies.get(ods)!;
  };
  const as = (token: string, path: string, body?: unknown) =>
    server.fhir(path, { method: body === undefined ? 'GET' : 'POST', body, headers: { Authorization: `Bearer ${token}` } });
  const prescribe = async (options: Parameters<typeof prescriptionOrder>[0] = {}): Promise<Prescription> => {
    const p = prescriptionOrder(options);
    const res = await as(prescriber, '/$process-message', p.bundle);
    expect(res.status, res.text).to.equal(200);
    return p;
  };
  const task = async (p: Prescription) => (await as(admin, `/Task/${p.longId}`)).json;
  const items = async (p: Prescription) => Promise.all(p.lineIds.map(async (id) => (await as(admin, `/MedicationRequest/${id}`)).json));
  const status = async (p: Prescription) => {
    const t = await task(p);
    return { task: t.status, business: t.businessStatus.coding[0].code, owner: t.owner?.identifier?.value, lines: (await items(p)).map(lineStatus) };
  };
  const release = async (ods: string, shortId?: string) => as(await pharmacy(ods), '/Task/$release', releaseRequest(ods, shortId));

  before(async () => {
    server = await startTestServer({ auth: 'smart' });
    prescriber = await signToken(server, 'user/MedicationRequest.cruds', { fhirUser: 'Practitioner/555086689106', roles: ['R8000'] });
    admin = await signToken(server, 'system/*.cruds');
  });
  after(async () => { await server.stop(); });

  describe('prescription-order-update (cancel one item)', () => {
    it('cancels items with a reason; the last one cancels the prescription (0005)', async () => {
      const p = await prescribe({ items: 2 });
      const first = await as(prescriber, '/$process-message', cancellation(p, 0, '0002'));
      expect(first.status, first.text).to.equal(200);
      const [mr] = await items(p);
      expect(mr.status).to.equal('cancelled');
      expect(mr.statusReason.coding[0].code).to.equal('0002');
      expect(await status(p)).to.deep.equal({ task: 'requested', business: '0001', owner: 'FCG71', lines: ['0005', '0007'] });
      expect((await as(prescriber, '/$process-message', cancellation(p, 1))).status).to.equal(200);
      expect(await status(p)).to.deep.include({ task: 'cancelled', business: '0005', lines: ['0005', '0005'] });
    });

    it('answers R-0006 for an item already cancelled, R-0008 for an unknown prescription', async () => {
      const p = await prescribe({ items: 2 });
      await as(prescriber, '/$process-message', cancellation(p, 0));
      const again = await as(prescriber, '/$process-message', cancellation(p, 0));
      expect(again.status).to.equal(400);
      expect(spineCode(again)).to.equal('PRESCRIPTION_INVALID_STATE_TRANSITION');
      expect(cancelCode(again)).to.equal('R-0006');
      const unknown = prescriptionOrder();
      const res = await as(prescriber, '/$process-message', cancellation(unknown, 0));
      expect(res.status).to.equal(404);
      expect(spineCode(res)).to.equal('PRESCRIPTION_NOT_FOUND');
      expect(cancelCode(res)).to.equal('R-0008');
    });

    it('answers R-0002 for a prescription with a dispenser, and changes nothing', async () => {
      const p = await prescribe();
      expect((await release('FCG71')).status).to.equal(200);
      const res = await as(prescriber, '/$process-message', cancellation(p, 0));
      expect(res.status).to.equal(400);
      expect(cancelCode(res)).to.equal('R-0002');
      expect(await status(p)).to.deep.equal({ task: 'accepted', business: '0002', owner: 'FCG71', lines: ['0008', '0008'] });
    });

    it('refuses a cancellation without a status reason or of two items', async () => {
      const p = await prescribe({ nominated: null });
      const noReason = cancellation(p, 0);
      delete noReason.entry[1].resource.statusReason;
      expect(spineCode(await as(prescriber, '/$process-message', noReason))).to.equal('MISSING_VALUE');
      const two = cancellation(p, 0);
      two.entry.splice(2, 0, { fullUrl: 'urn:uuid:2d3fc4a4-1f4a-4b52-a1d5-2ff8a5d1b0a1', resource: cancellation(p, 1).entry[1].resource });
      expect(spineCode(await as(prescriber, '/$process-message', two))).to.equal('TOO_MANY_VALUES_SUBMITTED');
      expect((await status(p)).lines).to.deep.equal(['0007', '0007']);
    });

    it('needs update rights on MedicationRequest (a pharmacy system cannot cancel)', async () => {
      const p = await prescribe();
      expect((await as(await pharmacy('FCG71'), '/$process-message', cancellation(p, 0))).status).to.equal(403);
    });
  });

  describe('Task/$release', () => {
    it('releases the prescriptions nominated to a pharmacy (0001 → 0002, items 0007 → 0008), then NO_MORE_PRESCRIPTIONS', async () => {
      const ps = [await prescribe({ nominated: 'FCG72' }), await prescribe({ nominated: 'FCG72' }), await prescribe({ nominated: 'FCG72', items: 1 })];
      const other = await prescribe({ nominated: 'FCG79' });
      const res = await release('FCG72');
      expect(res.status, res.text).to.equal(200);
      expect(res.json.resourceType).to.equal('Parameters');
      const passed = res.json.parameter.find((x: any) => x.name === 'passedPrescriptions').resource;
      expect(passed.entry.map((e: any) => e.resource.identifier.value).sort()).to.deep.equal(ps.map((p) => p.shortId).sort());
      const one = passed.entry[0].resource.entry.map((e: any) => e.resource.resourceType);
      expect(one[0]).to.equal('Task');
      expect(one.slice(1).every((t: string) => t === 'MedicationRequest')).to.equal(true);
      for (const p of ps) expect(await status(p)).to.deep.include({ task: 'accepted', business: '0002', owner: 'FCG72' });
      expect((await status(ps[0])).lines).to.deep.equal(['0008', '0008']);
      expect((await status(other)).business).to.equal('0001');
      const none = await release('FCG72');
      expect(none.status).to.equal(200);
      expect(spineCode(none)).to.equal('NO_MORE_PRESCRIPTIONS');
      expect(none.json.issue[0].severity).to.equal('information');
    });

    it('releases at most 25 prescriptions per request', async () => {
      for (let i = 0; i < 27; i++) await prescribe({ nominated: 'FCG73', items: 1 });
      const count = (res: FhirResponse) => res.json.parameter?.find((x: any) => x.name === 'passedPrescriptions').resource.entry.length;
      expect(count(await release('FCG73'))).to.equal(25);
      expect(count(await release('FCG73'))).to.equal(2);
      expect(spineCode(await release('FCG73'))).to.equal('NO_MORE_PRESCRIPTIONS');
    });

    it('releases one prescription by short id to any pharmacy; another then gets PRESCRIPTION_WITH_ANOTHER_DISPENSER', async () => {
      const p = await prescribe({ nominated: null });
      const res = await release('FCG74', p.shortId);
      expect(res.status, res.text).to.equal(200);
      expect(await status(p)).to.deep.include({ business: '0002', owner: 'FCG74' });
      const late = await release('FCG75', p.shortId);
      expect(late.status).to.equal(400);
      expect(spineCode(late)).to.equal('PRESCRIPTION_WITH_ANOTHER_DISPENSER');
      expect(late.json.contained[0].identifier[0].value).to.equal('FCG74');
      expect(spineCode(await release('FCG74', p.shortId))).to.equal('PRESCRIPTION_INVALID_STATE_TRANSITION');
    });

    it('a pharmacy acts only as itself: the token\'s organisation (org_code) must be the releasing or returning pharmacy', async () => {
      const p = await prescribe({ nominated: 'FCG79' });
      const impostor = await as(await pharmacy('FCG80'), '/Task/$release', releaseRequest('FCG79'));
      expect(impostor.status).to.equal(403);
      expect(impostor.text).to.contain('acts for organisation FCG80, not for FCG79');
      const noOrg = await signToken(server, 'system/Task.cru system/MedicationRequest.rs', { client_id: 'no-org' });
      expect((await as(noOrg, '/Task/$release', releaseRequest('FCG79', p.shortId))).status).to.equal(403);
      expect(await status(p)).to.deep.include({ business: '0001' }); // nothing was released
      expect((await release('FCG79', p.shortId)).status).to.equal(200);
      const foreignReturn = await as(await pharmacy('FCG80'), '/Task', returnTask(p.shortId, 'FCG79'));
      expect(foreignReturn.status).to.equal(403);
      expect(await status(p)).to.deep.include({ business: '0002', owner: 'FCG79' });
    });

    it('exactly one of 10 concurrent releases of one prescription by 10 pharmacies gets it', async () => {
      const p = await prescribe({ nominated: null });
      const odsCodes = Array.from({ length: 10 }, (_, i) => `FR${String(i).padStart(3, '0')}`);
      for (const ods of odsCodes) await pharmacy(ods); // tokens first, so the requests leave together
      const results = await Promise.all(odsCodes.map((ods) => release(ods, p.shortId)));
      const winners = results.flatMap((r, i) => (r.status === 200 ? [odsCodes[i]] : []));
      expect(winners).to.have.length(1);
      for (const r of results.filter((x) => x.status !== 200)) {
        expect(r.status, r.text).to.equal(400);
        expect(spineCode(r)).to.equal('PRESCRIPTION_WITH_ANOTHER_DISPENSER');
        expect(r.json.contained[0].identifier[0].value).to.equal(winners[0]);
      }
      const t = await task(p);
      expect(t.owner.identifier.value).to.equal(winners[0]);
      expect(t.meta.versionId).to.equal('2'); // created, then claimed once
    });

    it('answers PRESCRIPTION_NOT_FOUND, a bad checksum, and a cancelled prescription with the EPS codes', async () => {
      const unknown = prescriptionOrder().shortId;
      const nf = await release('FCG74', unknown);
      expect(nf.status).to.equal(404);
      expect(spineCode(nf)).to.equal('PRESCRIPTION_NOT_FOUND');
      const bad = unknown.slice(0, -1) + (unknown.endsWith('A') ? 'B' : 'A');
      expect(spineCode(await release('FCG74', bad))).to.equal('FAILURE_TO_PROCESS_MESSAGE');
      const p = await prescribe({ items: 1 });
      await as(prescriber, '/$process-message', cancellation(p, 0));
      const cancelled = await release('FCG71', p.shortId);
      expect(cancelled.status).to.equal(400);
      expect(spineCode(cancelled)).to.equal('PRESCRIPTION_INVALID_STATE_TRANSITION');
    });

    it('needs a token that may update Task (a prescriber\'s may not)', async () => {
      expect((await as(prescriber, '/Task/$release', releaseRequest('FCG71'))).status).to.equal(403);
      expect((await server.fhir('/Task/$release', { method: 'POST', body: releaseRequest('FCG71') })).status).to.equal(401);
    });
  });

  describe('EPS records change only through the EPS operations', () => {
    it('refuses a plain PUT, PATCH or DELETE of a prescription Task or line item, and a plain create of one', async () => {
      const p = await prescribe();
      const send = (method: string, path: string, body?: unknown, contentType = 'application/fhir+json') =>
        server.fhir(path, { method, body, headers: { Authorization: `Bearer ${admin}`, 'Content-Type': contentType } });
      const t = await task(p);
      const forged = await send('PUT', `/Task/${p.longId}`, { ...t, businessStatus: { coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/EPS-task-business-status', code: '0006' }] } });
      expect(forged.status, forged.text).to.equal(422);
      expect(spineCode(forged)).to.equal('INVALID_UPDATE');
      const [mr] = await items(p);
      const stripped = { ...mr };
      delete stripped.groupIdentifier; // no longer looks like EPS: the stored record still is
      expect((await send('PUT', `/MedicationRequest/${mr.id}`, stripped)).status).to.equal(422);
      expect((await send('PATCH', `/MedicationRequest/${mr.id}`, [{ op: 'replace', path: '/status', value: 'completed' }], 'application/json-patch+json')).status).to.equal(422);
      expect((await send('DELETE', `/Task/${p.longId}`)).status).to.equal(422);
      expect((await send('POST', '/MedicationRequest', { ...mr, id: undefined })).status).to.equal(422);
      expect(await status(p)).to.deep.equal({ task: 'requested', business: '0001', owner: 'FCG71', lines: ['0007', '0007'] });
      // Other MedicationRequests and Tasks stay plain FHIR resources.
      const plain = await send('POST', '/MedicationRequest', { resourceType: 'MedicationRequest', status: 'active', intent: 'plan', subject: { reference: 'Patient/9990000018' }, medicationCodeableConcept: { text: 'x' } });
      expect(plain.status, plain.text).to.equal(201);
      expect((await send('DELETE', `/MedicationRequest/${plain.json.id}`)).status).to.equal(200);
    });
  });

  describe('return (POST /Task with an EPS return Task)', () => {
    it('hands a released prescription back: 0002 → 0001, owner back to the nominated pharmacy, items 0008 → 0007', async () => {
      const p = await prescribe({ nominated: 'FCG76' });
      await release('FCG77', p.shortId);
      const wrong = await as(await pharmacy('FCG78'), '/Task', returnTask(p.shortId, 'FCG78'));
      expect(spineCode(wrong)).to.equal('PRESCRIPTION_WITH_ANOTHER_DISPENSER');
      const res = await as(await pharmacy('FCG77'), '/Task', returnTask(p.shortId, 'FCG77'));
      expect(res.status, res.text).to.equal(200);
      expect(res.json.resourceType).to.equal('OperationOutcome');
      expect(await status(p)).to.deep.equal({ task: 'requested', business: '0001', owner: 'FCG76', lines: ['0007', '0007'] });
      // Not with a dispenser any more: returning again is an illegal transition; no Task was stored for the request.
      expect(spineCode(await as(await pharmacy('FCG77'), '/Task', returnTask(p.shortId, 'FCG77')))).to.equal('PRESCRIPTION_INVALID_STATE_TRANSITION');
      const stored = await as(admin, `/Task?group-identifier=${p.shortId}`);
      expect(stored.json.entry).to.have.length(1);
      // The nominated pharmacy can download it again.
      expect((await release('FCG76')).json.parameter[0].resource.entry).to.have.length(1);
    });

    it('refuses a return Task sent inside a transaction Bundle (it is a request, not a record)', async () => {
      const res = await server.fhir('/', { method: 'POST', headers: { Authorization: `Bearer ${admin}` }, body: {
        resourceType: 'Bundle', type: 'transaction', entry: [{ resource: returnTask('24F5DA-A83008-7EFE6Z', 'FCG77'), request: { method: 'POST', url: 'Task' } }],
      } });
      expect(res.status).to.equal(400);
    });
  });
});
