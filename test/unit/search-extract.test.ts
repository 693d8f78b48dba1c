import { expect } from 'chai';
import r4 from 'fhirpath/fhir-context/r4';
import type { SearchParameter } from 'fhir/r4.js';
import type { IndexEntry } from '../../search/index-entries.js';
import { SearchParameterRegistry, narrowExpression } from '../../search/registry.js';
import { IndexExtractor } from '../../search/extract.js';
import { compileExpression, isFastPath, rewriteAs, rewriteResolve } from '../../search/expression.js';
import { parseCanonical, parseReference } from '../../search/reference.js';
import { fold } from '../../search/fold.js';
import { MAX_DATE, MIN_DATE } from '../../search/convert.js';
import { resourceTypes } from '../../fhir/definitions.js';

const registry = new SearchParameterRegistry();
const extractor = new IndexExtractor(registry);

const ms = (iso: string) => Date.parse(iso);
const of = (entries: IndexEntry[], param: string) => entries.filter((e) => e.param === param);
const sortKey = (e: unknown) => JSON.stringify(e);
const sorted = <T>(xs: T[]) => [...xs].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));

const patient = {
  resourceType: 'Patient',
  id: 'pat-1',
  meta: {
    versionId: '3',
    lastUpdated: '2024-05-01T10:11:12.345Z',
    source: 'https://vertebra.example/source#abc',
    profile: ['https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient|2.0.0'],
    tag: [{ system: 'http://example.org/tags', code: 'demo', display: 'Demo' }],
    security: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' }],
  },
  identifier: [{
    system: 'https://fhir.nhs.uk/Id/nhs-number',
    value: '9000000009',
    type: { text: 'NHS Number' },
  }],
  active: true,
  name: [{ use: 'official', family: 'Müller-Brontë', given: ['Zoë', 'Élodie'], prefix: ['Dr'], text: 'Dr Zoë Élodie MÜLLER-BRONTË' }],
  telecom: [
    { system: 'phone', value: '01632 960123', use: 'home' },
    { system: 'email', value: 'zoe@example.org' },
  ],
  gender: 'female',
  birthDate: '1984-07',
  address: [{ line: ['1 Rue de l’Église', 'Flat 2'], city: 'Leeds', district: 'West Yorkshire', postalCode: 'LS1 1AA', country: 'GB' }],
  generalPractitioner: [{ reference: 'Organization/Y12345' }],
  managingOrganization: { reference: 'https://vertebra.example/fhir/Organization/Y12345/_history/4' },
};

const observation = {
  resourceType: 'Observation',
  id: 'obs-1',
  meta: { lastUpdated: '2024-05-02T00:00:00Z' },
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
  code: {
    coding: [
      { system: 'http://loinc.org', code: '29463-7', display: 'Body Weight' },
      { system: 'http://snomed.info/sct', code: '27113001', display: 'Body weight' },
    ],
    text: 'Weight',
  },
  subject: { reference: 'Patient/pat-1' },
  performer: [{ reference: 'Practitioner/prac-1' }, { identifier: { system: 'https://fhir.nhs.uk/Id/sds-user-id', value: '555' } }],
  effectivePeriod: { start: '2024-05-01T09:30+01:00' },
  valueQuantity: { value: 72.5, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
  component: [{
    code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] },
    valueQuantity: { value: 120, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
  }],
};

const organization = {
  resourceType: 'Organization',
  id: 'Y12345',
  identifier: [{ system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'Y12345' }],
  active: true,
  type: [{ coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/organisation-role', code: '76', display: 'GP PRACTICE' }] }],
  name: 'Ségolène Health Centre',
  alias: ['The Surgery'],
  address: [{ line: ['2 High Street'], city: 'Bradford', postalCode: 'BD1 1AA' }],
  partOf: { reference: 'https://directory.spineservices.nhs.uk/STU3/Organization/Q74' },
};

const medicationRequest = {
  resourceType: 'MedicationRequest',
  id: 'mr-1',
  identifier: [{ system: 'https://fhir.nhs.uk/Id/prescription-order-item-number', value: 'a54219b8-f741-4c47-b662-e4f8dfa49ab6' }],
  status: 'active',
  intent: 'order',
  medicationCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '322237000', display: 'Paracetamol 500mg tablets' }] },
  subject: { reference: 'Patient/pat-1' },
  requester: { reference: 'PractitionerRole/role-1' },
  authoredOn: '2024-04-30T12:00:00Z',
  performer: { reference: 'Organization/FA565' },
  dispenseRequest: { performer: { reference: 'Organization/FA566' } },
};

describe('search index extraction', () => {
  describe('Patient', () => {
    const entries = extractor.extract(patient);

    it('indexes the Resource-level params', () => {
      expect(of(entries, '_id')).to.deep.equal([{ kind: 'token', param: '_id', system: null, code: 'pat-1', text: null }]);
      expect(of(entries, '_lastUpdated')).to.deep.equal([
        { kind: 'date', param: '_lastUpdated', low: ms('2024-05-01T10:11:12.345Z'), high: ms('2024-05-01T10:11:12.345Z') },
      ]);
      expect(of(entries, '_tag')).to.deep.equal([
        { kind: 'token', param: '_tag', system: 'http://example.org/tags', code: 'demo', text: 'demo' },
      ]);
      expect(of(entries, '_security')).to.deep.equal([
        { kind: 'token', param: '_security', system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R', text: null },
      ]);
      expect(of(entries, '_profile')).to.deep.equal([
        { kind: 'uri', param: '_profile', value: 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient|2.0.0' },
      ]);
      expect(of(entries, '_source')).to.deep.equal([{ kind: 'uri', param: '_source', value: 'https://vertebra.example/source#abc' }]);
    });

    it('indexes each name part folded, keeping the exact text', () => {
      const family = of(entries, 'family');
      expect(family).to.deep.equal([{ kind: 'string', param: 'family', value: 'muller-bronte', exact: 'Müller-Brontë' }]);
      expect(of(entries, 'given').map((e) => (e as { value: string }).value)).to.deep.equal(['zoe', 'elodie']);
      const name = of(entries, 'name').map((e) => (e as { value: string }).value);
      expect(name).to.have.members(['muller-bronte', 'zoe', 'elodie', 'dr', 'dr zoe elodie muller-bronte']);
    });

    it('indexes address parts and the address-* params', () => {
      const address = of(entries, 'address').map((e) => (e as { exact: string }).exact);
      expect(address).to.have.members(['1 Rue de l’Église', 'Flat 2', 'Leeds', 'West Yorkshire', 'LS1 1AA', 'GB']);
      expect(of(entries, 'address-postalcode')).to.deep.equal([{ kind: 'string', param: 'address-postalcode', value: 'ls1 1aa', exact: 'LS1 1AA' }]);
    });

    it('indexes identifier, gender, active, telecom tokens', () => {
      expect(of(entries, 'identifier')).to.deep.equal([
        { kind: 'token', param: 'identifier', system: 'https://fhir.nhs.uk/Id/nhs-number', code: '9000000009', text: 'nhs number' },
      ]);
      expect(of(entries, 'gender')).to.deep.equal([{ kind: 'token', param: 'gender', system: null, code: 'female', text: null }]);
      expect(of(entries, 'active')).to.deep.equal([{ kind: 'token', param: 'active', system: null, code: 'true', text: null }]);
      expect(of(entries, 'deceased')).to.deep.equal([{ kind: 'token', param: 'deceased', system: null, code: 'false', text: null }]);
      expect(of(entries, 'phone')).to.deep.equal([{ kind: 'token', param: 'phone', system: null, code: '01632 960123', text: null }]);
      expect(of(entries, 'email')).to.deep.equal([{ kind: 'token', param: 'email', system: null, code: 'zoe@example.org', text: null }]);
      expect(of(entries, 'telecom')).to.have.length(2);
    });

    it('indexes birthDate as the whole month', () => {
      expect(of(entries, 'birthdate')).to.deep.equal([
        { kind: 'date', param: 'birthdate', low: ms('1984-07-01T00:00:00.000Z'), high: ms('1984-07-31T23:59:59.999Z') },
      ]);
    });

    it('indexes references: relative ones name a local target, absolute ones only their url', () => {
      expect(of(entries, 'general-practitioner')).to.deep.equal([
        { kind: 'reference', param: 'general-practitioner', targetType: 'Organization', targetId: 'Y12345', targetVersion: null, url: null },
      ]);
      expect(of(entries, 'organization')).to.deep.equal([{
        kind: 'reference', param: 'organization', targetType: null, targetId: null, targetVersion: null,
        url: 'https://vertebra.example/fhir/Organization/Y12345/_history/4',
      }]);
    });

    it('yields no duplicate entries', () => {
      const keys = entries.map((e) => JSON.stringify(e));
      expect(new Set(keys).size).to.equal(keys.length);
      const twice = extractor.extract({ ...patient, name: [{ given: ['Ann', 'Ann'] }, { given: ['ann'] }] });
      expect(of(twice, 'given')).to.deep.equal([
        { kind: 'string', param: 'given', value: 'ann', exact: 'Ann' },
        { kind: 'string', param: 'given', value: 'ann', exact: 'ann' },
      ]);
    });

    it('does not modify the resource, on either path', () => {
      const copy = structuredClone(patient);
      extractor.extract(copy);
      new IndexExtractor(registry, { fastPath: false }).extract(copy);
      expect(copy).to.deep.equal(patient);
    });
  });

  describe('Observation', () => {
    const entries = extractor.extract(observation);

    it('indexes each coding of code, with display and CodeableConcept.text for :text', () => {
      expect(sorted(of(entries, 'code'))).to.deep.equal(sorted([
        { kind: 'token', param: 'code', system: 'http://loinc.org', code: '29463-7', text: 'body weight' },
        { kind: 'token', param: 'code', system: 'http://snomed.info/sct', code: '27113001', text: 'body weight' },
        { kind: 'token', param: 'code', system: null, code: null, text: 'weight' },
      ]));
      expect(of(entries, 'combo-code').filter((e) => (e as { code: string }).code === '8480-6')).to.have.length(1);
      expect(of(entries, 'category')).to.have.length(1);
    });

    it('indexes valueQuantity and component quantities', () => {
      expect(of(entries, 'value-quantity')).to.deep.equal([
        { kind: 'quantity', param: 'value-quantity', value: 72.5, system: 'http://unitsofmeasure.org', code: 'kg', unit: 'kg' },
      ]);
      expect(of(entries, 'component-value-quantity')).to.deep.equal([
        { kind: 'quantity', param: 'component-value-quantity', value: 120, system: 'http://unitsofmeasure.org', code: 'mm[Hg]', unit: 'mmHg' },
      ]);
      expect(of(entries, 'combo-value-quantity')).to.have.length(2);
    });

    it('indexes effectivePeriod with an open end', () => {
      expect(of(entries, 'date')).to.deep.equal([
        { kind: 'date', param: 'date', low: ms('2024-05-01T08:30:00.000Z'), high: MAX_DATE },
      ]);
    });

    it('indexes subject for subject and (being a Patient) for patient', () => {
      const expected = { targetType: 'Patient', targetId: 'pat-1', targetVersion: null, url: null };
      expect(of(entries, 'subject')).to.deep.equal([{ kind: 'reference', param: 'subject', ...expected }]);
      expect(of(entries, 'patient')).to.deep.equal([{ kind: 'reference', param: 'patient', ...expected }]);
    });

    it('does not index a Group subject under patient', () => {
      const e = extractor.extract({ ...observation, subject: { reference: 'Group/g1' } });
      expect(of(e, 'subject')).to.have.length(1);
      expect(of(e, 'patient')).to.deep.equal([]);
    });

    it('indexes a logical (identifier-only) reference as a :identifier token', () => {
      expect(of(entries, 'performer')).to.deep.equal([
        { kind: 'reference', param: 'performer', targetType: 'Practitioner', targetId: 'prac-1', targetVersion: null, url: null },
      ]);
      expect(of(entries, 'performer:identifier')).to.deep.equal([
        { kind: 'token', param: 'performer:identifier', system: 'https://fhir.nhs.uk/Id/sds-user-id', code: '555', text: null },
      ]);
    });
  });

  describe('Organization', () => {
    const entries = extractor.extract(organization);

    it('indexes name (with alias) folded, identifier and type', () => {
      expect(of(entries, 'name').map((e) => (e as { value: string }).value)).to.have.members(['segolene health centre', 'the surgery']);
      expect(of(entries, 'identifier')).to.deep.equal([
        { kind: 'token', param: 'identifier', system: 'https://fhir.nhs.uk/Id/ods-organization-code', code: 'Y12345', text: null },
      ]);
      expect(of(entries, 'type')).to.deep.equal([
        { kind: 'token', param: 'type', system: 'https://fhir.nhs.uk/CodeSystem/organisation-role', code: '76', text: 'gp practice' },
      ]);
      expect(of(entries, 'address-city')).to.deep.equal([{ kind: 'string', param: 'address-city', value: 'bradford', exact: 'Bradford' }]);
    });

    it('an absolute partOf URL (another server) is kept as a url, not taken for a local Organization', () => {
      expect(of(entries, 'partof')).to.deep.equal([{
        kind: 'reference', param: 'partof', targetType: null, targetId: null, targetVersion: null,
        url: 'https://directory.spineservices.nhs.uk/STU3/Organization/Q74',
      }]);
    });
  });

  describe('MedicationRequest', () => {
    const entries = extractor.extract(medicationRequest);

    it('indexes medicationCodeableConcept under code, and references', () => {
      expect(of(entries, 'code')).to.deep.equal([
        { kind: 'token', param: 'code', system: 'http://snomed.info/sct', code: '322237000', text: 'paracetamol 500mg tablets' },
      ]);
      expect(of(entries, 'medication')).to.deep.equal([]);
      expect(of(entries, 'patient')).to.have.length(1);
      expect(of(entries, 'requester')[0]).to.include({ targetType: 'PractitionerRole', targetId: 'role-1' });
      expect(of(entries, 'intended-performer')[0]).to.include({ targetType: 'Organization', targetId: 'FA565' });
      expect(of(entries, 'intended-dispenser')[0]).to.include({ targetType: 'Organization', targetId: 'FA566' });
      expect(of(entries, 'authoredon')).to.deep.equal([
        { kind: 'date', param: 'authoredon', low: ms('2024-04-30T12:00:00Z'), high: ms('2024-04-30T12:00:00Z') + 999 },
      ]);
      expect(of(entries, 'intent')[0]).to.include({ code: 'order' });
      expect(of(entries, 'status')[0]).to.include({ code: 'active' });
    });

    it('indexes medicationReference under medication and not code', () => {
      const { medicationCodeableConcept: _, ...rest } = medicationRequest;
      const e = extractor.extract({ ...rest, medicationReference: { reference: 'Medication/med-1' } });
      expect(of(e, 'medication')).to.deep.equal([
        { kind: 'reference', param: 'medication', targetType: 'Medication', targetId: 'med-1', targetVersion: null, url: null },
      ]);
      expect(of(e, 'code')).to.deep.equal([]);
    });
  });

  describe('composite parameters', () => {
    // The spec's blood-pressure example (observation-example-bloodpressure), trimmed.
    const bloodPressure = {
      resourceType: 'Observation',
      id: 'blood-pressure',
      status: 'final',
      category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
      code: { coding: [{ system: 'http://loinc.org', code: '85354-9', display: 'Blood pressure panel with all children optional' }], text: 'Blood pressure systolic & diastolic' },
      subject: { reference: 'Patient/example' },
      effectiveDateTime: '2012-09-17',
      component: [
        {
          code: { coding: [
            { system: 'http://loinc.org', code: '8480-6', display: 'Systolic blood pressure' },
            { system: 'http://snomed.info/sct', code: '271649006', display: 'Systolic blood pressure' },
          ] },
          valueQuantity: { value: 107, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
        },
        {
          code: { coding: [{ system: 'http://loinc.org', code: '8462-4', display: 'Diastolic blood pressure' }] },
          valueQuantity: { value: 60, unit: 'mmHg', system: 'http://unitsofmeasure.org', code: 'mm[Hg]' },
        },
      ],
    };

    type Grouped = { group: number; codes: string[]; values: number[] };
    /** A code-value-quantity style composite's entries, as (codes, values) per group. */
    const groups = (entries: IndexEntry[], param: string): Grouped[] => {
      const byGroup = new Map<number, Grouped>();
      for (const e of entries) {
        if (!e.param.startsWith(`${param}.`)) continue;
        expect(e.group, JSON.stringify(e)).to.be.a('number');
        let g = byGroup.get(e.group!);
        if (!g) byGroup.set(e.group!, (g = { group: e.group!, codes: [], values: [] }));
        if (e.kind === 'token' && e.param === `${param}.0`) g.codes.push(`${e.system}|${e.code}`);
        else if (e.kind === 'quantity' && e.param === `${param}.1`) g.values.push(e.value);
        else throw new Error(`unexpected ${JSON.stringify(e)}`);
      }
      return [...byGroup.values()];
    };
    const strip = (gs: Grouped[]) => gs.map(({ codes, values }) => ({ codes, values }));

    const entries = extractor.extract(bloodPressure);

    it('pairs each component code only with its own value (component-code-value-quantity)', () => {
      expect(strip(groups(entries, 'component-code-value-quantity'))).to.deep.equal([
        { codes: ['http://loinc.org|8480-6', 'http://snomed.info/sct|271649006'], values: [107] },
        { codes: ['http://loinc.org|8462-4'], values: [60] },
      ]);
      // What a search for diastolic > 100 must not find: 8462-4 and 107 never share a group.
      const g = groups(entries, 'component-code-value-quantity');
      expect(g.some((x) => x.codes.includes('http://loinc.org|8462-4') && x.values.includes(107))).to.equal(false);
    });

    it('gives the entries the documented shape', () => {
      const systolic = entries.filter((e) => e.param.startsWith('component-code-value-quantity.') && e.group === groups(entries, 'component-code-value-quantity')[0].group);
      expect(systolic).to.deep.equal([
        { kind: 'token', param: 'component-code-value-quantity.0', system: 'http://loinc.org', code: '8480-6', text: 'systolic blood pressure', group: systolic[0].group },
        { kind: 'token', param: 'component-code-value-quantity.0', system: 'http://snomed.info/sct', code: '271649006', text: 'systolic blood pressure', group: systolic[0].group },
        { kind: 'quantity', param: 'component-code-value-quantity.1', value: 107, system: 'http://unitsofmeasure.org', code: 'mm[Hg]', unit: 'mmHg', group: systolic[0].group },
      ]);
    });

    it('emits nothing for a node a component finds nothing in (the panel has no value)', () => {
      expect(of(entries, 'code-value-quantity.0')).to.deep.equal([]);
      expect(of(entries, 'code-value-quantity.1')).to.deep.equal([]);
      expect(entries.filter((e) => e.param.startsWith('component-code-value-concept.'))).to.deep.equal([]);
    });

    it('takes the Observation itself for code-value-quantity', () => {
      expect(strip(groups(extractor.extract(observation), 'code-value-quantity'))).to.deep.equal([
        { codes: ['http://loinc.org|29463-7', 'http://snomed.info/sct|27113001', 'null|null'], values: [72.5] },
      ]);
    });

    it('takes the Observation and each component for combo-code-value-quantity', () => {
      const e = extractor.extract({ ...bloodPressure, valueQuantity: { value: 1, unit: 'x' } });
      expect(strip(groups(e, 'combo-code-value-quantity'))).to.deep.equal([
        { codes: ['http://loinc.org|85354-9', 'null|null'], values: [1] },
        { codes: ['http://loinc.org|8480-6', 'http://snomed.info/sct|271649006'], values: [107] },
        { codes: ['http://loinc.org|8462-4'], values: [60] },
      ]);
    });

    it('numbers groups uniquely within the resource, across composite params', () => {
      const e = extractor.extract(bloodPressure);
      const owner = new Map<number, string>();
      for (const x of e) {
        if (x.group === undefined) {
          expect(x.param).to.not.match(/\.\d+$/);
          continue;
        }
        const composite = x.param.slice(0, x.param.lastIndexOf('.'));
        expect(owner.get(x.group) ?? composite, `group ${x.group}`).to.equal(composite);
        owner.set(x.group, composite);
      }
      expect([...owner.keys()].sort((a, b) => a - b)).to.deep.equal([1, 2, 3, 4]);
    });

    it('yields the same composite entries, in the same order, on the fhirpath path', () => {
      const slow = new IndexExtractor(registry, { fastPath: false, onError: (err) => { throw err; } }).extract(bloodPressure);
      expect(slow.filter((x) => x.group !== undefined)).to.deep.equal(entries.filter((x) => x.group !== undefined));
      expect(sorted(slow)).to.deep.equal(sorted(entries));
    });

    it('keeps a component with several values for one node in that node\'s group', () => {
      const e = extractor.extract({
        resourceType: 'Group', id: 'g', type: 'person', actual: true,
        characteristic: [
          { code: { coding: [{ system: 'http://example.org/c', code: 'a' }, { system: 'http://example.org/c', code: 'b' }] }, valueCodeableConcept: { coding: [{ code: 'x' }, { code: 'y' }] }, exclude: false },
          { code: { coding: [{ system: 'http://example.org/c', code: 'c' }] }, valueBoolean: true, exclude: false },
        ],
      });
      const cv = e.filter((x) => x.param.startsWith('characteristic-value.'));
      expect(cv.map((x) => [x.group, x.param, (x as { code: string }).code])).to.deep.equal([
        [1, 'characteristic-value.0', 'a'], [1, 'characteristic-value.0', 'b'], [1, 'characteristic-value.1', 'x'], [1, 'characteristic-value.1', 'y'],
        [2, 'characteristic-value.0', 'c'], [2, 'characteristic-value.1', 'true'],
      ]);
    });

    it('evaluates %resource in a component (MolecularSequence)', () => {
      const e = extractor.extract({
        resourceType: 'MolecularSequence', id: 'm', type: 'dna', coordinateSystem: 0,
        referenceSeq: { chromosome: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/chromosome-human', code: '1' }] }, windowStart: 10, windowEnd: 20 },
        variant: [{ start: 12, end: 13 }, { start: 15, end: 16 }],
      });
      const cv = e.filter((x) => x.param.startsWith('chromosome-variant-coordinate.'));
      expect(cv.map((x) => [x.group, x.param, x.kind === 'number' ? x.value : (x as { code: string }).code])).to.deep.equal([
        [1, 'chromosome-variant-coordinate.0', '1'], [1, 'chromosome-variant-coordinate.1', 12], [1, 'chromosome-variant-coordinate.2', 13],
        [2, 'chromosome-variant-coordinate.0', '1'], [2, 'chromosome-variant-coordinate.1', 15], [2, 'chromosome-variant-coordinate.2', 16],
      ]);
    });

    it('indexes useContext composites (context-type-value, context-type-quantity ignores a Range)', () => {
      const e = extractor.extract({
        resourceType: 'ValueSet', id: 'vs', status: 'active',
        useContext: [
          { code: { system: 'http://terminology.hl7.org/CodeSystem/usage-context-type', code: 'focus' }, valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '306206005' }] } },
          { code: { system: 'http://terminology.hl7.org/CodeSystem/usage-context-type', code: 'age' }, valueRange: { low: { value: 18 } } },
        ],
      });
      expect(e.filter((x) => x.param.startsWith('context-type-value.'))).to.deep.equal([
        { kind: 'token', param: 'context-type-value.0', system: 'http://terminology.hl7.org/CodeSystem/usage-context-type', code: 'focus', text: null, group: 1 },
        { kind: 'token', param: 'context-type-value.1', system: 'http://snomed.info/sct', code: '306206005', text: null, group: 1 },
      ]);
      expect(e.filter((x) => x.param.startsWith('context-type-quantity.'))).to.deep.equal([]);
    });

    it('corrects the swapped R4 component expressions of DocumentReference relationship', () => {
      const e = extractor.extract({
        resourceType: 'DocumentReference', id: 'd', status: 'current', content: [{ attachment: { url: 'http://x' } }],
        relatesTo: [{ code: 'replaces', target: { reference: 'DocumentReference/old' } }],
      });
      expect(e.filter((x) => x.param.startsWith('relationship.'))).to.deep.equal([
        { kind: 'reference', param: 'relationship.0', targetType: 'DocumentReference', targetId: 'old', targetVersion: null, url: null, group: 1 },
        { kind: 'token', param: 'relationship.1', system: null, code: 'replaces', text: null, group: 1 },
      ]);
    });

    it('indexes a registered composite whose components are registered too (found by url)', () => {
      const reg = new SearchParameterRegistry();
      const base = { resourceType: 'SearchParameter' as const, status: 'active' as const, description: 'x', base: ['Patient'] as SearchParameter['base'] };
      reg.register({ ...base, url: 'https://vertebra.example/SearchParameter/id-system', name: 'idSystem', code: 'id-system', type: 'uri', expression: 'Patient.identifier.system' });
      reg.register({ ...base, url: 'https://vertebra.example/SearchParameter/id-value', name: 'idValue', code: 'id-value', type: 'string', expression: 'Patient.identifier.value' });
      reg.register({
        ...base, url: 'https://vertebra.example/SearchParameter/id-pair', name: 'idPair', code: 'id-pair', type: 'composite', expression: 'Patient.identifier',
        component: [
          { definition: 'https://vertebra.example/SearchParameter/id-system', expression: 'system' },
          { definition: 'https://vertebra.example/SearchParameter/id-value|1.0', expression: 'value' },
        ],
      });
      reg.register({
        ...base, url: 'https://vertebra.example/SearchParameter/broken-pair', name: 'brokenPair', code: 'broken-pair', type: 'composite', expression: 'Patient.identifier',
        component: [{ definition: 'https://vertebra.example/SearchParameter/nowhere', expression: 'system' }],
      });
      const failures: string[] = [];
      const e = new IndexExtractor(reg, { onError: (_err, w) => failures.push(w.param) }).extract(patient);
      expect(e.filter((x) => x.param.startsWith('id-pair.'))).to.deep.equal([
        { kind: 'uri', param: 'id-pair.0', value: 'https://fhir.nhs.uk/Id/nhs-number', group: 1 },
        { kind: 'string', param: 'id-pair.1', value: '9000000009', exact: '9000000009', group: 1 },
      ]);
      expect(failures).to.deep.equal(['broken-pair']);
    });

    it('gives component entries no modifier entries (:identifier, :of-type)', () => {
      const e = extractor.extract({
        resourceType: 'DocumentReference', id: 'd', status: 'current', content: [{ attachment: { url: 'http://x' } }],
        relatesTo: [{ code: 'appends', target: { identifier: { system: 'http://example.org/docs', value: 'D1' } } }],
      });
      expect(e.filter((x) => x.param.startsWith('relationship.'))).to.deep.equal([]);
      expect(of(e, 'relatesto:identifier')).to.deep.equal([
        { kind: 'token', param: 'relatesto:identifier', system: 'http://example.org/docs', code: 'D1', text: null },
      ]);
    });
  });

  describe('identifier modifiers', () => {
    const typed = {
      ...patient,
      identifier: [
        ...patient.identifier,
        {
          system: 'http://hospital.example.org/mrn', value: 'MRN-00042',
          type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR', display: 'Medical record number' }], text: 'Medical Record Number' },
        },
      ],
    };

    it('emits :of-type entries (type system, type code, exact value) for typed Identifiers', () => {
      const e = extractor.extract(typed);
      expect(of(e, 'identifier:of-type')).to.deep.equal([
        { kind: 'token', param: 'identifier:of-type', system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR', text: 'MRN-00042' },
      ]);
      expect(of(e, 'identifier')).to.deep.include({
        kind: 'token', param: 'identifier', system: 'http://hospital.example.org/mrn', code: 'MRN-00042', text: 'medical record number',
      });
      // The NHS number's type has text but no coding: nothing to match system|code against.
      expect(of(extractor.extract(patient), 'identifier:of-type')).to.deep.equal([]);
    });

    it('emits no :of-type entry for an Identifier without a value', () => {
      const e = extractor.extract({ ...patient, identifier: [{ type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR' }] } }] });
      expect(of(e, 'identifier:of-type')).to.deep.equal([]);
    });

    it('agrees on the fhirpath path', () => {
      const slow = new IndexExtractor(registry, { fastPath: false }).extract(typed);
      expect(of(slow, 'identifier:of-type')).to.deep.equal(of(extractor.extract(typed), 'identifier:of-type'));
    });

    it('indexes Reference.identifier under :identifier next to the reference itself', () => {
      const e = extractor.extract({
        ...medicationRequest,
        requester: {
          reference: 'Practitioner/prac-9',
          identifier: { system: 'https://fhir.nhs.uk/Id/sds-user-id', value: '7654321', type: { coding: [{ code: 'SDS' }], text: 'SDS user id' } },
        },
      });
      expect(of(e, 'requester')).to.deep.equal([
        { kind: 'reference', param: 'requester', targetType: 'Practitioner', targetId: 'prac-9', targetVersion: null, url: null },
      ]);
      expect(of(e, 'requester:identifier')).to.deep.equal([
        { kind: 'token', param: 'requester:identifier', system: 'https://fhir.nhs.uk/Id/sds-user-id', code: '7654321', text: 'sds user id' },
      ]);
      expect(e.filter((x) => x.param.startsWith('requester:identifier:'))).to.deep.equal([]);
    });
  });

  describe('the fhirpath path with repeating choice elements', () => {
    it('filters `(X as T)` over a collection instead of failing on it', () => {
      const errors: string[] = [];
      const slow = new IndexExtractor(registry, { fastPath: false, onError: (_err, w) => errors.push(w.param) });
      const obs = { ...observation, component: [observation.component[0], { ...observation.component[0], valueQuantity: { value: 80, unit: 'mmHg' } }, { code: { text: 'x' }, valueString: 'n/a' }] };
      const e = slow.extract(obs);
      expect(errors).to.deep.equal([]);
      expect(of(e, 'component-value-quantity').map((x) => (x as { value: number }).value)).to.deep.equal([120, 80]);
      expect(sorted(e)).to.deep.equal(sorted(extractor.extract(obs)));
      expect(rewriteAs('(Observation.value as Quantity) | Observation.value.as(Period) | X.where(value as Quantity)')).to.equal(
        'Observation.value.ofType(Quantity) | Observation.value.ofType(Period) | X.where(value as Quantity)');
    });
  });

  describe('numbers and money', () => {
    it('indexes Money as an ISO 4217 quantity and decimals as numbers', () => {
      const e = extractor.extract({
        resourceType: 'ChargeItem', id: 'c1', status: 'billable', code: { text: 'x' }, subject: { reference: 'Patient/1' },
        factorOverride: 0.8, priceOverride: { value: 12.5, currency: 'GBP' },
      });
      expect(of(e, 'factor-override')).to.deep.equal([{ kind: 'number', param: 'factor-override', value: 0.8 }]);
      expect(of(e, 'price-override')).to.deep.equal([
        { kind: 'quantity', param: 'price-override', value: 12.5, system: 'urn:iso:std:iso:4217', code: 'GBP', unit: null },
      ]);
    });

    it('takes the decimal branch of a choice and ignores the Range one', () => {
      const e = extractor.extract({
        resourceType: 'RiskAssessment', id: 'r1', status: 'final', subject: { reference: 'Patient/1' },
        prediction: [{ probabilityDecimal: 0.25 }, { probabilityRange: { low: { value: 1 } } }],
      });
      expect(of(e, 'probability')).to.deep.equal([{ kind: 'number', param: 'probability', value: 0.25 }]);
    });
  });

  describe('date precision', () => {
    const bounds = (value: string) => {
      const e = of(extractor.extract({ resourceType: 'Patient', id: 'd', birthDate: value }), 'birthdate');
      return e.map((x) => {
        const d = x as { low: number; high: number };
        return [new Date(d.low).toISOString(), new Date(d.high).toISOString()];
      });
    };

    it('widens each precision to its whole interval', () => {
      expect(bounds('2020')).to.deep.equal([['2020-01-01T00:00:00.000Z', '2020-12-31T23:59:59.999Z']]);
      expect(bounds('2020-02')).to.deep.equal([['2020-02-01T00:00:00.000Z', '2020-02-29T23:59:59.999Z']]);
      expect(bounds('2021-02-28')).to.deep.equal([['2021-02-28T00:00:00.000Z', '2021-02-28T23:59:59.999Z']]);
    });

    it('handles time precisions and zones on dateTimes', () => {
      const at = (value: string) => {
        const e = of(extractor.extract({ ...observation, effectivePeriod: undefined, effectiveDateTime: value }), 'date')[0] as { low: number; high: number };
        return [new Date(e.low).toISOString(), new Date(e.high).toISOString()];
      };
      expect(at('2020-03-01T10:00Z')).to.deep.equal(['2020-03-01T10:00:00.000Z', '2020-03-01T10:00:59.999Z']);
      expect(at('2020-03-01T10:00:05+02:00')).to.deep.equal(['2020-03-01T08:00:05.000Z', '2020-03-01T08:00:05.999Z']);
      expect(at('2020-03-01T10:00:05.25')).to.deep.equal(['2020-03-01T10:00:05.250Z', '2020-03-01T10:00:05.250Z']);
    });

    it('indexes a Period with a start-less end and Timing events', () => {
      const p = of(extractor.extract({ ...observation, effectivePeriod: { end: '2020' } }), 'date');
      expect(p).to.deep.equal([{ kind: 'date', param: 'date', low: MIN_DATE, high: ms('2020-12-31T23:59:59.999Z') }]);
      const { effectivePeriod: _, ...rest } = observation;
      const t = of(extractor.extract({ ...rest, effectiveTiming: { event: ['2020-01-01', '2020-01-02'] } }), 'date');
      expect(t).to.deep.equal([
        { kind: 'date', param: 'date', low: ms('2020-01-01'), high: ms('2020-01-02') - 1 },
        { kind: 'date', param: 'date', low: ms('2020-01-02'), high: ms('2020-01-03') - 1 },
      ]);
    });

    it('skips dates it cannot parse rather than inventing bounds', () => {
      expect(bounds('2020-13')).to.deep.equal([]);
      const p = of(extractor.extract({ ...observation, effectivePeriod: { start: 'soon', end: '2020' } }), 'date');
      expect(p).to.deep.equal([]);
    });
  });

  describe('folding', () => {
    it('folds case and accents', () => {
      expect(fold('ÉLODIE')).to.equal('elodie');
      expect(fold('Zoë Müller')).to.equal('zoe muller');
      expect(fold('Ångström')).to.equal('angstrom');
      expect(fold('e\u0301')).to.equal('e'); // already decomposed
    });
  });

  describe('reference parsing', () => {
    it('parses relative and versioned references', () => {
      expect(parseReference('Patient/123')).to.deep.equal({ targetType: 'Patient', targetId: '123', targetVersion: null, url: null });
      expect(parseReference('Patient/123/_history/2')).to.deep.equal({ targetType: 'Patient', targetId: '123', targetVersion: '2', url: null });
    });

    it('keeps absolute URLs whole and never takes their tail for a local resource', () => {
      expect(parseReference('https://x.org/fhir/Patient/123/_history/7')).to.deep.equal({
        targetType: null, targetId: null, targetVersion: null, url: 'https://x.org/fhir/Patient/123/_history/7',
      });
      expect(parseReference('Patient/123/_history/7')).to.deep.equal({ targetType: 'Patient', targetId: '123', targetVersion: '7', url: null });
      expect(parseReference('https://x.org/things/Widget/1')).to.deep.equal({ targetType: null, targetId: null, targetVersion: null, url: 'https://x.org/things/Widget/1' });
      expect(parseReference('urn:uuid:2f7e1c1e-3c2b-4c59-9d0e-1b8a6d2b9a11')).to.deep.include({ targetType: null, url: 'urn:uuid:2f7e1c1e-3c2b-4c59-9d0e-1b8a6d2b9a11' });
    });

    it('skips contained and unparseable relative references', () => {
      expect(parseReference('#med1')).to.equal(undefined);
      expect(parseReference('Widget/1')).to.equal(undefined);
    });

    it('splits the version off canonicals', () => {
      expect(parseCanonical('http://hl7.org/fhir/ValueSet/example|4.0.1')).to.deep.equal({
        targetType: null, targetId: null, targetVersion: '4.0.1', url: 'http://hl7.org/fhir/ValueSet/example',
      });
      expect(parseCanonical('http://snomed.info/sct')).to.deep.equal({ targetType: null, targetId: null, targetVersion: null, url: 'http://snomed.info/sct' });
    });

    it('indexes canonical-valued reference params with their version', () => {
      const e = extractor.extract({
        resourceType: 'Questionnaire', id: 'q', status: 'active',
        derivedFrom: ['http://example.org/fhir/Questionnaire/base|2.1'],
      });
      expect(of(e, 'definition')).to.deep.equal([]);
      const pd = extractor.extract({
        resourceType: 'PlanDefinition', id: 'pd', status: 'active',
        relatedArtifact: [{ type: 'depends-on', resource: 'http://example.org/fhir/Library/lib|1.0' }, { type: 'successor', resource: 'http://example.org/fhir/PlanDefinition/next' }],
      });
      expect(of(pd, 'depends-on')).to.deep.equal([{
        kind: 'reference', param: 'depends-on', targetType: null, targetId: null, targetVersion: '1.0', url: 'http://example.org/fhir/Library/lib',
      }]);
      expect(of(pd, 'successor')).to.have.length(1);
      expect(of(pd, 'predecessor')).to.deep.equal([]);
    });
  });

  describe('fast path and fhirpath agree', () => {
    // [expression, resource, number of values it selects]
    const cases: [string, { resourceType: string }, number][] = [
      ['Patient.name', patient, 1],
      ['Patient.name.given', patient, 2],
      ['Patient.identifier', patient, 1],
      ['Patient.meta.tag', patient, 1],
      ["Patient.telecom.where(system='phone')", patient, 1],
      ['Patient.address.postalCode', patient, 1],
      ['Observation.effective', observation, 1],
      ['Observation.subject.where(resolve() is Patient)', observation, 1],
      ['Observation.performer.where(resolve() is Patient)', observation, 0],
      ['(Observation.value as Quantity) | (Observation.value as SampledData)', observation, 1],
      ['Observation.value.as(Quantity)', observation, 1],
      ['(Observation.component.value as Quantity)', observation, 1],
      ['Observation.code | Observation.component.code', observation, 2],
      ['MedicationRequest.medication', medicationRequest, 1],
      ['(MedicationRequest.medication as CodeableConcept)', medicationRequest, 1],
      ['(MedicationRequest.medication as Reference)', medicationRequest, 0],
      ['Organization.partOf', organization, 1],
    ];
    for (const [expression, resource, count] of cases) {
      it(expression, () => {
        const type = resource.resourceType;
        expect(isFastPath(expression, type), 'takes the fast path').to.equal(true);
        const fast = compileExpression(expression, type)(resource);
        const slow = compileExpression(expression, type, { fastPath: false })(resource);
        expect(fast).to.have.length(count);
        expect(sorted(fast)).to.deep.equal(sorted(slow));
      });
    }

    it('leaves computed expressions to fhirpath', () => {
      expect(isFastPath('Patient.deceased.exists() and Patient.name != false', 'Patient')).to.equal(false);
      expect(isFastPath('Patient.deceased.exists() or Patient.deceased != false', 'Patient')).to.equal(false);
      expect(isFastPath('Bundle.entry[0].resource', 'Bundle')).to.equal(false);
    });

    it('takes `X.exists() and X != false` (Patient.deceased) fast, agreeing with fhirpath', () => {
      const expression = 'Patient.deceased.exists() and Patient.deceased != false';
      expect(isFastPath(expression, 'Patient')).to.equal(true);
      const variants = [{}, { deceasedBoolean: false }, { deceasedBoolean: true }, { deceasedDateTime: '2020-01-01' }];
      const results = variants.map((v) => {
        const resource = { resourceType: 'Patient', id: 'x', ...v };
        const fast = compileExpression(expression, 'Patient')(resource);
        expect(fast).to.deep.equal([{ type: 'boolean', value: fast[0].value }]);
        const slow = compileExpression(expression, 'Patient', { fastPath: false })(resource);
        expect(slow.map((x) => x.value), JSON.stringify(v)).to.deep.equal([fast[0].value]);
        return fast[0].value;
      });
      expect(results).to.deep.equal([false, false, true, true]);
    });

    it('takes a leading `(X as T)` followed by more navigation fast', () => {
      const expression = '(Observation.value as CodeableConcept).text';
      expect(isFastPath(expression, 'Observation')).to.equal(true);
      const resource = { ...observation, valueQuantity: undefined, valueCodeableConcept: { text: 'Positive', coding: [{ code: 'POS' }] } };
      const fast = compileExpression(expression, 'Observation')(resource);
      expect(fast).to.deep.equal([{ type: 'string', value: 'Positive' }]);
      expect(compileExpression(expression, 'Observation', { fastPath: false })(resource)).to.deep.equal(fast);
      expect(compileExpression(expression, 'Observation')(observation)).to.deep.equal([]);
      expect(isFastPath('(Observation.value as CodeableConcept).coding.first()', 'Observation')).to.equal(false);
      expect(isFastPath('(Observation.value as CodeableConcept)text', 'Observation')).to.equal(false);
    });

    it('rewrites resolve() type tests to a test on the reference text', () => {
      expect(rewriteResolve('Account.subject.where(resolve() is Patient)')).to.equal(
        "Account.subject.where(reference.matches('(^|/)Patient/[^/]+(/_history/[^/]+)?$'))");
    });
  });

  describe('registry', () => {
    it('gives each type its own params plus Resource and (for DomainResources) DomainResource ones', () => {
      const codes = registry.forType('Patient').map((d) => d.code);
      expect(codes).to.include.members(['_id', '_lastUpdated', '_tag', '_security', '_profile', '_source', '_text', 'name', 'identifier']);
      const bundle = registry.forType('Bundle').map((d) => d.code);
      expect(bundle).to.include.members(['_id', 'identifier', 'composition']);
      expect(bundle).to.not.include('_text');
      expect(registry.forType('SubscriptionStatus')).to.deep.equal([]);
      expect(registry.forType('NotAType')).to.deep.equal([]);
    });

    it('narrows shared expressions to the type', () => {
      const patientParam = registry.get('Observation', 'patient')!;
      expect(patientParam.expression).to.equal('Observation.subject.where(resolve() is Patient)');
      expect(patientParam.target).to.include('Patient');
      expect(registry.get('Patient', '_id')!.expression).to.equal('Patient.id');
      expect(narrowExpression('Resource.meta.tag | extension(\'http://x\').value', 'Basic')).to.equal(
        "Basic.meta.tag | extension('http://x').value");
      expect(narrowExpression('(Observation.value as Quantity) | (ObservationDefinition.x as Quantity)', 'Observation')).to.equal(
        '(Observation.value as Quantity)');
    });

    it('every applicable R4 param narrows to a non-empty expression', () => {
      for (const type of resourceTypes().keys()) {
        for (const def of registry.forType(type)) {
          if (def.definition.expression) expect(def.expression, `${type}.${def.code}`).to.be.a('string').and.not.equal('');
        }
      }
    });

    it('indexes with a SearchParameter registered at run time', () => {
      const reg = new SearchParameterRegistry();
      const ex = new IndexExtractor(reg);
      expect(of(ex.extract(patient), 'nhs-number')).to.deep.equal([]);
      const sp: SearchParameter = {
        resourceType: 'SearchParameter', url: 'https://vertebra.example/SearchParameter/nhs-number', name: 'nhsNumber',
        status: 'active', description: 'NHS number', code: 'nhs-number', base: ['Patient'], type: 'token',
        expression: "Patient.identifier.where(system='https://fhir.nhs.uk/Id/nhs-number')",
      };
      reg.register(sp);
      expect(of(ex.extract(patient), 'nhs-number')).to.deep.equal([
        { kind: 'token', param: 'nhs-number', system: 'https://fhir.nhs.uk/Id/nhs-number', code: '9000000009', text: 'nhs number' },
      ]);
      expect(reg.unregister(sp.url)).to.equal(true);
      expect(of(ex.extract(patient), 'nhs-number')).to.deep.equal([]);
      expect(() => reg.register({ resourceType: 'SearchParameter' } as SearchParameter)).to.throw();
    });

    it('skips and counts a param whose expression fails, indexing the rest', () => {
      const reg = new SearchParameterRegistry();
      const failures: string[] = [];
      const ex = new IndexExtractor(reg, { onError: (_e, where) => failures.push(where.param) });
      reg.register({
        resourceType: 'SearchParameter', url: 'https://vertebra.example/SearchParameter/broken', name: 'broken',
        status: 'active', description: 'x', code: 'broken', base: ['Patient'], type: 'string', expression: 'Patient.name.(((',
      });
      reg.register({
        resourceType: 'SearchParameter', url: 'https://vertebra.example/SearchParameter/resolving', name: 'resolving',
        status: 'active', description: 'x', code: 'resolving', base: ['Patient'], type: 'reference',
        expression: 'Patient.generalPractitioner.resolve()',
      });
      const entries = ex.extract(patient);
      expect(ex.errors).to.equal(2);
      expect(failures).to.have.members(['broken', 'resolving']);
      expect(of(entries, 'family')).to.have.length(1);
    });
  });

  describe('every R4 param', () => {
    const types = [...resourceTypes().keys()];
    const fastEx = new IndexExtractor(registry);
    const slowEx = new IndexExtractor(registry, { fastPath: false });
    const errors: string[] = [];
    const checked = new IndexExtractor(registry, { onError: (e, w) => errors.push(`${w.resourceType}.${w.param}: ${String(e)}`) });

    it('extracts from synthetic resources of every type without errors, fast and slow agreeing', function () {
      this.timeout(120_000);
      let total = 0;
      const paramsHit = new Set<string>();
      for (const type of types) {
        for (let variant = 0; variant < 3; variant++) {
          const resource = synthesize(type, variant);
          const fast = checked.extract(resource);
          expect(sorted(fast), `${type} variant ${variant}`).to.deep.equal(sorted(slowEx.extract(resource)));
          expect(fastEx.extract(resource)).to.deep.equal(fast);
          for (const e of fast) {
            assertWellFormed(e);
            paramsHit.add(`${type}.${e.param.split(/[:.]/)[0]}`); // identifier:of-type, code-value-quantity.0 -> their param
          }
          total += fast.length;
        }
        expect(checked.extract({ resourceType: type })).to.be.an('array'); // sparse: nothing but the type
      }
      expect(errors).to.deep.equal([]);
      expect(checked.errors).to.equal(0);
      const extractable = types.flatMap((t) => registry.forType(t)
        .filter((d) => d.expression && d.type !== 'special').map((d) => `${t}.${d.code}`));
      const composites = extractable.filter((p) => registry.get(p.slice(0, p.indexOf('.')), p.slice(p.indexOf('.') + 1))!.type === 'composite');
      const compositesHit = composites.filter((p) => paramsHit.has(p));
      // Composites too (synthetic data fills every element, so each node has every component).
      expect(compositesHit.length / composites.length, composites.filter((p) => !paramsHit.has(p)).join(' ')).to.be.greaterThan(0.95);
      // Nearly every param finds something in data that fills every element (the misses want
      // particular codes, e.g. relatedArtifact.type 'successor', or a Location reference).
      expect(paramsHit.size / extractable.length).to.be.greaterThan(0.95);
      expect(total).to.be.greaterThan(5_000);
      // ...and nearly every param takes the fast path (the rest: computed or type-agnostic expressions).
      const fast = types.flatMap((t) => registry.forType(t)
        .filter((d) => d.expression && !['composite', 'special'].includes(d.type) && isFastPath(d.expression, t)));
      expect(fast.length / (extractable.length - composites.length)).to.be.greaterThan(0.99);
    });
  });
});

function assertWellFormed(e: IndexEntry): void {
  const strOrNull = (v: unknown) => v === null || (typeof v === 'string' && v !== '');
  expect(e.param).to.be.a('string');
  switch (e.kind) {
    case 'string': expect(e.value).to.equal(fold(e.exact)); break;
    case 'token': expect(strOrNull(e.system) && strOrNull(e.code) && strOrNull(e.text), JSON.stringify(e)).to.equal(true); break;
    case 'date': expect(e.low <= e.high && e.low >= MIN_DATE && e.high <= MAX_DATE, JSON.stringify(e)).to.equal(true); break;
    case 'number': expect(e.value).to.be.a('number'); break;
    case 'quantity': expect(e.value).to.be.a('number'); break;
    case 'reference': expect(e.targetType !== null || e.url !== null, JSON.stringify(e)).to.equal(true); break;
    case 'uri': expect(e.value).to.be.a('string'); break;
    default: throw new Error(`unknown kind ${JSON.stringify(e)}`);
  }
}

// ----------------------------------------------------------------------------------------------
// Synthetic data: every element of a type filled from the fhirpath R4 model, one variant of each
// choice element (chosen by `variant`), and references varied between relative, absolute and
// logical, so every expression form meets real values.

const SAMPLES: Record<string, (variant: number) => unknown> = {
  'System.String': () => 'sys-1',
  string: (v) => ['Sample Ünïcode text', 'another', 'x'][v],
  markdown: () => '**bold**',
  code: (v) => ['active', 'final', 'email'][v],
  id: () => 'abc-1',
  uri: (v) => ['http://example.org/fhir/ValueSet/vs', 'urn:oid:1.2.3', 'http://example.org/fhir/CodeSystem/cs|2'][v],
  url: () => 'https://example.org/endpoint',
  canonical: (v) => ['http://example.org/fhir/StructureDefinition/sd|1.0', 'http://example.org/fhir/Questionnaire/q', 'http://example.org/x'][v],
  oid: () => 'urn:oid:1.2.3.4',
  uuid: () => 'urn:uuid:2f7e1c1e-3c2b-4c59-9d0e-1b8a6d2b9a11',
  boolean: (v) => v !== 1,
  integer: () => 3,
  positiveInt: () => 2,
  unsignedInt: () => 0,
  decimal: () => 1.5,
  date: (v) => ['2020', '2020-02', '2020-02-03'][v],
  dateTime: (v) => ['2020-02-03T04:05:06+01:00', '2021', '2020-02-03T04:05Z'][v],
  instant: () => '2020-02-03T04:05:06.789Z',
  time: () => '10:00:00',
  base64Binary: () => 'AAAA',
  xhtml: () => '<div xmlns="http://www.w3.org/1999/xhtml">x</div>',
  Reference: (v) => [
    { reference: 'Patient/p1', display: 'P' },
    { reference: 'http://example.org/fhir/Practitioner/9/_history/2' },
    { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'Y1' } },
  ][v],
  Resource: () => ({ resourceType: 'Patient', id: 'inner' }),
  Extension: () => undefined,
  Narrative: () => ({ status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' }),
};

const SKIP = new Set(['id', 'extension', 'modifierExtension', 'contained']);

/** path2Type keys grouped by their parent path, and choice elements by parent: built once. */
const children = new Map<string, string[]>();
for (const key of Object.keys(r4.path2Type)) {
  const parent = key.slice(0, key.lastIndexOf('.'));
  if (!children.has(parent)) children.set(parent, []);
  children.get(parent)!.push(key.slice(parent.length + 1));
}

function fill(ctx: string, variant: number, depth: number): Record<string, unknown> | undefined {
  if (depth > 4) return undefined;
  const out: Record<string, unknown> = {};
  const names = children.get(ctx) ?? [];
  // Choice variants appear as separate keys (valueQuantity, valueString...): keep one per choice.
  const chosen = new Set<string>();
  const variantKeys = new Set<string>();
  for (const [path, suffixes] of Object.entries(r4.choiceTypePaths)) {
    if (path.slice(0, path.lastIndexOf('.')) !== ctx) continue;
    const base = path.slice(ctx.length + 1);
    for (const s of suffixes) variantKeys.add(base + s);
    chosen.add(base + suffixes[variant % suffixes.length]);
  }
  for (const name of names) {
    if (SKIP.has(name) || (variantKeys.has(name) && !chosen.has(name))) continue;
    const path = `${ctx}.${name}`;
    const type = r4.path2Type[path];
    let value: unknown;
    if (type === 'BackboneElement' || type === 'Element') value = fill(path, variant, depth + 1);
    else if (SAMPLES[type]) value = SAMPLES[type](variant);
    else value = fill(type, variant, depth + 1);
    if (value === undefined || (typeof value === 'object' && value !== null && Object.keys(value).length === 0)) continue;
    out[name] = r4.path2Repeating[path] ? [value] : value;
  }
  return out;
}

function synthesize(type: string, variant: number): { resourceType: string } & Record<string, unknown> {
  return { ...fill(type, variant, 0), resourceType: type, id: `${type.toLowerCase()}-${variant}` };
}
