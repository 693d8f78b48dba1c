import { expect } from 'chai';
import { startTestServer, type TestServer } from '../support/server.js';
import { isValidNhsNumber } from '../../resources/patient/nhs-number.js';
import { spineCodeOf } from '../support/fhir-errors.js';

/** PDS (issue 6) through a real server with the PDS rules on, as `npm start` runs by default. */

const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
const ODS = 'https://fhir.nhs.uk/Id/ods-organization-code';
const NHS = 'https://fhir.nhs.uk/Id/nhs-number';

const spineCode = spineCodeOf;

interface Person { id: string; family: string; given: string; birthDate: string; gender?: string; postcode?: string; gp?: string; security?: string; extra?: object }

function patient(p: Person): Record<string, unknown> {
  return {
    resourceType: 'Patient', id: p.id,
    ...(p.security ? { meta: { security: [{ system: CONFIDENTIALITY, code: p.security }] } } : {}),
    identifier: [{ system: NHS, value: p.id }],
    name: [{ use: 'usual', family: p.family, given: [p.given] }],
    gender: p.gender ?? 'female',
    birthDate: p.birthDate,
    ...(p.postcode ? { address: [{ use: 'home', line: ['1 Test Street'], postalCode: p.postcode }] } : {}),
    telecom: [{ system: 'phone', value: `0113496${p.id.slice(-4)}`, use: 'home' }],
    ...(p.gp ? { generalPractitioner: [{ type: 'Organization', identifier: { system: ODS, value: p.gp } }] } : {}),
    ...(p.extra ?? {}),
  };
}

describe('HTTP: PDS patients', () => {
  let server: TestServer;
  const people: Person[] = [
    { id: '9990000018', family: 'Smith', given: 'Jane', birthDate: '2010-10-22', postcode: 'LS1 6AE', gp: 'Y12345' },
    { id: '9990000026', family: 'Smyth', given: 'Jane', birthDate: '2010-10-22', postcode: 'LS1 6AE', gp: 'Y12345' },
    { id: '9990000034', family: 'Smithers', given: 'Jayne', birthDate: '2010-10-22', postcode: 'LS2 7XY' },
    { id: '9990000042', family: 'Smith', given: 'John', birthDate: '1975-03-01', gender: 'male', postcode: 'BD1 1AA' },
    { id: '9990000050', family: 'Hidden', given: 'Rita', birthDate: '1990-05-05', postcode: 'LS9 9ZZ', gp: 'Y12345', security: 'R' },
    { id: '9990000069', family: 'Gone', given: 'Vera', birthDate: '1990-05-05', security: 'REDACTED' },
    { id: '9990000077', family: 'Merged', given: 'Mo', birthDate: '1960-01-01', security: 'REDACTED', extra: { link: [{ type: 'replaced-by', other: { reference: 'Patient/9990000085' } }] } },
    { id: '9990000085', family: 'Merged', given: 'Mo', birthDate: '1960-01-01' },
  ];

  before(async () => {
    server = await startTestServer({ pds: true, nhsNumberRange: { from: '9991000000', to: '9991000049' } });
    for (const p of people) {
      expect(isValidNhsNumber(p.id), p.id).to.equal(true);
      const res = await server.fhir(`/Patient/${p.id}`, { method: 'PUT', body: patient(p) });
      expect(res.status, res.text).to.equal(201);
    }
  });
  after(async () => { await server.stop(); });

  const search = (query: string) => server.fhir(`/Patient?${query}`);
  const ids = (bundle: any) => (bundle.entry ?? []).map((e: any) => e.resource.id);

  describe('NHS numbers as ids', () => {
    it('a read, update or delete with an id that is not a valid NHS number is 400 INVALID_RESOURCE_ID', async () => {
      for (const [method, path] of [['GET', '/Patient/9000000000'], ['GET', '/Patient/pat-1'], ['DELETE', '/Patient/1234567890'], ['GET', '/Patient/123456789']]) {
        const res = await server.fhir(path, { method });
        expect(res.status, `${method} ${path}`).to.equal(400);
        expect(spineCode(res.json)).to.equal('INVALID_RESOURCE_ID');
      }
      const put = await server.fhir('/Patient/9000000001', { method: 'PUT', body: { resourceType: 'Patient', id: '9000000001' } });
      expect(put.status).to.equal(400);
      expect(spineCode(put.json)).to.equal('INVALID_RESOURCE_ID');
    });

    it('an unknown NHS number is 404 RESOURCE_NOT_FOUND with the Spine coding', async () => {
      const res = await server.fhir('/Patient/9111231130');
      expect(res.status).to.equal(404);
      expect(spineCode(res.json)).to.equal('RESOURCE_NOT_FOUND');
      expect(res.json.issue[0].code).to.equal('not-found');
    });

    it('a transaction PUT entry or a conditional create with a non-NHS-number id is refused and writes nothing', async () => {
      const tx = await server.fhir('/', { method: 'POST', body: {
        resourceType: 'Bundle', type: 'transaction', entry: [
          { resource: { resourceType: 'Patient', id: '9990000115', name: [{ family: 'Tx' }] }, request: { method: 'PUT', url: 'Patient/9990000115' } },
          { resource: { resourceType: 'Patient', id: 'not-nhs', name: [{ family: 'Tx' }] }, request: { method: 'PUT', url: 'Patient/not-nhs' } },
        ],
      } });
      expect(tx.status).to.equal(400);
      expect((await server.fhir('/Patient/9990000115')).status).to.equal(404);
      const conditional = await server.fhir('/Patient?family=nobody-at-all', { method: 'PUT', body: { resourceType: 'Patient', id: '1234', name: [{ family: 'x' }] } });
      expect(conditional.status).to.equal(400);
      expect(spineCode(conditional.json)).to.equal('INVALID_RESOURCE_ID');
    });

    it('an NHS number identifier that is invalid or not the id is refused with 422 and a path', async () => {
      const bad = await server.fhir('/Patient/9990000093', { method: 'PUT', body: { resourceType: 'Patient', id: '9990000093', identifier: [{ system: NHS, value: '9990000018' }] } });
      expect(bad.status).to.equal(422);
      expect(bad.json.issue[0].expression).to.deep.equal(['Patient.identifier[0].value']);
      const invalid = await server.fhir('/Patient', { method: 'POST', body: { resourceType: 'Patient', identifier: [{ system: NHS, value: '9990000019' }] } });
      expect(invalid.status).to.equal(422);
      expect(spineCode(invalid.json)).to.equal('INVALID_VALUE');
    });

    it('POST allocates valid numbers from the configured range, never the same one twice, even after a delete, and 503 when exhausted', async () => {
      const allocated: string[] = [];
      for (;;) {
        const res = await server.fhir('/Patient', { method: 'POST', body: { resourceType: 'Patient', name: [{ family: 'Alloc' }] } });
        if (res.status === 503) {
          expect(res.json.resourceType).to.equal('OperationOutcome');
          break;
        }
        expect(res.status, res.text).to.equal(201);
        allocated.push(res.json.id);
        if (allocated.length === 1) expect((await server.fhir(`/Patient/${res.json.id}`, { method: 'DELETE' })).status).to.equal(200);
        expect(allocated.length).to.be.below(60);
      }
      expect(allocated.every(isValidNhsNumber)).to.equal(true);
      expect(allocated.every((n) => n >= '9991000000' && n <= '9991000049')).to.equal(true);
      expect(new Set(allocated).size).to.equal(allocated.length);
      // the range holds 5 stems × ~10/11 valid numbers each: every one was handed out exactly once
      const validInRange = Array.from({ length: 50 }, (_, i) => String(9991000000 + i)).filter(isValidNhsNumber);
      expect([...allocated].sort()).to.deep.equal(validInRange);
    });
  });

  describe('PDS search', () => {
    it('family + birthdate finds exact matches with search.score 1, in a searchset with total and timestamp', async () => {
      const res = await search('family=smith&birthdate=eq2010-10-22');
      expect(res.status).to.equal(200);
      expect(res.json.type).to.equal('searchset');
      expect(res.json.total).to.equal(1);
      expect(Date.parse(res.json.timestamp)).to.be.closeTo(Date.now(), 60_000);
      expect(ids(res.json)).to.deep.equal(['9990000018']);
      expect(res.json.entry[0].search.score).to.equal(1);
      expect(res.json.entry[0].fullUrl).to.equal(`${server.url}/Patient/9990000018`);
    });

    it('a wildcard family matches by prefix with a lower score; results are sorted by score', async () => {
      const res = await search('family=Smi*&birthdate=2010-10-22');
      expect(ids(res.json).sort()).to.deep.equal(['9990000018', '9990000034']);
      const scores = res.json.entry.map((e: any) => e.search.score);
      expect(scores.every((s: number) => s < 1 && s > 0)).to.equal(true);
    });

    it('birthdate ranges, gender, postcode (case and spaces ignored), GP and phone narrow the match', async () => {
      expect(ids((await search('family=Smith&birthdate=ge1970-01-01&birthdate=le1980-12-31')).json)).to.deep.equal(['9990000042']);
      expect(ids((await search('family=Smith&birthdate=ge1970-01-01&gender=female')).json)).to.deep.equal(['9990000018']);
      expect(ids((await search('family=Smith&birthdate=ge1970-01-01&address-postalcode=ls16ae')).json)).to.deep.equal(['9990000018']);
      expect(ids((await search('family=Smith&birthdate=ge1970-01-01&general-practitioner=Y12345')).json)).to.deep.equal(['9990000018']);
      expect(ids((await search('family=Smith&birthdate=ge1970-01-01&phone=01134960042')).json)).to.deep.equal(['9990000042']);
    });

    it('a fuzzy search finds homophones and near spellings, best first', async () => {
      const res = await search('_fuzzy-match=true&family=Smith&given=Jane&birthdate=2010-10-22');
      expect(res.status).to.equal(200);
      const found = ids(res.json);
      expect(found[0]).to.equal('9990000018');
      expect(found).to.include('9990000026'); // Smyth
      const scores = res.json.entry.map((e: any) => e.search.score);
      expect(scores[0]).to.equal(1);
      expect([...scores].sort((a, b) => b - a)).to.deep.equal(scores);
      const exactOnly = await search('_fuzzy-match=true&_exact-match=true&family=Smith&given=Jane&birthdate=2010-10-22');
      expect(ids(exactOnly.json)).to.deep.equal(['9990000018']);
    });

    it('more matches than _max-results is HTTP 200 with a TOO_MANY_MATCHES OperationOutcome', async () => {
      const res = await search('_fuzzy-match=true&family=Smith&given=Jane&birthdate=2010-10-22&_max-results=1');
      expect(res.status).to.equal(200);
      expect(res.json.resourceType).to.equal('OperationOutcome');
      expect(res.json.issue[0].code).to.equal('multiple-matches');
      expect(spineCode(res.json)).to.equal('TOO_MANY_MATCHES');
    });

    it('queries below the minimum criteria or with bad values get the Spine error codes', async () => {
      const missing = await search('family=Smith');
      expect(missing.status).to.equal(400);
      expect(spineCode(missing.json)).to.equal('INVALID_SEARCH_DATA');
      const bad = await search('family=Smith&birthdate=20101022');
      expect(bad.status).to.equal(400);
      expect(spineCode(bad.json)).to.equal('INVALID_VALUE');
      expect(bad.json.issue[0].diagnostics).to.equal("Invalid value - '20101022' in field 'birthdate'");
    });

    it('other Patient searches keep generic FHIR semantics', async () => {
      const res = await search('family=smi&_count=10');
      expect(res.status).to.equal(200);
      expect(ids(res.json).sort()).to.deep.equal(['9990000018', '9990000034', '9990000042']);
      expect(res.json.entry[0].search).to.deep.equal({ mode: 'match' });
      expect(ids((await search(`identifier=${NHS}|9990000026`)).json)).to.deep.equal(['9990000026']);
    });
  });

  describe('restricted, invalidated and superseded records', () => {
    it('a restricted patient is read without address, telecom or GP', async () => {
      const res = await server.fhir('/Patient/9990000050');
      expect(res.status).to.equal(200);
      expect(res.json).to.not.have.any.keys('address', 'telecom', 'generalPractitioner');
      expect(res.json.name[0].family).to.equal('Hidden');
      const history = await server.fhir('/Patient/9990000050/_history');
      expect(history.json.entry[0].resource).to.not.have.any.keys('address', 'telecom', 'generalPractitioner');
    });

    it('is found (redacted) by name, never by postcode, GP or phone, in PDS and generic searches', async () => {
      const byName = await search('family=Hidden&birthdate=1990-05-05');
      expect(ids(byName.json)).to.deep.equal(['9990000050']);
      expect(byName.json.entry[0].resource).to.not.have.any.keys('address', 'telecom', 'generalPractitioner');
      expect(ids((await search('family=Hidden&birthdate=1990-05-05&address-postalcode=LS9 9ZZ')).json)).to.deep.equal([]);
      expect(ids((await search('family=Hidden&birthdate=1990-05-05&general-practitioner=Y12345')).json)).to.deep.equal([]);
      expect(ids((await search('address-postalcode=LS9')).json)).to.deep.equal([]);
      expect(ids((await search('phone=01134960050')).json)).to.deep.equal([]);
      expect(ids((await search('family=hidden&_count=5')).json)).to.deep.equal(['9990000050']);
    });

    it('is not found by location through a chain from another type, nor sorted by location', async () => {
      const obs = await server.fhir('/Observation/obs-hidden', { method: 'PUT', body: {
        resourceType: 'Observation', id: 'obs-hidden', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/9990000050' },
      } });
      expect(obs.status).to.equal(201);
      expect(ids((await server.fhir('/Observation?subject:Patient.family=hidden')).json)).to.deep.equal(['obs-hidden']);
      expect(ids((await server.fhir('/Observation?subject:Patient.address-postalcode=LS9')).json)).to.deep.equal([]);
      expect(ids((await server.fhir('/Observation?patient.phone=01134960050')).json)).to.deep.equal([]);
      expect(ids((await server.fhir('/Observation?subject:Patient.general-practitioner:Organization.identifier=Y12345')).json)).to.deep.equal([]);
      const sorted = ids((await search('birthdate=1990-05-05&_sort=address-postalcode')).json);
      expect(sorted).to.not.include('9990000050');
    });

    it('an invalidated record is 404 INVALIDATED_RESOURCE and never found', async () => {
      const res = await server.fhir('/Patient/9990000069');
      expect(res.status).to.equal(404);
      expect(spineCode(res.json)).to.equal('INVALIDATED_RESOURCE');
      expect(ids((await search('family=Gone&birthdate=1990-05-05')).json)).to.deep.equal([]);
      expect(ids((await search('family=gone&_count=5')).json)).to.deep.equal([]);
    });

    it('a superseded record answers with its survivor, whose id differs', async () => {
      const res = await server.fhir('/Patient/9990000077');
      expect(res.status).to.equal(200);
      expect(res.json.id).to.equal('9990000085');
      expect(res.headers.get('etag')).to.equal('W/"1"');
      expect(ids((await search('family=Merged&birthdate=1960-01-01')).json)).to.deep.equal(['9990000085']);
    });
  });

  describe('no way round the restricted and invalidated rules', () => {
    it('an invalidated record is hidden from vread, instance, type and system history, compartments and _include', async () => {
      for (const path of ['/Patient/9990000069/_history/1', '/Patient/9990000069/_history', '/Patient/9990000069/Observation']) {
        const res = await server.fhir(path);
        expect(res.status, path).to.equal(404);
        expect(spineCode(res.json), path).to.equal('INVALIDATED_RESOURCE');
      }
      for (const path of ['/Patient/_history?_count=500', '/_history?_count=500']) {
        const listed = (await server.fhir(path)).json.entry.map((e: any) => e.fullUrl);
        expect(listed, path).to.not.include(`${server.url}/Patient/9990000069`);
      }
      await server.fhir('/Observation/obs-gone', { method: 'PUT', body: { resourceType: 'Observation', id: 'obs-gone', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/9990000069' } } });
      const included = await server.fhir('/Observation?_id=obs-gone&_include=Observation:subject');
      expect(included.json.entry.map((e: any) => e.resource.resourceType)).to.deep.equal(['Observation']);
      expect(ids((await server.fhir('/?_id=9990000069')).json)).to.deep.equal([]);
      expect(ids((await server.fhir('/?_type=Patient,Person&_id=9990000069')).json)).to.deep.equal([]);
      const batch = await server.fhir('/', { method: 'POST', body: { resourceType: 'Bundle', type: 'batch', entry: [{ request: { method: 'GET', url: 'Patient/9990000069/_history/1' } }] } });
      expect(batch.json.entry[0].response.status).to.match(/^404/);
      expect(batch.json.entry[0]).to.not.have.key('resource');
    });

    it('a record restricted now does not show older versions\' details, nor its narrative', async () => {
      const id = '9990000123';
      const body = patient({ id, family: 'Later', given: 'Lou', birthDate: '1980-01-01', postcode: 'LS1 4HR' });
      Object.assign(body, { text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">1 Test Street, LS1 4HR</div>' } });
      expect((await server.fhir(`/Patient/${id}`, { method: 'PUT', body })).status).to.equal(201);
      const restricted = { ...body, meta: { security: [{ system: CONFIDENTIALITY, code: 'R' }] } };
      const put = await server.fhir(`/Patient/${id}`, { method: 'PUT', body: restricted });
      expect(put.status).to.equal(200);
      expect(put.json).to.not.have.any.keys('address', 'telecom', 'text'); // the write's answer is redacted too
      for (const path of [`/Patient/${id}/_history/1`, `/Patient/${id}`, `/Patient/${id}?_summary=text`]) {
        const res = await server.fhir(path);
        expect(res.status, path).to.equal(200);
        expect(res.json, path).to.not.have.any.keys('address', 'telecom', 'text');
      }
      const history = await server.fhir(`/Patient/${id}/_history`);
      for (const e of history.json.entry) expect(e.resource).to.not.have.any.keys('address', 'telecom', 'text');
      const patch = await server.fhir(`/Patient/${id}`, {
        method: 'PATCH', headers: { 'Content-Type': 'application/json-patch+json', 'If-Match': 'W/"2"' },
        body: { patches: [{ op: 'test', path: '/id', value: id }] },
      });
      expect(patch.status, patch.text).to.equal(200);
      expect(patch.json).to.not.have.any.keys('address', 'telecom');
    });

    it('conditional-write criteria cannot find a restricted patient by location or an invalidated one at all', async () => {
      // (conditional PUTs with a fresh id: this server's small allocation range was used up above)
      const byPostcode = await server.fhir('/Patient?address-postalcode=LS9 9ZZ&family=Hidden', { method: 'PUT', body: { resourceType: 'Patient', id: '9990000158', name: [{ family: 'Probe' }] } });
      expect(byPostcode.status).to.equal(201); // no match: the restricted patient is invisible to location criteria
      expect(byPostcode.json.id).to.equal('9990000158');
      const byId = await server.fhir('/Patient?_id=9990000069', { method: 'PUT', body: { resourceType: 'Patient', id: '9990000166', name: [{ family: 'Probe' }] } });
      expect(byId.status).to.equal(201);
      expect(byId.json.id).to.equal('9990000166');
      expect((await server.fhir('/Patient/9990000050')).json.name[0].family).to.equal('Hidden'); // untouched
      expect(ids((await server.fhir('/?_type=Patient,Person&address-postalcode=LS9')).json)).to.deep.equal([]);
    });

    it('a deleted NHS number cannot be given to someone else by PUT', async () => {
      const id = '9990000131';
      expect((await server.fhir(`/Patient/${id}`, { method: 'PUT', body: patient({ id, family: 'Once', given: 'Only', birthDate: '1970-01-01' }) })).status).to.equal(201);
      expect((await server.fhir(`/Patient/${id}`, { method: 'DELETE' })).status).to.equal(200);
      const again = await server.fhir(`/Patient/${id}`, { method: 'PUT', body: patient({ id, family: 'Someone', given: 'Else', birthDate: '1990-01-01' }) });
      expect(again.status).to.equal(409);
      expect((await server.fhir(`/Patient/${id}`)).status).to.equal(410);
    });
  });

  describe('Patient/$match', () => {
    const match = (resource: object, extra: object[] = []) => server.fhir('/Patient/$match', {
      method: 'POST', body: { resourceType: 'Parameters', parameter: [{ name: 'resource', resource }, ...extra] },
    });

    it('returns scored candidates with match-grade extensions, best first', async () => {
      const res = await match({ resourceType: 'Patient', name: [{ family: 'Smyth', given: ['Jane'] }], gender: 'female', birthDate: '2010-10-22' });
      expect(res.status, res.text).to.equal(200);
      expect(res.json.type).to.equal('searchset');
      const [first] = res.json.entry;
      expect(first.resource.id).to.equal('9990000026');
      expect(first.search.score).to.equal(1);
      expect(first.search.extension).to.deep.equal([{ url: 'http://hl7.org/fhir/StructureDefinition/match-grade', valueCode: 'certain' }]);
      expect(ids(res.json)).to.include('9990000018');
      const grades = res.json.entry.map((e: any) => e.search.extension[0].valueCode);
      expect(grades[0]).to.equal('certain');
      expect(grades.slice(1)).to.not.include('certain'); // Smith for Smyth is a respelling, not a certain match
      const certain = await match({ resourceType: 'Patient', name: [{ family: 'Smyth', given: ['Jane'] }], gender: 'female', birthDate: '2010-10-22' }, [{ name: 'onlyCertainMatches', valueBoolean: true }]);
      expect(ids(certain.json)).to.deep.equal(['9990000026']);
      const one = await match({ resourceType: 'Patient', name: [{ family: 'Smith', given: ['Jane'] }], birthDate: '2010-10-22' }, [{ name: 'count', valueInteger: 1 }]);
      expect(ids(one.json)).to.have.length(1);
      const yearOnly = await match({ resourceType: 'Patient', name: [{ family: 'Smith', given: ['John'] }], birthDate: '1975' });
      expect(ids(yearOnly.json)).to.deep.equal(['9990000042']);
    });

    it('refuses input that is not a Parameters with one Patient, or below the minimum criteria', async () => {
      expect((await server.fhir('/Patient/$match', { method: 'POST', body: { resourceType: 'Patient' } })).status).to.equal(400);
      expect((await match({ resourceType: 'Observation', status: 'final', code: { text: 'x' } })).status).to.equal(400);
      const thin = await match({ resourceType: 'Patient', name: [{ family: 'Smith' }] });
      expect(thin.status).to.equal(400);
      expect(spineCode(thin.json)).to.equal('INVALID_SEARCH_DATA');
      expect((await server.fhir('/Observation/$match', { method: 'POST', body: { resourceType: 'Parameters', parameter: [] } })).status).to.equal(404);
      expect((await server.fhir('/Patient/$match')).status).to.equal(405);
    });
  });

  it('PDS extensions round-trip intact', async () => {
    const body = patient({ id: '9990000107', family: 'Round', given: 'Trip', birthDate: '1950-01-01', postcode: 'LS1 1AA', gp: 'Y12345' });
    Object.assign(body, {
      deceasedDateTime: '2020-01-01T10:00:00+00:00',
      extension: [
        { url: 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus', extension: [
          { url: 'deathNotificationStatus', valueCodeableConcept: { coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus', code: '2', display: 'Formal - death notice received from Registrar of Deaths' }] } },
          { url: 'systemEffectiveDate', valueDateTime: '2020-01-02T00:00:00+00:00' }] },
        { url: 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy', valueReference: { identifier: { system: ODS, value: 'FA424' } } },
        { url: 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSCommunication', extension: [
          { url: 'language', valueCodeableConcept: { coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-HumanLanguage', code: 'fr', display: 'French' }] } },
          { url: 'interpreterRequired', valueBoolean: true }] },
        { url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueAddress: { city: 'Manchester', country: 'GBR' } },
      ],
    });
    expect(isValidNhsNumber('9990000107')).to.equal(true);
    const put = await server.fhir('/Patient/9990000107', { method: 'PUT', body });
    expect(put.status, put.text).to.equal(201);
    const read = await server.fhir('/Patient/9990000107');
    const { meta, ...stored } = read.json;
    expect(stored).to.deep.equal(body);
    expect(meta.versionId).to.equal('1');
  });
});

describe('HTTP: PDS in the CapabilityStatement', () => {
  it('Patient lists $match and documents the PDS rules; other types do not', async () => {
    const server = await startTestServer({ pds: true });
    try {
      const { json } = await server.fhir('/metadata');
      const byType = (t: string) => json.rest[0].resource.find((r: any) => r.type === t);
      expect(byType('Patient').operation.map((o: any) => o.name)).to.include('match');
      expect(byType('Patient').documentation).to.match(/NHS number/);
      expect(byType('Observation').operation.map((o: any) => o.name)).to.not.include('match');
    } finally {
      await server.stop();
    }
  });
});
