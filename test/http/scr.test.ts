import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { SignJWT } from 'jose';
import { nhsNumberFromStem } from '../../resources/patient/nhs-number.js';
import { startTestServer, type FhirResponse, type TestServer } from '../support/server.js';

/**
 * The Summary Care Record API (issue 7, nhs-spine.md §5) through a real server with SMART on:
 * upload, the pointer, the reads and the replacement of a record; the patient's permission
 * (Yes/No/Ask) and what a reader must assert; emergency access with its alert AuditEvent and the
 * privacy officer's view of its organisation's alerts. The documents are built here from the
 * reference's description (§5.2), not copied from NHS examples.
 */
const NHS = 'https://fhir.nhs.uk/Id/nhs-number';
const ACS = 'https://fhir.nhs.uk/CodeSystem/SCR-ACSPermission';
const ALERT_TYPE = 'https://fhir.nhs.uk/CodeSystem/SCR-AlertType';
const ALERT_REASON = 'https://fhir.nhs.uk/CodeSystem/SCR-AlertReason';
const SNOMED = 'http://snomed.info/sct';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const ROLE_PROFILE = 'https://fhir.nhs.uk/Id/sds-role-profile-id';

/** Synthetic test-range NHS numbers (999…), valid check digits. */
const nhs = (stem: string) => nhsNumberFromStem(stem)!;

/** A GP summary document (§5.2): Composition, Patient, a diagnosis, the author's role and practice. */
function scrDocument(nhsNumber: string, uuid: string, options: { replaces?: string; diagnosis?: string; status?: string } = {}): any {
  const ids = { composition: randomUUID(), patient: randomUUID(), condition: randomUUID(), role: randomUUID(), org: randomUUID() };
  const div = (html: string) => ({ status: 'generated', div: `<div xmlns="http://www.w3.org/1999/xhtml">${html}</div>` });
  const diagnosis = options.diagnosis ?? 'Asthma';
  return {
    resourceType: 'Bundle', type: 'document',
    identifier: { system: 'https://tools.ietf.org/html/rfc4122', value: randomUUID() },
    timestamp: '2026-11-30T10:00:00Z',
    entry: [
      {
        fullUrl: `urn:uuid:${ids.composition}`,
        resource: {
          resourceType: 'Composition', id: ids.composition,
          identifier: { system: 'https://tools.ietf.org/html/rfc4122', value: uuid },
          status: options.status ?? 'final',
          type: { coding: [{ system: SNOMED, code: '196981000000101', display: 'General Practice Summary' }] },
          category: [{ coding: [{ system: SNOMED, code: '163171000000105', display: 'Care Professional Documentation' }] }],
          subject: { reference: `urn:uuid:${ids.patient}` },
          date: '2026-11-30T10:00:00Z',
          author: [{ reference: `urn:uuid:${ids.role}` }],
          title: 'General Practice Summary',
          ...(options.replaces ? { relatesTo: [{ code: 'replaces', targetIdentifier: { system: 'https://tools.ietf.org/html/rfc4122', value: options.replaces } }] } : {}),
          section: [{
            title: 'Diagnoses', code: { coding: [{ code: 'DiagnosesHeader', display: 'Diagnoses' }] },
            text: div(`<table id="Diagnoses"><tr><td>${diagnosis}</td></tr></table>`),
            entry: [{ reference: `urn:uuid:${ids.condition}` }],
          }],
        },
      },
      {
        fullUrl: `urn:uuid:${ids.patient}`,
        resource: { resourceType: 'Patient', id: ids.patient, identifier: [{ system: NHS, value: nhsNumber }], name: [{ family: 'Testpatient', given: ['Sam'] }], gender: 'female', birthDate: '1970-01-01' },
      },
      {
        fullUrl: `urn:uuid:${ids.condition}`,
        resource: { resourceType: 'Condition', id: ids.condition, code: { text: diagnosis }, subject: { reference: `urn:uuid:${ids.patient}` } },
      },
      {
        fullUrl: `urn:uuid:${ids.role}`,
        resource: { resourceType: 'PractitionerRole', id: ids.role, organization: { reference: `urn:uuid:${ids.org}` } },
      },
      {
        fullUrl: `urn:uuid:${ids.org}`,
        resource: { resourceType: 'Organization', id: ids.org, identifier: [{ system: ODS, value: 'A81001' }], name: 'Test Surgery' },
      },
    ],
  };
}

const permissionBody = (nhsNumber: string, code: string) => ({
  resourceType: 'Parameters',
  parameter: [{ name: 'setPermissions', part: [{ name: 'nhsNumber', valueString: nhsNumber }, { name: 'permissionCode', valueCoding: { system: ACS, code } }] }],
});

describe('HTTP: Summary Care Record API (AUTH=smart)', function () {
  this.timeout(60_000);
  let server: TestServer;

  const token = async (scope: string, extra: Record<string, unknown> = {}) => {
    const key = server.auth!.keys.signingKey();
    const endpoints = server.auth!.endpoints(server.url)!;
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ client_id: 'scr-app', scope, ...extra })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setIssuer(endpoints.issuer).setAudience(server.url).setSubject('scr-app')
      .setIssuedAt(now).setExpirationTime(now + 300).setJti(randomUUID())
      .sign(key.privateKey);
  };
  /** Who calls: the scope and the token's user claims. */
  const admin = { scope: 'system/*.cruds' };
  const gpSystem = { scope: 'system/Bundle.c system/Composition.c system/DocumentReference.c' };
  const clinician = { scope: 'user/*.cruds', fhirUser: 'Practitioner/dr-a', roles: ['R8000'] };
  const clerk = { scope: 'user/*.cruds', fhirUser: 'Practitioner/clerk-a', roles: ['R8010'] };
  const officerA = { scope: 'user/AuditEvent.rs', fhirUser: 'PractitionerRole/po-a', roles: ['R0001'] };
  const officerB = { scope: 'user/AuditEvent.rs', fhirUser: 'Practitioner/po-b', roles: ['R0001'] };
  type Caller = { scope: string } & Record<string, unknown>;
  const as = async (caller: Caller, path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<FhirResponse> => {
    const { scope, ...claims } = caller;
    return server.fhir(path, { ...init, headers: { ...(init.headers ?? {}), Authorization: `Bearer ${await token(scope, claims)}` } });
  };
  const upload = (caller: Caller, doc: unknown) => as(caller, '/Bundle', { method: 'POST', body: doc });
  const setPermission = (nhsNumber: string, code: string) => as(clinician, '/$setPermission', { method: 'POST', body: permissionBody(nhsNumber, code) });
  const pointerOf = async (nhsNumber: string, caller: Caller = clinician) => as(caller, `/DocumentReference?patient=${encodeURIComponent(`${NHS}|${nhsNumber}`)}`);
  const readRecord = (uuid: string, headers: Record<string, string> = {}, caller: Caller = clinician) =>
    as(caller, `/Bundle?composition.identifier=${uuid}`, { headers });
  const ptv = { 'NHSD-SCR-Permission-To-View': 'true' };
  const spineCode = (res: FhirResponse) => res.json?.issue?.[0]?.details?.coding?.[0]?.code;

  before(async () => {
    server = await startTestServer({ auth: 'smart', pds: true });
    const seed = async (path: string, body: object) => {
      const res = await as(admin, path, { method: 'PUT', body });
      expect(res.status, `${path}: ${res.text}`).to.be.oneOf([200, 201]);
    };
    await seed('/Organization/A81001', { resourceType: 'Organization', id: 'A81001', identifier: [{ system: ODS, value: 'A81001' }], name: 'Test Surgery A' });
    await seed('/Organization/B82002', { resourceType: 'Organization', id: 'B82002', identifier: [{ system: ODS, value: 'B82002' }], name: 'Test Hospital B' });
    for (const id of ['dr-a', 'dr-b', 'po-a-person', 'po-b']) await seed(`/Practitioner/${id}`, { resourceType: 'Practitioner', id, name: [{ family: id }] });
    const role = (id: string, practitioner: string, org: string, urid: string, code: string) => seed(`/PractitionerRole/${id}`, {
      resourceType: 'PractitionerRole', id, active: true, identifier: [{ system: ROLE_PROFILE, value: urid }],
      practitioner: { reference: `Practitioner/${practitioner}` }, organization: { reference: `Organization/${org}` },
      code: [{ coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode', code }] }],
    });
    await role('dr-a-role', 'dr-a', 'A81001', '555000000001', 'R8000');
    await role('dr-b-role', 'dr-b', 'B82002', '555000000002', 'R8000');
    await role('po-a', 'po-a-person', 'A81001', '555000000003', 'R0001');
    await role('po-b-role', 'po-b', 'B82002', '555000000004', 'R0001');
  });
  after(async () => { await server.stop(); });

  describe('upload and read', () => {
    const patient = nhs('999000001');
    const first = randomUUID();
    const second = randomUUID();

    it('POST /Bundle with a GP summary document stores the record and answers 201 with its pointer', async () => {
      const res = await upload(gpSystem, scrDocument(patient, first));
      expect(res.status, res.text).to.equal(201);
      expect(res.json.resourceType).to.equal('DocumentReference');
      expect(res.json.masterIdentifier).to.deep.equal({ system: 'https://fhir.nhs.uk/Id/nhsSCRUUID', value: first });
      expect(res.json.securityLabel[0].coding[0]).to.include({ system: ACS, code: 'Ask' });
    });

    it('GET /DocumentReference?patient= answers the pointer: type, status, permission and the read URL', async () => {
      const res = await as(clinician, `/DocumentReference?patient=${encodeURIComponent(`${NHS}|${patient}`)}&type=${encodeURIComponent(`${SNOMED}|196981000000101`)}&_sort=date&_count=1`);
      expect(res.status, res.text).to.equal(200);
      expect(res.json.type).to.equal('searchset');
      expect(res.json.total).to.equal(1);
      const pointer = res.json.entry[0].resource;
      expect(pointer.status).to.equal('current');
      expect(pointer.type.coding[0].code).to.equal('196981000000101');
      expect(pointer.subject.identifier).to.deep.equal({ system: NHS, value: patient });
      expect(pointer.content[0].attachment.url).to.equal(`${server.url}/Bundle?composition.identifier=${first}&composition.subject:Patient.identifier=${encodeURIComponent(`${NHS}|${patient}`)}`);
      // Following the pointer reads the record.
      const read = await as(clinician, pointer.content[0].attachment.url.slice(server.url.length), { headers: ptv });
      expect(read.status, read.text).to.equal(200);
      expect(read.json.entry[0].resource.resourceType).to.equal('Composition');
      // Only _sort=date and _count=1 are allowed with it; a patient that has no SCR has an empty pointer search.
      expect((await as(clinician, `/DocumentReference?patient=${encodeURIComponent(`${NHS}|${patient}`)}&_count=5`)).status).to.equal(400);
      expect(spineCode(await as(clinician, `/DocumentReference?patient=${encodeURIComponent(`${NHS}|${patient}`)}&_sort=-date`))).to.equal('INVALID_SEARCH_DATA');
      expect((await as(clinician, `/DocumentReference?patient=${encodeURIComponent(`${NHS}|1234567890`)}`)).status).to.equal(400);
      const none = await pointerOf(nhs('999000099'));
      expect(none.status).to.equal(200);
      expect(none.json.total).to.equal(0);
    });

    it('GET /Bundle?composition.identifier= answers the document\'s resources; $document answers the document', async () => {
      const res = await readRecord(first, ptv);
      expect(res.status, res.text).to.equal(200);
      expect(res.json.type).to.equal('searchset');
      expect(res.json.entry.map((e: any) => e.resource.resourceType)).to.deep.equal(['Composition', 'Patient', 'Condition', 'PractitionerRole', 'Organization']);
      expect(res.json.entry[1].resource.id).to.equal(patient); // the Patient entry carries the NHS number as its id
      const withSubject = await as(clinician, `/Bundle?composition.identifier=${first}&composition.subject:Patient.identifier=${encodeURIComponent(`${NHS}|${patient}`)}`, { headers: ptv });
      expect(withSubject.json.total).to.equal(5);
      const doc = await as(clinician, `/Composition/scr-${patient}/$document`, { headers: ptv });
      expect(doc.status, doc.text).to.equal(200);
      expect(doc.json.resourceType).to.equal('Bundle');
      expect(doc.json.type).to.equal('document');
      expect(doc.json.entry[0].resource.identifier.value).to.equal(first);
      expect((await as(clinician, '/Composition/not-an-scr/$document', { headers: ptv })).status).to.equal(404);
      expect((await as(clinician, `/Composition/scr-${nhs('999000099')}/$document`, { headers: ptv })).status).to.equal(404);
    });

    it('an upload replaces the record: the old UUID finds nothing, the new one the new document, and the history keeps both', async () => {
      const res = await upload(gpSystem, scrDocument(patient, second, { replaces: first, diagnosis: 'Hypertension' }));
      expect(res.status, res.text).to.equal(201);
      const stale = await readRecord(first, ptv);
      expect(stale.status).to.equal(200);
      expect(stale.json.total).to.equal(0);
      const current = await readRecord(second, ptv);
      expect(current.json.entry[2].resource.code.text).to.equal('Hypertension');
      expect((await pointerOf(patient)).json.entry[0].resource.masterIdentifier.value).to.equal(second);
      const history = await as(clinician, `/Composition/scr-${patient}/_history`, { headers: ptv });
      expect(history.status, history.text).to.equal(200);
      expect(history.json.entry.map((e: any) => e.resource.identifier.value)).to.deep.equal([second, first]);
      // The same UUID again is a duplicate; replacing a record that is not the current one is a conflict.
      expect((await upload(gpSystem, scrDocument(patient, second))).status).to.equal(409);
      expect((await upload(gpSystem, scrDocument(patient, randomUUID(), { replaces: first }))).status).to.equal(409);
    });

    it('a malformed upload is refused with a Spine code and stores nothing', async () => {
      const other = nhs('999000002');
      const notFinal = await upload(gpSystem, scrDocument(other, randomUUID(), { status: 'preliminary' }));
      expect(notFinal.status).to.equal(422);
      expect(spineCode(notFinal)).to.equal('INVALID_VALUE');
      const badNhs = scrDocument(other, randomUUID());
      badNhs.entry[1].resource.identifier[0].value = '1234567890';
      expect(spineCode(await upload(gpSystem, badNhs))).to.equal('INVALID_VALUE');
      const noId = scrDocument(other, randomUUID());
      delete noId.entry[0].resource.identifier;
      expect(spineCode(await upload(gpSystem, noId))).to.equal('MISSING_VALUE');
      expect((await pointerOf(other)).json.total).to.equal(0);
    });

    it('the record is reached through the SCR API only: generic reads, searches and writes never see it', async () => {
      for (const path of [`/Composition/scr-${patient}`, `/Bundle/scr-${patient}`, `/DocumentReference/scr-${patient}`, `/Composition/scr-${patient}/_history/1`]) {
        const res = await as(admin, path);
        expect(res.status, path).to.equal(403);
        expect(res.text).to.not.contain('Hypertension');
      }
      for (const path of ['/Composition', `/DocumentReference?subject=Patient/${patient}`, '/Bundle?type=document', '/Composition/_history', `/Patient/${patient}/Composition`]) {
        const res = await as(admin, path);
        expect(res.status, `${path}: ${res.text}`).to.equal(200);
        // (type history's total counts the versions it then leaves out, as for invalidated patients)
        expect((res.json.entry ?? []).length, path).to.equal(0);
      }
      // Nor do _revinclude and _include reach it from the patient.
      const person = await as(admin, `/Patient/${patient}`, { method: 'PUT', body: { resourceType: 'Patient', id: patient, identifier: [{ system: NHS, value: patient }], name: [{ family: 'Testpatient' }] } });
      expect(person.status, person.text).to.equal(201);
      const revinclude = await as(admin, `/Patient?_id=${patient}&_revinclude=Composition:subject&_revinclude=DocumentReference:subject&_revinclude=Consent:patient`);
      expect(revinclude.json.entry.map((e: any) => e.resource.resourceType)).to.deep.equal(['Patient']);
      const put = await as(admin, `/Composition/scr-${patient}`, { method: 'PUT', body: { resourceType: 'Composition', id: `scr-${patient}`, status: 'final', type: { text: 'x' }, date: '2026-01-01', author: [{ display: 'x' }], title: 'x' } });
      expect(put.status).to.equal(403);
      const inTransaction = await as(admin, '/', { method: 'POST', body: { resourceType: 'Bundle', type: 'transaction', entry: [{ request: { method: 'DELETE', url: `DocumentReference/scr-${patient}` } }] } });
      expect(inTransaction.status).to.be.oneOf([400, 403]);
      expect((await pointerOf(patient)).json.total).to.equal(1);
      // A document Bundle that is not a GP summary is still a plain create.
      const plain = await as(admin, '/Bundle', { method: 'POST', body: { resourceType: 'Bundle', type: 'collection' } });
      expect(plain.status).to.equal(201);
    });

    it('RBAC and scopes: reading or uploading the record needs a clinical role and the Composition scopes', async () => {
      const res = await readRecord(second, ptv, clerk);
      expect(res.status).to.equal(403);
      expect(res.text).to.not.contain('Hypertension');
      expect((await pointerOf(patient, clerk)).status).to.equal(403);
      expect((await upload({ scope: 'system/Bundle.c' }, scrDocument(patient, randomUUID()))).status).to.equal(403);
      expect((await readRecord(second, ptv, { scope: 'system/Bundle.rs' })).status).to.equal(403);
      // The audit trail records the read against the patient.
      const audits = await as(admin, `/AuditEvent?patient=Patient/${patient}&subtype=search-type&_count=100`);
      expect(audits.json.total ?? audits.json.entry.length).to.be.greaterThan(0);
    });
  });
  describe('the patient\'s permission ($setPermission): Yes, No, Ask', () => {
    const optedOut = nhs('999000003');
    const later = nhs('999000004');
    const ask = nhs('999000005');
    const askUuid = randomUUID();

    it('No refuses the upload (403 ACCESS_DENIED) and nothing is stored', async () => {
      const set = await setPermission(optedOut, 'No');
      expect(set.status, set.text).to.equal(200);
      expect(set.json.issue[0].diagnostics).to.contain('No');
      const res = await upload(gpSystem, scrDocument(optedOut, randomUUID()));
      expect(res.status, res.text).to.equal(403);
      expect(spineCode(res)).to.equal('ACCESS_DENIED');
      const pointer = await pointerOf(optedOut);
      expect(pointer.status).to.equal(403);
    });

    it('No set after an upload refuses every read, whatever the reader asserts, emergency included; the pointer carries the label', async () => {
      const uuid = randomUUID();
      expect((await upload(gpSystem, scrDocument(later, uuid))).status).to.equal(201);
      expect((await readRecord(uuid, ptv)).status).to.equal(200);
      expect((await setPermission(later, 'No')).status).to.equal(200);
      const cases: Record<string, string>[] = [{}, ptv, { 'NHSD-SCR-Legitimate-Relationship': 'true' }, { 'NHSD-SCR-Alert-Type': '2', 'NHSD-SCR-Alert-Reason': '5', 'NHSD-Session-URID': '555000000001' }];
      for (const headers of cases) {
        const res = await readRecord(uuid, headers);
        expect(res.status, JSON.stringify(headers)).to.equal(403);
        expect(spineCode(res)).to.equal('ACCESS_DENIED');
        expect(res.json.issue[0].details.text).to.equal('[PSIS-30418] - ACF does not permit access to resource');
        expect(res.text).to.not.contain('Asthma');
        expect((await as(clinician, `/Composition/scr-${later}/$document`, { headers })).status).to.equal(403);
        expect((await as(clinician, `/Composition/scr-${later}/_history`, { headers })).status).to.equal(403);
      }
      expect((await pointerOf(later)).status).to.equal(403);
      // Back to Ask: the pointer's securityLabel follows the permission, and the record reads again.
      expect((await setPermission(later, 'Ask')).status).to.equal(200);
      const pointer = await pointerOf(later);
      expect(pointer.json.entry[0].resource.securityLabel[0].coding[0].code).to.equal('Ask');
      expect((await readRecord(uuid, ptv)).status).to.equal(200);
    });

    it('a patient-context or query-constrained token cannot set a permission (403, and the permission is unchanged)', async () => {
      const own = nhs('999000006');
      expect((await setPermission(own, 'Ask')).status).to.equal(200);
      const callers: Caller[] = [
        { scope: 'patient/Consent.cu patient/DocumentReference.cu', patient: own, fhirUser: `Patient/${own}` },
        { scope: 'patient/Consent.cu', patient: own, fhirUser: 'Practitioner/dr-a', roles: ['R8000'] },
        { scope: 'user/Consent.cu?status=inactive', fhirUser: 'Practitioner/dr-a', roles: ['R8000'] },
      ];
      for (const caller of callers) {
        const res = await as(caller, '/$setPermission', { method: 'POST', body: permissionBody(own, 'No') });
        expect(res.status, `${caller.scope}: ${res.text}`).to.equal(403);
        expect(res.json.resourceType).to.equal('OperationOutcome');
      }
      const pointer = await pointerOf(own);
      expect(pointer.status).to.equal(200); // still Ask: a No would refuse this read
    });

    it('Yes is legacy and treated as Ask: the label says Yes, the reader still asserts', async () => {
      expect((await setPermission(later, 'Yes')).status).to.equal(200);
      const pointer = await pointerOf(later);
      expect(pointer.json.entry[0].resource.securityLabel[0].coding[0]).to.include({ system: ACS, code: 'Yes' });
      const uuid = pointer.json.entry[0].resource.masterIdentifier.value;
      expect((await readRecord(uuid)).status).to.equal(403);
      expect((await readRecord(uuid, ptv)).status).to.equal(200);
    });

    it('Ask (the default): the reader asserts permission to view or a legitimate relationship, else 403', async () => {
      expect((await upload(gpSystem, scrDocument(ask, askUuid))).status).to.equal(201);
      const refused = await readRecord(askUuid);
      expect(refused.status).to.equal(403);
      expect(spineCode(refused)).to.equal('ACCESS_DENIED');
      expect(refused.text).to.not.contain('Asthma');
      expect((await readRecord(askUuid, { 'NHSD-SCR-Permission-To-View': 'false' })).status).to.equal(403);
      expect((await readRecord(askUuid, ptv)).status).to.equal(200);
      expect((await readRecord(askUuid, { 'NHSD-SCR-Legitimate-Relationship': 'true' })).status).to.equal(200);
      expect((await as(clinician, `/Composition/scr-${ask}/$document`)).status).to.equal(403);
      expect((await as(clinician, `/Composition/scr-${ask}/$document`, { headers: { 'NHSD-SCR-Legitimate-Relationship': 'true' } })).status).to.equal(200);
      expect(spineCode(await readRecord(askUuid, { 'NHSD-SCR-Permission-To-View': 'maybe' }))).to.equal('INVALID_VALUE');
      // The pointer is readable under Ask without an assertion: its label tells the reader to ask.
      expect((await pointerOf(ask)).json.entry[0].resource.securityLabel[0].coding[0].code).to.equal('Ask');
    });

    it('$setPermission checks its Parameters and needs a staff user with a clinical role', async () => {
      const bad = await as(clinician, '/$setPermission', { method: 'POST', body: permissionBody(ask, 'Perhaps') });
      expect(bad.status).to.equal(400);
      expect(spineCode(bad)).to.equal('INVALID_VALUE');
      expect(spineCode(await as(clinician, '/$setPermission', { method: 'POST', body: permissionBody('1234567890', 'No') }))).to.equal('INVALID_VALUE');
      expect(spineCode(await as(clinician, '/$setPermission', { method: 'POST', body: { resourceType: 'Parameters' } }))).to.equal('MISSING_VALUE');
      expect((await as(clinician, '/$setPermission')).status).to.equal(405);
      expect((await as(admin, '/$setPermission', { method: 'POST', body: permissionBody(ask, 'No') })).status).to.equal(403); // app-restricted
      expect((await as(clerk, '/$setPermission', { method: 'POST', body: permissionBody(ask, 'No') })).status).to.equal(403); // RBAC
      expect((await readRecord(askUuid, ptv)).status).to.equal(200); // unchanged
      // The Consent it keeps is reached through the SCR API only.
      expect((await as(admin, `/Consent/scr-${ask}`)).status).to.equal(403);
    });
  });
  describe('emergency access and the privacy officer', () => {
    const patient = nhs('999000006');
    const uuid = randomUUID();
    const emergency = (type: string, reason: string, extra: Record<string, string> = {}) => ({ 'NHSD-SCR-Alert-Type': type, 'NHSD-SCR-Alert-Reason': reason, ...extra });
    const clinicianB = { scope: 'user/*.cruds', fhirUser: 'PractitionerRole/dr-b-role', roles: ['R8000'] };
    const alertsOf = async (caller: Caller, query = '', headers: Record<string, string> = {}) => {
      const res = await as(caller, `/AuditEvent?_count=200${query}`, { headers });
      expect(res.status, res.text).to.equal(200);
      return (res.json.entry ?? []).map((e: any) => e.resource);
    };
    const orgOf = (event: any) => event.agent.find((a: any) => a.who?.identifier?.system === ODS)?.who.identifier.value;

    before(async () => {
      expect((await upload(gpSystem, scrDocument(patient, uuid))).status).to.equal(201);
      expect((await as(admin, `/Patient/${patient}`, { method: 'PUT', body: { resourceType: 'Patient', id: patient, identifier: [{ system: NHS, value: patient }] } })).status).to.equal(201);
    });

    it('a reader without permission proceeds by declaring a reason: the read is answered and an alert AuditEvent recorded', async () => {
      const res = await readRecord(uuid, emergency('2', '5', { 'NHSD-Session-URID': '555000000001', 'NHSD-SCR-Alert-Message': 'Unconscious in A&E' }));
      expect(res.status, res.text).to.equal(200);
      expect(res.json.total).to.equal(5);
      const [alert, ...more] = await alertsOf(admin, `&type=${encodeURIComponent(`${ALERT_TYPE}|2`)}&patient=Patient/${patient}`);
      expect(more).to.deep.equal([]);
      expect(alert.type).to.deep.equal({ system: ALERT_TYPE, code: '2', display: 'Access Alert' });
      expect(alert.subtype[0]).to.deep.equal({ system: ALERT_REASON, code: '5', display: 'Access made in an emergency' });
      expect(alert.extension[0]).to.deep.equal({ url: 'https://fhir.nhs.uk/StructureDefinition/Extension-SCR-NotificationMessage', valueString: 'Unconscious in A&E' });
      expect(orgOf(alert)).to.equal('A81001');
      expect(alert.agent.some((a: any) => a.who?.reference === 'Practitioner/dr-a' && a.requestor === true)).to.equal(true);
      expect(alert.agent.some((a: any) => a.who?.identifier?.system === NHS && a.who.identifier.value === patient)).to.equal(true);
      expect(alert.entity.some((e: any) => e.what?.identifier?.system === 'https://fhir.nhs.uk/Id/nhsSCRUUID' && e.what.identifier.value === uuid)).to.equal(true);
      // $document the same way, by a user whose fhirUser is its PractitionerRole (organisation B), self-claiming a relationship.
      const doc = await as(clinicianB, `/Composition/scr-${patient}/$document`, { headers: emergency('1', '4') });
      expect(doc.status, doc.text).to.equal(200);
      const selfClaimed = await alertsOf(admin, `&type=${encodeURIComponent(`${ALERT_TYPE}|1`)}&patient=Patient/${patient}`);
      expect(selfClaimed.map((e: any) => [e.subtype[0].code, orgOf(e)])).to.deep.equal([['4', 'B82002']]);
    });

    it('only the permitted type/reason pairs are accepted (1: 1,2,3,4,6; 2: 1,2,3,5)', async () => {
      const urid = { 'NHSD-Session-URID': '555000000001' };
      for (const [type, reasons] of [['1', ['1', '2', '3', '4', '6']], ['2', ['1', '2', '3', '5']]] as const) {
        for (const reason of reasons) expect((await readRecord(uuid, emergency(type, reason, urid))).status, `${type}/${reason}`).to.equal(200);
      }
      for (const [type, reason] of [['1', '5'], ['2', '4'], ['2', '6'], ['3', '1'], ['1', '7']]) {
        const res = await readRecord(uuid, emergency(type, reason, urid));
        expect(res.status, `${type}/${reason}`).to.equal(400);
        expect(spineCode(res)).to.equal('INVALID_VALUE');
        expect(res.text).to.not.contain('Asthma');
      }
      const half = await readRecord(uuid, { 'NHSD-SCR-Alert-Type': '2', ...urid });
      expect(spineCode(half)).to.equal('MISSING_VALUE');
      const recorded = await alertsOf(admin, `&patient=Patient/${patient}&type=${encodeURIComponent(`${ALERT_TYPE}|`)}`);
      expect(recorded.length).to.equal(2 + 9); // the two of the previous test and one per permitted pair
    });

    it('an emergency access must name the reader\'s role, whose organisation the alert goes to', async () => {
      const before = (await alertsOf(admin, `&patient=Patient/${patient}&type=${encodeURIComponent(`${ALERT_TYPE}|`)}`)).length;
      const unnamed = await readRecord(uuid, emergency('2', '5'));
      expect(unnamed.status).to.equal(403);
      expect(unnamed.text).to.not.contain('Asthma');
      const othersRole = await readRecord(uuid, emergency('2', '5', { 'NHSD-Session-URID': '555000000002' })); // dr-b's role, not dr-a's
      expect(othersRole.status).to.equal(403);
      expect((await alertsOf(admin, `&patient=Patient/${patient}&type=${encodeURIComponent(`${ALERT_TYPE}|`)}`)).length).to.equal(before);
    });

    it('the privacy officer (R0001) searches the alerts of its own organisation only', async () => {
      const seenByA = await alertsOf(officerA);
      expect(seenByA.length).to.be.greaterThan(0);
      for (const e of seenByA) {
        expect(e.type.system).to.equal(ALERT_TYPE);
        expect(orgOf(e)).to.equal('A81001');
      }
      const all = await alertsOf(admin, `&type=${encodeURIComponent(`${ALERT_TYPE}|`)}`);
      const ofB = all.filter((e: any) => orgOf(e) === 'B82002');
      expect(ofB.length).to.equal(1);
      expect(seenByA.length).to.equal(all.length - ofB.length);
      // A's officer cannot read B's alert, nor a plain audit record, by id.
      expect((await as(officerA, `/AuditEvent/${ofB[0].id}`)).status).to.equal(403);
      expect((await as(officerA, `/AuditEvent/${seenByA[0].id}`)).status).to.equal(200);
      const plain = (await alertsOf(admin, '&type=http://terminology.hl7.org/CodeSystem/audit-event-type|rest&_count=1'))[0];
      expect((await as(officerA, `/AuditEvent/${plain.id}`)).status).to.equal(403);
      // Nor inside a batch, where the restriction cannot be applied entry by entry.
      const batch = await as(officerA, '/', { method: 'POST', body: { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: 'AuditEvent' } }] } });
      expect(batch.status).to.equal(403);
      // Nor through _revinclude from a resource it may read.
      const viaPatient = await as({ ...officerA, scope: 'user/AuditEvent.rs user/Patient.rs' }, `/Patient?_id=${patient}&_revinclude=AuditEvent:patient`);
      expect(viaPatient.status, viaPatient.text).to.equal(200);
      expect(viaPatient.json.entry.map((e: any) => e.resource.resourceType)).to.deep.equal(['Patient']);
      // B's officer names its role with NHSD-Session-URID (its fhirUser is a Practitioner).
      expect((await as(officerB, '/AuditEvent')).status).to.equal(403);
      const seenByB = await alertsOf(officerB, '', { 'NHSD-Session-URID': '555000000004' });
      expect(seenByB.map((e: any) => e.id)).to.deep.equal([ofB[0].id]);
      // A privacy officer's role is not clinical: the record itself stays closed to it.
      expect((await readRecord(uuid, ptv, { ...officerA, scope: 'user/*.read' })).status).to.equal(403);
    });
  });
});

describe('HTTP: Summary Care Record API with AUTH=off', function () {
  this.timeout(30_000);
  let server: TestServer;
  before(async () => { server = await startTestServer({ auth: 'off', pds: true }); });
  after(async () => { await server.stop(); });

  it('the consent rules still apply to the anonymous user; emergency access needs a named role, so it is refused', async () => {
    const patient = nhs('999000007');
    const uuid = randomUUID();
    expect((await server.fhir('/Bundle', { method: 'POST', body: scrDocument(patient, uuid) })).status).to.equal(201);
    expect((await server.fhir(`/Bundle?composition.identifier=${uuid}`)).status).to.equal(403);
    expect((await server.fhir(`/Bundle?composition.identifier=${uuid}`, { headers: { 'NHSD-SCR-Permission-To-View': 'true' } })).status).to.equal(200);
    expect((await server.fhir(`/Bundle?composition.identifier=${uuid}`, { headers: { 'NHSD-SCR-Alert-Type': '2', 'NHSD-SCR-Alert-Reason': '5' } })).status).to.equal(403);
    expect((await server.fhir(`/Composition/scr-${patient}`)).status).to.equal(403);
    expect((await server.fhir('/$setPermission', { method: 'POST', body: permissionBody(patient, 'No') })).status).to.equal(200);
    expect((await server.fhir(`/Bundle?composition.identifier=${uuid}`, { headers: { 'NHSD-SCR-Permission-To-View': 'true' } })).status).to.equal(403);
  });
});
