import { expect } from 'chai';
import type { Patient } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { thrownFhirError } from '../support/fhir-errors.js';
import { isValidNhsNumber, nhsCheckDigit, nhsNumbersFrom } from '../../resources/patient/nhs-number.js';
import { allocateNhsNumber } from '../../resources/patient/allocation.js';
import { foldName, jaroWinkler, nameSimilarity, soundex } from '../../resources/patient/name-similarity.js';
import { candidateCriteria, globMatch, scorePatient, searchView } from '../../resources/patient/pds-match.js';
import { isPdsSearch, parsePdsQuery } from '../../resources/patient/pds-query.js';
import { isLocatingParameter, redactForReader, restrictedPatientCriteria } from '../../resources/patient/restricted.js';
import { matchGrade } from '../../resources/patient/match-operation.js';

const R = { system: 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality', code: 'R' };

function spineCode(fn: () => unknown): { status: number; code?: string } {
  const e = thrownFhirError(fn);
  return { status: e.status, code: e.issues[0].details?.coding?.[0].code };
}

const q = (query: string) => parsePdsQuery([...new URLSearchParams(query)]);

const jane: Patient = {
  resourceType: 'Patient', id: '9000000009',
  name: [{ use: 'usual', family: 'Smith', given: ['Jane', 'Anne'] }, { use: 'old', family: 'Jones', given: ['Jane'] }],
  gender: 'female', birthDate: '2010-10-22',
  address: [{ use: 'home', postalCode: 'LS1 6AE' }, { use: 'home', postalCode: 'BD1 1AA', period: { start: '2000-01-01', end: '2005-01-01' } }],
  telecom: [{ system: 'email', value: 'Jane.Smith@example.com' }, { system: 'phone', value: '0113 496 0000' }],
  generalPractitioner: [{ type: 'Organization', identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'Y12345' } }],
};

describe('NHS numbers', () => {
  it('accepts the PDS sandbox numbers and refuses a bad check digit, wrong lengths and non-digits', () => {
    for (const n of ['9000000009', '9000000017', '9000000025', '9000000033', '9449306680']) expect(isValidNhsNumber(n), n).to.equal(true);
    for (const n of ['9000000000', '900000000', '90000000091', '900000000A', '']) expect(isValidNhsNumber(n), n).to.equal(false);
  });

  it('skips stems whose check digit would be 10, and maps 11 to 0', () => {
    expect(nhsCheckDigit('000000001')).to.equal(9); // 1×2 = 2 → 11 − 2 = 9
    expect(nhsCheckDigit('000000006')).to.equal(undefined); // 6×2 = 12, 12 mod 11 = 1 → 10: no valid digit
    expect(nhsCheckDigit('000000000')).to.equal(0);
    const numbers = [...nhsNumbersFrom(999_000_000, 50)];
    expect(numbers).to.have.length(50);
    expect(numbers.every(isValidNhsNumber)).to.equal(true);
    expect(new Set(numbers).size).to.equal(50);
  });

  it('allocation never hands out a taken number and stays inside the range', async () => {
    const range = { from: '9990000000', to: '9990000999' };
    const taken = new Set<string>();
    for (let i = 0; i < 80; i++) {
      const n = await allocateNhsNumber(range, async (id) => taken.has(id));
      expect(isValidNhsNumber(n)).to.equal(true);
      expect(n >= range.from && n <= range.to, n).to.equal(true);
      expect(taken.has(n)).to.equal(false);
      taken.add(n);
    }
  });

  it('allocation finds the free numbers of a range whose first half is one taken block (a seeded population)', async () => {
    // A walk forward from a random start gave up inside such a block (10,000 probes) about half the time.
    const range = { from: '9990000000', to: '9999999999' };
    const takenBelow = '9995000000';
    for (let i = 0; i < 50; i++) {
      const n = await allocateNhsNumber(range, async (id) => id < takenBelow);
      expect(n >= takenBelow && n <= range.to, n).to.equal(true);
    }
  });

  it('allocation reports an exhausted range as 503, not as a 500', async () => {
    const err = await allocateNhsNumber({ from: '9990000000', to: '9990000099' }, async () => true).catch((e) => e);
    expect(err).to.be.instanceOf(FhirError);
    expect(err.status).to.equal(503);
  });
});

describe('name similarity', () => {
  it('folds case, accents and punctuation', () => {
    expect(foldName("O'Brien")).to.equal('obrien');
    expect(foldName('  ZOË  ')).to.equal('zoe');
  });

  it('computes American Soundex', () => {
    expect(soundex('Robert')).to.equal('R163');
    expect(soundex('Rupert')).to.equal('R163');
    expect(soundex('Ashcraft')).to.equal('A261'); // h does not separate s and c
    expect(soundex('Tymczak')).to.equal('T522');
    expect(soundex('Pfister')).to.equal('P236');
    expect(soundex('Smith')).to.equal(soundex('Smyth'));
    expect(soundex('')).to.equal('');
  });

  it('computes Jaro-Winkler', () => {
    expect(jaroWinkler('martha', 'marhta')).to.be.closeTo(0.9611, 0.0001);
    expect(jaroWinkler('dwayne', 'duane')).to.be.closeTo(0.84, 0.0001);
    expect(jaroWinkler('abc', 'xyz')).to.equal(0);
    expect(jaroWinkler('same', 'same')).to.equal(1);
  });

  it('rates homophones and typos high and different names low', () => {
    expect(nameSimilarity('Smith', 'SMITH')).to.equal(1);
    expect(nameSimilarity('Smith', 'Smyth')).to.be.greaterThan(0.85);
    expect(nameSimilarity('Catherine', 'Kathryn')).to.be.at.least(0.7);
    expect(nameSimilarity('Smith', 'Patel')).to.be.lessThan(0.5);
  });
});

describe('PDS search query', () => {
  it('is chosen only for queries made of PDS parameters', () => {
    expect(isPdsSearch([['family', 'x'], ['birthdate', 'eq2010-10-22']])).to.equal(true);
    expect(isPdsSearch([['family', 'x'], ['_format', 'json']])).to.equal(true);
    expect(isPdsSearch([['family', 'x'], ['_count', '10']])).to.equal(false);
    expect(isPdsSearch([['family:exact', 'x']])).to.equal(false);
    expect(isPdsSearch([['identifier', 'x']])).to.equal(false);
    expect(isPdsSearch([])).to.equal(false);
  });

  it('enforces the minimum criteria', () => {
    expect(spineCode(() => q('family=Smith'))).to.deep.equal({ status: 400, code: 'INVALID_SEARCH_DATA' });
    expect(spineCode(() => q('birthdate=eq2010-10-22&given=Jane'))).to.deep.equal({ status: 400, code: 'INVALID_SEARCH_DATA' });
    expect(q('family=Smith&birthdate=ge2010-01-01&birthdate=le2010-12-31').birthdate).to.have.length(2);
    expect(spineCode(() => q('_fuzzy-match=true&family=Smith&birthdate=2010-10-22'))).to.deep.equal({ status: 400, code: 'INVALID_SEARCH_DATA' });
    expect(q('_fuzzy-match=true&family=Smith&given=Jane&birthdate=2010-10-22').fuzzy).to.equal(true);
    expect(q('_fuzzy-match=true&family=Smith&gender=female&address-postalcode=LS1&birthdate=2010-10-22').fuzzy).to.equal(true);
    expect(q('_fuzzy-match=true&given=Jane&gender=female&address-postalcode=LS1&birthdate=2010-10-22').fuzzy).to.equal(true);
  });

  it('refuses bad values with INVALID_VALUE and bad wildcards or combinations with INVALID_SEARCH_DATA', () => {
    const base = 'family=Smith&birthdate=2010-10-22';
    expect(spineCode(() => q('family=Smith&birthdate=20101022'))).to.deep.equal({ status: 400, code: 'INVALID_VALUE' });
    expect(spineCode(() => q('family=Smith&birthdate=gt2010-10-22'))).to.deep.equal({ status: 400, code: 'INVALID_VALUE' });
    expect(spineCode(() => q('family=Smith&birthdate=2010-02-30'))).to.deep.equal({ status: 400, code: 'INVALID_VALUE' });
    expect(spineCode(() => q(`${base}&gender=f`))).to.deep.equal({ status: 400, code: 'INVALID_VALUE' });
    expect(spineCode(() => q(`${base}&_max-results=51`))).to.deep.equal({ status: 400, code: 'INVALID_VALUE' });
    expect(spineCode(() => q(`${base}&_max-results=0`))).to.deep.equal({ status: 400, code: 'INVALID_VALUE' });
    expect(spineCode(() => q(`${base}&_fuzzy-match=yes`))).to.deep.equal({ status: 400, code: 'INVALID_VALUE' });
    expect(spineCode(() => q('family=S*&birthdate=2010-10-22'))).to.deep.equal({ status: 400, code: 'INVALID_SEARCH_DATA' });
    expect(spineCode(() => q('_fuzzy-match=true&family=Smi*&given=Jane&birthdate=2010-10-22'))).to.deep.equal({ status: 400, code: 'INVALID_SEARCH_DATA' });
    expect(spineCode(() => q(`${base}&email=a*@example.com`))).to.deep.equal({ status: 400, code: 'INVALID_SEARCH_DATA' });
    expect(spineCode(() => q(`${base}&address-postalcode=LS1&address-postcode=LS1`))).to.deep.equal({ status: 400, code: 'INVALID_SEARCH_DATA' });
    expect(spineCode(() => q(`${base}&given=Jane&given=A*`))).to.deep.equal({ status: 400, code: 'INVALID_SEARCH_DATA' });
    expect(spineCode(() => q(`family=${'x'.repeat(36)}&birthdate=2010-10-22`))).to.deep.equal({ status: 400, code: 'INVALID_VALUE' });
    expect(q(`${base}&_max-results=1`).maxResults).to.equal(1);
  });

  it('draws candidates by family prefix and birth date, or by birth date alone when fuzzy', () => {
    expect(candidateCriteria(q('family=Smi*&birthdate=ge2010-01-01'))).to.deep.equal([['birthdate', 'ge2010-01-01'], ['family', 'Smi']]);
    expect(candidateCriteria(q('_fuzzy-match=true&family=Smith&given=Jane&birthdate=2010-10-22'))).to.deep.equal([['birthdate', 'eq2010-10-22']]);
  });
});

describe('PDS scoring', () => {
  const score = (query: string, patient: Patient = jane) => scorePatient(q(query), patient);

  it('scores an exact match on every criterion 1', () => {
    expect(score('family=smith&given=jane&birthdate=2010-10-22&gender=female&address-postalcode=ls16ae&general-practitioner=Y12345&email=jane.smith@example.com&phone=01134960000')).to.equal(1);
    expect(score('family=SMITH&birthdate=ge2010-01-01&birthdate=le2010-12-31')).to.equal(1);
    expect(score('family=Smith&given=Jane Anne&birthdate=2010-10-22')).to.equal(1); // compound first given
  });

  it('does not match when any criterion disagrees (non-fuzzy)', () => {
    for (const query of [
      'family=Smyth&birthdate=2010-10-22', 'family=Smith&birthdate=2010-10-23', 'family=Smith&birthdate=2010-10-22&gender=male',
      'family=Smith&birthdate=2010-10-22&given=Anne', 'family=Smith&birthdate=2010-10-22&address-postalcode=LS1 6AF',
      'family=Smith&birthdate=2010-10-22&general-practitioner=A99999', 'family=Smith&birthdate=2010-10-22&email=other@example.com',
      'family=Smith&birthdate=2010-10-22&death-date=2020-01-01', 'family=Jones&birthdate=2010-10-22',
    ]) expect(score(query), query).to.equal(undefined);
  });

  it('lowers the score for wildcard and history matches', () => {
    expect(score('family=Smi*&birthdate=2010-10-22')).to.equal(0.9 * 3 / 6 + 0.5);
    expect(score('family=Smith&given=Ja*&birthdate=2010-10-22')).to.equal(Math.round(((3 + 2 * 0.9 + 3) / 8) * 10000) / 10000);
    expect(score('family=Jones&birthdate=2010-10-22&_history=true')).to.equal(Math.round(((3 * 0.9 + 3) / 6) * 10000) / 10000);
    expect(score('family=Smith&birthdate=2010-10-22&address-postalcode=BD1 1AA')).to.equal(undefined);
    expect(score('family=Smith&birthdate=2010-10-22&address-postalcode=BD1 1AA&_history=true')).to.be.within(0.9, 0.99);
    expect(score('family=Smith&birthdate=2010-10-22&address-postalcode=LS1*')).to.be.within(0.9, 0.99);
  });

  it('finds homophones, typos and swapped names in a fuzzy search, ranked below exact', () => {
    const fuzzy = (family: string, given: string) => score(`_fuzzy-match=true&family=${family}&given=${given}&birthdate=2010-10-22`);
    expect(fuzzy('Smith', 'Jane')).to.equal(1);
    const homophone = fuzzy('Smyth', 'Jane')!;
    const swapped = fuzzy('Jane', 'Smith')!;
    expect(homophone).to.be.within(0.85, 0.99);
    expect(swapped).to.be.within(0.75, 0.99);
    expect(fuzzy('Patel', 'Priya')).to.equal(undefined);
    expect(fuzzy('Jones', 'Jane')).to.be.within(0.75, 0.99); // an old name: fuzzy always searches history
  });

  it('lets GP, gender and death date only move a fuzzy score', () => {
    const base = '_fuzzy-match=true&family=Smith&given=Jane&birthdate=2010-10-22';
    expect(score(`${base}&general-practitioner=A99999`)).to.be.within(0.75, 0.99);
    expect(score(`${base}&death-date=2020-01-01`)).to.be.within(0.75, 0.99);
    expect(score(`${base}&gender=male`)).to.be.within(0.75, 0.99);
  });

  it('matches wildcards in linear time, even for a hostile pattern', () => {
    expect(globMatch(['smi', ''], 'smith')).to.equal(true);
    expect(globMatch(['s', 'i', 'h'], 'smith')).to.equal(true);
    expect(globMatch(['s', 'h', 'i'], 'smith')).to.equal(false);
    expect(globMatch(['ab', 'ba'], 'aba')).to.equal(false); // prefix and suffix may not overlap
    const started = performance.now();
    expect(globMatch(['aa', ...Array(40).fill('a'), 'b'], 'a'.repeat(10_000))).to.equal(false);
    expect(performance.now() - started).to.be.below(50);
  });

  it('grades $match candidates by score', () => {
    expect(matchGrade(1)).to.equal('certain');
    expect(matchGrade(0.964)).to.equal('probable');
    expect(matchGrade(0.85)).to.equal('possible');
  });
});

describe('restricted patients', () => {
  const restricted: Patient = {
    ...jane, meta: { security: [R] }, text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">LS1 6AE</div>' },
    contact: [{ name: { family: 'Smith' } }],
    extension: [
      { url: 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy', valueReference: { identifier: { value: 'FA123' } } },
      { url: 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace', valueAddress: { city: 'Leeds' } },
      { url: 'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus', extension: [{ url: 'deathNotificationStatus', valueCodeableConcept: { coding: [{ code: '2' }] } }] },
    ],
  };

  it('lose address, telecom, contact, GP, pharmacy and birthplace for a non-privileged reader only', () => {
    const seen = redactForReader(restricted, { privileged: false });
    expect(seen).to.not.have.any.keys('address', 'telecom', 'contact', 'generalPractitioner', 'text');
    expect(seen.extension!.map((e) => e.url)).to.deep.equal(['https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus']);
    expect(seen.name).to.deep.equal(restricted.name);
    expect(seen.birthDate).to.equal(restricted.birthDate);
    expect(redactForReader(restricted, { privileged: true })).to.equal(restricted);
    expect(redactForReader(jane, { privileged: false })).to.equal(jane);
    expect(redactForReader(jane, { privileged: false }, restricted)).to.not.have.key('address'); // an older version of a record restricted now
  });

  it('are excluded from searches over location, and invalidated records from every search', () => {
    expect(isLocatingParameter('address-postalcode:exact')).to.equal(true);
    expect(isLocatingParameter('general-practitioner.name')).to.equal(true);
    expect(isLocatingParameter('family')).to.equal(false);
    expect(restrictedPatientCriteria([['family', 'x']])).to.deep.equal([['_security:not', `${R.system}|REDACTED`]]);
    expect(restrictedPatientCriteria([['phone', 'x']])).to.deep.equal([['_security:not', `${R.system}|REDACTED`], ['_security:not', `${R.system}|R`]]);
  });

  it('search results leave out birthplace, pharmacies, old names and addresses, then redact', () => {
    const view = searchView({ ...restricted, meta: {} }, { privileged: false });
    expect(view.name!.map((n) => n.family)).to.deep.equal(['Smith']);
    expect(view.address!.map((a) => a.postalCode)).to.deep.equal(['LS1 6AE']);
    expect(view.extension!.map((e) => e.url)).to.deep.equal(['https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus']);
    expect(view).to.not.have.key('contact');
  });
});
