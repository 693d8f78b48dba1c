/**
 * Index extraction benchmark: time per resource of IndexExtractor.extract with the fast path
 * (default) and without it (every expression through fhirpath.js), for synthetic Patients,
 * Observations (vital signs, half of them blood-pressure panels with two components),
 * MedicationRequests and Encounters.
 *
 *   node dist/bench/extract.js [--variants 300] [--seconds 1.5]
 *
 * Each (type, mode) cell gets its own extractor, a warm-up (compiling the plan and letting V8
 * optimise), then rounds over all the variants until --seconds have passed. Prints a table and
 * one JSON line. Everything is synthetic (NHS numbers in the 999 range, invented names).
 */
import { SearchParameterRegistry } from '../search/registry.js';
import { IndexExtractor } from '../search/extract.js';
import { random } from './random.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const VARIANTS = arg('variants', 300);
const SECONDS = arg('seconds', 1.5);

const rnd = random(42);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const day = () => `20${pad(int(15, 24))}-${pad(int(1, 12))}-${pad(int(1, 28))}`;
const instant = () => `${day()}T${pad(int(0, 23))}:${pad(int(0, 59))}:${pad(int(0, 59))}Z`;

const FAMILIES = ['Smith', 'Jones', 'Müller', 'O’Brien', 'Nguyen', 'Okafor', 'Brontë', 'Kowalski', 'Patel', 'Evans'];
const GIVEN = ['Alex', 'Sam', 'Zoë', 'Chris', 'Élodie', 'Robin', 'Lee', 'Kim', 'Max', 'Ash'];
const CITIES = ['Leeds', 'Bradford', 'York', 'Hull', 'Wakefield'];
const LOINC = 'http://loinc.org';
const SCT = 'http://snomed.info/sct';
const UCUM = 'http://unitsofmeasure.org';

type Resource = { resourceType: string } & Record<string, unknown>;

function patient(i: number): Resource {
  const family = pick(FAMILIES);
  const given = [pick(GIVEN), ...(rnd() < 0.3 ? [pick(GIVEN)] : [])];
  return {
    resourceType: 'Patient', id: `pat-${i}`,
    meta: { versionId: String(int(1, 5)), lastUpdated: instant(), profile: ['https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient'] },
    identifier: [
      { system: 'https://fhir.nhs.uk/Id/nhs-number', value: `999${pad(i, 7)}` },
      ...(rnd() < 0.5 ? [{
        system: 'http://hospital.example.org/mrn', value: `MRN-${pad(i, 6)}`,
        type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'MR', display: 'Medical record number' }] },
      }] : []),
    ],
    active: rnd() < 0.9,
    name: [{ use: 'official', family, given, prefix: rnd() < 0.2 ? ['Dr'] : undefined }],
    telecom: [{ system: 'phone', value: `01632 ${int(100000, 999999)}`, use: 'home' }, ...(rnd() < 0.5 ? [{ system: 'email', value: `p${i}@example.org` }] : [])],
    gender: pick(['male', 'female', 'other', 'unknown']),
    birthDate: `19${int(30, 99)}-${pad(int(1, 12))}-${pad(int(1, 28))}`,
    address: [{ line: [`${int(1, 200)} High Street`], city: pick(CITIES), postalCode: `LS${int(1, 29)} ${int(1, 9)}AA`, country: 'GB' }],
    generalPractitioner: [{ reference: `Organization/Y${pad(int(0, 999), 5)}` }],
    managingOrganization: { reference: `Organization/Y${pad(int(0, 999), 5)}` },
  };
}

function observation(i: number): Resource {
  const common = {
    resourceType: 'Observation', id: `obs-${i}`,
    meta: { versionId: '1', lastUpdated: instant() },
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs', display: 'Vital Signs' }] }],
    subject: { reference: `Patient/pat-${int(0, 9999)}` },
    encounter: { reference: `Encounter/enc-${int(0, 9999)}` },
    performer: [{ reference: `Practitioner/prac-${int(0, 99)}` }],
    effectiveDateTime: instant(),
  };
  if (i % 2 === 0) {
    return {
      ...common,
      code: { coding: [{ system: LOINC, code: '85354-9', display: 'Blood pressure panel' }], text: 'Blood pressure' },
      component: [
        { code: { coding: [{ system: LOINC, code: '8480-6', display: 'Systolic blood pressure' }, { system: SCT, code: '271649006' }] },
          valueQuantity: { value: int(90, 180), unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
        { code: { coding: [{ system: LOINC, code: '8462-4', display: 'Diastolic blood pressure' }] },
          valueQuantity: { value: int(50, 110), unit: 'mmHg', system: UCUM, code: 'mm[Hg]' } },
      ],
    };
  }
  const [code, display, unit, lo, hi] = pick([
    ['29463-7', 'Body weight', 'kg', 40, 140], ['8867-4', 'Heart rate', '/min', 40, 160],
    ['8310-5', 'Body temperature', 'Cel', 35, 41], ['9279-1', 'Respiratory rate', '/min', 8, 30],
  ] as const);
  return {
    ...common,
    code: { coding: [{ system: LOINC, code, display }], text: display },
    valueQuantity: { value: int(lo, hi) + int(0, 9) / 10, unit, system: UCUM, code: unit },
  };
}

const DRUGS = [['322237000', 'Paracetamol 500mg tablets'], ['323509004', 'Amoxicillin 500mg capsules'], ['317972000', 'Ramipril 5mg capsules'], ['376701008', 'Atorvastatin 20mg tablets']] as const;

function medicationRequest(i: number): Resource {
  const [code, display] = pick(DRUGS);
  return {
    resourceType: 'MedicationRequest', id: `mr-${i}`,
    meta: { versionId: '1', lastUpdated: instant() },
    identifier: [{ system: 'https://fhir.nhs.uk/Id/prescription-order-item-number', value: `a54219b8-f741-4c47-b662-${pad(i, 12)}` }],
    status: pick(['active', 'completed', 'cancelled']), intent: 'order',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/medicationrequest-category', code: 'community' }] }],
    medicationCodeableConcept: { coding: [{ system: SCT, code, display }] },
    subject: { reference: `Patient/pat-${int(0, 9999)}` },
    requester: { reference: `PractitionerRole/role-${int(0, 99)}` },
    authoredOn: instant(),
    groupIdentifier: { system: 'https://fhir.nhs.uk/Id/prescription-order-number', value: `${int(100000, 999999)}-A83008-${pad(i, 5)}` },
    dosageInstruction: [{ text: 'One tablet four times a day', timing: { repeat: { frequency: 4, period: 1, periodUnit: 'd' } } }],
    dispenseRequest: { performer: { reference: `Organization/F${pad(int(0, 999), 4)}` }, quantity: { value: int(7, 56), unit: 'tablet' } },
  };
}

function encounter(i: number): Resource {
  const start = instant();
  return {
    resourceType: 'Encounter', id: `enc-${i}`,
    meta: { versionId: '1', lastUpdated: instant() },
    identifier: [{ system: 'https://hospital.example.org/encounter', value: `E${pad(i, 8)}` }],
    status: pick(['finished', 'in-progress', 'planned']),
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: pick(['AMB', 'IMP', 'EMER']) },
    type: [{ coding: [{ system: SCT, code: pick(['11429006', '185347001', '270427003']) }] }],
    subject: { reference: `Patient/pat-${int(0, 9999)}` },
    participant: [{
      type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code: 'PPRF' }] }],
      individual: { reference: `Practitioner/prac-${int(0, 99)}` },
    }],
    period: rnd() < 0.7 ? { start, end: start.replace(/T\d\d/, 'T23') } : { start },
    reasonCode: [{ coding: [{ system: SCT, code: pick(['38341003', '195967001', '22298006']) }] }],
    hospitalization: { dischargeDisposition: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/discharge-disposition', code: 'home' }] } },
    location: [{ location: { reference: `Location/loc-${int(0, 49)}` }, status: 'completed' }],
    serviceProvider: { reference: `Organization/RR8` },
  };
}

const BUILDERS: Record<string, (i: number) => Resource> = {
  Patient: patient, Observation: observation, MedicationRequest: medicationRequest, Encounter: encounter,
};

interface Cell { usPerResource: number; entriesPerResource: number; resources: number; errors: number }

function measure(extractor: IndexExtractor, resources: Resource[]): Cell {
  // Warm-up: compiles the plan on the first call; several rounds let V8 optimise the hot paths.
  const warmUntil = performance.now() + Math.min(500, SECONDS * 300);
  let entries = 0;
  do for (const r of resources) entries += extractor.extract(r).length;
  while (performance.now() < warmUntil);

  entries = 0;
  let done = 0;
  const start = performance.now();
  const until = start + SECONDS * 1000;
  do {
    for (const r of resources) entries += extractor.extract(r).length;
    done += resources.length;
  } while (performance.now() < until);
  const elapsed = performance.now() - start;
  return { usPerResource: (elapsed * 1000) / done, entriesPerResource: entries / done, resources: done, errors: extractor.errors };
}

const registry = new SearchParameterRegistry();
const rows: { type: string; fast: Cell; slow: Cell }[] = [];
for (const [type, build] of Object.entries(BUILDERS)) {
  const resources = Array.from({ length: VARIANTS }, (_, i) => build(i));
  const fast = measure(new IndexExtractor(registry), resources);
  const slow = measure(new IndexExtractor(registry, { fastPath: false }), resources);
  rows.push({ type, fast, slow });
}

const fmt = (n: number, d = 1) => n.toFixed(d);
const header = ['type', 'µs/res fast', 'µs/res slow', 'speed-up', 'res/s fast', 'res/s slow', 'entries/res', 'errors'];
const table = rows.map(({ type, fast, slow }) => [
  type, fmt(fast.usPerResource), fmt(slow.usPerResource), `${fmt(slow.usPerResource / fast.usPerResource)}x`,
  fmt(1e6 / fast.usPerResource, 0), fmt(1e6 / slow.usPerResource, 0), fmt(fast.entriesPerResource), String(fast.errors + slow.errors),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i].length)));
const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(`index extraction, ${VARIANTS} variants per type, ${SECONDS}s per cell after warm-up (node ${process.version})`);
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of table) console.log(line(r));
console.log(JSON.stringify({
  bench: 'extract', variants: VARIANTS, seconds: SECONDS, node: process.version,
  results: rows.map(({ type, fast, slow }) => ({
    type,
    fastUs: Number(fmt(fast.usPerResource, 2)), slowUs: Number(fmt(slow.usPerResource, 2)),
    fastPerSec: Math.round(1e6 / fast.usPerResource), slowPerSec: Math.round(1e6 / slow.usPerResource),
    entries: Number(fmt(fast.entriesPerResource, 2)), slowEntries: Number(fmt(slow.entriesPerResource, 2)),
    errors: fast.errors + slow.errors,
  })),
}));
