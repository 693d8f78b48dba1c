import type { Resource } from 'fhir/r4.js';
import { pino } from 'pino';
import { warmSchemaValidator } from '../profiles/schema-validator.js';
import { organizations, patients, populationShape, seedNhsNumbers, staff, type PopulationOptions } from '../resources/seed/population.js';
import { FhirError } from '../fhir/errors.js';
import { loadConfig } from '../server/config.js';
import { buildEngine, openStore } from '../server/server.js';

/**
 * `npm run seed [-- --patients N] [--seed S] [--batch B]`: loads the synthetic population of
 * resources/seed/population.ts into the store the configuration names (DATA_DIR or MONGODB_URI, as
 * for `npm start`), B resources per transaction (PUT semantics: a re-run with the same seed writes
 * the same ids again, never duplicates). A progress bar goes to stderr, the summary to stdout.
 */

const USAGE = 'usage: npm run seed -- [--patients N (default 10000)] [--seed S (default 1)] [--batch B (default 500)]';

/** The most patients the seed's NHS number ranges hold (the 999 test range, then the 900 sandbox block). */
function maxPatients(): number {
  let n = 0;
  for (const _ of seedNhsNumbers(Infinity)) n++;
  return n;
}

interface Args { patients: number; seed: number; batch: number }

function parseArgs(argv: string[]): Args {
  const args: Args = { patients: 10_000, seed: 1, batch: 500 };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const name = flag.replace(/^--/, '');
    if (flag === '--help' || flag === '-h') throw new UsageError('');
    if (!flag.startsWith('--') || !(name in args)) throw new UsageError(`unknown argument '${flag}'`);
    const raw = argv[++i];
    const value = Number(raw?.replace(/[_,]/g, ''));
    if (raw === undefined || !Number.isSafeInteger(value) || value < 0) throw new UsageError(`${flag} needs a whole number, not '${raw ?? ''}'`);
    args[name as keyof Args] = value;
  }
  if (args.batch < 1) throw new UsageError('--batch must be at least 1');
  if (args.patients > 900_000 && args.patients > maxPatients()) {
    throw new UsageError(`--patients ${args.patients}: the seed's NHS number ranges hold ${maxPatients()} valid numbers, so at most that many`);
  }
  return args;
}

class UsageError extends Error {}

/** A hand-written progress bar on stderr; on a non-terminal, one line per tenth. */
class Progress {
  private readonly started = performance.now();
  private lastDrawn = 0;
  private lastTenth = -1;
  private readonly tty = process.stderr.isTTY === true;

  constructor(private readonly total: number, private readonly label: string, private readonly width = 30) {}

  tick(done: number): void {
    const now = performance.now();
    const fraction = this.total === 0 ? 1 : done / this.total;
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = rate > 0 ? Math.ceil((this.total - done) / rate) : 0;
    const text = `${this.label} [${'#'.repeat(Math.round(fraction * this.width)).padEnd(this.width, '.')}] `
      + `${(fraction * 100).toFixed(0).padStart(3)}% ${done.toLocaleString('en-GB')}/${this.total.toLocaleString('en-GB')} `
      + `${Math.round(rate).toLocaleString('en-GB')}/s ETA ${eta}s`;
    if (this.tty) {
      if (done !== this.total && now - this.lastDrawn < 100) return;
      this.lastDrawn = now;
      process.stderr.write(`\r${text}\x1b[K`);
    } else {
      const tenth = Math.floor(fraction * 10);
      if (tenth === this.lastTenth) return;
      this.lastTenth = tenth;
      process.stderr.write(`${text}\n`);
    }
  }

  end(): void {
    if (this.tty) process.stderr.write('\n');
  }
}

async function main(argv: string[]): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    if (e.message) console.error(`seed: ${e.message}`);
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig(process.env);
  const logger = pino({ level: config.logLevel === 'info' ? 'warn' : config.logLevel }, pino.destination(2));
  const options: PopulationOptions = { patients: args.patients, seed: args.seed };
  const shape = populationShape(args.patients);

  warmSchemaValidator();
  const store = await openStore(config);
  try {
    const engine = await buildEngine(store, logger, config);
    let written = 0;
    const load = async (label: string, total: number, resources: Iterable<Resource>): Promise<number> => {
      const started = performance.now();
      const progress = new Progress(total, label);
      progress.tick(0);
      let batch: Resource[] = [];
      let done = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        const entries = batch;
        batch = [];
        await engine.transaction(async (session) => {
          for (const r of entries) await session.update(r.resourceType, r.id!, r);
        });
        done += entries.length;
        written += entries.length;
        progress.tick(done);
      };
      for (const r of resources) {
        batch.push(r);
        if (batch.length >= args.batch) await flush();
      }
      await flush();
      progress.end();
      return (performance.now() - started) / 1000;
    };

    const started = performance.now();
    await load('organisations', shape.practices + shape.pharmacies, organizations(options));
    await load('staff        ', shape.practitioners + shape.practitionerRoles, staff(options));
    const patientSeconds = await load('patients     ', shape.patients, patients(options));
    const seconds = (performance.now() - started) / 1000;
    const rate = patientSeconds > 0 ? Math.round(shape.patients / patientSeconds) : 0;
    console.log(
      `seed ${args.seed}: ${shape.patients} patients, ${shape.practices} GP practices, ${shape.pharmacies} pharmacies, `
      + `${shape.practitioners} practitioners and ${shape.practitionerRoles} roles (${written} resources) in ${seconds.toFixed(1)} s; `
      + `patients at ${rate}/s (${args.batch} per transaction)`,
    );
    console.log(JSON.stringify({ seed: args.seed, ...shape, resources: written, seconds: Number(seconds.toFixed(2)), patientsPerSecond: rate, batch: args.batch }));
    return 0;
  } finally {
    await store.close();
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
  if (err instanceof FhirError) {
    console.error(`seed: refused: ${err.issues.map((i) => `${i.diagnostics ?? i.code}${i.expression ? ` (${i.expression.join(', ')})` : ''}`).join('; ')}`);
  } else {
    console.error(err instanceof Error ? err.stack ?? err.message : err);
  }
  process.exitCode = 1;
});
