import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import type { Organization } from 'fhir/r4.js';
import { FhirError } from '../fhir/errors.js';
import { parseCsv, CsvError } from '../resources/organization/csv.js';
import { headerColumns, rowToOrganization, RowError, sameContent, toRow } from '../resources/organization/import.js';
import type { ResourceVersion } from '../store/port.js';
import { warmSchemaValidator } from '../profiles/schema-validator.js';
import { loadConfig } from '../server/config.js';
import { buildEngine, openStore } from '../server/server.js';

/**
 * `npm run import:ods -- file.csv`: upserts one Organization per row of an ODS CSV (the format of
 * resources/organization/import.ts) into the store that the configuration names (DATA_DIR or
 * MONGODB_URI, as for `npm start`). Idempotent: a row equal to the stored Organization is skipped,
 * any other is written as a PUT would, one organisation per transaction. Rows in error are
 * reported with their line number and skipped; the exit code is 1 if any row failed.
 */

const USAGE = 'usage: npm run import:ods -- <file.csv>';

/** A hand-written progress bar on stderr: "\r[#####.....] 123/456". */
class Progress {
  private lastDrawn = 0;
  constructor(private readonly total: number, private readonly width = 30) {}

  tick(done: number): void {
    const now = Date.now();
    if (done !== this.total && now - this.lastDrawn < 100) return;
    this.lastDrawn = now;
    const filled = this.total === 0 ? this.width : Math.round((done / this.total) * this.width);
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(this.width - filled)}] ${done}/${this.total}`);
  }

  end(): void {
    process.stderr.write('\n');
  }
}

async function main(argv: string[]): Promise<number> {
  const files = argv.filter((a) => !a.startsWith('-'));
  if (files.length !== 1 || argv.includes('--help') || argv.includes('-h')) {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig(process.env);
  const records = parseCsv(readFileSync(files[0], 'utf8'));
  if (records.length === 0) throw new Error(`${files[0]} is empty: expected a header line`);
  const columns = headerColumns(records[0]);
  const rows = records.slice(1);
  const today = new Date().toISOString().slice(0, 10);

  // Warnings go to stderr, keeping stdout for the summary.
  const logger = pino({ level: config.logLevel === 'info' ? 'warn' : config.logLevel }, pino.destination(2));
  warmSchemaValidator();
  const store = await openStore(config);
  const counts = { created: 0, updated: 0, unchanged: 0, failed: 0 };
  const failures: string[] = [];
  try {
    const engine = await buildEngine(store, logger, config);
    const seen = new Map<string, number>();
    const progress = new Progress(rows.length);
    progress.tick(0);
    for (let i = 0; i < rows.length; i++) {
      const { line } = rows[i];
      try {
        const org = rowToOrganization(toRow(rows[i], columns), line, today);
        const id = org.id!;
        const earlier = seen.get(id);
        if (earlier !== undefined) throw new RowError(line, `code ${id} was already imported from line ${earlier}`);
        seen.set(id, line);
        counts[await upsert(engine, org)]++;
      } catch (e) {
        counts.failed++;
        failures.push(describe(e, line));
      }
      progress.tick(i + 1);
    }
    progress.end();
  } finally {
    await store.close();
  }
  for (const f of failures) console.error(f);
  console.log(`import:ods ${files[0]}: ${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged, ${counts.failed} failed`);
  return counts.failed > 0 ? 1 : 0;
}

type Engine = Awaited<ReturnType<typeof buildEngine>>;

/** Writes `org` unless the stored Organization already says the same; tells which it did. */
async function upsert(engine: Engine, org: Organization): Promise<'created' | 'updated' | 'unchanged'> {
  const id = org.id!;
  engine.assertId('Organization', id);
  let current: ResourceVersion | undefined;
  try {
    current = await engine.read('Organization', id);
  } catch (e) {
    if (!(e instanceof FhirError) || (e.status !== 404 && e.status !== 410)) throw e;
  }
  if (current && sameContent(JSON.parse(current.json!), org)) return 'unchanged';
  // If-Match on the version compared: a concurrent writer makes this row fail, not vanish.
  const pre = current ? { ifMatch: current.versionId } : {};
  const { created } = await engine.transaction((s) => s.update('Organization', id, org, pre));
  return created ? 'created' : 'updated';
}

function describe(e: unknown, line: number): string {
  if (e instanceof RowError) return e.message;
  if (e instanceof FhirError) {
    const reasons = e.issues.map((i) => `${i.diagnostics ?? i.details?.coding?.[0]?.display ?? i.code}${i.expression ? ` (${i.expression.join(', ')})` : ''}`);
    return `line ${line}: ${reasons.join('; ')}`;
  }
  return `line ${line}: ${e instanceof Error ? e.message : String(e)}`;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
  console.error(err instanceof CsvError || err instanceof RowError ? `import:ods: ${err.message}` : err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
