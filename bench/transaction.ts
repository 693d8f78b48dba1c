/**
 * Transaction ingest: Synthea-sized patient records (a Patient and ~100 clinical resources linked
 * by urn:uuid references) POSTed as transaction Bundles to a real server on the embedded store;
 * then one 10,000-entry transaction while a reader measures the latency of concurrent reads.
 *
 *   node dist/bench/transaction.js [--bundles 200] [--concurrency 4]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { defaultConfig } from '../server/config.js';
import { startServer } from '../server/server.js';
import { random } from './random.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const BUNDLES = arg('bundles', 200);
const CONCURRENCY = arg('concurrency', 4);
const rnd = random(11);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
const day = (offset: number) => new Date(Date.UTC(2015, 0, 1) + offset * 86_400_000).toISOString();

const LOINC = [['8867-4', 'Heart rate', '/min'], ['29463-7', 'Body weight', 'kg'], ['8302-2', 'Body height', 'cm'], ['2339-0', 'Glucose', 'mg/dL']];
const SNOMED = [['44054006', 'Diabetes mellitus type 2'], ['38341003', 'Hypertension'], ['195967001', 'Asthma'], ['40055000', 'Chronic sinusitis']];

/** One synthetic patient record: 1 Patient, 10 Encounters, 50 Observations, 15 Conditions, 15 MedicationRequests, 10 Procedures. */
function record(n: number): { resourceType: 'Bundle'; type: 'transaction'; entry: unknown[] } {
  const entry: unknown[] = [];
  const add = (resource: Record<string, unknown>) => {
    const fullUrl = `urn:uuid:${randomUUID()}`;
    entry.push({ fullUrl, resource, request: { method: 'POST', url: resource.resourceType } });
    return fullUrl;
  };
  const patient = add({
    resourceType: 'Patient', identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: `999${String(n).padStart(7, '0')}` }],
    name: [{ family: `Family${n}`, given: ['Sam'] }], gender: pick(['male', 'female']), birthDate: day(-Math.floor(rnd() * 30000)).slice(0, 10),
    address: [{ line: [`${n} Test Street`], postalCode: 'LS1 4AP' }],
  });
  const encounters = Array.from({ length: 10 }, (_, i) => add({
    resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
    subject: { reference: patient }, period: { start: day(i * 90), end: day(i * 90) },
  }));
  for (let i = 0; i < 50; i++) {
    const [code, display, unit] = pick(LOINC);
    add({
      resourceType: 'Observation', status: 'final', code: { coding: [{ system: 'http://loinc.org', code, display }] },
      subject: { reference: patient }, encounter: { reference: pick(encounters) }, effectiveDateTime: day(i * 18),
      valueQuantity: { value: Math.round(rnd() * 1000) / 10, unit, system: 'http://unitsofmeasure.org', code: unit },
    });
  }
  for (let i = 0; i < 15; i++) {
    const [code, display] = pick(SNOMED);
    add({
      resourceType: 'Condition', subject: { reference: patient }, encounter: { reference: pick(encounters) },
      code: { coding: [{ system: 'http://snomed.info/sct', code, display }] }, onsetDateTime: day(i * 60),
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
    });
  }
  for (let i = 0; i < 15; i++) {
    add({
      resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: { reference: patient }, encounter: { reference: pick(encounters) },
      medicationCodeableConcept: { coding: [{ system: 'https://dmd.nhs.uk', code: String(39720311000001101 + i), display: 'Metformin 500mg tablets' }] },
      authoredOn: day(i * 60),
    });
  }
  for (let i = 0; i < 10; i++) {
    add({
      resourceType: 'Procedure', status: 'completed', subject: { reference: patient }, encounter: { reference: encounters[i] },
      code: { coding: [{ system: 'http://snomed.info/sct', code: '73761001', display: 'Colonoscopy' }] }, performedDateTime: day(i * 90),
    });
  }
  return { resourceType: 'Bundle', type: 'transaction', entry };
}

const dataDir = mkdtempSync(join(tmpdir(), 'vertebra-bench-tx-'));
const server = await startServer(defaultConfig({ port: 0, dataDir, logLevel: 'silent' }), pino({ level: 'silent' }));
const base = `http://127.0.0.1:${server.port}/fhir`;
const post = async (bundle: unknown) => {
  const res = await fetch(base, { method: 'POST', headers: { 'Content-Type': 'application/fhir+json', Prefer: 'return=minimal' }, body: JSON.stringify(bundle) });
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  await res.arrayBuffer();
};
try {
  const bundles = Array.from({ length: BUNDLES }, (_, i) => record(i));
  const perBundle = bundles[0].entry.length;
  let next = 0;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < bundles.length) await post(bundles[next++]);
  }));
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({
    bench: 'transaction-ingest', bundles: BUNDLES, resourcesPerBundle: perBundle, concurrency: CONCURRENCY,
    bundlesPerSecond: +(BUNDLES / seconds).toFixed(1), resourcesPerSecond: Math.round((BUNDLES * perBundle) / seconds),
  }));

  // One 10,000-entry transaction (100 records) while reads go on.
  const big = { resourceType: 'Bundle', type: 'transaction', entry: Array.from({ length: 100 }, (_, i) => record(100_000 + i).entry).flat().slice(0, 10_000) };
  await fetch(`${base}/Patient/probe`, { method: 'PUT', headers: { 'Content-Type': 'application/fhir+json' }, body: JSON.stringify({ resourceType: 'Patient', id: 'probe' }) });
  let running = true;
  const latencies: number[] = [];
  const reader = (async () => {
    while (running) {
      const t = performance.now();
      await (await fetch(`${base}/Patient/probe`)).arrayBuffer();
      latencies.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const t0 = performance.now();
  await post(big);
  const bigSeconds = (performance.now() - t0) / 1000;
  running = false;
  await reader;
  latencies.sort((a, b) => a - b);
  console.log(JSON.stringify({
    bench: 'transaction-10000', entries: big.entry.length, seconds: +bigSeconds.toFixed(2), resourcesPerSecond: Math.round(big.entry.length / bigSeconds),
    concurrentReads: latencies.length, readP50Ms: +latencies[Math.floor(latencies.length / 2)].toFixed(1), readMaxMs: +latencies[latencies.length - 1].toFixed(1),
  }));
} finally {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
