import {
  ACT_REASON, CARDIO_VS, CONDITION_CODES, CONFIDENTIALITY, IDENTIFIER_TYPE, LAB_LOCAL, NHS_NUMBERS, NHS_NUMBER_SYSTEM, ODS_SYSTEM,
  TAG_SYSTEM, TEST_BASE, TEST_PROFILE, TOBACCO_USERS_VS,
} from './dataset.js';

/**
 * FHIR R4 search conformance cases (https://hl7.org/fhir/R4/search.html) over the dataset in
 * dataset.ts, as data: any server and any store must give exactly these answers.
 *
 * `query` is relative to the FHIR base and written as a client would put it in a URL (fetch
 * percent-encodes spaces, quotes and non-ASCII; a literal '+' or '%' must be written %2B / %25).
 * `{base}` stands for the server's base URL.
 */
export interface SearchCase {
  name: string;
  /** e.g. 'Patient?family=smi&birthdate=ge1980'; '?_type=...' for system search; 'Patient/x/Observation?...' for compartments. */
  query: string;
  /** 'Type/id' of the entries with search.mode 'match' (all pages, unless the query sets _count). */
  expect: string[];
  /** Compare `expect` in order (for _sort), not as a set. */
  ordered?: boolean;
  /** 'Type/id' expected with search.mode 'include' (as a set). Absent: no include entries at all. */
  include?: string[];
  /** An error case: the HTTP status expected (the body must be an OperationOutcome). */
  status?: number;
  /** Send Prefer: handling=strict. */
  strict?: boolean;
  /** Expect an OperationOutcome entry with search.mode 'outcome'. */
  warning?: boolean;
  /** Expected Bundle.total. Without it, a total the server gives must equal expect.length (unless _count pages). */
  total?: number;
  /** Send as POST [base]/[path]/_search with the query as an application/x-www-form-urlencoded body. */
  post?: boolean;
  /** Top-level elements every match must have (for _elements). */
  present?: string[];
  /** Top-level elements no match may have (for _elements). */
  absent?: string[];
}

// 'Type/id' builders, so the expectations read as names.
const ids = (type: string, prefix: string) => (...names: string[]) => names.map((n) => `${type}/${prefix}${n}`);
const pat = ids('Patient', 'pat-');
const obs = ids('Observation', 'obs-');
// Organization ids are ODS codes (resources/organization); the cases name them as before.
const ODS_CODES: Record<string, string> = {
  nhse: 'Y99', icb: 'Q99', 'practice-a': 'A99901', 'practice-b': 'B99902', 'practice-c': 'C99903', hospital: 'R99', closed: 'D99904',
};
const org = (...names: string[]) => names.map((n) => `Organization/${ODS_CODES[n] ?? n}`);
const prac = ids('Practitioner', 'prac-');
const role = ids('PractitionerRole', 'role-');
const enc = ids('Encounter', 'enc-');
const cond = ids('Condition', 'cond-');
const mr = ids('MedicationRequest', 'mr-');
const risk = ids('RiskAssessment', 'risk-');
const vs = ids('ValueSet', 'vs-');
const cs = ids('CodeSystem', 'cs-');

const ALL_PATIENTS = pat('smith', 'smythe', 'smithers', 'adeyemi', 'muller', 'mueller', 'obrien', 'nguyen', 'patel', 'khan', 'taylor', 'evans');
const except = (all: string[], ...out: string[][]) => all.filter((id) => !out.flat().includes(id));
const SMITH_OBS = obs('smith-hr', 'smith-weight', 'smith-height', 'smith-glucose', 'smith-bp', 'smith-note', 'smith-smoking');
const PATEL_OBS = obs('patel-hr', 'patel-bp', 'patel-glucose');
const KHAN_OBS = obs('khan-weight', 'khan-bp', 'khan-smoking'); // not obs-logical-hr: its subject is an identifier only
const ADEYEMI_OBS = obs('adeyemi-hr', 'adeyemi-glucose', 'adeyemi-smoking', 'adeyemi-note');
const ALL_OBS = [
  ...SMITH_OBS, ...obs('smithers-weight'), ...ADEYEMI_OBS, ...PATEL_OBS, ...KHAN_OBS,
  ...obs('logical-hr', 'nguyen-glucose', 'mueller-hba1c', 'qc-glucose'),
];
const NHS = NHS_NUMBER_SYSTEM;
const ODS = ODS_SYSTEM;

const stringCases: SearchCase[] = [
  { name: 'string: default is case-insensitive starts-with', query: 'Patient?family=smi', expect: pat('smith', 'smithers') },
  { name: 'string: upper-case value', query: 'Patient?family=SMITH', expect: pat('smith', 'smithers') },
  { name: 'string: accent-insensitive (Müller found by muller)', query: 'Patient?family=muller', expect: pat('muller') },
  { name: 'string: accent-insensitive both ways (MÜLLER)', query: 'Patient?family=MÜLLER', expect: pat('muller') },
  { name: 'string: accented given name found unaccented', query: 'Patient?given=zoe', expect: pat('adeyemi') },
  { name: 'string :exact matches the whole string, case and accents included', query: 'Patient?family:exact=Smith', expect: pat('smith') },
  { name: 'string :exact is case-sensitive', query: 'Patient?family:exact=smith', expect: [] },
  { name: 'string :exact keeps accents', query: 'Patient?family:exact=Müller', expect: pat('muller') },
  { name: 'string :exact does not fold accents', query: 'Patient?given:exact=Zoe', expect: [] },
  { name: 'string :exact with an accent', query: 'Patient?given:exact=Zoë', expect: pat('adeyemi') },
  { name: 'string :contains', query: 'Patient?family:contains=ITH', expect: pat('smith', 'smithers') },
  { name: 'string :contains is accent-insensitive', query: 'Patient?family:contains=üll', expect: pat('muller') },
  { name: 'string: name covers given names', query: 'Patient?name=rhys', expect: pat('evans') },
  { name: 'string: family does not cover given names', query: 'Patient?family=rhys', expect: [] },
  { name: 'string: name covers a second given name', query: 'Patient?name=edward', expect: pat('smith') },
  { name: 'string: an apostrophe is data', query: "Patient?family=o'brien", expect: pat('obrien') },
  { name: 'string: OR (comma)', query: 'Patient?family=patel,khan', expect: pat('patel', 'khan') },
  { name: 'string: AND (repeated parameter)', query: 'Patient?name=smith&name=john', expect: pat('smith') },
  { name: 'string: AND across parameters', query: 'Patient?family=smith&given=ann', expect: pat('smithers') },
  { name: 'string: postcode prefix (LS11 starts with LS1)', query: 'Patient?address-postalcode=LS1', expect: pat('smith', 'smithers', 'nguyen') },
  { name: 'string: prefix with a space', query: 'Patient?address-postalcode=LS1 1', expect: pat('smith') },
  { name: 'string :exact postcode', query: 'Patient?address-postalcode:exact=LS1 1AA', expect: pat('smith') },
  { name: 'string: address-city', query: 'Patient?address-city=leeds', expect: pat('smith', 'smithers', 'nguyen', 'patel') },
  { name: 'string: address matches any address part', query: 'Patient?address=bradford', expect: pat('adeyemi') },
  { name: 'string: escaped comma is part of the value', query: 'Organization?name=brook\\,%20fields', expect: org('practice-c') },
  { name: 'string: unescaped comma is OR', query: 'Organization?name=brook,hilltop', expect: org('practice-c', 'practice-b') },
  { name: 'string: value-string starts-with', query: 'Observation?value-string=feeling', expect: obs('adeyemi-note') },
  { name: 'string: value-string :contains', query: 'Observation?value-string:contains=feeling', expect: obs('smith-note', 'adeyemi-note') },
  { name: 'string: value-string :exact with spaces', query: 'Observation?value-string:exact=Feeling dizzy after exercise', expect: obs('adeyemi-note') },
  { name: 'string: Practitioner name', query: 'Practitioner?name=smith', expect: prac('smithson') },
];

const tokenCases: SearchCase[] = [
  { name: 'token: code', query: 'Patient?gender=female', expect: pat('smythe', 'smithers', 'adeyemi', 'mueller', 'obrien', 'patel') },
  { name: 'token: OR', query: 'Patient?gender=male,other', expect: pat('smith', 'muller', 'khan', 'evans', 'nguyen') },
  {
    name: 'token :not includes resources with no value',
    query: 'Patient?gender:not=male',
    expect: pat('smythe', 'smithers', 'adeyemi', 'mueller', 'obrien', 'patel', 'nguyen', 'taylor'),
  },
  { name: 'token: system|code', query: `Patient?identifier=${NHS}|9000000009`, expect: pat('smith') },
  { name: 'token: code in any system', query: 'Patient?identifier=9000000009', expect: pat('smith') },
  { name: 'token: |code means no system', query: 'Patient?identifier=|LOCAL-77', expect: pat('taylor') },
  { name: 'token: |code does not match a value that has a system', query: 'Patient?identifier=|9000000009', expect: [] },
  { name: 'token: system| (any code in the system)', query: `Patient?identifier=${NHS}|`, expect: except(ALL_PATIENTS, pat('taylor')) },
  {
    name: 'token: OR of system|code',
    query: `Patient?identifier=${NHS}|${NHS_NUMBERS.patel},${NHS}|${NHS_NUMBERS.khan}`,
    expect: pat('patel', 'khan'),
  },
  { name: 'token :of-type', query: `Patient?identifier:of-type=${IDENTIFIER_TYPE}|MR|MRN-1001`, expect: pat('patel') },
  { name: 'token :of-type needs the type on the same identifier', query: `Patient?identifier:of-type=${IDENTIFIER_TYPE}|MR|${NHS_NUMBERS.patel}`, expect: [] },
  { name: 'token :text on Identifier.type.text', query: 'Patient?identifier:text=hospital', expect: pat('patel') },
  { name: 'token: boolean', query: 'Patient?active=false', expect: pat('obrien', 'evans') },
  { name: 'token :not on a boolean includes missing', query: 'Patient?active:not=true', expect: pat('obrien', 'evans', 'mueller', 'nguyen', 'taylor') },
  { name: 'token: deceased=true (dateTime or boolean)', query: 'Patient?deceased=true', expect: pat('muller', 'evans') },
  { name: 'token: deceased=false (false or absent)', query: 'Patient?deceased=false', expect: except(ALL_PATIENTS, pat('muller', 'evans')) },
  { name: 'token: phone', query: 'Patient?phone=01134960000', expect: pat('smith') },
  { name: 'token: telecom (ContactPoint.value)', query: 'Patient?telecom=01134960000', expect: pat('smith') },
  { name: 'token: email', query: 'Patient?email=zoe.adeyemi@example.com', expect: pat('adeyemi') },
  {
    name: 'token: OR of codes',
    query: 'Observation?code=http://loinc.org|8867-4,http://loinc.org|29463-7',
    expect: obs('smith-hr', 'adeyemi-hr', 'patel-hr', 'logical-hr', 'smith-weight', 'smithers-weight', 'khan-weight'),
  },
  { name: 'token: any LOINC code', query: 'Observation?code=http://loinc.org|', expect: except(ALL_OBS, obs('qc-glucose')) },
  { name: 'token: local code', query: 'Observation?code=QC-GLU', expect: obs('qc-glucose') },
  { name: 'token: local system|', query: `Observation?code=${LAB_LOCAL}|`, expect: obs('qc-glucose') },
  {
    name: 'token: category code',
    query: 'Observation?category=laboratory',
    expect: obs('smith-glucose', 'adeyemi-glucose', 'patel-glucose', 'nguyen-glucose', 'mueller-hba1c', 'qc-glucose'),
  },
  {
    name: 'token: category system|code',
    query: 'Observation?category=http://terminology.hl7.org/CodeSystem/observation-category|social-history',
    expect: obs('smith-smoking', 'adeyemi-smoking', 'khan-smoking'),
  },
  { name: 'token: AND of two token parameters', query: 'Observation?category=vital-signs&code=http://loinc.org|8867-4', expect: obs('smith-hr', 'adeyemi-hr', 'patel-hr', 'logical-hr') },
  { name: 'token: status', query: 'Observation?status=preliminary', expect: obs('patel-hr') },
  { name: 'token :not with another parameter', query: 'Observation?patient=pat-khan&status:not=final', expect: obs('khan-weight') },
  { name: 'token :text on Coding.display', query: 'Observation?code:text=blood pressure', expect: obs('smith-bp', 'patel-bp', 'khan-bp') },
  {
    name: 'token :text on display, several codings',
    query: 'Observation?code:text=glucose',
    expect: obs('smith-glucose', 'adeyemi-glucose', 'patel-glucose', 'nguyen-glucose', 'qc-glucose'),
  },
  { name: 'token :text on display or text', query: 'Observation?code:text=body', expect: obs('smith-weight', 'smithers-weight', 'khan-weight', 'smith-height') },
  { name: 'token: value-concept', query: 'Observation?value-concept=http://snomed.info/sct|77176002', expect: obs('khan-smoking') },
  { name: 'token :text on value-concept', query: 'Observation?value-concept:text=never', expect: obs('adeyemi-smoking') },
  { name: 'token: Coding (Encounter.class)', query: 'Encounter?class=http://terminology.hl7.org/CodeSystem/v3-ActCode|IMP', expect: enc('patel-1') },
  { name: 'token: Encounter status', query: 'Encounter?status=finished', expect: enc('smith-1', 'adeyemi-1') },
  { name: 'token: clinical-status', query: 'Condition?clinical-status=resolved', expect: cond('adeyemi-asthma') },
  { name: 'token :not on clinical-status', query: 'Condition?clinical-status:not=active', expect: cond('adeyemi-asthma', 'taylor-finding') },
  { name: 'token: MedicationRequest status', query: 'MedicationRequest?status=active', expect: mr('smith-amlodipine', 'patel-atorvastatin', 'khan-bisoprolol') },
  { name: 'token: status and intent', query: 'MedicationRequest?status=active&intent=order', expect: mr('smith-amlodipine', 'patel-atorvastatin') },
  { name: 'token: dm+d (SNOMED) medication code', query: 'MedicationRequest?code=http://snomed.info/sct|320000009', expect: mr('patel-atorvastatin', 'smith-atorvastatin') },
  { name: 'token :text on medication', query: 'MedicationRequest?code:text=salbutamol', expect: mr('adeyemi-salbutamol', 'muller-salbutamol') },
  { name: 'token: ODS code', query: `Organization?identifier=${ODS}|A99901`, expect: org('practice-a') },
  { name: 'token: Organization active', query: 'Organization?active=false', expect: org('closed') },
  {
    name: 'token: Organization type',
    query: 'Organization?type=http://terminology.hl7.org/CodeSystem/organization-type|prov',
    expect: org('practice-a', 'practice-b', 'practice-c', 'hospital', 'closed'),
  },
];

const terminologyCases: SearchCase[] = [
  {
    name: 'token :below includes the code and its descendants',
    query: `Condition?code:below=${CONDITION_CODES}|cardio`,
    expect: cond('nguyen-cardio', 'patel-htn', 'smith-htn', 'khan-af'),
  },
  { name: 'token :below a mid-level code', query: `Condition?code:below=${CONDITION_CODES}|htn`, expect: cond('patel-htn', 'smith-htn') },
  { name: 'token :below another branch', query: `Condition?code:below=${CONDITION_CODES}|resp`, expect: cond('adeyemi-asthma', 'muller-copd') },
  { name: 'token :below the root', query: `Condition?code:below=${CONDITION_CODES}|disorder`, expect: cond('smith-htn', 'patel-htn', 'khan-af', 'adeyemi-asthma', 'muller-copd', 'nguyen-cardio') },
  { name: 'token :above includes the code and its ancestors', query: `Condition?code:above=${CONDITION_CODES}|htn-ess`, expect: cond('smith-htn', 'patel-htn', 'nguyen-cardio') },
  { name: 'token :above a leaf whose ancestors are unused', query: `Condition?code:above=${CONDITION_CODES}|asthma`, expect: cond('adeyemi-asthma') },
  { name: 'token :in a ValueSet (compose)', query: `Observation?value-concept:in=${TOBACCO_USERS_VS}`, expect: obs('smith-smoking', 'khan-smoking') },
  { name: 'token :not-in a ValueSet', query: `Observation?code=http://loinc.org|72166-2&value-concept:not-in=${TOBACCO_USERS_VS}`, expect: obs('adeyemi-smoking') },
  { name: 'token :in a ValueSet (expansion)', query: `Condition?code:in=${CARDIO_VS}`, expect: cond('smith-htn', 'patel-htn', 'khan-af') },
  {
    name: 'token :not-in a ValueSet (expansion)',
    query: `Condition?code:not-in=${CARDIO_VS}`,
    expect: cond('adeyemi-asthma', 'muller-copd', 'nguyen-cardio', 'taylor-finding'),
  },
];

const uriCases: SearchCase[] = [
  { name: 'uri: exact', query: `ValueSet?url=${TOBACCO_USERS_VS}`, expect: vs('tobacco-users') },
  { name: 'uri: no prefix match without a modifier', query: `ValueSet?url=${TEST_BASE}/ValueSet/tobacco`, expect: [] },
  { name: 'uri :below', query: `ValueSet?url:below=${TEST_BASE}/ValueSet/`, expect: vs('tobacco-users', 'cardio') },
  { name: 'uri :above', query: `ValueSet?url:above=${TOBACCO_USERS_VS}/_history/2`, expect: vs('tobacco-users') },
  { name: 'uri: CodeSystem url', query: `CodeSystem?url=${CONDITION_CODES}`, expect: cs('test-conditions') },
  { name: 'uri: ValueSet status (token) on conformance resources', query: 'ValueSet?status=draft', expect: vs('other') },
];

const referenceCases: SearchCase[] = [
  { name: 'reference: Type/id', query: 'Observation?subject=Patient/pat-patel', expect: PATEL_OBS },
  { name: 'reference: bare id', query: 'Observation?subject=pat-patel', expect: PATEL_OBS },
  { name: 'reference: absolute URL on this server', query: 'Observation?subject={base}/Patient/pat-patel', expect: PATEL_OBS },
  { name: 'reference: patient parameter ignores a logical (identifier-only) reference', query: 'Observation?patient=pat-khan', expect: KHAN_OBS },
  { name: 'reference :[type]', query: 'Observation?subject:Patient=pat-khan', expect: KHAN_OBS },
  { name: 'reference :identifier (logical reference)', query: `Observation?subject:identifier=${NHS}|${NHS_NUMBERS.khan}`, expect: obs('logical-hr') },
  { name: 'reference :identifier (literal and logical reference)', query: `Observation?subject:identifier=${NHS}|${NHS_NUMBERS.patel}`, expect: obs('patel-bp') },
  {
    name: 'reference: encounter',
    query: 'Observation?encounter=Encounter/enc-smith-1',
    expect: obs('smith-hr', 'smith-weight', 'smith-height', 'smith-glucose', 'smith-bp'),
  },
  { name: 'reference :missing=true', query: 'Observation?patient=pat-smith&encounter:missing=true', expect: obs('smith-note', 'smith-smoking') },
  { name: 'reference :missing=true (a logical reference is a value)', query: 'Observation?subject:missing=true', expect: obs('qc-glucose') },
  { name: 'reference: bare id across target types', query: 'Patient?general-practitioner=prac-jones', expect: pat('smith', 'patel') },
  { name: 'reference :[type] Organization', query: 'Patient?general-practitioner:Organization=B99902', expect: pat('smythe') },
  { name: 'reference: PractitionerRole target', query: 'Patient?general-practitioner=PractitionerRole/role-jones-a', expect: pat('smithers') },
  { name: 'reference :missing=true on Patient', query: 'Patient?general-practitioner:missing=true', expect: pat('mueller', 'nguyen', 'taylor', 'evans') },
  { name: 'reference: managing organization', query: 'Patient?organization=A99901', expect: pat('smith', 'smithers', 'patel') },
  { name: 'reference: partof', query: 'Organization?partof=Organization/Q99', expect: org('practice-a', 'practice-b', 'practice-c') },
  { name: 'reference :missing=true on partof', query: 'Organization?partof:missing=true', expect: org('nhse', 'closed') },
  { name: 'reference :missing=false', query: 'Organization?partof:missing=false', expect: org('icb', 'practice-a', 'practice-b', 'practice-c', 'hospital') },
  { name: 'reference: requester Practitioner', query: 'MedicationRequest?requester=Practitioner/prac-okafor', expect: mr('khan-bisoprolol') },
  { name: 'reference :[type] PractitionerRole', query: 'MedicationRequest?requester:PractitionerRole=role-okafor-b', expect: mr('adeyemi-salbutamol', 'muller-salbutamol') },
];

const chainCases: SearchCase[] = [
  { name: 'chain: subject:Patient.name', query: 'Observation?subject:Patient.name=smith', expect: [...SMITH_OBS, ...obs('smithers-weight')] },
  { name: 'chain: untyped, only Patient has family', query: 'Observation?subject.family=smithers', expect: obs('smithers-weight') },
  { name: 'chain: date precision through a chain', query: 'Observation?patient.birthdate=1980', expect: [...SMITH_OBS, ...PATEL_OBS] },
  { name: 'chain: identifier of the target (literal references only)', query: `Observation?subject:Patient.identifier=${NHS}|${NHS_NUMBERS.khan}`, expect: KHAN_OBS },
  {
    name: 'chain: two levels (Observation -> Patient -> Organization)',
    query: 'Observation?subject.organization.name=meadow',
    expect: [...SMITH_OBS, ...obs('smithers-weight'), ...PATEL_OBS],
  },
  { name: 'chain: two levels, typed', query: 'Observation?subject:Patient.organization.name=hilltop', expect: [...ADEYEMI_OBS, ...KHAN_OBS] },
  {
    name: 'chain: two levels to an ODS code (Patient -> practice -> ICB)',
    query: `Patient?organization.partof.identifier=${ODS}|Q99`,
    expect: pat('smith', 'smithers', 'patel', 'adeyemi', 'khan'),
  },
  { name: 'chain: typed general-practitioner', query: 'Patient?general-practitioner:Practitioner.name=jones', expect: pat('smith', 'patel') },
  { name: 'chain: through PractitionerRole to Practitioner', query: 'Patient?general-practitioner:PractitionerRole.practitioner.name=jones', expect: pat('smithers') },
  { name: 'chain: requester role organization', query: 'MedicationRequest?requester:PractitionerRole.organization.name=meadow', expect: mr('smith-amlodipine', 'patel-atorvastatin') },
  { name: 'chain: service provider ODS code', query: `Encounter?service-provider.identifier=${ODS}|A99901`, expect: enc('smith-1') },
  { name: 'chain AND a modifier', query: `Condition?subject:Patient.gender=male&code:below=${CONDITION_CODES}|cardio`, expect: cond('smith-htn', 'khan-af') },
];

const reverseChainCases: SearchCase[] = [
  { name: '_has: patients with a smoking status', query: 'Patient?_has:Observation:patient:code=72166-2', expect: pat('smith', 'khan', 'adeyemi') },
  { name: '_has: via subject, system|code', query: 'Patient?_has:Observation:subject:code=http://loinc.org|85354-9', expect: pat('smith', 'patel', 'khan') },
  { name: '_has: OR of values', query: 'Patient?_has:Observation:patient:code=72166-2,85354-9', expect: pat('smith', 'khan', 'adeyemi', 'patel') },
  { name: '_has: AND of two', query: 'Patient?_has:Observation:patient:code=72166-2&_has:Observation:patient:code=85354-9', expect: pat('smith', 'khan') },
  { name: '_has: nested', query: 'Organization?_has:Patient:organization:_has:Observation:patient:code=72166-2', expect: org('practice-a', 'practice-b') },
  { name: '_has: PractitionerRole', query: 'Practitioner?_has:PractitionerRole:practitioner:organization=B99902', expect: prac('okafor') },
  { name: '_has with :below', query: `Patient?_has:Condition:subject:code:below=${CONDITION_CODES}|resp`, expect: pat('adeyemi', 'muller') },
  { name: '_has with :in', query: `Patient?_has:Observation:patient:value-concept:in=${TOBACCO_USERS_VS}`, expect: pat('smith', 'khan') },
  { name: '_has AND a plain parameter', query: 'Patient?_has:MedicationRequest:subject:status=active&gender=female', expect: pat('patel') },
];

const dateCases: SearchCase[] = [
  { name: 'date: year matches day, year precision (all within 1980)', query: 'Patient?birthdate=1980', expect: pat('smith', 'smythe', 'patel') },
  { name: 'date: eq month excludes a year-precision value', query: 'Patient?birthdate=eq1980-05', expect: pat('smith') },
  { name: 'date: day', query: 'Patient?birthdate=1980-05-06', expect: pat('smith') },
  { name: 'date: leap day', query: 'Patient?birthdate=1992-02-29', expect: pat('adeyemi') },
  { name: 'date ne', query: 'Patient?birthdate=ne1980', expect: pat('smithers', 'adeyemi', 'muller', 'mueller', 'obrien', 'nguyen', 'khan', 'evans') },
  { name: 'date gt (year)', query: 'Patient?birthdate=gt1980', expect: pat('khan', 'adeyemi', 'obrien') },
  { name: 'date lt (year)', query: 'Patient?birthdate=lt1980', expect: pat('evans', 'muller', 'mueller', 'nguyen', 'smithers') },
  { name: 'date ge (day): later values and 1980 overlapping', query: 'Patient?birthdate=ge1980-05-06', expect: pat('smith', 'smythe', 'patel', 'khan', 'adeyemi', 'obrien') },
  {
    name: 'date le (day)',
    query: 'Patient?birthdate=le1980-12-31',
    expect: pat('smith', 'smythe', 'patel', 'smithers', 'muller', 'mueller', 'nguyen', 'evans'),
  },
  { name: 'date gt (month) includes 1980 which extends beyond May', query: 'Patient?birthdate=gt1980-05', expect: pat('smythe', 'patel', 'khan', 'adeyemi', 'obrien') },
  { name: 'date sa (month) excludes 1980 which starts before', query: 'Patient?birthdate=sa1980-05', expect: pat('patel', 'khan', 'adeyemi', 'obrien') },
  { name: 'date lt (month) includes 1980 which starts before', query: 'Patient?birthdate=lt1980-05', expect: pat('smythe', 'smithers', 'muller', 'mueller', 'nguyen', 'evans') },
  { name: 'date eb (month) excludes 1980 which ends after', query: 'Patient?birthdate=eb1980-05', expect: pat('smithers', 'muller', 'mueller', 'nguyen', 'evans') },
  { name: 'date ap (10% of the gap to now)', query: 'Patient?birthdate=ap1980-05-06', expect: pat('smith', 'smythe', 'patel', 'khan') },
  { name: 'date: AND makes a range', query: 'Patient?birthdate=ge1980&birthdate=le1980-12-31', expect: pat('smith', 'smythe', 'patel') },
  { name: 'date: OR of years (month precision inside a year)', query: 'Patient?birthdate=1972,1992', expect: pat('smithers', 'adeyemi') },
  { name: 'date :missing=true', query: 'Patient?birthdate:missing=true', expect: pat('taylor') },
  { name: 'date: deceasedDateTime', query: 'Patient?death-date=2021-03', expect: pat('muller') },
  { name: 'date: day contains instants and a day-precision value', query: 'Observation?date=2023-03-01', expect: SMITH_OBS },
  { name: 'date: a Period crossing midnight is not within either day', query: 'Observation?date=2024-01-10', expect: obs('patel-bp') },
  { name: 'date lt: a Period that starts before', query: 'Observation?patient=pat-patel&date=lt2024-01-11T00:00:00Z', expect: obs('patel-bp', 'patel-hr') },
  { name: 'date gt: a Period that ends after', query: 'Observation?patient=pat-patel&date=gt2024-01-11T00:00:00Z', expect: obs('patel-hr', 'patel-glucose') },
  { name: 'date eb: the Period does not end before', query: 'Observation?patient=pat-patel&date=eb2024-01-11', expect: obs('patel-bp') },
  { name: 'date sa: the Period does not start after', query: 'Observation?patient=pat-patel&date=sa2024-01-10', expect: obs('patel-glucose') },
  { name: 'date ne with a Period', query: 'Observation?patient=pat-patel&date=ne2024-01-10', expect: obs('patel-hr', 'patel-glucose') },
  { name: 'date: month-precision value is not within a day', query: 'Observation?patient=pat-khan&date=2024-05-20', expect: obs('khan-bp', 'khan-smoking') },
  { name: 'date: month contains month, day and instants', query: 'Observation?patient=pat-khan&date=2024-05', expect: KHAN_OBS },
  { name: 'date le: a Period overlapping the instant', query: 'Observation?patient=pat-adeyemi&date=le2022-11-20T10:15:00Z', expect: obs('adeyemi-hr', 'adeyemi-smoking') },
  { name: 'date: minute precision (hours and minutes, no seconds)', query: 'Observation?patient=pat-smith&category=vital-signs&date=2023-03-01T09:06Z', expect: obs('smith-weight') },
  { name: 'date lt a minute: a day-precision value starts before it', query: 'Observation?patient=pat-smith&date=lt2023-03-01T09:06Z', expect: obs('smith-hr', 'smith-smoking') },
  { name: 'date: percent-encoded colons', query: 'Observation?date=2023-03-01T09%3A05%3A00Z', expect: obs('smith-hr') },
  { name: 'date: instant with an explicit UTC offset', query: 'Observation?date=2023-03-01T09:05:00%2B00:00', expect: obs('smith-hr') },
  { name: 'date: instant in another zone', query: 'Observation?date=2023-03-01T10:05:00%2B01:00', expect: obs('smith-hr') },
  { name: 'date: an open-ended Period goes on', query: 'Encounter?date=ge2030-01-01', expect: enc('patel-1') },
  { name: 'date: closed Period within a day', query: 'Encounter?date=2023-03-01', expect: enc('smith-1') },
  { name: 'date lt on Periods', query: 'Encounter?date=lt2023', expect: enc('adeyemi-1') },
  { name: 'date ge on authoredOn', query: 'MedicationRequest?authoredon=ge2023', expect: mr('smith-amlodipine', 'patel-atorvastatin', 'khan-bisoprolol') },
  { name: 'date lt on onset', query: 'Condition?onset-date=lt2011', expect: cond('adeyemi-asthma', 'muller-copd') },
  { name: 'date: year-precision onset', query: 'Condition?onset-date=2019', expect: cond('patel-htn') },
];

const numberCases: SearchCase[] = [
  { name: 'number: implicit precision (0.15 is [0.145, 0.155))', query: 'RiskAssessment?probability=0.15', expect: risk('patel', 'khan', 'obrien') },
  { name: 'number: more significant figures narrow the range', query: 'RiskAssessment?probability=0.150', expect: risk('patel') },
  { name: 'number eq', query: 'RiskAssessment?probability=eq0.5', expect: risk('adeyemi') },
  { name: 'number gt (exact value)', query: 'RiskAssessment?probability=gt0.15', expect: risk('khan', 'muller', 'adeyemi') },
  { name: 'number ge (exact value)', query: 'RiskAssessment?probability=ge0.151', expect: risk('khan', 'muller', 'adeyemi') },
  { name: 'number lt (exact value)', query: 'RiskAssessment?probability=lt0.15', expect: risk('smith', 'obrien') },
  { name: 'number le (exact value)', query: 'RiskAssessment?probability=le0.15', expect: risk('smith', 'patel', 'obrien') },
  { name: 'number ne (outside the precision range)', query: 'RiskAssessment?probability=ne0.15', expect: risk('smith', 'muller', 'adeyemi') },
  // R4 search.html#number: "When a comparison prefix in the set lgt, lt, ge, le, sa & eb is provided,
  // the implicit precision of the number is ignored" -- so sa/eb compare with exactly 0.15.
  { name: 'number sa (exact value, precision ignored)', query: 'RiskAssessment?probability=sa0.15', expect: risk('khan', 'muller', 'adeyemi') },
  { name: 'number eb (exact value, precision ignored)', query: 'RiskAssessment?probability=eb0.15', expect: risk('smith', 'obrien') },
  { name: 'number ap', query: 'RiskAssessment?probability=ap0.5', expect: risk('adeyemi') },
  { name: 'number OR', query: 'RiskAssessment?probability=0.02,0.5', expect: risk('smith', 'adeyemi') },
  { name: 'number AND makes a range', query: 'RiskAssessment?probability=gt0.1&probability=lt0.155', expect: risk('patel', 'khan', 'obrien') },
];

const quantityCases: SearchCase[] = [
  {
    name: 'quantity: number only, any unit; 5.4 is [5.35, 5.45)',
    query: 'Observation?value-quantity=5.4',
    expect: obs('smith-glucose', 'patel-glucose', 'mueller-hba1c'),
  },
  { name: 'quantity: number|system|code', query: 'Observation?value-quantity=5.4|http://unitsofmeasure.org|mmol/L', expect: obs('smith-glucose', 'patel-glucose') },
  { name: 'quantity: number||code', query: 'Observation?value-quantity=5.4||mmol/L', expect: obs('smith-glucose', 'patel-glucose') },
  { name: 'quantity: ||% (percent-encoded)', query: 'Observation?value-quantity=5.4||%25', expect: obs('mueller-hba1c') },
  { name: 'quantity: integer precision across units', query: 'Observation?value-quantity=72', expect: obs('smith-hr', 'smithers-weight') },
  { name: 'quantity: unit narrows', query: 'Observation?value-quantity=72||/min', expect: obs('smith-hr') },
  { name: 'quantity gt', query: 'Observation?value-quantity=gt80|http://unitsofmeasure.org|kg', expect: obs('khan-weight') },
  { name: 'quantity ge', query: 'Observation?value-quantity=ge80||kg', expect: obs('smith-weight', 'khan-weight') },
  { name: 'quantity lt', query: 'Observation?value-quantity=lt80||kg', expect: obs('smithers-weight') },
  { name: 'quantity le', query: 'Observation?value-quantity=le72.4||kg', expect: obs('smithers-weight') },
  { name: 'quantity ne', query: 'Observation?code=http://loinc.org|29463-7&value-quantity=ne80', expect: obs('smithers-weight', 'khan-weight') },
  { name: 'quantity ap (10%)', query: 'Observation?value-quantity=ap80||kg', expect: obs('smithers-weight', 'smith-weight') },
  { name: 'quantity sa', query: 'Observation?value-quantity=sa100||/min', expect: obs('patel-hr') },
  { name: 'quantity eb', query: 'Observation?value-quantity=eb70||/min', expect: obs('logical-hr') },
  { name: 'quantity OR', query: 'Observation?value-quantity=5.4||mmol/L,6.1||mmol/L', expect: obs('smith-glucose', 'patel-glucose', 'nguyen-glucose') },
  { name: 'quantity on components', query: 'Observation?component-value-quantity=gt140', expect: obs('smith-bp') },
];

const compositeCases: SearchCase[] = [
  { name: 'composite: component code and value', query: 'Observation?component-code-value-quantity=http://loinc.org|8480-6$gt140', expect: obs('smith-bp') },
  { name: 'composite: both parts in the same component', query: 'Observation?component-code-value-quantity=http://loinc.org|8480-6$lt100', expect: obs('khan-bp') },
  { name: 'composite: diastolic ge', query: 'Observation?component-code-value-quantity=http://loinc.org|8462-4$ge80', expect: obs('smith-bp', 'patel-bp') },
  {
    name: 'composite: OR',
    query: 'Observation?component-code-value-quantity=http://loinc.org|8480-6$gt140,http://loinc.org|8462-4$lt70',
    expect: obs('smith-bp', 'khan-bp'),
  },
  { name: 'composite: quantity with system and code', query: 'Observation?component-code-value-quantity=http://loinc.org|8480-6$gt140|http://unitsofmeasure.org|mm[Hg]', expect: obs('smith-bp') },
  { name: 'composite: code-value-quantity', query: 'Observation?code-value-quantity=http://loinc.org|29463-7$gt75', expect: obs('smith-weight', 'khan-weight') },
  { name: 'composite: code-value-concept', query: 'Observation?code-value-concept=http://loinc.org|72166-2$http://snomed.info/sct|77176002', expect: obs('khan-smoking') },
  { name: 'composite: combo-code-value-quantity', query: 'Observation?combo-code-value-quantity=http://loinc.org|8480-6$gt140', expect: obs('smith-bp') },
  { name: 'composite: code-value-string', query: 'Observation?code-value-string=http://loinc.org|48767-8$patient', expect: obs('smith-note') },
];

const commonParameterCases: SearchCase[] = [
  { name: '_id OR', query: 'Patient?_id=pat-adeyemi,pat-khan', expect: pat('adeyemi', 'khan') },
  { name: '_id AND', query: 'Patient?_id=pat-adeyemi&_id=pat-khan', expect: [] },
  { name: '_lastUpdated ge a date well in the past', query: 'Patient?_lastUpdated=ge2020-01-01&gender=other', expect: pat('nguyen') },
  { name: '_lastUpdated lt a date before any write', query: 'Patient?_lastUpdated=lt2000-01-01', expect: [] },
  { name: '_tag code', query: 'Patient?_tag=cohort-a', expect: pat('smith', 'adeyemi') },
  { name: '_tag system|code', query: `Patient?_tag=${TAG_SYSTEM}|cohort-b`, expect: pat('adeyemi', 'patel') },
  { name: '_tag AND', query: `Patient?_tag=${TAG_SYSTEM}|cohort-a&_tag=${TAG_SYSTEM}|cohort-b`, expect: pat('adeyemi') },
  { name: '_tag OR', query: `Patient?_tag=${TAG_SYSTEM}|cohort-a,${TAG_SYSTEM}|cohort-b`, expect: pat('smith', 'adeyemi', 'patel') },
  { name: '_tag :not', query: `Patient?_tag:not=${TAG_SYSTEM}|cohort-a`, expect: except(ALL_PATIENTS, pat('smith', 'adeyemi')) },
  { name: '_security', query: `Patient?_security=${CONFIDENTIALITY}|N`, expect: pat('smith') },
  { name: '_security on Observation', query: `Observation?_security=${ACT_REASON}|HTEST`, expect: obs('adeyemi-note') },
  { name: '_profile', query: `Patient?_profile=${TEST_PROFILE}`, expect: pat('smith', 'adeyemi', 'patel') },
  { name: '_source', query: 'Patient?_source=https://pds.example.nhs.uk/source/abc', expect: pat('smith') },
  { name: '_source :below', query: 'Patient?_source:below=https://pds.example.nhs.uk/', expect: pat('smith', 'patel') },
];

const includeCases: SearchCase[] = [
  {
    name: '_include',
    query: 'Observation?code=http://loinc.org|85354-9&_include=Observation:subject',
    expect: obs('smith-bp', 'patel-bp', 'khan-bp'), include: pat('smith', 'patel', 'khan'),
  },
  {
    name: '_include with a target type',
    query: 'Observation?code=http://loinc.org|85354-9&_include=Observation:subject:Patient',
    expect: obs('smith-bp', 'patel-bp', 'khan-bp'), include: pat('smith', 'patel', 'khan'),
  },
  {
    name: '_include: a logical reference includes nothing',
    query: 'Observation?code=http://loinc.org|8867-4&_include=Observation:patient',
    expect: obs('smith-hr', 'adeyemi-hr', 'patel-hr', 'logical-hr'), include: pat('smith', 'adeyemi', 'patel'),
  },
  {
    name: '_include=*',
    query: 'MedicationRequest?_id=mr-smith-amlodipine&_include=*',
    expect: mr('smith-amlodipine'), include: [...pat('smith'), ...role('jones-a'), ...enc('smith-1')],
  },
  {
    name: '_include:iterate through PractitionerRole to Organization',
    query: 'MedicationRequest?status=active&_include=MedicationRequest:requester&_include:iterate=PractitionerRole:organization',
    expect: mr('smith-amlodipine', 'patel-atorvastatin', 'khan-bisoprolol'),
    include: [...role('jones-a'), ...prac('okafor'), ...org('practice-a')],
  },
  {
    name: '_include:iterate follows partOf to the top',
    query: 'Patient?_id=pat-smith&_include=Patient:organization&_include:iterate=Organization:partof',
    expect: pat('smith'), include: org('practice-a', 'icb', 'nhse'),
  },
  {
    name: '_include without :iterate applies to matches only',
    query: 'Patient?_id=pat-smith&_include=Patient:organization&_include=Organization:partof',
    expect: pat('smith'), include: org('practice-a'),
  },
  {
    name: '_include: a match is not repeated as an include',
    query: 'Organization?name=meadow,riverside&_include=Organization:partof',
    expect: org('practice-a', 'icb'), include: org('nhse'),
  },
  { name: '_revinclude', query: 'Patient?_id=pat-patel&_revinclude=Observation:subject', expect: pat('patel'), include: PATEL_OBS },
  { name: '_revinclude on partof', query: 'Organization?_id=Q99&_revinclude=Organization:partof', expect: org('icb'), include: org('practice-a', 'practice-b', 'practice-c') },
  {
    name: '_revinclude:iterate',
    query: 'Patient?_id=pat-smith&_revinclude=Encounter:subject&_revinclude:iterate=Observation:encounter',
    expect: pat('smith'), include: [...enc('smith-1'), ...obs('smith-hr', 'smith-weight', 'smith-height', 'smith-glucose', 'smith-bp')],
  },
  {
    name: '_include and _revinclude together',
    query: 'Patient?_id=pat-smith&_include=Patient:general-practitioner&_revinclude=Condition:subject',
    expect: pat('smith'), include: [...prac('jones'), ...cond('smith-htn')],
  },
];

const sortCases: SearchCase[] = [
  { name: '_sort string ascending', query: 'Patient?gender=female&_sort=family', ordered: true, expect: pat('adeyemi', 'mueller', 'obrien', 'patel', 'smithers', 'smythe') },
  { name: '_sort string descending', query: 'Patient?gender=female&_sort=-family', ordered: true, expect: pat('smythe', 'smithers', 'patel', 'obrien', 'mueller', 'adeyemi') },
  { name: '_sort string with an accented value', query: 'Patient?gender=male&_sort=family', ordered: true, expect: pat('evans', 'khan', 'muller', 'smith') },
  { name: '_sort date ascending', query: 'Patient?gender=male&_sort=birthdate', ordered: true, expect: pat('evans', 'muller', 'smith', 'khan') },
  { name: '_sort date descending', query: 'Patient?gender=male&_sort=-birthdate', ordered: true, expect: pat('khan', 'smith', 'muller', 'evans') },
  {
    name: '_sort multi-key: token descending, then string',
    query: 'Patient?gender:missing=false&_sort=-gender,family',
    ordered: true,
    expect: pat('nguyen', 'evans', 'khan', 'muller', 'smith', 'adeyemi', 'mueller', 'obrien', 'patel', 'smithers', 'smythe'),
  },
  {
    name: '_sort by date descending on Observation',
    query: 'Observation?patient=pat-smith&category=vital-signs&_sort=-date',
    ordered: true, expect: obs('smith-bp', 'smith-height', 'smith-weight', 'smith-hr'),
  },
  { name: '_sort by quantity', query: 'Observation?code=http://loinc.org|29463-7&_sort=value-quantity', ordered: true, expect: obs('smithers-weight', 'smith-weight', 'khan-weight') },
  { name: '_sort by _id descending', query: 'Organization?partof=Q99&_sort=-_id', ordered: true, expect: org('practice-c', 'practice-b', 'practice-a') },
  { name: '_sort by number descending', query: 'RiskAssessment?_sort=-probability', ordered: true, expect: risk('adeyemi', 'muller', 'khan', 'patel', 'obrien', 'smith') },
];

const resultCases: SearchCase[] = [
  {
    name: '_count with _total=accurate: first page and the full total',
    query: 'Patient?gender=female&_sort=family&_count=2&_total=accurate',
    ordered: true, expect: pat('adeyemi', 'mueller'), total: 6,
  },
  { name: '_count=0 is _summary=count', query: 'Patient?gender=female&_count=0', expect: [], total: 6 },
  { name: '_summary=count: the total and no entries', query: 'Patient?gender=female&_summary=count', expect: [], total: 6 },
  {
    name: '_elements',
    query: 'Patient?_id=pat-adeyemi&_elements=birthDate,gender',
    expect: pat('adeyemi'), present: ['resourceType', 'id', 'birthDate', 'gender'], absent: ['name', 'telecom', 'address'],
  },
  { name: 'system search: _type and _id', query: '?_type=Patient,Practitioner&_id=pat-adeyemi,prac-jones,Q99', expect: [...pat('adeyemi'), ...prac('jones')] },
  { name: 'system search: a parameter common to the types', query: '?_type=Patient,Practitioner&name=smith', expect: [...pat('smith', 'smithers'), ...prac('smithson')] },
  { name: 'system search: _id over every type', query: '?_id=pat-adeyemi,Q99', expect: [...pat('adeyemi'), ...org('icb')] },
  { name: 'compartment search with a parameter', query: 'Patient/pat-smith/Observation?code=http://loinc.org|8867-4', expect: obs('smith-hr') },
  { name: 'compartment search with a category', query: 'Patient/pat-smith/Observation?category=vital-signs', expect: obs('smith-hr', 'smith-weight', 'smith-height', 'smith-bp') },
  { name: 'compartment search without parameters', query: 'Patient/pat-khan/Observation', expect: KHAN_OBS },
  { name: 'compartment search, another type', query: 'Patient/pat-patel/MedicationRequest', expect: mr('patel-atorvastatin') },
  { name: 'POST _search with a form body', query: 'Patient?family=smith&gender=male', post: true, expect: pat('smith') },
  {
    name: 'POST _search with _include',
    query: 'Observation?code=http://loinc.org|85354-9&_include=Observation:subject',
    post: true, expect: obs('smith-bp', 'patel-bp', 'khan-bp'), include: pat('smith', 'patel', 'khan'),
  },
];

const handlingCases: SearchCase[] = [
  { name: 'unknown parameter: ignored with a warning', query: 'Patient?family=smith&shoe-size=9', expect: pat('smith', 'smithers'), warning: true },
  { name: 'unknown parameter under handling=strict: 400', query: 'Patient?family=smith&shoe-size=9', strict: true, expect: [], status: 400 },
  { name: 'an empty parameter is ignored, not an error', query: 'Patient?family=&gender=male', expect: pat('smith', 'muller', 'khan', 'evans') },
  { name: 'unsupported modifier: 400 even when lenient (R4: SHALL reject)', query: 'Patient?family:fuzzy=smith', expect: [], status: 400 },
  { name: 'unknown modifier under handling=strict: 400', query: 'Patient?family:fuzzy=smith', strict: true, expect: [], status: 400 },
  { name: 'malformed: month 13', query: 'Patient?birthdate=1980-13', expect: [], status: 400 },
  { name: 'malformed: unknown prefix', query: 'Patient?birthdate=xx1980', expect: [], status: 400 },
  { name: 'malformed: 30 February', query: 'Patient?birthdate=1980-02-30', expect: [], status: 400 },
  { name: 'malformed: hour 25', query: 'Observation?date=2023-03-01T25:00:00Z', expect: [], status: 400 },
  { name: 'malformed: quantity not a number', query: 'Observation?value-quantity=abc', expect: [], status: 400 },
  { name: 'malformed: quantity with an unknown prefix', query: 'Observation?value-quantity=xy5.4', expect: [], status: 400 },
  { name: 'malformed: number not a number', query: 'RiskAssessment?probability=abc', expect: [], status: 400 },
  { name: 'malformed: number with two points', query: 'RiskAssessment?probability=0.1.5', expect: [], status: 400 },
  { name: 'malformed: :missing not a boolean', query: 'Patient?gender:missing=maybe', expect: [], status: 400 },
  { name: 'malformed: composite without its second part', query: 'Observation?component-code-value-quantity=http://loinc.org|8480-6', expect: [], status: 400 },
  { name: 'malformed: SQL in a date', query: "Patient?birthdate=1980' OR '1'='1", expect: [], status: 400 },
];

const injectionCases: SearchCase[] = [
  { name: "injection: ' OR 1=1 --", query: "Patient?family=' OR 1=1 --", expect: [] },
  { name: 'injection: closing quote and DROP', query: "Patient?family=smith'); DROP TABLE resources; --", expect: [] },
  { name: 'injection: literal percent (LIKE wildcard)', query: 'Patient?family=%25', expect: [] },
  { name: 'injection: raw percent', query: 'Patient?family=%', expect: [] },
  { name: 'injection: percent in :contains', query: 'Patient?family:contains=%25', expect: [] },
  { name: 'injection: underscore in :contains', query: 'Patient?family:contains=_', expect: [] },
  { name: 'injection: glob star', query: 'Patient?family=*', expect: [] },
  { name: 'injection: MongoDB operator object', query: 'Patient?name={"$gt":""}', expect: [] },
  { name: 'injection: MongoDB regex', query: 'Patient?name={"$regex":".*"}', expect: [] },
  { name: 'injection: quote in _id', query: "Patient?_id=x' OR '1'='1", expect: [] },
  { name: 'injection: quote in a token', query: "Patient?identifier=' OR ''='", expect: [] },
];

export const searchCases: SearchCase[] = [
  ...stringCases, ...tokenCases, ...terminologyCases, ...uriCases, ...referenceCases, ...chainCases, ...reverseChainCases,
  ...dateCases, ...numberCases, ...quantityCases, ...compositeCases, ...commonParameterCases, ...includeCases, ...sortCases,
  ...resultCases, ...handlingCases, ...injectionCases,
];
