/**
 * End-to-end search latency: a real server (HTTP, parser, plan, SQLite) over N synthetic Patients
 * and N Observations, loaded through the engine (validation, real index extraction, group commit).
 *
 *   node dist/bench/search-http.js [--patients 100000] [--runs 50] [--dir DIR]
 *
 * With --dir the database is kept in DIR and loaded only when DIR holds none yet, so repeated
 * runs (or `DATA_DIR=DIR npm start` for manual queries) skip the load.
 * Prints the load rate and, per query shape, the median and p95 of the whole HTTP round trip
 * with a different value on every run (so cached pages do not flatter the numbers).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { defaultConfig } from '../server/config.js';
import { startServer } from '../server/server.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const N = arg('patients', 100_000);
const RUNS = arg('runs', 50);
const FAMILIES = Array.from({ length: 3000 }, (_, i) => `Fam${i.toString(36)}son`);
const nhs = (i: number) => `999${String(i).padStart(7, '0')}`;
const birthDate = (i: number) => new Date(Date.UTC(1930, 0, 1) + (i * 7919 % 32000) * 86_400_000).toISOString().slice(0, 10);
const family = (i: number) => FAMILIES[(i * 31) % FAMILIES.length];

function patient(i: number) {
  return {
    resourceType: 'Patient', id: `p${i}`,
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhs(i) }],
    name: [{ use: 'official', family: family(i), given: ['Alex', 'Jo'] }],
    gender: i % 2 ? 'female' : 'male', birthDate: birthDate(i),
    address: [{ line: [`${i} High Street`], city: 'Leeds', postalCode: `LS${i % 30} ${i % 9}AB` }],
    generalPractitioner: [{ reference: `Organization/gp${i % 500}` }],
  };
}
function observation(i: number) {
  return {
    resourceType: 'Observation', id: `o${i}`, status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: i % 2 ? '8867-4' : '29463-7' }] },
    subject: { reference: `Patient/p${i}` }, effectiveDateTime: `2024-0${1 + (i % 9)}-1${i % 10}T10:00:00Z`,
    valueQuantity: { value: 40 + (i % 80), unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
  };
}

async function load(make: (i: number) => any, engine: any, n: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  // 64 writers at a time: enough to fill each group commit.
  await Promise.all(Array.from({ length: 64 }, async () => {
    while (next < n) {
      const r = make(next++);
      await engine.update(r.resourceType, r.id, r);
    }
  }));
  return n / ((performance.now() - started) / 1000);
}

async function time(base: string, label: string, query: (run: number) => string): Promise<void> {
  const ms: number[] = [];
  let hits = 0;
  for (let run = 0; run < RUNS + 5; run++) {
    const started = performance.now();
    const res = await fetch(`${base}/${query(run)}`);
    const body = await res.json() as { total?: number; entry?: unknown[] };
    if (res.status !== 200) throw new Error(`${label}: HTTP ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
    if (run >= 5) { ms.push(performance.now() - started); hits += body.entry?.length ?? 0; } // 5 warm-up runs
  }
  ms.sort((a, b) => a - b);
  const row = { query: label, medianMs: +ms[Math.floor(ms.length / 2)].toFixed(2), p95Ms: +ms[Math.floor(ms.length * 0.95)].toFixed(2), avgHits: +(hits / RUNS).toFixed(1) };
  console.log(JSON.stringify(row));
}

const keptDir = process.argv.includes('--dir') ? process.argv[process.argv.indexOf('--dir') + 1] : undefined;
const dataDir = keptDir ?? mkdtempSync(join(tmpdir(), 'vertebra-bench-'));
const mustLoad = !keptDir || !existsSync(join(keptDir, 'vertebra.sqlite'));
const server = await startServer(defaultConfig({ port: 0, dataDir, logLevel: 'silent' }), pino({ level: 'silent' }));
const base = `http://127.0.0.1:${server.port}/fhir`;
try {
  if (mustLoad) {
    console.log(JSON.stringify({ loaded: 'Patient', n: N, perSecond: Math.round(await load(patient, server.engine, N)) }));
    console.log(JSON.stringify({ loaded: 'Observation', n: N, perSecond: Math.round(await load(observation, server.engine, N)) }));
  }
  const pick = (run: number) => (run * 7727) % N;
  await time(base, 'Patient?identifier=system|nhs', (r) => `Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|${nhs(pick(r))}`);
  await time(base, 'Patient?family=prefix&birthdate=day', (r) => `Patient?family=${family(pick(r)).slice(0, 6)}&birthdate=${birthDate(pick(r))}`);
  await time(base, 'Observation?subject.identifier=nhs (chain)', (r) => `Observation?subject.identifier=${nhs(pick(r))}`);
  await time(base, 'Observation?subject:Patient.family=x&code=8867-4 (chain)', (r) => `Observation?subject:Patient.family=${family(pick(r))}&code=http://loinc.org|8867-4&_count=20`);
  await time(base, 'Patient?_has:Observation:subject:code=8867-4&family=x', (r) => `Patient?_has:Observation:subject:code=8867-4&family=${family(pick(r))}`);
  await time(base, 'Patient?address-postalcode=LS1&_sort=-birthdate&_count=20', (r) => `Patient?address-postalcode=LS${r % 30}&_sort=-birthdate&_count=20`);
  await time(base, 'Observation?code=..&date=ge..&_include=Observation:subject&_count=50', (r) => `Observation?code=29463-7&date=ge2024-0${1 + (r % 9)}&_include=Observation:subject&_count=50`);
} finally {
  await server.close();
  if (!keptDir) rmSync(dataDir, { recursive: true, force: true });
}
