import type { Extension, Organization, Patient, Practitioner, PractitionerRole, Resource } from 'fhir/r4.js';
import { NHS_NUMBER_SYSTEM, nhsNumbersFrom } from '../patient/nhs-number.js';
import { DEATH_NOTIFICATION_URL, NOMINATED_PHARMACY_URL } from '../patient/extensions.js';
import { CONFIDENTIALITY_SYSTEM } from '../patient/restricted.js';
import {
  GMC_SYSTEM, GMP_SYSTEM, GPHC_SYSTEM, HCPC_SYSTEM, NMC_SYSTEM, ODS_ORGANIZATION_CODE_SYSTEM,
  SDS_ROLE_PROFILE_ID_SYSTEM, SDS_USER_ID_SYSTEM,
} from '../practitioner/identifiers.js';
import { rbacRole, SDS_JOB_ROLE_CODE_SYSTEM, SDS_JOB_ROLE_NAME_SYSTEM } from '../practitioner/rbac.js';
import { draw, type Draw } from './prng.js';

/**
 * A synthetic, reproducible NHS population for `npm run seed` (pure: no I/O, no clock, no
 * Math.random). The same options always give the same resources, in the same order:
 * GP practices and pharmacies (Organization, id = a synthetic ODS code), their staff
 * (Practitioner with SDS user ids and registration numbers, PractitionerRole with national RBAC
 * job roles), then the patients (id = NHS number from the 999 test range). Every name, address,
 * phone number and email is invented: streets are made-up compounds, phone numbers are Ofcom's
 * drama ranges, emails are at example.com.
 *
 * Each record draws from its own PRNG stream keyed by (seed, kind, index), so patient n is the
 * same whatever the batching; the number of practices and pharmacies follows from the patient
 * count (one practice per 2,000 patients, 1.5 pharmacies per practice).
 */

export interface PopulationOptions {
  patients: number;
  seed: number;
}

export interface PopulationShape {
  practices: number;
  pharmacies: number;
  practitioners: number;
  practitionerRoles: number;
  patients: number;
}

export const PATIENTS_PER_PRACTICE = 2_000;
/** The first NHS number stem of the population (999 000 000x: the 999 test range). */
export const FIRST_NHS_STEM = 999_000_000;
/** Ages, dates of death and email addresses are computed against this date, not the clock. */
export const REFERENCE_DATE = Date.UTC(2025, 0, 1);
const MAX_PRACTICES = 10_000;

const ODS_ROLE_SYSTEM = 'https://digital.nhs.uk/services/organisation-data-service/CodeSystem/ODSOrganisationRole';
const ORGANISATION_ROLE_URL = 'https://fhir.nhs.uk/England/StructureDefinition/Extension-England-OrganisationRole';
const DEATH_NOTIFICATION_SYSTEM = 'https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus';
const VERIFICATION_STATUS_URL = 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus';
const VERIFICATION_STATUS_SYSTEM = 'https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus';

// Stream kinds, so that practice 3 and patient 3 never share a stream.
const ORG = 1, PHARMACY = 2, STAFF = 3, PATIENT = 4;

/** Towns with their postcode area: real places, invented streets and postcodes. */
const TOWNS: readonly [city: string, area: string, district: string][] = [
  ['Leeds', 'LS', 'West Yorkshire'], ['Bradford', 'BD', 'West Yorkshire'], ['Sheffield', 'S', 'South Yorkshire'],
  ['Manchester', 'M', 'Greater Manchester'], ['Liverpool', 'L', 'Merseyside'], ['Birmingham', 'B', 'West Midlands'],
  ['Bristol', 'BS', 'Avon'], ['Nottingham', 'NG', 'Nottinghamshire'], ['Leicester', 'LE', 'Leicestershire'],
  ['Newcastle upon Tyne', 'NE', 'Tyne and Wear'], ['York', 'YO', 'North Yorkshire'], ['Norwich', 'NR', 'Norfolk'],
  ['Exeter', 'EX', 'Devon'], ['Plymouth', 'PL', 'Devon'], ['Oxford', 'OX', 'Oxfordshire'], ['Cambridge', 'CB', 'Cambridgeshire'],
  ['Brighton', 'BN', 'East Sussex'], ['Southampton', 'SO', 'Hampshire'], ['Coventry', 'CV', 'West Midlands'],
  ['Derby', 'DE', 'Derbyshire'], ['Hull', 'HU', 'East Riding of Yorkshire'], ['Preston', 'PR', 'Lancashire'],
];
const STREET_STEMS = [
  'Acacia', 'Beech', 'Chestnut', 'Elm', 'Hawthorn', 'Larch', 'Maple', 'Oak', 'Rowan', 'Willow', 'Meadow', 'Mill',
  'Church', 'Station', 'Victoria', 'Albert', 'Park', 'Orchard', 'Kingfisher', 'Heron', 'Foxglove', 'Bramble',
];
const STREET_KINDS = ['Road', 'Street', 'Avenue', 'Lane', 'Close', 'Crescent', 'Grove', 'Way', 'Drive', 'Terrace', 'Gardens'];
const PRACTICE_KINDS = ['SURGERY', 'MEDICAL CENTRE', 'HEALTH CENTRE', 'MEDICAL PRACTICE', 'FAMILY PRACTICE'];
const PHARMACY_KINDS = ['PHARMACY', 'CHEMIST', 'DISPENSARY'];
/** Inward-code letters used by Royal Mail (no C, I, K, M, O, V). */
const INWARD_LETTERS = 'ABDEFGHJLNPQRSTUWXYZ';

/** Family names with deliberate near-duplicates (spelling variants, accents) for fuzzy search. */
const FAMILY = [
  'Smith', 'Smyth', 'Smithe', 'Jones', 'Johns', 'Williams', 'Williamson', 'Brown', 'Browne', 'Taylor', 'Tailor',
  'Davies', 'Davis', 'Evans', 'Thomas', 'Thompson', 'Thomson', 'Johnson', 'Jonson', 'Roberts', 'Robertson',
  'Walker', 'Wright', 'Clark', 'Clarke', 'Hall', 'Green', 'Greene', 'Wood', 'Harris', 'Harrison', 'Lewis',
  'Martin', 'Jackson', 'White', 'Whyte', 'Hughes', 'Edwards', 'Turner', 'Hill', 'Moore', 'Moor', 'Cooper',
  'Ward', 'King', 'Baker', 'Patel', 'Khan', 'Ahmed', 'Ahmad', 'Ali', 'Begum', 'Singh', 'Kaur', 'Hussain',
  'Hussein', "O'Brien", "O'Neill", 'McDonald', 'Macdonald', 'Phillips', 'Philips', 'Nowak', 'Kowalski',
  'Nguyen', 'Okafor', 'Mensah', 'Murphy', 'Kelly', 'Byrne', 'Stewart', 'Stuart', 'Reid', 'Reed', 'Read',
  'Gray', 'Grey', 'Mitchell', 'Mitchel', 'Ellis', 'Lee', 'Leigh', 'Chen', 'Müller', 'Muller',
];
const GIVEN_MALE = [
  'John', 'Jon', 'Jonathan', 'James', 'Jamie', 'Stephen', 'Steven', 'Philip', 'Phillip', 'Mohammed', 'Muhammad',
  'Mohammad', 'David', 'Dafydd', 'Thomas', 'Tom', 'Oliver', 'Harry', 'George', 'Jack', 'Jacob', 'Noah', 'Aaron',
  'Aron', 'Sean', 'Shaun', 'Shawn', 'Ian', 'Iain', 'Neil', 'Neal', 'Alan', 'Allan', 'Allen', 'Ryan', 'Connor',
  'Conor', 'Matthew', 'Mathew', 'Michael', 'Peter', 'Paul', 'Daniel', 'Adam', 'Arjun', 'Rahul', 'Kwame', 'Piotr', 'Wei',
];
const GIVEN_FEMALE = [
  'Catherine', 'Katherine', 'Kathryn', 'Kate', 'Sarah', 'Sara', 'Ann', 'Anne', 'Anna', 'Hannah', 'Hanna', 'Amy',
  'Aimee', 'Zoe', 'Zoë', 'Chloe', 'Chloë', 'Emily', 'Emilie', 'Olivia', 'Amelia', 'Isla', 'Ava', 'Grace', 'Lucy',
  'Louise', 'Rebecca', 'Rebekah', 'Elizabeth', 'Elisabeth', 'Claire', 'Clare', 'Fatima', 'Fatimah', 'Aisha',
  'Ayesha', 'Priya', 'Mary', 'Marie', 'Megan', 'Meghan', 'Niamh', 'Siobhan', 'Jessica', 'Laura', 'Joanne',
  'Joanna', 'Agnieszka', 'Mei',
];

/** Staff of each practice and pharmacy: job role, registration system, name prefix. */
interface StaffPost {
  role: string;
  registration?: 'gmc' | 'nmc' | 'gphc' | 'hcpc';
  doctor?: boolean;
}
const PRACTICE_STAFF: readonly StaffPost[] = [
  { role: 'R0260', registration: 'gmc', doctor: true },
  { role: 'R0270', registration: 'gmc', doctor: true },
  { role: 'R8001', registration: 'nmc' },
  { role: 'R8003', registration: 'hcpc' },
  { role: 'R8008' },
  { role: 'R8010' },
];
/** One practice in four also has a Privacy Officer. */
const PRIVACY_OFFICER: StaffPost = { role: 'R0001' };
const PHARMACY_STAFF: readonly StaffPost[] = [{ role: 'R1290', registration: 'gphc' }];

export function populationShape(patients: number): PopulationShape {
  if (!Number.isInteger(patients) || patients < 0) throw new RangeError(`patients must be a whole number >= 0, not ${patients}`);
  const practices = Math.max(1, Math.ceil(patients / PATIENTS_PER_PRACTICE));
  if (practices > MAX_PRACTICES) throw new RangeError(`at most ${MAX_PRACTICES * PATIENTS_PER_PRACTICE} patients`);
  const pharmacies = Math.ceil(practices * 1.5);
  const privacyOfficers = Math.ceil(practices / 4);
  const practitioners = practices * PRACTICE_STAFF.length + privacyOfficers + pharmacies * PHARMACY_STAFF.length;
  return { practices, pharmacies, practitioners, practitionerRoles: practitioners, patients };
}

/** The synthetic ODS code of practice k (Y90000 upwards) and of pharmacy k (FZ000 upwards). */
export const practiceCode = (k: number): string => `Y${90_000 + k}`;
export const pharmacyCode = (k: number): string => `F${(35 * 36 ** 3 + k).toString(36).toUpperCase()}`;
/** Synthetic 12-digit SDS ids: user ids from 900000000000, role profile ids from 910000000000. */
export const sdsUserId = (k: number): string => String(900_000_000_000 + k);
export const sdsRoleProfileId = (k: number): string => String(910_000_000_000 + k);

const town = (seed: number, practice: number) => TOWNS[draw(seed, ORG, practice, 0).int(0, TOWNS.length - 1)];

function postcode(d: Draw, area: string): string {
  return `${area}${d.int(1, 20)} ${d.int(0, 9)}${d.chars(INWARD_LETTERS, 2)}`;
}

function street(d: Draw): string {
  return `${d.int(1, 240)} ${d.pick(STREET_STEMS)} ${d.pick(STREET_KINDS)}`;
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function roleExtension(code: string, display: string): Extension {
  return {
    url: ORGANISATION_ROLE_URL,
    extension: [
      { url: 'roleCode', valueCoding: { system: ODS_ROLE_SYSTEM, code, display } },
      { url: 'active', valueBoolean: true },
    ],
  };
}

function organization(code: string, name: string, roles: Extension[], d: Draw, [city, area, district]: readonly [string, string, string]): Organization {
  return {
    resourceType: 'Organization',
    id: code,
    extension: roles,
    identifier: [{ use: 'official', system: ODS_ORGANIZATION_CODE_SYSTEM, value: code }],
    active: true,
    name,
    telecom: [{ system: 'phone', value: `01632 960${String(d.int(0, 999)).padStart(3, '0')}`, use: 'work' }],
    address: [{ use: 'work', line: [street(d).toUpperCase()], city: city.toUpperCase(), district: district.toUpperCase(), postalCode: postcode(d, area), country: 'ENGLAND' }],
  };
}

/** GP practices (primary role RO177 prescribing cost centre, plus RO76 GP practice), then pharmacies (RO182). */
export function organizations({ patients, seed }: PopulationOptions): Organization[] {
  const shape = populationShape(patients);
  const out: Organization[] = [];
  for (let k = 0; k < shape.practices; k++) {
    const d = draw(seed, ORG, k, 1);
    const t = town(seed, k);
    const name = d.chance(0.3) ? `${t[0].toUpperCase()} ${d.pick(PRACTICE_KINDS)}` : `${d.pick(STREET_STEMS).toUpperCase()} ${d.pick(PRACTICE_KINDS)}`;
    out.push(organization(practiceCode(k), name, [roleExtension('RO177', 'PRESCRIBING COST CENTRE'), roleExtension('RO76', 'GP PRACTICE')], d, t));
  }
  for (let k = 0; k < shape.pharmacies; k++) {
    const d = draw(seed, PHARMACY, k);
    const t = town(seed, k % shape.practices); // every practice's town has at least one pharmacy
    const name = `${d.pick(FAMILY).toUpperCase()} ${d.pick(PHARMACY_KINDS)}`;
    out.push(organization(pharmacyCode(k), name, [roleExtension('RO182', 'PHARMACY')], d, t));
  }
  return out;
}

function registration(kind: NonNullable<StaffPost['registration']>, k: number, d: Draw): { system: string; value: string } {
  switch (kind) {
    case 'gmc': return { system: GMC_SYSTEM, value: String(7_000_000 + k) };
    case 'nmc': return { system: NMC_SYSTEM, value: `${String(d.int(0, 99)).padStart(2, '0')}${d.chars('ABCDEFGHIJ', 1)}${String(k % 10_000).padStart(4, '0')}${d.chars('ABCDEFGHIJKLMNOPQRSTUVWXYZ', 1)}` };
    case 'gphc': return { system: GPHC_SYSTEM, value: `2${String(k).padStart(6, '0')}` };
    case 'hcpc': return { system: HCPC_SYSTEM, value: `PH${String(k % 1_000_000).padStart(6, '0')}` };
  }
}

/** Staff: a Practitioner and its PractitionerRole at the practice or pharmacy, for every post. */
export function staff({ patients, seed }: PopulationOptions): (Practitioner | PractitionerRole)[] {
  const shape = populationShape(patients);
  const out: (Practitioner | PractitionerRole)[] = [];
  let k = 0;
  const add = (post: StaffPost, orgCode: string, orgName: string) => {
    const d = draw(seed, STAFF, k);
    const female = d.chance(0.55);
    const given = d.pick(female ? GIVEN_FEMALE : GIVEN_MALE);
    const family = d.pick(FAMILY);
    const userId = sdsUserId(k);
    const identifier = [{ system: SDS_USER_ID_SYSTEM, value: userId }];
    if (post.registration) identifier.push(registration(post.registration, k, d));
    if (post.doctor) identifier.push({ system: GMP_SYSTEM, value: `G${String(8_000_000 + k).slice(-7)}` });
    const prefix = post.doctor ? 'Dr' : female ? d.pick(['Mrs', 'Ms', 'Miss']) : 'Mr';
    out.push({
      resourceType: 'Practitioner', id: userId, identifier, active: true,
      name: [{ use: 'official', family, given: [given], prefix: [prefix] }],
      gender: female ? 'female' : 'male',
    });
    const role = rbacRole(post.role)!;
    out.push({
      resourceType: 'PractitionerRole', id: sdsRoleProfileId(k),
      identifier: [{ system: SDS_ROLE_PROFILE_ID_SYSTEM, value: sdsRoleProfileId(k) }],
      active: true,
      practitioner: { reference: `Practitioner/${userId}`, display: `${prefix} ${given} ${family}` },
      organization: { reference: `Organization/${orgCode}`, display: orgName },
      code: [{
        coding: [
          { system: SDS_JOB_ROLE_CODE_SYSTEM, code: role.code },
          { system: SDS_JOB_ROLE_NAME_SYSTEM, code: role.code, display: role.display },
        ],
      }],
    });
    k++;
  };
  const orgs = organizations({ patients, seed });
  for (let p = 0; p < shape.practices; p++) {
    for (const post of PRACTICE_STAFF) add(post, orgs[p].id!, orgs[p].name!);
    if (p % 4 === 0) add(PRIVACY_OFFICER, orgs[p].id!, orgs[p].name!);
  }
  for (let f = 0; f < shape.pharmacies; f++) {
    const org = orgs[shape.practices + f];
    for (const post of PHARMACY_STAFF) add(post, org.id!, org.name!);
  }
  return out;
}

function emailPart(s: string): string {
  return s.normalize('NFD').replace(/[^A-Za-z]/g, '').toLowerCase();
}

/** Patient n (0-based) of the population, whose id is `nhsNumber`. */
export function patient({ patients, seed }: PopulationOptions, n: number, nhsNumber: string): Patient {
  const shape = populationShape(patients);
  const d = draw(seed, PATIENT, n);
  const practice = d.int(0, shape.practices - 1);
  const [city, area, district] = town(seed, practice);
  const g = d.next();
  const gender: Patient['gender'] = g < 0.495 ? 'female' : g < 0.99 ? 'male' : g < 0.995 ? 'other' : 'unknown';
  const female = gender === 'female' || (gender !== 'male' && d.chance(0.5));
  const given = [d.pick(female ? GIVEN_FEMALE : GIVEN_MALE)];
  if (d.chance(0.3)) given.push(d.pick(female ? GIVEN_FEMALE : GIVEN_MALE));
  const family = d.pick(FAMILY);
  const ageDays = Math.floor(d.next() ** 1.3 * 100 * 365.25);
  const born = REFERENCE_DATE - ageDays * 86_400_000;
  const adult = ageDays >= 18 * 365.25;
  const name: NonNullable<Patient['name']>[number] = { id: '1', use: 'usual', family, given };
  if (adult) name.prefix = [d.chance(0.03) ? 'Dr' : female ? d.pick(['Mrs', 'Ms', 'Miss']) : 'Mr'];
  const line = d.chance(0.15) ? [`Flat ${d.int(1, 40)}`, street(d)] : [street(d)];

  const resource: Patient = {
    resourceType: 'Patient',
    id: nhsNumber,
    identifier: [{
      system: NHS_NUMBER_SYSTEM, value: nhsNumber,
      extension: [{
        url: VERIFICATION_STATUS_URL,
        valueCodeableConcept: { coding: [{ system: VERIFICATION_STATUS_SYSTEM, version: '1.0.0', code: '01', display: 'Number present and verified' }] },
      }],
    }],
    name: [name],
    gender,
    birthDate: isoDate(born),
    address: [{ id: '1', use: 'home', line, city, district, postalCode: postcode(d, area) }],
    generalPractitioner: [{
      id: '1', type: 'Organization', reference: `Organization/${practiceCode(practice)}`,
      identifier: { system: ODS_ORGANIZATION_CODE_SYSTEM, value: practiceCode(practice) },
    }],
  };

  const telecom: NonNullable<Patient['telecom']> = [];
  if (d.chance(0.75)) {
    telecom.push(d.chance(0.7)
      ? { id: String(telecom.length + 1), system: 'phone', value: `07700 900${String(d.int(0, 999)).padStart(3, '0')}`, use: 'mobile' }
      : { id: String(telecom.length + 1), system: 'phone', value: `01632 960${String(d.int(0, 999)).padStart(3, '0')}`, use: 'home' });
  }
  if (adult && d.chance(0.35)) {
    telecom.push({ id: String(telecom.length + 1), system: 'email', value: `${emailPart(given[0])}.${emailPart(family)}${n}@example.com`, use: 'home' });
  }
  if (telecom.length) resource.telecom = telecom;

  const extension: Extension[] = [];
  if (d.chance(0.6)) {
    // A pharmacy in the practice's town: pharmacy k is in the town of practice k mod practices.
    const inTown = Math.floor((shape.pharmacies - 1 - practice) / shape.practices) + 1;
    const pharmacy = practice + shape.practices * d.int(0, inTown - 1);
    extension.push({ url: NOMINATED_PHARMACY_URL, valueReference: { identifier: { system: ODS_ORGANIZATION_CODE_SYSTEM, value: pharmacyCode(pharmacy) } } });
  }
  if (d.chance(0.01)) {
    // Died in the last five years (after birth), notified formally a few days later.
    const earliest = Math.max(born, REFERENCE_DATE - 5 * 365 * 86_400_000);
    const died = earliest + Math.floor(d.next() * (REFERENCE_DATE - earliest));
    const diedAt = new Date(died - (died % 60_000));
    resource.deceasedDateTime = diedAt.toISOString().replace(/\.\d{3}Z$/, '+00:00');
    extension.push({
      url: DEATH_NOTIFICATION_URL,
      extension: [
        {
          url: 'deathNotificationStatus',
          valueCodeableConcept: { coding: [{ system: DEATH_NOTIFICATION_SYSTEM, version: '1.0.0', code: '2', display: 'Formal - death notice received from Registrar of Deaths' }] },
        },
        { url: 'systemEffectiveDate', valueDateTime: new Date(died + d.int(1, 10) * 86_400_000).toISOString().replace(/\.\d{3}Z$/, '+00:00') },
      ],
    });
  }
  if (extension.length) resource.extension = extension;
  if (d.chance(0.01)) resource.meta = { security: [{ system: CONFIDENTIALITY_SYSTEM, code: 'R', display: 'restricted' }] };
  return resource;
}

/**
 * The population's NHS numbers, in order: the 999 test range (909,091 valid numbers), then, for
 * larger populations, the 900 block of the PDS sandbox numbers (ARCHITECTURE.md allows both), from
 * 9000001000 up so that the sandbox's own well-known numbers (9000000009 …) stay free.
 */
export const OVERFLOW_NHS_STEM = 900_000_100;
export const OVERFLOW_LAST_STEM = 900_999_999;

export function* seedNhsNumbers(count: number): Generator<string> {
  let produced = 0;
  for (const n of nhsNumbersFrom(FIRST_NHS_STEM, count)) {
    produced++;
    yield n;
  }
  for (const n of nhsNumbersFrom(OVERFLOW_NHS_STEM, count - produced)) {
    if (Number(n.slice(0, 9)) > OVERFLOW_LAST_STEM) return;
    yield n;
  }
}

/** Every patient of the population, in order (id = the n-th number of seedNhsNumbers). */
export function* patients(options: PopulationOptions): Generator<Patient> {
  let n = 0;
  for (const nhsNumber of seedNhsNumbers(options.patients)) yield patient(options, n++, nhsNumber);
}

/** The whole population: organisations, staff, then patients. */
export function* population(options: PopulationOptions): Generator<Resource> {
  yield* organizations(options);
  yield* staff(options);
  yield* patients(options);
}
