import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle } from 'fhir/r4.js';
import { seedNhsNumbers } from '../resources/seed/population.js';
import { SCHEMA_VERSION } from '../store/sqlite/schema.js';
import { seededObservation } from './clinical.js';
import { fingerprint } from './harness.js';
import { freePort, runChild, startChild, stopChild, waitReady } from './processes.js';

/**
 * The seeded dataset, built once per fingerprint (patient count, generator code, schema version)
 * under the cache folder and reused by later runs: `npm run seed` for the population, then one
 * Observation per patient through the server's own transaction endpoint. A run never writes to
 * the cached copy: run.ts copies it first (audit events and ingested records stay out of it).
 */

export interface DatasetOptions {
  /** The repository root (dist/ is under it). */
  root: string;
  cacheRoot: string;
  patients: number;
  log: (message: string) => void;
}

/** The dist/ modules whose code decides what the dataset holds. */
const GENERATOR_MODULES = ['resources/seed/population.js', 'resources/seed/prng.js', 'bench/clinical.js'];

export function datasetFingerprint(root: string, patients: number): string {
  return fingerprint({
    patients,
    generatorSources: GENERATOR_MODULES.map((m) => readFileSync(join(root, 'dist', m), 'utf8')),
    schemaVersion: SCHEMA_VERSION,
  });
}

/** The folder of a ready dataset for these options (built now if the cache has none). */
export async function ensureDataset({ root, cacheRoot, patients, log }: DatasetOptions): Promise<string> {
  const key = datasetFingerprint(root, patients);
  const dir = join(cacheRoot, 'datasets', key);
  if (existsSync(join(dir, 'READY'))) {
    log(`dataset ${key}: cached in ${dir}`);
    return dir;
  }
  const building = `${dir}.building-${process.pid}`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  const started = performance.now();
  log(`dataset ${key}: seeding ${patients.toLocaleString('en-GB')} patients (once; later runs reuse it)`);
  const env = { ...process.env, DATA_DIR: building, LOG_LEVEL: 'warn' };
  await runChild(process.execPath, [join(root, 'dist/cli/seed.js'), '--patients', String(patients)], { env, stdio: ['ignore', 'pipe', 'inherit'] });

  log(`dataset ${key}: adding one Observation per patient through the transaction endpoint`);
  const port = await freePort();
  const server = startChild(process.execPath, [join(root, 'dist/server/main.js')], {
    env: { ...env, PORT: String(port), AUTH: 'off', AUDIT: 'off' }, stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const origin = `http://127.0.0.1:${port}`;
    await waitReady(`${origin}/health/ready`, server);
    const numbers = seedNhsNumbers(patients);
    let n = 0;
    const nextBundle = (): Bundle | undefined => {
      const entry: NonNullable<Bundle['entry']> = [];
      // next(), not for-of: breaking out of a for-of would close the shared generator.
      while (entry.length < 500) {
        const it = numbers.next();
        if (it.done) break;
        const obs = seededObservation(n++, it.value);
        entry.push({ resource: obs, request: { method: 'PUT', url: `Observation/${obs.id}` } });
      }
      return entry.length ? { resourceType: 'Bundle', type: 'transaction', entry } : undefined;
    };
    const worker = async () => {
      for (let bundle = nextBundle(); bundle; bundle = nextBundle()) {
        const res = await fetch(`${origin}/fhir`, {
          method: 'POST', headers: { 'Content-Type': 'application/fhir+json', Prefer: 'return=minimal' }, body: JSON.stringify(bundle),
        });
        const text = await res.text();
        if (res.status !== 200) throw new Error(`seeding Observations: HTTP ${res.status} ${text.slice(0, 300)}`);
      }
    };
    await Promise.all([worker(), worker()]);
  } finally {
    await stopChild(server);
  }
  const seconds = (performance.now() - started) / 1000;
  writeFileSync(join(building, 'READY'), `${JSON.stringify({ patients, observations: patients, seconds: Math.round(seconds) })}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(building, dir);
  log(`dataset ${key}: built in ${seconds.toFixed(0)} s`);
  return dir;
}
