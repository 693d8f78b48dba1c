import type {
  CodeSystem, Condition, Encounter, FhirResource, MedicationRequest, Observation, Organization, Patient, Practitioner,
  PractitionerRole, Reference, RiskAssessment, ValueSet,
} from 'fhir/r4.js';

/**
 * The search conformance dataset: a small synthetic world (fake names, NHS numbers in the 999 test
 * range or the 9000000009 sandbox number, fake ODS codes, Ofcom drama telephone numbers) in which
 * every case of cases.ts has a precise answer with both matches and near-misses.
 *
 * The list is ordered so that whatever a resource references is loaded before it. Ids are fixed;
 * cases name results as 'Type/id'. Change a value here and the cases that depend on it must
 * change too: the comments next to the values say which distinctions they exist for.
 */

export const LOINC = 'http://loinc.org';
export const SNOMED = 'http://snomed.info/sct';
export const UCUM = 'http://unitsofmeasure.org';
export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
export const ODS_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';
export const SDS_USER_SYSTEM = 'https://fhir.nhs.uk/Id/sds-user-id';
export const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
export const CONDITION_CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
export const CONDITION_VERIFICATION = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';
export const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
export const ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
export const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
export const IDENTIFIER_TYPE = 'http://terminology.hl7.org/CodeSystem/v2-0203';
export const ORGANIZATION_TYPE = 'http://terminology.hl7.org/CodeSystem/organization-type';

/** vertebra's own test canonicals (example.org: never resolvable, never real). */
export const TEST_BASE = 'https://vertebra.example.org/fhir';
export const TAG_SYSTEM = `${TEST_BASE}/CodeSystem/test-tags`;
export const CONDITION_CODES = `${TEST_BASE}/CodeSystem/test-conditions`;
export const LAB_LOCAL = `${TEST_BASE}/CodeSystem/lab-local`;
export const TOBACCO_USERS_VS = `${TEST_BASE}/ValueSet/tobacco-users`;
export const CARDIO_VS = `${TEST_BASE}/ValueSet/cardiovascular-conditions`;
export const OTHER_VS = 'https://other.example.com/fhir/ValueSet/unrelated';
export const TEST_PROFILE = `${TEST_BASE}/StructureDefinition/search-test-patient`;
export const MRN_SYSTEM = 'https://st-elsewhere.example.nhs.uk/Id/mrn';

// ---------------------------------------------------------------------------------------------
// NHS numbers: ten digits, the last a modulus-11 check digit over the first nine with weights
// 10..2; check = 11 - (sum mod 11), where 11 becomes 0 and 10 means the nine digits have no valid
// number.

/** The check digit for nine digits, or undefined when they cannot form a valid NHS number. */
export function nhsCheckDigit(first9: string): number | undefined {
  if (!/^\d{9}$/.test(first9)) throw new Error(`expected nine digits, got '${first9}'`);
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(first9[i]) * (10 - i);
  const check = 11 - (sum % 11);
  if (check === 10) return undefined;
  return check === 11 ? 0 : check;
}

/** A valid NHS number from nine digits; throws when those digits have no valid check digit. */
export function nhsNumber(first9: string): string {
  const check = nhsCheckDigit(first9);
  if (check === undefined) throw new Error(`${first9} has no valid NHS number check digit`);
  return `${first9}${check}`;
}

/** The patients' NHS numbers: the PDS sandbox number and 999-range test numbers. */
export const NHS_NUMBERS = {
  smith: '9000000009',
  smythe: nhsNumber('999000001'),
  smithers: nhsNumber('999000002'),
  adeyemi: nhsNumber('999000003'),
  muller: nhsNumber('999000004'),
  mueller: nhsNumber('999000005'),
  obrien: nhsNumber('999000006'),
  nguyen: nhsNumber('999000007'),
  patel: nhsNumber('999000008'),
  khan: nhsNumber('999000009'),
  evans: nhsNumber('999000011'),
} as const;

const nhsId = (value: string) => ({ system: NHS_NUMBER_SYSTEM, value });
const ods = (value: string) => [{ system: ODS_SYSTEM, value }];
const ref = (reference: string): Reference => ({ reference });
const concept = (system: string, code: string, display?: string) => ({ coding: [{ system, code, ...(display ? { display } : {}) }] });
const tag = (code: string) => ({ system: TAG_SYSTEM, code });

// ---------------------------------------------------------------------------------------------
// Terminology: a CodeSystem with an is-a hierarchy (token :above/:below) and ValueSets (:in,
// :not-in, uri :above/:below on url).
//
//   disorder
//     cardio                 cond-nguyen-cardio
//       htn                  cond-patel-htn
//         htn-ess            cond-smith-htn
//       af                   cond-khan-af
//     resp
//       asthma               cond-adeyemi-asthma
//       copd                 cond-muller-copd
//   finding                  cond-taylor-finding

const codeSystems: CodeSystem[] = [{
  resourceType: 'CodeSystem',
  id: 'cs-test-conditions',
  url: CONDITION_CODES,
  name: 'VertebraTestConditions',
  status: 'active',
  content: 'complete',
  hierarchyMeaning: 'is-a',
  caseSensitive: true,
  concept: [
    {
      code: 'disorder', display: 'Disorder',
      concept: [
        {
          code: 'cardio', display: 'Cardiovascular disorder',
          concept: [
            { code: 'htn', display: 'Hypertension', concept: [{ code: 'htn-ess', display: 'Essential hypertension' }] },
            { code: 'af', display: 'Atrial fibrillation' },
          ],
        },
        {
          code: 'resp', display: 'Respiratory disorder',
          concept: [{ code: 'asthma', display: 'Asthma' }, { code: 'copd', display: 'Chronic obstructive pulmonary disease' }],
        },
      ],
    },
    { code: 'finding', display: 'Clinical finding' },
  ],
}];

const valueSets: ValueSet[] = [
  {
    // compose: current or ex-smokers (never-smoked is left out).
    resourceType: 'ValueSet',
    id: 'vs-tobacco-users',
    url: TOBACCO_USERS_VS,
    name: 'TobaccoUsers',
    status: 'active',
    compose: {
      include: [{
        system: SNOMED,
        concept: [{ code: '77176002', display: 'Smoker' }, { code: '8517006', display: 'Ex-smoker' }],
      }],
    },
  },
  {
    // An explicit expansion: hypertension, essential hypertension and AF, but not 'cardio' itself.
    resourceType: 'ValueSet',
    id: 'vs-cardio',
    url: CARDIO_VS,
    name: 'CardiovascularConditions',
    status: 'active',
    expansion: {
      timestamp: '2024-01-01T00:00:00Z',
      contains: [
        { system: CONDITION_CODES, code: 'htn', display: 'Hypertension' },
        { system: CONDITION_CODES, code: 'htn-ess', display: 'Essential hypertension' },
        { system: CONDITION_CODES, code: 'af', display: 'Atrial fibrillation' },
      ],
    },
  },
  {
    // Another publisher's url: outside TEST_BASE for uri :below.
    resourceType: 'ValueSet',
    id: 'vs-other',
    url: OTHER_VS,
    name: 'Unrelated',
    status: 'draft',
    compose: { include: [{ system: SNOMED, concept: [{ code: '38341003', display: 'Hypertensive disorder' }] }] },
  },
];

// ---------------------------------------------------------------------------------------------
// Organizations: NHS England region <- ICB <- three practices; a hospital under the region; a
// closed practice. Patient -> practice -> ICB -> region exercises _include:iterate and chains.

const organizations: Organization[] = [
  {
    resourceType: 'Organization', id: 'Y99', identifier: ods('Y99'), active: true,
    type: [concept(ORGANIZATION_TYPE, 'govt', 'Government')], name: 'NHS Test Region',
  },
  {
    resourceType: 'Organization', id: 'Q99', identifier: ods('Q99'), active: true,
    type: [concept(ORGANIZATION_TYPE, 'pay', 'Payer')], name: 'Riverside Integrated Care Board', partOf: ref('Organization/Y99'),
  },
  {
    resourceType: 'Organization', id: 'A99901', identifier: ods('A99901'), active: true,
    type: [concept(ORGANIZATION_TYPE, 'prov', 'Healthcare Provider')], name: 'Meadow Lane Surgery',
    address: [{ line: ['1 Meadow Lane'], city: 'Leeds', postalCode: 'LS2 7AA', country: 'GB' }],
    partOf: ref('Organization/Q99'),
  },
  {
    resourceType: 'Organization', id: 'B99902', identifier: ods('B99902'), active: true,
    type: [concept(ORGANIZATION_TYPE, 'prov', 'Healthcare Provider')], name: 'Hilltop Medical Centre',
    address: [{ line: ['2 Hill Road'], city: 'Bradford', postalCode: 'BD1 2AA', country: 'GB' }],
    partOf: ref('Organization/Q99'),
  },
  {
    // The comma in the name is for the escaped-comma case (name=brook\,%20fields).
    resourceType: 'Organization', id: 'C99903', identifier: ods('C99903'), active: true,
    type: [concept(ORGANIZATION_TYPE, 'prov', 'Healthcare Provider')], name: 'Brook, Fields and Partners',
    partOf: ref('Organization/Q99'),
  },
  {
    resourceType: 'Organization', id: 'R99', identifier: ods('R99'), active: true,
    type: [concept(ORGANIZATION_TYPE, 'prov', 'Healthcare Provider')], name: 'St Elsewhere General Hospital',
    partOf: ref('Organization/Y99'),
  },
  {
    resourceType: 'Organization', id: 'D99904', identifier: ods('D99904'), active: false,
    type: [concept(ORGANIZATION_TYPE, 'prov', 'Healthcare Provider')], name: 'Old Mill Practice',
  },
];

const practitioners: Practitioner[] = [
  {
    resourceType: 'Practitioner', id: 'prac-jones', active: true, gender: 'female',
    identifier: [{ system: SDS_USER_SYSTEM, value: '555000000101' }],
    name: [{ family: 'Jones', given: ['Alice'], prefix: ['Dr'] }],
  },
  {
    resourceType: 'Practitioner', id: 'prac-okafor', active: true, gender: 'male',
    identifier: [{ system: SDS_USER_SYSTEM, value: '555000000102' }],
    name: [{ family: 'Okafor', given: ['Chidi'], prefix: ['Dr'] }],
  },
  {
    // 'Smithson' makes name=smith match a Practitioner in the system-level _type case.
    resourceType: 'Practitioner', id: 'prac-smithson', active: false, gender: 'female',
    identifier: [{ system: SDS_USER_SYSTEM, value: '555000000103' }],
    name: [{ family: 'Smithson', given: ['Hannah'], prefix: ['Dr'] }],
  },
];

const practitionerRoles: PractitionerRole[] = [
  {
    resourceType: 'PractitionerRole', id: 'role-jones-a', active: true,
    practitioner: ref('Practitioner/prac-jones'), organization: ref('Organization/A99901'),
    code: [concept(SNOMED, '62247001', 'General practitioner')],
  },
  {
    resourceType: 'PractitionerRole', id: 'role-okafor-b', active: true,
    practitioner: ref('Practitioner/prac-okafor'), organization: ref('Organization/B99902'),
    code: [concept(SNOMED, '62247001', 'General practitioner')],
  },
];

// ---------------------------------------------------------------------------------------------
// Patients. Birth dates at year, month and day precision around the 1980 boundary:
//   1930-01-01 evans, 1948-11-30 muller, 1952-06-01 mueller, 1965-03-03 nguyen,
//   1972-12 smithers, 1980 smythe, 1980-05-06 smith, 1980-12-31 patel, 1981-01-01 khan,
//   1992-02-29 adeyemi, 2001-07-15 obrien, none: taylor.

const patients: Patient[] = [
  {
    resourceType: 'Patient', id: 'pat-smith',
    meta: {
      tag: [tag('cohort-a')],
      security: [{ system: CONFIDENTIALITY, code: 'N', display: 'normal' }],
      profile: [TEST_PROFILE],
      source: 'https://pds.example.nhs.uk/source/abc',
    },
    identifier: [nhsId(NHS_NUMBERS.smith)],
    active: true,
    name: [{ use: 'official', family: 'Smith', given: ['John', 'Edward'] }],
    telecom: [{ system: 'phone', value: '01134960000', use: 'home' }],
    gender: 'male',
    birthDate: '1980-05-06',
    address: [{ line: ['10 Park Row'], city: 'Leeds', postalCode: 'LS1 1AA', country: 'GB' }],
    generalPractitioner: [ref('Practitioner/prac-jones')],
    managingOrganization: ref('Organization/A99901'),
  },
  {
    resourceType: 'Patient', id: 'pat-smythe',
    identifier: [nhsId(NHS_NUMBERS.smythe)],
    active: true,
    name: [{ use: 'official', family: 'Smythe', given: ['Jane'] }],
    gender: 'female',
    birthDate: '1980',
    generalPractitioner: [ref('Organization/B99902')],
  },
  {
    resourceType: 'Patient', id: 'pat-smithers',
    meta: { security: [{ system: CONFIDENTIALITY, code: 'L', display: 'low' }] },
    identifier: [nhsId(NHS_NUMBERS.smithers)],
    active: true,
    name: [{ use: 'official', family: 'Smithers', given: ['Ann'] }],
    gender: 'female',
    birthDate: '1972-12',
    address: [{ line: ['4 Albion Street'], city: 'Leeds', postalCode: 'LS1 4AP', country: 'GB' }],
    generalPractitioner: [ref('PractitionerRole/role-jones-a')],
    managingOrganization: ref('Organization/A99901'),
  },
  {
    resourceType: 'Patient', id: 'pat-adeyemi',
    meta: { tag: [tag('cohort-a'), tag('cohort-b')], profile: [TEST_PROFILE] },
    identifier: [nhsId(NHS_NUMBERS.adeyemi)],
    active: true,
    name: [{ use: 'official', family: 'Adeyemi', given: ['Zoë'] }],
    telecom: [{ system: 'email', value: 'zoe.adeyemi@example.com' }],
    gender: 'female',
    birthDate: '1992-02-29',
    address: [{ line: ['7 Manor Row'], city: 'Bradford', postalCode: 'BD1 1AA', country: 'GB' }],
    generalPractitioner: [ref('Practitioner/prac-okafor')],
    managingOrganization: ref('Organization/B99902'),
  },
  {
    resourceType: 'Patient', id: 'pat-muller',
    identifier: [nhsId(NHS_NUMBERS.muller)],
    active: true,
    name: [{ use: 'official', family: 'Müller', given: ['Hans'] }],
    gender: 'male',
    birthDate: '1948-11-30',
    deceasedDateTime: '2021-03-04',
    generalPractitioner: [ref('Organization/C99903')],
  },
  {
    // 'Mueller' is not 'Müller' folded: accent folding drops the diaeresis, it does not spell 'ue'.
    resourceType: 'Patient', id: 'pat-mueller',
    identifier: [nhsId(NHS_NUMBERS.mueller)],
    name: [{ use: 'official', family: 'Mueller', given: ['Greta'] }],
    gender: 'female',
    birthDate: '1952-06-01',
  },
  {
    resourceType: 'Patient', id: 'pat-obrien',
    identifier: [nhsId(NHS_NUMBERS.obrien)],
    active: false,
    name: [{ use: 'official', family: "O'Brien", given: ['Siobhán'] }],
    gender: 'female',
    birthDate: '2001-07-15',
    generalPractitioner: [ref('Practitioner/prac-smithson')],
  },
  {
    resourceType: 'Patient', id: 'pat-nguyen',
    identifier: [nhsId(NHS_NUMBERS.nguyen)],
    name: [{ use: 'official', family: 'Nguyen', given: ['Minh'] }],
    gender: 'other',
    birthDate: '1965-03-03',
    // 'LS11' also starts with 'LS1': string search is a prefix match.
    address: [{ line: ['3 Dewsbury Road'], city: 'Leeds', postalCode: 'LS11 5QT', country: 'GB' }],
  },
  {
    resourceType: 'Patient', id: 'pat-patel',
    meta: { tag: [tag('cohort-b')], profile: [TEST_PROFILE], source: 'https://pds.example.nhs.uk/source/def' },
    identifier: [
      nhsId(NHS_NUMBERS.patel),
      // A typed identifier (hospital number) for identifier:of-type.
      { type: { coding: [{ system: IDENTIFIER_TYPE, code: 'MR', display: 'Medical record number' }], text: 'Hospital number' }, system: MRN_SYSTEM, value: 'MRN-1001' },
    ],
    active: true,
    name: [{ use: 'official', family: 'Patel', given: ['Priya'] }],
    gender: 'female',
    birthDate: '1980-12-31',
    address: [{ line: ['22 Otley Road'], city: 'Leeds', postalCode: 'LS6 2AB', country: 'GB' }],
    generalPractitioner: [ref('Practitioner/prac-jones')],
    managingOrganization: ref('Organization/A99901'),
  },
  {
    resourceType: 'Patient', id: 'pat-khan',
    identifier: [nhsId(NHS_NUMBERS.khan)],
    active: true,
    name: [{ use: 'official', family: 'Khan', given: ['Imran'] }],
    gender: 'male',
    birthDate: '1981-01-01',
    deceasedBoolean: false,
    generalPractitioner: [ref('Practitioner/prac-okafor')],
    managingOrganization: ref('Organization/B99902'),
  },
  {
    // The sparse one: no gender, birth date, active flag or GP; an identifier without a system.
    resourceType: 'Patient', id: 'pat-taylor',
    identifier: [{ value: 'LOCAL-77' }],
    name: [{ family: 'Taylor', given: ['Alex'] }],
    // Present only as an extension, with no value: still :missing (R4 search.html#modifiers).
    _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] },
  },
  {
    resourceType: 'Patient', id: 'pat-evans',
    identifier: [nhsId(NHS_NUMBERS.evans)],
    active: false,
    name: [{ use: 'official', text: 'Rhys Evans', family: 'Evans', given: ['Rhys'] }],
    gender: 'male',
    birthDate: '1930-01-01',
    deceasedBoolean: true,
  },
];

// ---------------------------------------------------------------------------------------------
// Encounters: two closed periods, one open-ended (no end: ongoing).

const encounters: Encounter[] = [
  {
    resourceType: 'Encounter', id: 'enc-smith-1', status: 'finished',
    class: { system: ACT_CODE, code: 'AMB', display: 'ambulatory' },
    subject: ref('Patient/pat-smith'),
    participant: [{ individual: ref('Practitioner/prac-jones') }],
    period: { start: '2023-03-01T09:00:00Z', end: '2023-03-01T09:30:00Z' },
    serviceProvider: ref('Organization/A99901'),
  },
  {
    resourceType: 'Encounter', id: 'enc-patel-1', status: 'in-progress',
    class: { system: ACT_CODE, code: 'IMP', display: 'inpatient encounter' },
    subject: ref('Patient/pat-patel'),
    period: { start: '2024-01-10T14:00:00Z' },
    serviceProvider: ref('Organization/R99'),
  },
  {
    resourceType: 'Encounter', id: 'enc-adeyemi-1', status: 'finished',
    class: { system: ACT_CODE, code: 'AMB', display: 'ambulatory' },
    subject: ref('Patient/pat-adeyemi'),
    participant: [{ individual: ref('Practitioner/prac-okafor') }],
    period: { start: '2022-11-20T10:00:00Z', end: '2022-11-20T11:00:00Z' },
    serviceProvider: ref('Organization/B99902'),
  },
];

// ---------------------------------------------------------------------------------------------
// Observations.

const category = (code: 'vital-signs' | 'laboratory' | 'social-history', display: string) => [concept(OBSERVATION_CATEGORY, code, display)];
const VITALS = category('vital-signs', 'Vital Signs');
const LAB = category('laboratory', 'Laboratory');
const SOCIAL = category('social-history', 'Social History');
const HEART_RATE = concept(LOINC, '8867-4', 'Heart rate');
const BODY_WEIGHT = concept(LOINC, '29463-7', 'Body weight');
const BODY_HEIGHT = concept(LOINC, '8302-2', 'Body height');
const BP_PANEL = concept(LOINC, '85354-9', 'Blood pressure panel with all children optional');
const GLUCOSE = concept(LOINC, '15074-8', 'Glucose [Moles/volume] in Blood');
const HBA1C = concept(LOINC, '4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood');
const SMOKING = concept(LOINC, '72166-2', 'Tobacco smoking status');
const COMMENT = concept(LOINC, '48767-8', 'Annotation comment [Interpretation] Narrative');
const perMin = (value: number) => ({ value, unit: 'beats/minute', system: UCUM, code: '/min' });
const kg = (value: number) => ({ value, unit: 'kg', system: UCUM, code: 'kg' });
const mmolL = (value: number) => ({ value, unit: 'mmol/L', system: UCUM, code: 'mmol/L' });
const mmHg = (value: number) => ({ value, unit: 'mmHg', system: UCUM, code: 'mm[Hg]' });
const bp = (systolic: number, diastolic: number) => [
  { code: concept(LOINC, '8480-6', 'Systolic blood pressure'), valueQuantity: mmHg(systolic) },
  { code: concept(LOINC, '8462-4', 'Diastolic blood pressure'), valueQuantity: mmHg(diastolic) },
];

type ObservationFields = Omit<Observation, 'resourceType' | 'id' | 'status'> & { status?: Observation['status'] };
const observation = (id: string, fields: ObservationFields): Observation =>
  ({ resourceType: 'Observation', id, status: 'final', ...fields });

const observations: Observation[] = [
  // pat-smith's visit on 2023-03-01 (enc-smith-1), all instants; the smoking status is day precision.
  observation('obs-smith-hr', {
    category: VITALS, code: HEART_RATE, subject: ref('Patient/pat-smith'), encounter: ref('Encounter/enc-smith-1'),
    effectiveDateTime: '2023-03-01T09:05:00Z', valueQuantity: perMin(72),
  }),
  observation('obs-smith-weight', {
    category: VITALS, code: BODY_WEIGHT, subject: ref('Patient/pat-smith'), encounter: ref('Encounter/enc-smith-1'),
    effectiveDateTime: '2023-03-01T09:06:00Z', valueQuantity: kg(80),
  }),
  observation('obs-smith-height', {
    category: VITALS, code: BODY_HEIGHT, subject: ref('Patient/pat-smith'), encounter: ref('Encounter/enc-smith-1'),
    effectiveDateTime: '2023-03-01T09:07:00Z', valueQuantity: { value: 178, unit: 'cm', system: UCUM, code: 'cm' },
  }),
  observation('obs-smith-glucose', {
    category: LAB, code: GLUCOSE, subject: ref('Patient/pat-smith'), encounter: ref('Encounter/enc-smith-1'),
    effectiveDateTime: '2023-03-01T09:10:00Z', valueQuantity: mmolL(5.4),
  }),
  observation('obs-smith-bp', {
    category: VITALS, code: BP_PANEL, subject: ref('Patient/pat-smith'), encounter: ref('Encounter/enc-smith-1'),
    effectiveDateTime: '2023-03-01T09:15:00Z', component: bp(150, 95),
  }),
  observation('obs-smith-note', {
    code: COMMENT, subject: ref('Patient/pat-smith'),
    effectiveDateTime: '2023-03-01T09:20:00Z', valueString: 'Patient reports feeling well',
  }),
  observation('obs-smith-smoking', {
    category: SOCIAL, code: SMOKING, subject: ref('Patient/pat-smith'),
    effectiveDateTime: '2023-03-01', valueCodeableConcept: concept(SNOMED, '8517006', 'Ex-smoker'),
  }),

  observation('obs-smithers-weight', {
    category: VITALS, code: BODY_WEIGHT, subject: ref('Patient/pat-smithers'),
    effectiveDateTime: '2021-06-15', valueQuantity: kg(72.4),
  }),

  // pat-adeyemi: a Period-valued heart rate; glucose on the upper edge of 5.4's precision range.
  observation('obs-adeyemi-hr', {
    category: VITALS, code: HEART_RATE, subject: ref('Patient/pat-adeyemi'), encounter: ref('Encounter/enc-adeyemi-1'),
    effectivePeriod: { start: '2022-11-20T10:00:00Z', end: '2022-11-20T10:30:00Z' }, valueQuantity: perMin(88),
  }),
  observation('obs-adeyemi-glucose', {
    category: LAB, code: GLUCOSE, subject: ref('Patient/pat-adeyemi'),
    effectiveDateTime: '2022-11-21', valueQuantity: mmolL(5.45),
  }),
  observation('obs-adeyemi-smoking', {
    category: SOCIAL, code: SMOKING, subject: ref('Patient/pat-adeyemi'),
    effectiveDateTime: '2022-11-20', valueCodeableConcept: concept(SNOMED, '266919005', 'Never smoked tobacco'),
  }),
  observation('obs-adeyemi-note', {
    meta: { security: [{ system: ACT_REASON, code: 'HTEST', display: 'test health data' }] },
    code: COMMENT, subject: ref('Patient/pat-adeyemi'),
    effectiveDateTime: '2022-11-20T10:40:00Z', valueString: 'Feeling dizzy after exercise',
  }),

  // pat-patel: a preliminary heart rate over a Period that crosses midnight; a logical+literal subject.
  observation('obs-patel-hr', {
    status: 'preliminary',
    category: VITALS, code: HEART_RATE, subject: ref('Patient/pat-patel'), encounter: ref('Encounter/enc-patel-1'),
    effectivePeriod: { start: '2024-01-10T23:00:00Z', end: '2024-01-11T01:00:00Z' }, valueQuantity: perMin(110),
  }),
  observation('obs-patel-bp', {
    category: VITALS, code: BP_PANEL,
    subject: { reference: 'Patient/pat-patel', identifier: nhsId(NHS_NUMBERS.patel) },
    encounter: ref('Encounter/enc-patel-1'),
    effectiveDateTime: '2024-01-10T14:30:00Z', component: bp(120, 80),
  }),
  observation('obs-patel-glucose', {
    category: LAB, code: GLUCOSE, subject: ref('Patient/pat-patel'),
    effectiveDateTime: '2024-01-11T08:00:00Z', valueQuantity: mmolL(5.35),
  }),

  // pat-khan: month-precision weight; low systolic (composite: 8480-6 below 100 only here).
  observation('obs-khan-weight', {
    status: 'amended',
    category: VITALS, code: { ...BODY_WEIGHT, text: 'Weight' }, subject: ref('Patient/pat-khan'),
    effectiveDateTime: '2024-05', valueQuantity: kg(95.2),
  }),
  observation('obs-khan-bp', {
    category: VITALS, code: BP_PANEL, subject: ref('Patient/pat-khan'),
    effectiveDateTime: '2024-05-20T08:00:00Z', component: bp(95, 60),
  }),
  observation('obs-khan-smoking', {
    category: SOCIAL, code: SMOKING, subject: ref('Patient/pat-khan'),
    effectiveDateTime: '2024-05-20', valueCodeableConcept: concept(SNOMED, '77176002', 'Smoker'),
  }),
  // A logical reference only (no Reference.reference): found by subject:identifier, not by patient=.
  observation('obs-logical-hr', {
    category: VITALS, code: HEART_RATE,
    subject: { identifier: nhsId(NHS_NUMBERS.khan), display: 'Imran Khan' },
    effectiveDateTime: '2024-05-20T08:05:00Z', valueQuantity: perMin(64),
  }),

  observation('obs-nguyen-glucose', {
    category: LAB, code: GLUCOSE, subject: ref('Patient/pat-nguyen'),
    effectiveDateTime: '2020-02-02T12:00:00Z', valueQuantity: mmolL(6.1),
  }),
  // 5.4 in another unit: found by value-quantity=5.4, not by 5.4||mmol/L.
  observation('obs-mueller-hba1c', {
    category: LAB, code: HBA1C, subject: ref('Patient/pat-mueller'),
    effectiveDateTime: '2019-09-09', valueQuantity: { value: 5.4, unit: '%', system: UCUM, code: '%' },
  }),
  // No subject at all, and a local code only (subject:missing=true; code=system|).
  observation('obs-qc-glucose', {
    category: LAB, code: concept(LAB_LOCAL, 'QC-GLU', 'Glucose QC sample'),
    effectiveDateTime: '2023-06-01T07:00:00Z', valueQuantity: mmolL(5.5),
  }),
];

// ---------------------------------------------------------------------------------------------
// Conditions coded in the test hierarchy.

const clinical = (code: 'active' | 'resolved' | 'inactive') => concept(CONDITION_CLINICAL, code);
const confirmed = concept(CONDITION_VERIFICATION, 'confirmed');
const condition = (id: string, patient: string, code: string, display: string, fields: Partial<Condition> = {}): Condition => ({
  resourceType: 'Condition', id, clinicalStatus: clinical('active'), verificationStatus: confirmed,
  code: concept(CONDITION_CODES, code, display), subject: ref(`Patient/${patient}`), ...fields,
});

const conditions: Condition[] = [
  condition('cond-smith-htn', 'pat-smith', 'htn-ess', 'Essential hypertension', { onsetDateTime: '2015-04-01', recordedDate: '2015-04-02' }),
  condition('cond-patel-htn', 'pat-patel', 'htn', 'Hypertension', { onsetDateTime: '2019' }),
  condition('cond-khan-af', 'pat-khan', 'af', 'Atrial fibrillation', { onsetDateTime: '2024-05-20' }),
  condition('cond-adeyemi-asthma', 'pat-adeyemi', 'asthma', 'Asthma', {
    clinicalStatus: clinical('resolved'), onsetDateTime: '2000', abatementDateTime: '2012',
  }),
  condition('cond-muller-copd', 'pat-muller', 'copd', 'Chronic obstructive pulmonary disease', { onsetDateTime: '2010-10' }),
  condition('cond-nguyen-cardio', 'pat-nguyen', 'cardio', 'Cardiovascular disorder', { onsetDateTime: '2018-08-08' }),
  condition('cond-taylor-finding', 'pat-taylor', 'finding', 'Clinical finding', { clinicalStatus: clinical('inactive') }),
];

// ---------------------------------------------------------------------------------------------
// MedicationRequests (dm+d VMPs, coded in SNOMED CT; illustrative codes).

const AMLODIPINE = concept(SNOMED, '319283006', 'Amlodipine 5mg tablets');
const ATORVASTATIN = concept(SNOMED, '320000009', 'Atorvastatin 20mg tablets');
const SALBUTAMOL = concept(SNOMED, '320176004', 'Salbutamol 100micrograms/dose inhaler CFC free');
const BISOPROLOL = concept(SNOMED, '318353003', 'Bisoprolol 5mg tablets');

const medicationRequest = (
  id: string, patient: string, medication: MedicationRequest['medicationCodeableConcept'], status: MedicationRequest['status'],
  intent: MedicationRequest['intent'], authoredOn: string, requester: string, encounter?: string,
): MedicationRequest => ({
  resourceType: 'MedicationRequest', id, status, intent, medicationCodeableConcept: medication,
  subject: ref(`Patient/${patient}`), ...(encounter ? { encounter: ref(encounter) } : {}),
  authoredOn, requester: ref(requester),
});

const medicationRequests: MedicationRequest[] = [
  medicationRequest('mr-smith-amlodipine', 'pat-smith', AMLODIPINE, 'active', 'order', '2023-03-01', 'PractitionerRole/role-jones-a', 'Encounter/enc-smith-1'),
  medicationRequest('mr-patel-atorvastatin', 'pat-patel', ATORVASTATIN, 'active', 'order', '2024-01-10T15:00:00Z', 'PractitionerRole/role-jones-a'),
  medicationRequest('mr-adeyemi-salbutamol', 'pat-adeyemi', SALBUTAMOL, 'completed', 'order', '2022-11-20', 'PractitionerRole/role-okafor-b'),
  medicationRequest('mr-khan-bisoprolol', 'pat-khan', BISOPROLOL, 'active', 'plan', '2024-05-20', 'Practitioner/prac-okafor'),
  medicationRequest('mr-smith-atorvastatin', 'pat-smith', ATORVASTATIN, 'stopped', 'order', '2019-06-01', 'Practitioner/prac-jones'),
  medicationRequest('mr-muller-salbutamol', 'pat-muller', SALBUTAMOL, 'cancelled', 'proposal', '2012-01-01', 'PractitionerRole/role-okafor-b'),
];

// ---------------------------------------------------------------------------------------------
// RiskAssessments: the R4 number parameter (probability). 0.149, 0.15 and 0.151 lie in 0.15's
// precision range [0.145, 0.155); 0.156 lies just above it. 0.149 and 0.151 tell 'sa'/'eb' (exact
// comparison, R4: the implicit precision is ignored for them) from 'eq'/'ne' (precision range).

const risk = (id: string, patient: string, probability: number): RiskAssessment => ({
  resourceType: 'RiskAssessment', id, status: 'final', subject: ref(`Patient/${patient}`),
  prediction: [{ outcome: { text: 'Cardiovascular event within 10 years' }, probabilityDecimal: probability }],
});

const riskAssessments: RiskAssessment[] = [
  risk('risk-smith', 'pat-smith', 0.02),
  risk('risk-patel', 'pat-patel', 0.15),
  risk('risk-khan', 'pat-khan', 0.151),
  risk('risk-adeyemi', 'pat-adeyemi', 0.5),
  risk('risk-muller', 'pat-muller', 0.156),
  risk('risk-obrien', 'pat-obrien', 0.149),
];

/** Every resource, in load order (whatever is referenced comes first). */
export const dataset: FhirResource[] = [
  ...codeSystems, ...valueSets, ...organizations, ...practitioners, ...practitionerRoles, ...patients, ...encounters,
  ...observations, ...conditions, ...medicationRequests, ...riskAssessments,
];

/** 'Type/id' of every dataset resource of a type, for cases that expect all of them. */
export function allOf(type: string): string[] {
  return dataset.filter((r) => r.resourceType === type).map((r) => `${r.resourceType}/${r.id}`);
}
