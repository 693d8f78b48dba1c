import type { Bundle, FhirResource, Observation } from 'fhir/r4.js';
import { NHS_NUMBER_SYSTEM } from '../resources/patient/nhs-number.js';
import { random } from './random.js';

/**
 * The clinical part of the benchmark dataset and the bodies of the write workloads (pure and
 * deterministic, so that vertebra and the peer get the same resources). The seed population
 * (resources/seed/population.ts) has only demographics; the chained search needs something that
 * points at a patient, so every seeded patient gets one Observation with a predictable id.
 */

const LOINC = [
  ['8867-4', 'Heart rate', '/min', 60, 40],
  ['29463-7', 'Body weight', 'kg', 50, 60],
  ['8302-2', 'Body height', 'cm', 150, 50],
  ['2339-0', 'Glucose [Mass/volume] in Blood', 'mg/dL', 70, 80],
] as const;
const SNOMED = [['44054006', 'Diabetes mellitus type 2'], ['38341003', 'Hypertension'], ['195967001', 'Asthma']] as const;

const day = (offset: number) => new Date(Date.UTC(2020, 0, 1) + offset * 86_400_000).toISOString();

/** The id of the seeded Observation of the patient with this NHS number. */
export const seededObservationId = (nhsNumber: string): string => `obs-${nhsNumber}`;

/** The one Observation each seeded patient has (n = its position in the population). */
export function seededObservation(n: number, nhsNumber: string): Observation {
  const [code, display, unit, base, spread] = LOINC[n % LOINC.length];
  return {
    resourceType: 'Observation',
    id: seededObservationId(nhsNumber),
    status: 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
    code: { coding: [{ system: 'http://loinc.org', code, display }] },
    subject: { reference: `Patient/${nhsNumber}` },
    effectiveDateTime: day(n % 1500),
    valueQuantity: { value: base + (n * 7919) % spread, unit, system: 'http://unitsofmeasure.org', code: unit },
  };
}

/** An Observation to create (the write of the mixed profile), about an existing patient. */
export function newObservation(nhsNumber: string, k: number): Observation {
  const obs = seededObservation(k, nhsNumber);
  delete obs.id;
  obs.effectiveDateTime = day(1500 + (k % 300));
  return obs;
}

/**
 * One transaction Bundle as an ingest would send it: a new patient (no NHS number: the server
 * allocates one) and `clinical` resources that point at it by urn:uuid, the way Synthea-style
 * loaders do. Deterministic for a given k.
 */
export function patientRecordBundle(k: number, clinical = 19): Bundle {
  const rand = random(1_000 + k);
  const uuid = () => {
    const hex = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
  };
  const entry: NonNullable<Bundle['entry']> = [];
  const add = (resource: FhirResource): string => {
    const fullUrl = `urn:uuid:${uuid()}`;
    entry.push({ fullUrl, resource, request: { method: 'POST', url: resource.resourceType } });
    return fullUrl;
  };
  const patient = add({
    resourceType: 'Patient',
    identifier: [{ system: 'https://example.org/bench/mrn', value: `MRN${k}` }],
    name: [{ use: 'official', family: `Ingest${k % 997}`, given: ['Sam'] }],
    gender: k % 2 ? 'female' : 'male',
    birthDate: day(-Math.floor(rand() * 30_000)).slice(0, 10),
    address: [{ line: [`${k % 300} Test Street`], city: 'Leeds', postalCode: 'LS1 4AP' }],
  });
  const encounter = add({
    resourceType: 'Encounter', status: 'finished',
    class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
    subject: { reference: patient }, period: { start: day(k % 1000), end: day(k % 1000) },
  });
  for (let i = 0; i < clinical - 1; i++) {
    if (i % 4 === 3) {
      const [code, display] = SNOMED[i % SNOMED.length];
      add({
        resourceType: 'Condition', subject: { reference: patient }, encounter: { reference: encounter },
        code: { coding: [{ system: 'http://snomed.info/sct', code, display }] }, onsetDateTime: day(i * 30),
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
      });
    } else {
      const [code, display, unit, base, spread] = LOINC[i % LOINC.length];
      add({
        resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code, display }] },
        subject: { reference: patient }, encounter: { reference: encounter }, effectiveDateTime: day(i * 18),
        valueQuantity: { value: base + Math.round(rand() * spread), unit, system: 'http://unitsofmeasure.org', code: unit },
      });
    }
  }
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

/** The identifier token of an NHS number, as searches send it. */
export const nhsToken = (nhsNumber: string): string => `${NHS_NUMBER_SYSTEM}|${nhsNumber}`;
