/**
 * Profile validation benchmark: the time to load an implementation guide (IG_PATHS) and the time
 * per resource of the profile stage for UK Core examples against their profiles, with the
 * terminology a server uses (stored, IG and R4 base value sets; results cached per generation).
 *
 *   node dist/bench/profile-validation.js [--ig ../shared/ukcore] [--seconds 2]
 *
 * Runs on a real server (temp SQLite). Each example gets a warm-up (compiling its profile's plan),
 * then rounds until --seconds have passed; the best of 3 rounds is reported (the machine is shared).
 * Prints a table and one JSON line.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseFhirXml } from '../fhir/xml.js';
import { warmSchemaValidator } from '../profiles/schema-validator.js';
import { startTestServer } from '../test/support/server.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const IG = arg('ig', '../shared/ukcore');
const SECONDS = Number(arg('seconds', '2'));
const UKCORE = 'https://fhir.hl7.org.uk/StructureDefinition/';

const CASES: [string, string][] = [
  ['UKCore-Patient-RichardSmith-Example.xml', 'UKCore-Patient'],
  ['UKCore-Observation-VitalSigns-BloodPressure-Example.xml', 'UKCore-Observation-VitalSigns-BloodPressure'],
  ['UKCore-MedicationRequest-Amoxicillin-Example.xml', 'UKCore-MedicationRequest'],
  ['UKCore-Organization-LeedsTeachingHospital-Example.xml', 'UKCore-Organization'],
];

warmSchemaValidator();
const started = performance.now();
const server = await startTestServer({ igPaths: [IG] });
const loadMs = performance.now() - started;
const validator = server.engine.profiles!.validator;
const rows: { example: string; profile: string; us: number; errors: number }[] = [];
for (const [file, profile] of CASES) {
  let example;
  try {
    example = parseFhirXml(readFileSync(join(IG, 'examples', file), 'utf8'));
  } catch {
    continue; // an example not in this IG version
  }
  const url = [`${UKCORE}${profile}`];
  const issues = await validator.validate(example, url);
  for (let i = 0; i < 200; i++) await validator.validate(example, url);
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < (SECONDS * 1000) / 3) {
      await validator.validate(example, url);
      n++;
    }
    best = Math.min(best, ((performance.now() - t0) * 1000) / n);
  }
  rows.push({ example: file, profile, us: Math.round(best), errors: issues.filter((i) => i.severity === 'error').length });
}
await server.stop();

console.log(`IG load (${IG}) and server start: ${Math.round(loadMs)} ms (includes parsing the R4 base definitions once per process)`);
console.log('example'.padEnd(58), 'profile'.padEnd(45), 'µs/resource', 'errors');
for (const r of rows) console.log(r.example.padEnd(58), r.profile.padEnd(45), String(r.us).padStart(11), String(r.errors).padStart(6));
console.log(JSON.stringify({ bench: 'profile-validation', igLoadMs: Math.round(loadMs), results: rows }));
