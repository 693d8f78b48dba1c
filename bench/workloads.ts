import type { Patient } from 'fhir/r4.js';
import { patient as seedPatient, seedNhsNumbers, type PopulationOptions } from '../resources/seed/population.js';
import { newObservation, nhsToken, patientRecordBundle } from './clinical.js';
import { mix, shuffle, type WorkloadName } from './harness.js';
import type { LoadRequest } from './load.js';
import { random } from './random.js';

/**
 * The requests of each workload, built from a sample of the seeded population (pure: the same
 * arguments give the same requests). vertebra, the ceiling and the peer are sent the same list.
 */

/** One seeded patient, as the workloads address it. */
export interface SamplePatient {
  n: number;
  nhs: string;
  family: string;
  birthDate: string;
}

/** `size` patients drawn at random from the first `among` of the population (the peer holds only those). */
export function samplePatients(population: PopulationOptions, among: number, size: number): SamplePatient[] {
  const numbers = [...seedNhsNumbers(among)];
  const rand = random(20_260_101);
  const picked = new Set<number>();
  while (picked.size < Math.min(size, numbers.length)) picked.add(Math.floor(rand() * numbers.length));
  return [...picked].map((n) => {
    const p: Patient = seedPatient(population, n, numbers[n]);
    return { n, nhs: numbers[n], family: p.name![0].family!, birthDate: p.birthDate! };
  });
}

export interface Workload {
  name: WorkloadName;
  /** Concurrent connections (pds-search is defined at one client). */
  connections: number;
  requests: LoadRequest[];
  /** Resources written per request (transaction-ingest), for resources/s. */
  resourcesPerRequest?: number;
  /** What the ceiling answers with: the answer vertebra gives to this request of the list. */
  ceilingSample: number;
  description: string;
}

const FHIR_JSON = { 'Content-Type': 'application/fhir+json' };

const read = (p: SamplePatient): LoadRequest => ({ method: 'GET', path: `/fhir/Patient/${p.nhs}` });
const pdsSearch = (p: SamplePatient): LoadRequest => ({
  method: 'GET', path: `/fhir/Patient?family=${encodeURIComponent(p.family)}&birthdate=eq${p.birthDate}`,
});
const createObservation = (p: SamplePatient, k: number): LoadRequest => ({
  method: 'POST', path: '/fhir/Observation', headers: { ...FHIR_JSON, Prefer: 'return=minimal' }, body: JSON.stringify(newObservation(p.nhs, k)),
});

export const INGEST_RESOURCES_PER_BUNDLE = 20;

export function buildWorkload(name: WorkloadName, sample: readonly SamplePatient[], connections: number): Workload {
  switch (name) {
    case 'read-by-nhs-number':
      return { name, connections, ceilingSample: 0, requests: sample.map(read), description: 'GET Patient/{NHS number}' };
    case 'pds-search':
      return { name, connections: 1, ceilingSample: 0, requests: sample.map(pdsSearch), description: 'GET Patient?family=&birthdate=eq (one client)' };
    case 'identifier-search':
      return {
        name, connections, ceilingSample: 0, description: 'GET Patient?identifier=nhs-number|N',
        requests: sample.map((p) => ({ method: 'GET', path: `/fhir/Patient?identifier=${encodeURIComponent(nhsToken(p.nhs))}` })),
      };
    case 'chained-search':
      return {
        name, connections, ceilingSample: 0, description: 'GET Observation?subject:Patient.identifier=nhs-number|N',
        requests: sample.map((p) => ({ method: 'GET', path: `/fhir/Observation?subject:Patient.identifier=${encodeURIComponent(nhsToken(p.nhs))}` })),
      };
    case 'transaction-ingest':
      return {
        name, connections, ceilingSample: 0, resourcesPerRequest: INGEST_RESOURCES_PER_BUNDLE,
        description: `POST transaction Bundle: 1 new Patient + ${INGEST_RESOURCES_PER_BUNDLE - 1} linked resources`,
        requests: Array.from({ length: 200 }, (_, k) => ({
          method: 'POST', path: '/fhir', headers: { ...FHIR_JSON, Prefer: 'return=minimal' },
          body: JSON.stringify(patientRecordBundle(k, INGEST_RESOURCES_PER_BUNDLE - 1)),
        })),
      };
    case 'history':
      return { name, connections, ceilingSample: 0, requests: sample.map((p) => ({ method: 'GET', path: `/fhir/Patient/${p.nhs}/_history` })), description: 'GET Patient/{id}/_history' };
    case 'everything':
      return { name, connections, ceilingSample: 0, requests: sample.map((p) => ({ method: 'GET', path: `/fhir/Patient/${p.nhs}/$everything` })), description: 'GET Patient/{id}/$everything' };
    case 'mixed': {
      const rand = random(7);
      const kinds = shuffle(mix({ read: 70, search: 20, write: 10 }, 1_000), rand);
      const requests = kinds.map((kind, k) => {
        const p = sample[k % sample.length];
        return kind === 'read' ? read(p) : kind === 'search' ? pdsSearch(p) : createObservation(p, k);
      });
      return { name, connections, ceilingSample: kinds.indexOf('read'), requests, description: '70 % reads, 20 % PDS searches, 10 % Observation creates' };
    }
  }
}
