/**
 * SQLite search benchmark: loads synthetic Patients and Observations through store.transaction
 * (the group-commit writer, as the server writes), then times common search shapes and prints the
 * SQL and EXPLAIN QUERY PLAN of each.
 *
 *   node dist/bench/search-sqlite.js [--patients 100000] [--observations 100000] [--runs 20] [--explain] [--file db.sqlite]
 *
 * Everything is synthetic (NHS numbers in the 999 range, invented names). The database lives in a
 * temp folder that is removed at the end, unless --file names one: then it is kept, and loaded
 * only if it is empty.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IndexEntry } from '../search/index-entries.js';
import type { Condition, SearchPlan } from '../search/plan.js';
import type { WriteOp } from '../store/port.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { random } from './random.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const PATIENTS = arg('patients', 100_000);
const OBSERVATIONS = arg('observations', 100_000);
const RUNS = arg('runs', 20);
const EXPLAIN = process.argv.includes('--explain');
const FILE = process.argv.includes('--file') ? process.argv[process.argv.indexOf('--file') + 1] : undefined;
const BATCH = 1000;

const rnd = random(7);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];

const SYLLABLES = ['ab', 'bel', 'cor', 'dun', 'el', 'far', 'gil', 'har', 'ing', 'jor', 'kel', 'lan', 'mor', 'nor', 'os', 'pen', 'quin', 'ros', 'sta', 'tor', 'ul', 'van', 'wes', 'yor'];
const FAMILIES = Array.from({ length: 2000 }, (_, i) => SYLLABLES[i % 24] + SYLLABLES[Math.floor(i / 24) % 24] + (i >= 576 ? SYLLABLES[Math.floor(i / 576) % 24] : ''));
const GIVEN = ['alex', 'sam', 'jo', 'chris', 'pat', 'robin', 'lee', 'kim', 'max', 'ash', 'charlie', 'drew', 'eden', 'frankie', 'gray', 'harper'];
const DAY = 86_400_000;
const nhs = (i: number) => `999${String(i).padStart(7, '0')}`;
const patientId = (i: number) => `pat-${i}`;

function patient(i: number): WriteOp {
  const family = pick(FAMILIES);
  const given = pick(GIVEN);
  const birth = Date.UTC(1930, 0, 1) + Math.floor(rnd() * 90 * 365) * DAY;
  const gp = `gp-${Math.floor(rnd() * 500)}`;
  const json = {
    resourceType: 'Patient', id: patientId(i), meta: { versionId: '1' },
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhs(i) }],
    name: [{ family, given: [given] }], birthDate: new Date(birth).toISOString().slice(0, 10),
    generalPractitioner: [{ reference: `Practitioner/${gp}` }],
  };
  const entries: IndexEntry[] = [
    { kind: 'string', param: 'family', value: family, exact: family },
    { kind: 'string', param: 'given', value: given, exact: given },
    { kind: 'string', param: 'name', value: family, exact: family },
    { kind: 'string', param: 'name', value: given, exact: given },
    { kind: 'token', param: 'identifier', system: 'https://fhir.nhs.uk/Id/nhs-number', code: nhs(i), text: null },
    { kind: 'date', param: 'birthdate', low: birth, high: birth + DAY - 1 },
    { kind: 'reference', param: 'general-practitioner', targetType: 'Practitioner', targetId: gp, targetVersion: null, url: null },
  ];
  return { resourceType: 'Patient', id: json.id, versionId: 1, lastUpdated: new Date().toISOString(), method: 'POST', json: JSON.stringify(json), entries };
}

const CODES = Array.from({ length: 200 }, (_, i) => `${1000 + i}-${i % 10}`);

function observation(i: number): WriteOp {
  const subject = patientId(Math.floor(rnd() * PATIENTS));
  const code = pick(CODES);
  const when = Date.UTC(2015, 0, 1) + Math.floor(rnd() * 3000 * DAY);
  const json = {
    resourceType: 'Observation', id: `obs-${i}`, meta: { versionId: '1' }, status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code }] }, subject: { reference: `Patient/${subject}` },
    effectiveDateTime: new Date(when).toISOString(),
  };
  const entries: IndexEntry[] = [
    { kind: 'reference', param: 'subject', targetType: 'Patient', targetId: subject, targetVersion: null, url: null },
    { kind: 'reference', param: 'patient', targetType: 'Patient', targetId: subject, targetVersion: null, url: null },
    { kind: 'token', param: 'code', system: 'http://loinc.org', code, text: null },
    { kind: 'date', param: 'date', low: when, high: when },
  ];
  return { resourceType: 'Observation', id: json.id, versionId: 1, lastUpdated: new Date().toISOString(), method: 'POST', json: JSON.stringify(json), entries };
}

async function load(store: SqliteStore, n: number, make: (i: number) => WriteOp): Promise<number> {
  const started = performance.now();
  const inFlight: Promise<void>[] = [];
  for (let from = 0; from < n; from += BATCH) {
    const ops = Array.from({ length: Math.min(BATCH, n - from) }, (_, k) => make(from + k));
    inFlight.push(store.transaction(async (tx) => { for (const op of ops) await tx.write(op); }));
    if (inFlight.length >= 8) await Promise.all(inFlight.splice(0));
  }
  await Promise.all(inFlight);
  return performance.now() - started;
}

function plan(p: Partial<SearchPlan>): SearchPlan {
  return { resourceTypes: ['Patient'], sort: [], count: 20, total: 'none', include: [], revinclude: [], warnings: [], ...p };
}

const identifier = (i: number): Condition => ({
  kind: 'entry', entry: 'token', param: 'identifier',
  clauses: [{ column: 'system', op: 'eq', value: 'https://fhir.nhs.uk/Id/nhs-number' }, { column: 'code', op: 'eq', value: nhs(i) }],
});

interface Case { name: string; make: (run: number) => SearchPlan; store?: 'general' }

const CASES: Case[] = [
  { name: '(a) Patient?identifier=<nhs>|<number>', make: (k) => plan({ where: identifier(Math.floor((k + 1) * PATIENTS / (RUNS + 2))) }) },
  {
    name: '(b) Patient?family:startsWith=<3 chars>&birthdate=<day>',
    make: (k) => {
      const day = Date.UTC(1930, 0, 1) + ((k * 7919) % (90 * 365)) * DAY;
      return plan({
        where: {
          kind: 'and', conditions: [
            { kind: 'entry', entry: 'string', param: 'family', clauses: [{ column: 'value', op: 'startsWith', value: FAMILIES[k * 37 % FAMILIES.length].slice(0, 3) }] },
            { kind: 'entry', entry: 'date', param: 'birthdate', clauses: [{ column: 'low', op: 'ge', value: day }, { column: 'high', op: 'le', value: day + DAY - 1 }] },
          ],
        },
      });
    },
  },
  {
    name: '(c) Observation?subject:Patient.identifier=<nhs>',
    make: (k) => plan({
      resourceTypes: ['Observation'],
      where: { kind: 'chain', param: 'subject', targetTypes: ['Patient'], condition: identifier(Math.floor((k + 1) * PATIENTS / (RUNS + 2))) },
    }),
  },
  { name: '(d) Patient?_sort=family&_count=20&_total=accurate', make: () => plan({ sort: [{ by: 'entry', entry: 'string', param: 'family', column: 'value', descending: false }], total: 'accurate' }) },
  { name: '(d\') same, general page (no index walk)', make: () => plan({ sort: [{ by: 'entry', entry: 'string', param: 'family', column: 'value', descending: false }], total: 'accurate' }), store: 'general' },
  { name: '(e) Patient?_sort=-family&_count=20 (no total)', make: () => plan({ sort: [{ by: 'entry', entry: 'string', param: 'family', column: 'value', descending: true }] }) },
  {
    name: '(f) Observation?subject=Patient/<id>&_sort=-date',
    make: (k) => plan({
      resourceTypes: ['Observation'], sort: [{ by: 'entry', entry: 'date', param: 'date', column: 'high', descending: true }],
      where: { kind: 'entry', entry: 'reference', param: 'subject', clauses: [{ column: 'targetType', op: 'eq', value: 'Patient' }, { column: 'targetId', op: 'eq', value: patientId(k * 97) }] },
    }),
  },
  {
    name: '(g) Patient?identifier=<nhs>&_revinclude=Observation:subject',
    make: (k) => plan({ where: identifier(k * 131), revinclude: [{ sourceType: 'Observation', param: 'subject', iterate: false }] }),
  },
  {
    name: '(h) Patient?_has:Observation:subject:code=<code>&_count=20',
    make: (k) => plan({ where: { kind: 'has', sourceType: 'Observation', param: 'subject', condition: { kind: 'entry', entry: 'token', param: 'code', clauses: [{ column: 'code', op: 'eq', value: CODES[k % CODES.length] }] } } }),
  },
  {
    name: '(i) Patient?name:startsWith=a&_sort=given, page 51 from its cursor',
    make: () => plan({ where: { kind: 'entry', entry: 'string', param: 'name', clauses: [{ column: 'value', op: 'startsWith', value: 'a' }] }, sort: [{ by: 'entry', entry: 'string', param: 'given', column: 'value', descending: false }] }),
  },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const dir = FILE === undefined ? mkdtempSync(join(tmpdir(), 'vertebra-bench-')) : undefined;
  const file = FILE ?? join(dir!, 'bench.sqlite');
  let traces: { sql: string; plan: string[] }[] = [];
  const store = new SqliteStore({ file });
  try {
    if ((await store.search(plan({ count: 0, total: 'accurate' }))).total === 0) {
      const pt = await load(store, PATIENTS, patient);
      const ot = await load(store, OBSERVATIONS, observation);
      console.log(`loaded ${PATIENTS} Patients in ${(pt / 1000).toFixed(1)} s, ${OBSERVATIONS} Observations in ${(ot / 1000).toFixed(1)} s (batches of ${BATCH} per transaction)`);
    }
    const general = new SqliteStore({ file, search: { streamThreshold: Number.MAX_SAFE_INTEGER } });
    const traced = new SqliteStore({ file, search: { trace: (sql, queryPlan) => traces.push({ sql, plan: queryPlan }) } });
    const tracedGeneral = new SqliteStore({ file, search: { streamThreshold: Number.MAX_SAFE_INTEGER, trace: (sql, queryPlan) => traces.push({ sql, plan: queryPlan }) } });
    const summary: Record<string, number> = {};
    console.log(`\n${'query'.padEnd(72)} ${'median ms'.padStart(10)} ${'min'.padStart(8)} ${'max'.padStart(8)}  matches`);
    for (const c of CASES) {
      const s = c.store === 'general' ? general : store;
      const times: number[] = [];
      let matches = 0;
      for (let k = 0; k < RUNS; k++) {
        let p = c.make(k);
        if (c.name.startsWith('(i)')) {
          // Walk to page 50 untimed, then time fetching page 51 from its cursor.
          let cursor: string | undefined;
          for (let n = 0; n < 50; n++) cursor = (await s.search({ ...p, cursor })).nextCursor;
          p = { ...p, cursor };
        }
        const t = performance.now();
        const r = await s.search(p);
        times.push(performance.now() - t);
        matches = r.total ?? r.matches.length + r.included.length;
      }
      summary[c.name.slice(0, c.name.indexOf(' '))] = Number(median(times).toFixed(3));
      console.log(`${c.name.padEnd(72)} ${median(times).toFixed(3).padStart(10)} ${Math.min(...times).toFixed(3).padStart(8)} ${Math.max(...times).toFixed(3).padStart(8)}  ${matches}`);
    }
    if (EXPLAIN) {
      for (const c of CASES) {
        traces = [];
        await (c.store === 'general' ? tracedGeneral : traced).search(c.make(3));
        console.log(`\n== ${c.name}`);
        for (const t of traces) console.log(`${t.sql}\n  ${t.plan.join('\n  ')}`);
      }
    }
    console.log(JSON.stringify({ bench: 'search-sqlite', patients: PATIENTS, observations: OBSERVATIONS, runs: RUNS, medianMs: summary }));
    await Promise.all([general.close(), traced.close(), tracedGeneral.close()]);
  } finally {
    await store.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
