/**
 * PDS search latency over a seeded population, one client, through HTTP as a PDS client sends it.
 *
 *   npm run seed -- --patients 1000000          (DATA_DIR=... to choose where)
 *   DATA_DIR=... node dist/bench/pds-search.js [--queries 200] [--port 8111]
 *
 * Starts the server on that DATA_DIR with the defaults (PDS on), draws patients of the seeded
 * population at random, reads each one and searches for it: exact (family + birthdate), exact with
 * gender and postcode, a wildcard family, fuzzy (a respelt family + given + birthdate), and
 * Patient/$match. Prints median, p95 and p99 per query kind and how often the patient was found.
 */
import type { Patient } from 'fhir/r4.js';
import { pino } from 'pino';
import { loadConfig } from '../server/config.js';
import { startServer } from '../server/server.js';
import { seedNhsNumbers } from '../resources/seed/population.js';
import { random } from './random.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** A plausible respelling, as a fuzzy search must tolerate: one vowel changed. */
function respell(name: string): string {
  const i = name.search(/[aeiouy]/i);
  if (i < 1) return `${name}e`;
  return `${name.slice(0, i)}${name[i].toLowerCase() === 'y' ? 'i' : 'y'}${name.slice(i + 1)}`;
}

async function main(): Promise<void> {
  const queries = arg('queries', 200);
  const config = { ...loadConfig(process.env), port: arg('port', 0), logLevel: 'warn' };
  const server = await startServer(config, pino({ level: 'warn' }));
  const base = `http://127.0.0.1:${server.port}/fhir`;
  const total = (await (await fetch(`${base}/Patient?_summary=count`)).json()).total as number;
  console.log(`${total} patients in ${config.dataDir}`);
  const numbers = [...seedNhsNumbers(total)];
  const rand = random(42);

  const kinds: Record<string, { ms: number[]; found: number }> = {};
  const time = async (kind: string, patient: Patient, url: string, init?: RequestInit) => {
    const started = performance.now();
    const res = await fetch(url, init);
    const body = await res.json();
    const ms = performance.now() - started;
    (kinds[kind] ??= { ms: [], found: 0 }).ms.push(ms);
    if (body.entry?.some((e: { resource: Patient }) => e.resource.id === patient.id)) kinds[kind].found++;
  };

  for (let q = 0; q < queries; q++) {
    const id = numbers[Math.floor(rand() * numbers.length)];
    const read = await fetch(`${base}/Patient/${id}`);
    if (read.status !== 200) continue;
    const p = (await read.json()) as Patient;
    const name = p.name![0];
    const family = name.family!;
    const given = name.given![0];
    const postcode = p.address?.[0]?.postalCode;
    const search = (query: Record<string, string>) => `${base}/Patient?${new URLSearchParams(query)}`;
    await time('exact family+birthdate', p, search({ family, birthdate: `eq${p.birthDate}` }));
    if (postcode) await time('exact +gender+postcode', p, search({ family, birthdate: `eq${p.birthDate}`, gender: p.gender!, 'address-postalcode': postcode }));
    await time('wildcard family', p, search({ family: `${family.slice(0, 3)}*`, birthdate: `eq${p.birthDate}` }));
    await time('fuzzy respelt family', p, search({ '_fuzzy-match': 'true', family: respell(family), given, birthdate: p.birthDate! }));
    await time('$match', p, `${base}/Patient/$match`, {
      method: 'POST', headers: { 'Content-Type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Patient', name: [{ family: respell(family), given: [given] }], birthDate: p.birthDate, gender: p.gender } }] }),
    });
  }

  console.log('query kind                  n   median    p95     p99   found');
  for (const [kind, { ms, found }] of Object.entries(kinds)) {
    const sorted = [...ms].sort((a, b) => a - b);
    const f = (x: number) => `${x.toFixed(1)}ms`.padStart(8);
    console.log(`${kind.padEnd(26)} ${String(ms.length).padStart(3)} ${f(percentile(sorted, 50))}${f(percentile(sorted, 95))}${f(percentile(sorted, 99))}  ${((100 * found) / ms.length).toFixed(0)}%`);
  }
  await server.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
