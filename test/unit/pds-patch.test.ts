import { expect } from 'chai';
import type { Extension, Patient, Resource } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { SPINE_ERROR_SYSTEM } from '../../fhir/spine-errors.js';
import { applyPatch, type PatchBody } from '../../resources/patch/index.js';
import { DEATH_NOTIFICATION_URL, pdsPatchRules } from '../../resources/patient/pds-patch.js';
import type { Preconditions } from '../../resources/hooks.js';
import { thrownFhirError } from '../support/fhir-errors.js';

const PHARMACY_URL = 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy';

function patient(overrides: Partial<Patient> = {}): Patient {
  return {
    resourceType: 'Patient',
    id: '9000000009',
    meta: { versionId: '2', lastUpdated: '2024-05-01T10:00:00Z' },
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9000000009' }],
    name: [
      { id: 'N1', use: 'usual', family: 'Smith', given: ['Jane', 'Ann'] },
      { id: 'N2', use: 'nickname', given: ['Janey'] },
    ],
    telecom: [{ id: 'T1', system: 'phone', use: 'home', value: '01632960587' }],
    address: [{ id: 'A1', use: 'home', line: ['1 Trevelyan Square', 'Leeds'], postalCode: 'LS1 6AE' }],
    gender: 'female',
    birthDate: '1980-01-02',
    generalPractitioner: [{ id: 'G1', type: 'Organization', identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'Y12345' } }],
    extension: [{ url: PHARMACY_URL, valueReference: { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'FA123' } } }],
    ...overrides,
  } as Patient;
}

function dns(code: string): Extension {
  return {
    url: DEATH_NOTIFICATION_URL,
    extension: [
      { url: 'deathNotificationStatus', valueCodeableConcept: { coding: [{ system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus', version: '1.0.0', code }] } },
      { url: 'systemEffectiveDate', valueDateTime: '2024-01-02T00:00:00+00:00' },
    ],
  };
}

const V2: Preconditions = { ifMatch: 2 };
const pds = (patches: unknown): PatchBody => ({ kind: 'json-patch', operations: { patches } });
const bare = (operations: unknown): PatchBody => ({ kind: 'json-patch', operations });

/** prepare → the generic applier → finish, as write-session does. */
function run(body: PatchBody, current: Resource = patient(), pre: Preconditions = V2): Patient {
  const prepared = pdsPatchRules.prepare(body, current, pre);
  return pdsPatchRules.finish!(applyPatch(current, prepared), current) as Patient;
}

const failure = thrownFhirError;

/** Asserts the error's status and Spine code (and, when given, a part of its diagnostics). */
function expectSpine(e: FhirError, status: number, code: string, diagnostics?: string | RegExp): void {
  expect(e.status, e.message).to.equal(status);
  const coding = e.issues[0].details?.coding?.[0];
  expect(coding?.system).to.equal(SPINE_ERROR_SYSTEM);
  expect(coding?.code, e.message).to.equal(code);
  if (typeof diagnostics === 'string') expect(e.issues[0].diagnostics).to.equal(diagnostics);
  else if (diagnostics) expect(e.issues[0].diagnostics).to.match(diagnostics);
}

const fails = (body: PatchBody, current?: Resource, pre?: Preconditions) => failure(() => run(body, current, pre));

describe('PDS PATCH rules (resources/patient/pds-patch)', () => {
  describe('body', () => {
    it('takes the PDS form {"patches": [...]} and returns a plain RFC 6902 array', () => {
      const prepared = pdsPatchRules.prepare(pds([{ op: 'replace', path: '/gender', value: 'male' }]), patient(), V2);
      expect(prepared).to.deep.equal({ kind: 'json-patch', operations: [{ op: 'replace', path: '/gender', value: 'male' }] });
      expect(run(pds([{ op: 'replace', path: '/gender', value: 'male' }])).gender).to.equal('male');
    });

    it('takes a bare RFC 6902 array too', () => {
      expect(run(bare([{ op: 'replace', path: '/birthDate', value: '1981-02-03' }])).birthDate).to.equal('1981-02-03');
    });

    it('refuses a body without patches: 400 INVALID_UPDATE "No patches found"', () => {
      for (const operations of [{}, { patches: [] }, [], { patches: 'x' }, { patches: null }, 'x', 3, null]) {
        expectSpine(fails(bare(operations)), 400, 'INVALID_UPDATE', 'Invalid update with error - No patches found');
      }
    });

    it('refuses other members next to patches: 400 ADDITIONAL_PROPERTIES', () => {
      const e = fails(bare({ patches: [{ op: 'replace', path: '/gender', value: 'male' }], pets: 1 }));
      expectSpine(e, 400, 'ADDITIONAL_PROPERTIES', /'pets' was unexpected/);
    });

    it('allows add, replace, remove and test only: others are 400 INVALID_VALUE in field <n>/op (as the PDS sandbox answers)', () => {
      for (const op of ['move', 'copy', 'delete', undefined]) {
        const e = fails(pds([{ op: 'test', path: '/gender', value: 'female' }, { op, path: '/gender', from: '/birthDate' }]));
        expectSpine(e, 400, 'INVALID_VALUE', new RegExp(`in field '1/op'`));
      }
    });

    it('answers a malformed operation with 400 INVALID_UPDATE', () => {
      expectSpine(fails(pds([{ op: 'replace', path: '/gender' }])), 400, 'INVALID_UPDATE', /^Invalid update with error - Invalid patch - .*no "value"/);
      expectSpine(fails(pds([{ op: 'replace', path: 'gender', value: 'male' }])), 400, 'INVALID_UPDATE');
      expectSpine(fails(pds(['x'])), 400, 'INVALID_VALUE');
    });

    it('answers an operation that cannot be applied (out of range, failed test) with 400 INVALID_UPDATE naming the operation', () => {
      const range = fails(pds([{ op: 'replace', path: '/gender', value: 'male' }, { op: 'replace', path: '/address/5/postalCode', value: 'LS1 4BU' }]));
      expectSpine(range, 400, 'INVALID_UPDATE', /JSON Patch operation 1 .*out of range/);
      const test = fails(pds([{ op: 'test', path: '/gender', value: 'male' }, { op: 'replace', path: '/gender', value: 'unknown' }]));
      expectSpine(test, 400, 'INVALID_UPDATE', /operation 0: test failed/);
    });

    it('refuses writes to server-owned or unknown elements: 400 INVALID_UPDATE', () => {
      expectSpine(fails(pds([{ op: 'add', path: '/pets', value: 'cat' }])), 400, 'INVALID_UPDATE', "Invalid update with error - Update unsupported for resource - 'pets'");
      expectSpine(fails(pds([{ op: 'replace', path: '/id', value: '9000000017' }])), 400, 'INVALID_UPDATE');
      expectSpine(fails(pds([{ op: 'remove', path: '/meta' }])), 400, 'INVALID_UPDATE');
      // a test of them is harmless
      expect(run(pds([{ op: 'test', path: '/id', value: '9000000009' }, { op: 'replace', path: '/gender', value: 'male' }])).gender).to.equal('male');
    });

    it('leaves the current resource untouched when a later operation fails (all or nothing)', () => {
      const current = patient();
      const copy = structuredClone(current);
      fails(pds([{ op: 'replace', path: '/gender', value: 'male' }, { op: 'add', path: '/name/0', value: { given: ['X'] } }]), current);
      expect(current).to.deep.equal(copy);
    });
  });

  describe('If-Match', () => {
    const body = pds([{ op: 'replace', path: '/gender', value: 'male' }]);

    it('is required: missing is 412 PRECONDITION_FAILED', () => {
      expectSpine(fails(body, patient(), {}), 412, 'PRECONDITION_FAILED', 'Invalid request with error - If-Match header must be supplied to update this resource');
    });

    it('malformed (the server passes NaN) is 412 PRECONDITION_FAILED', () => {
      expectSpine(fails(body, patient(), { ifMatch: NaN }), 412, 'PRECONDITION_FAILED');
    });

    it('stale is 409 RESOURCE_VERSION_MISMATCH', () => {
      expectSpine(fails(body, patient(), { ifMatch: 1 }), 409, 'RESOURCE_VERSION_MISMATCH');
      expectSpine(fails(body, patient(), { ifMatch: 3 }), 409, 'RESOURCE_VERSION_MISMATCH');
    });

    it('is checked before the body: a missing If-Match wins over an empty patch list', () => {
      expectSpine(fails(pds([]), patient(), {}), 412, 'PRECONDITION_FAILED');
    });

    it('FHIRPath Patch (Parameters) passes through unchanged but still needs If-Match', () => {
      const body: PatchBody = {
        kind: 'fhirpath-patch',
        parameters: { resourceType: 'Parameters', parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'replace' }, { name: 'path', valueString: 'Patient.gender' }, { name: 'value', valueCode: 'male' }] }] },
      };
      expect(pdsPatchRules.prepare(body, patient(), V2)).to.equal(body);
      expect(run(body).gender).to.equal('male');
      expectSpine(fails(body, patient(), {}), 412, 'PRECONDITION_FAILED');
      expectSpine(fails(body, patient(), { ifMatch: 1 }), 409, 'RESOURCE_VERSION_MISMATCH');
    });
  });

  describe('list rules', () => {
    it('adds to a top-level list with /-, and the server gives the new item an id', () => {
      const out = run(pds([{ op: 'add', path: '/name/-', value: { use: 'maiden', family: 'Jones' } }]));
      expect(out.name).to.have.length(3);
      expect(out.name![2].family).to.equal('Jones');
      expect(out.name![2].id).to.match(/^[0-9A-F]{8}$/);
      expect(out.name![0].id).to.equal('N1');
      expect(out.name![1].id).to.equal('N2');
    });

    it('refuses an add to a top-level list by index: 400 INVALID_UPDATE', () => {
      expectSpine(fails(pds([{ op: 'add', path: '/name/0', value: { use: 'maiden', family: 'Jones' } }])), 400, 'INVALID_UPDATE', /use '\/name\/-'/);
      expectSpine(fails(pds([{ op: 'add', path: '/telecom/1', value: { system: 'email', value: 'a@example.org' } }])), 400, 'INVALID_UPDATE');
    });

    it('refuses a new item carrying an id: 400 INVALID_UPDATE', () => {
      expectSpine(fails(pds([{ op: 'add', path: '/address/-', value: { id: 'mine', use: 'temp', line: ['x'] } }])), 400, 'INVALID_UPDATE', /must not carry an id/);
    });

    it('adds /name/- to a patient without names (the list is created)', () => {
      const out = run(pds([{ op: 'add', path: '/telecom/-', value: { system: 'email', use: 'home', value: 'jane@example.org' } }]), patient({ telecom: undefined }));
      expect(out.telecom).to.have.length(1);
      expect(out.telecom![0].value).to.equal('jane@example.org');
      expect(out.telecom![0].id).to.be.a('string');
    });

    it('refuses to replace or remove a whole top-level list', () => {
      expectSpine(fails(pds([{ op: 'replace', path: '/telecom', value: [] }])), 400, 'INVALID_UPDATE');
      expectSpine(fails(pds([{ op: 'add', path: '/telecom', value: [{ system: 'phone', value: '1' }] }])), 400, 'INVALID_UPDATE');
      expectSpine(fails(pds([{ op: 'remove', path: '/address' }])), 400, 'INVALID_UPDATE');
    });

    it('replaces a whole item only with a value carrying its id', () => {
      const out = run(pds([{ op: 'replace', path: '/address/0', value: { id: 'A1', use: 'home', line: ['2 Whitehall Quay', 'Leeds'], postalCode: 'LS1 4BU' } }]));
      expect(out.address![0]).to.deep.equal({ id: 'A1', use: 'home', line: ['2 Whitehall Quay', 'Leeds'], postalCode: 'LS1 4BU' });
      const noId = fails(pds([{ op: 'replace', path: '/address/0', value: { use: 'home', line: ['x'] } }]));
      expectSpine(noId, 400, 'INVALID_UPDATE', 'Invalid update with error - no id or url found for path with root /address/0');
      const otherId = fails(pds([{ op: 'replace', path: '/address/0', value: { id: '123456', use: 'home', line: ['x'] } }]));
      expectSpine(otherId, 400, 'INVALID_UPDATE', "Invalid update with error - no 'address' resources with object id '123456'");
    });

    it('replaces a whole extension only with a value carrying its url', () => {
      const ok = run(pds([{ op: 'replace', path: '/extension/0', value: { url: PHARMACY_URL, valueReference: { identifier: { value: 'FB456' } } } }]));
      expect(ok.extension![0].valueReference?.identifier?.value).to.equal('FB456');
      expectSpine(fails(pds([{ op: 'replace', path: '/extension/0', value: { url: 'https://example.org/other', valueString: 'x' } }])), 400, 'INVALID_UPDATE');
    });

    it('lets patches below an item through, but an item id is fixed', () => {
      expect(run(pds([{ op: 'replace', path: '/name/0/given/0', value: 'Rose' }])).name![0].given).to.deep.equal(['Rose', 'Ann']);
      expect(run(pds([{ op: 'replace', path: '/address/0/id', value: 'A1' }, { op: 'replace', path: '/address/0/postalCode', value: 'LS1 4BU' }])).address![0].postalCode).to.equal('LS1 4BU');
      expectSpine(fails(pds([{ op: 'replace', path: '/address/0/id', value: '123456' }])), 400, 'INVALID_UPDATE', "Invalid update with error - no 'address' resources with object id '123456'");
      expectSpine(fails(pds([{ op: 'remove', path: '/name/1/id' }])), 400, 'INVALID_UPDATE');
    });

    it('removes an item only straight after a test of its id, its url or the whole item', () => {
      expect(run(pds([{ op: 'test', path: '/name/1/id', value: 'N2' }, { op: 'remove', path: '/name/1' }])).name).to.have.length(1);
      const whole = patient().name![1];
      expect(run(pds([{ op: 'test', path: '/name/1', value: whole }, { op: 'remove', path: '/name/1' }])).name).to.have.length(1);
      expect(run(pds([{ op: 'test', path: '/extension/0/url', value: PHARMACY_URL }, { op: 'remove', path: '/extension/0' }])).extension).to.deep.equal([]);
    });

    it('refuses a removal not immediately preceded by the test: 400 INVALID_UPDATE', () => {
      const first = fails(pds([{ op: 'remove', path: '/name/1' }]));
      expectSpine(first, 400, 'INVALID_UPDATE', "Invalid update with error - removal '/name/1' is not immediately preceded by equivalent test - instead it is the first item");
      const other = fails(pds([{ op: 'test', path: '/name/1/id', value: 'N2' }, { op: 'replace', path: '/gender', value: 'male' }, { op: 'remove', path: '/name/1' }]));
      expectSpine(other, 400, 'INVALID_UPDATE', /instead it is 'replace \/gender'/);
      const wrongItem = fails(pds([{ op: 'test', path: '/name/0/id', value: 'N1' }, { op: 'remove', path: '/name/1' }]));
      expectSpine(wrongItem, 400, 'INVALID_UPDATE');
      const wrongMember = fails(pds([{ op: 'test', path: '/name/1/family', value: 'x' }, { op: 'remove', path: '/name/1' }]));
      expectSpine(wrongMember, 400, 'INVALID_UPDATE');
      const failedTest = fails(pds([{ op: 'test', path: '/name/1/id', value: 'N9' }, { op: 'remove', path: '/name/1' }]));
      expectSpine(failedTest, 400, 'INVALID_UPDATE', /test failed/);
    });

    it('judges each operation against the document the earlier ones left (PDS examples 1 and 3)', () => {
      const four = patient({ name: [
        { id: '2', use: 'usual', family: 'Parker' }, { id: '3', use: 'official', family: 'Irwin' },
        { id: '4', use: 'official', family: 'Bruce' }, { id: '5', use: 'official', family: 'Sharpe' },
      ] });
      const out = run(pds([
        { op: 'test', path: '/name/1/id', value: '3' }, { op: 'remove', path: '/name/1' },
        { op: 'test', path: '/name/1/id', value: '4' }, { op: 'remove', path: '/name/1' },
      ]), four);
      expect(out.name!.map((n) => n.id)).to.deep.equal(['2', '5']);
      const e = fails(pds([
        { op: 'test', path: '/name/1/id', value: '3' }, { op: 'remove', path: '/name/1' },
        { op: 'test', path: '/name/2/id', value: '4' }, { op: 'remove', path: '/name/2' },
      ]), four);
      expectSpine(e, 400, 'INVALID_UPDATE', /operation 2: test failed/);
    });

    it('gives ids to id-less items of name, address, telecom, contact and generalPractitioner (not identifier)', () => {
      const legacy = patient({
        telecom: [{ system: 'phone', value: '1' }],
        contact: [{ relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0131', code: 'C' }] }], telecom: [{ system: 'phone', value: '2' }] }],
      });
      const out = run(pds([{ op: 'replace', path: '/gender', value: 'male' }]), legacy);
      expect(out.telecom![0].id).to.match(/^[0-9A-F]{8}$/);
      expect(Object.keys(out.telecom![0])[0]).to.equal('id');
      expect(out.contact![0].id).to.match(/^[0-9A-F]{8}$/);
      expect((out.identifier![0] as { id?: string }).id).to.equal(undefined);
      expect(out.name!.map((n) => n.id)).to.deep.equal(['N1', 'N2']);
    });
  });

  describe('field rules (finish)', () => {
    it('gender cannot be removed (403 FORBIDDEN_UPDATE) or set to other (400 INVALID_VALUE)', () => {
      expectSpine(fails(pds([{ op: 'remove', path: '/gender' }])), 403, 'FORBIDDEN_UPDATE', "Forbidden update with error - source not permitted to remove 'gender'");
      expectSpine(fails(pds([{ op: 'replace', path: '/gender', value: 'other' }])), 400, 'INVALID_VALUE', "Invalid value - 'other' in field 'gender'");
      expectSpine(fails(pds([{ op: 'replace', path: '/gender', value: 'robot' }])), 400, 'INVALID_VALUE', "Invalid value - 'robot' in field 'gender'");
      // a legacy `other` may stay while something else changes
      expect(run(pds([{ op: 'replace', path: '/birthDate', value: '1981-01-01' }]), patient({ gender: 'other' })).gender).to.equal('other');
      // and a patient without a gender may get one
      expect(run(pds([{ op: 'add', path: '/gender', value: 'unknown' }]), patient({ gender: undefined })).gender).to.equal('unknown');
    });

    it('birthDate cannot be removed (403) or lie in the future (400 INVALID_VALUE)', () => {
      expectSpine(fails(pds([{ op: 'remove', path: '/birthDate' }])), 403, 'FORBIDDEN_UPDATE', /'birthDate'/);
      expectSpine(fails(pds([{ op: 'replace', path: '/birthDate', value: '2999-01-01' }])), 400, 'INVALID_VALUE', "Invalid value - '2999-01-01' in field 'birthDate'");
      expectSpine(fails(pds([{ op: 'replace', path: '/birthDate', value: '2999' }])), 400, 'INVALID_VALUE');
    });

    it('only one usual name: adding another is 403 FORBIDDEN_UPDATE', () => {
      const e = fails(pds([{ op: 'add', path: '/name/-', value: { use: 'usual', family: 'Bloggs' } }]));
      expectSpine(e, 403, 'FORBIDDEN_UPDATE', 'Forbidden update with error - multiple usual names cannot be added');
    });

    it('only one nickname: adding another is 403 FORBIDDEN_UPDATE', () => {
      expectSpine(fails(pds([{ op: 'add', path: '/name/-', value: { use: 'nickname', given: ['JJ'] } }])), 403, 'FORBIDDEN_UPDATE');
    });

    it('the usual name cannot be removed: 403 FORBIDDEN_UPDATE', () => {
      const e = fails(pds([{ op: 'test', path: '/name/0/id', value: 'N1' }, { op: 'remove', path: '/name/0' }]));
      expectSpine(e, 403, 'FORBIDDEN_UPDATE', 'Forbidden update with error - not permitted to remove usual name');
    });

    it('a name use is immutable: 400 INVALID_UPDATE, by partial or whole replace', () => {
      expectSpine(fails(pds([{ op: 'replace', path: '/name/1/use', value: 'official' }])), 400, 'INVALID_UPDATE', /use of name 'N2' cannot be changed/);
      expectSpine(fails(pds([{ op: 'replace', path: '/name/1', value: { id: 'N2', use: 'maiden', given: ['Janey'] } }])), 400, 'INVALID_UPDATE');
      expectSpine(fails(pds([{ op: 'remove', path: '/name/1/use' }])), 400, 'INVALID_UPDATE');
    });

    it('at most one generalPractitioner: 400 TOO_MANY_VALUES_SUBMITTED', () => {
      const e = fails(pds([{ op: 'add', path: '/generalPractitioner/-', value: { type: 'Organization', identifier: { value: 'Y99999' } } }]));
      expectSpine(e, 400, 'TOO_MANY_VALUES_SUBMITTED');
      // a first one is fine
      const out = run(pds([{ op: 'add', path: '/generalPractitioner/-', value: { type: 'Organization', identifier: { value: 'Y99999' } } }]), patient({ generalPractitioner: undefined }));
      expect(out.generalPractitioner![0].id).to.be.a('string');
    });

    it('deceasedDateTime is added only together with a death notification status, and vice versa', () => {
      const alone = fails(pds([{ op: 'add', path: '/deceasedDateTime', value: '2024-01-01T10:00:00+00:00' }]));
      expectSpine(alone, 400, 'INVALID_UPDATE', /together with a death notification status/);
      const statusAlone = fails(pds([{ op: 'add', path: '/extension/-', value: dns('1') }]));
      expectSpine(statusAlone, 400, 'INVALID_UPDATE');
      const out = run(pds([
        { op: 'add', path: '/deceasedDateTime', value: '2024-01-01T10:00:00+00:00' },
        { op: 'add', path: '/extension/-', value: dns('1') },
      ]));
      expect(out.deceasedDateTime).to.equal('2024-01-01T10:00:00+00:00');
      expect(out.extension).to.have.length(2);
    });

    it('deceasedDateTime cannot be in the future, before the birth, or removed', () => {
      const future = fails(pds([{ op: 'add', path: '/deceasedDateTime', value: '2999-01-01T00:00:00+00:00' }, { op: 'add', path: '/extension/-', value: dns('1') }]));
      expectSpine(future, 400, 'INVALID_VALUE');
      const beforeBirth = fails(pds([{ op: 'add', path: '/deceasedDateTime', value: '1970-01-01T00:00:00+00:00' }, { op: 'add', path: '/extension/-', value: dns('1') }]));
      expectSpine(beforeBirth, 400, 'INVALID_UPDATE', /birthDate cannot be after deceasedDateTime/);
      const dead = patient({ deceasedDateTime: '2024-01-01T10:00:00+00:00', extension: [dns('1')] });
      expectSpine(fails(pds([{ op: 'remove', path: '/deceasedDateTime' }]), dead), 403, 'FORBIDDEN_UPDATE');
    });

    it('the death notification status cannot be removed (403), set to formal (403) or to removed U (400 UNSUPPORTED_VALUE)', () => {
      const dead = patient({ deceasedDateTime: '2024-01-01T10:00:00+00:00', extension: [dns('1')] });
      const removed = fails(pds([{ op: 'test', path: '/extension/0/url', value: DEATH_NOTIFICATION_URL }, { op: 'remove', path: '/extension/0' }]), dead);
      expectSpine(removed, 403, 'FORBIDDEN_UPDATE', /cannot be removed/);
      expectSpine(fails(pds([{ op: 'replace', path: '/extension/0', value: dns('2') }]), dead), 403, 'FORBIDDEN_UPDATE');
      expectSpine(fails(pds([{ op: 'replace', path: '/extension/0', value: dns('U') }]), dead), 400, 'UNSUPPORTED_VALUE');
    });

    it('a formal (2) death cannot have its date or notification changed: 403 FORBIDDEN_UPDATE', () => {
      const formal = patient({ deceasedDateTime: '2024-01-01T10:00:00+00:00', extension: [dns('2')] });
      expectSpine(fails(pds([{ op: 'replace', path: '/deceasedDateTime', value: '2024-01-02T10:00:00+00:00' }]), formal), 403, 'FORBIDDEN_UPDATE');
      expectSpine(fails(pds([{ op: 'replace', path: '/extension/0', value: dns('1') }]), formal), 403, 'FORBIDDEN_UPDATE');
      // other fields of a formally deceased patient may still change
      expect(run(pds([{ op: 'replace', path: '/name/0/given/0', value: 'Rose' }]), formal).name![0].given![0]).to.equal('Rose');
    });

    it('the field rules apply to FHIRPath Patch results as well', () => {
      const body: PatchBody = {
        kind: 'fhirpath-patch',
        parameters: { resourceType: 'Parameters', parameter: [{ name: 'operation', part: [{ name: 'type', valueCode: 'delete' }, { name: 'path', valueString: 'Patient.gender' }] }] },
      };
      expectSpine(fails(body), 403, 'FORBIDDEN_UPDATE');
    });
  });
});
