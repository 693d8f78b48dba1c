import { expect } from 'chai';
import type { Organization, Patient, Practitioner, PractitionerRole, Resource } from 'fhir/r4.js';
import { isValidNhsNumber } from '../../resources/patient/nhs-number.js';
import { identifierProblem } from '../../resources/practitioner/identifiers.js';
import { isWellFormedJobRoleCode } from '../../resources/practitioner/rbac.js';
import { mix, mulberry32 } from '../../resources/seed/prng.js';
import { patients, population, populationShape, seedNhsNumbers } from '../../resources/seed/population.js';
import { validateStructure } from '../../profiles/schema-validator.js';

const all = (n: number, seed: number): Resource[] => [...population({ patients: n, seed })];

describe('seed: PRNG', () => {
  it('mulberry32 repeats for a seed and differs between seeds', () => {
    const a = mulberry32(42), b = mulberry32(42), c = mulberry32(43);
    const xs = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).to.deep.equal(xs);
    expect(Array.from({ length: 5 }, () => c())).to.not.deep.equal(xs);
    for (const x of xs) expect(x).to.be.within(0, 1);
    expect(mix(1, 2)).to.not.equal(mix(2, 1));
  });
});

describe('seed: synthetic population', () => {
  const N = 3_000;
  let resources: Resource[];
  before(() => { resources = all(N, 7); });
  const ofType = <T extends Resource>(type: string) => resources.filter((r) => r.resourceType === type) as T[];

  it('the same seed gives identical output; another seed differs', () => {
    expect(JSON.stringify(all(N, 7))).to.equal(JSON.stringify(resources));
    const other = all(N, 8);
    expect(other.map((r) => r.id)).to.deep.equal(resources.map((r) => r.id)); // same ids: a re-seed upserts
    expect(JSON.stringify(other)).to.not.equal(JSON.stringify(resources));
  });

  it('a patient does not depend on how many follow it', () => {
    const shortRun = [...patients({ patients: 10, seed: 7 })];
    const longRun = [...patients({ patients: 20, seed: 7 })].slice(0, 10);
    expect(shortRun).to.deep.equal(longRun); // same number of practices (one) either way
  });

  it('has the shape populationShape announces, with unique ids per type', () => {
    const shape = populationShape(N);
    expect(ofType('Patient')).to.have.length(N);
    expect(ofType('Organization')).to.have.length(shape.practices + shape.pharmacies);
    expect(ofType('Practitioner')).to.have.length(shape.practitioners);
    expect(ofType('PractitionerRole')).to.have.length(shape.practitionerRoles);
    const keys = resources.map((r) => `${r.resourceType}/${r.id}`);
    expect(new Set(keys).size).to.equal(keys.length);
  });

  it('every patient id is a valid NHS number in the 999 test range, equal to its identifier', () => {
    for (const p of ofType<Patient>('Patient')) {
      expect(isValidNhsNumber(p.id!), p.id).to.equal(true);
      expect(p.id!.startsWith('999')).to.equal(true);
      expect(p.identifier![0]).to.include({ system: 'https://fhir.nhs.uk/Id/nhs-number', value: p.id });
    }
  });

  it('every resource is structurally valid R4', () => {
    for (const r of resources.slice(0, 400)) expect(validateStructure(r as unknown as Record<string, unknown>), `${r.resourceType}/${r.id}`).to.deep.equal([]);
    for (const p of ofType<Patient>('Patient').filter((x) => x.deceasedDateTime || x.meta)) {
      expect(validateStructure(p as unknown as Record<string, unknown>), p.id).to.deep.equal([]);
    }
  });

  it('has about 1% restricted and 1% deceased patients, and near-duplicate names', () => {
    const ps = ofType<Patient>('Patient');
    const restricted = ps.filter((p) => p.meta?.security?.some((s) => s.code === 'R')).length;
    const deceased = ps.filter((p) => p.deceasedDateTime !== undefined);
    expect(restricted).to.be.within(N * 0.004, N * 0.02);
    expect(deceased.length).to.be.within(N * 0.004, N * 0.02);
    for (const p of deceased) {
      expect(p.deceasedDateTime! >= p.birthDate!).to.equal(true);
      const status = p.extension!.find((e) => e.url.endsWith('Extension-UKCore-DeathNotificationStatus'))!;
      expect(status.extension![0].valueCodeableConcept!.coding![0].code).to.equal('2');
    }
    const families = new Set(ps.map((p) => p.name![0].family));
    for (const f of ['Smith', 'Smyth', 'Thompson', 'Thomson']) expect(families).to.include(f);
    const given = new Set(ps.flatMap((p) => p.name![0].given!));
    for (const g of ['John', 'Jon', 'Sarah', 'Sara']) expect(given).to.include(g);
  });

  it('patients point at practices and pharmacies that exist, with UK-looking postcodes', () => {
    const orgs = new Map(ofType<Organization>('Organization').map((o) => [o.id, o]));
    for (const p of ofType<Patient>('Patient')) {
      const gp = p.generalPractitioner![0];
      expect(orgs.has(gp.identifier!.value)).to.equal(true);
      expect(gp.reference).to.equal(`Organization/${gp.identifier!.value}`);
      const pharmacy = p.extension?.find((e) => e.url.endsWith('Extension-UKCore-NominatedPharmacy'));
      if (pharmacy) {
        const code = pharmacy.valueReference!.identifier!.value!;
        expect(orgs.get(code)!.address![0].city).to.equal(orgs.get(gp.identifier!.value)!.address![0].city);
      }
      expect(p.address![0].postalCode).to.match(/^[A-Z]{1,2}\d{1,2} \d[A-Z]{2}$/);
    }
  });

  it('organisations carry ODS codes and roles; staff identifiers and job roles pass the SDS rules', () => {
    for (const o of ofType<Organization>('Organization')) {
      expect(o.id).to.match(/^[A-Z0-9]{3,12}$/);
      expect(o.identifier![0].value).to.equal(o.id);
      const roles = o.extension!.map((e) => e.extension!.find((s) => s.url === 'roleCode')!.valueCoding!.code);
      expect([['RO177', 'RO76'], ['RO182']]).to.deep.include(roles);
    }
    for (const r of [...ofType<Practitioner>('Practitioner'), ...ofType<PractitionerRole>('PractitionerRole')]) {
      for (const i of r.identifier!) expect(identifierProblem(i.system!, i.value!), `${r.id} ${i.value}`).to.equal(undefined);
    }
    for (const role of ofType<PractitionerRole>('PractitionerRole')) {
      for (const c of role.code![0].coding!) expect(isWellFormedJobRoleCode(c.code!)).to.equal(true);
    }
  });

  it('continues past the 999 range (909,091 numbers) in the 900 sandbox block, all valid and distinct', () => {
    let last999 = '';
    const after: string[] = [];
    let n = 0;
    for (const number of seedNhsNumbers(909_094)) {
      if (++n <= 909_091) last999 = number;
      else after.push(number);
    }
    expect(last999.startsWith('999')).to.equal(true);
    expect(after).to.have.length(3);
    expect(after.every((a) => a.startsWith('9000001') && isValidNhsNumber(a))).to.equal(true);
    expect(new Set(after).size).to.equal(3);
  });
});
