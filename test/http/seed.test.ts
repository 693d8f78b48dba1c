import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { pino } from 'pino';
import { defaultConfig } from '../../server/config.js';
import { startServer, type RunningServer } from '../../server/server.js';
import { fhirFetch, TEST_STORE } from '../support/server.js';

const run = promisify(execFile);
const SEED_JS = fileURLToPath(new URL('../../cli/seed.js', import.meta.url));

describe('npm run seed (cli/seed.js)', function () {
  // The CLI writes to the SQLite file under DATA_DIR; the mongo-fake run has no such store.
  if (TEST_STORE !== 'sqlite') return;
  this.timeout(60_000);
  let dataDir: string;
  let server: RunningServer | undefined;
  before(() => { dataDir = mkdtempSync(join(tmpdir(), 'vertebra-seed-')); });
  after(async () => {
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const seed = (...args: string[]) => run(process.execPath, [SEED_JS, ...args], {
    env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'warn', MONGODB_URI: '' },
  });
  const total = async (query: string) => {
    const res = await fhirFetch(`http://127.0.0.1:${server!.port}/fhir`, `${query}${query.includes('?') ? '&' : '?'}_summary=count`);
    expect(res.status, res.text).to.equal(200);
    return res.json.total as number;
  };

  it('seeds 200 patients with their practice, pharmacies and staff; a re-run upserts the same ids', async () => {
    const first = await seed('--patients', '200', '--seed', '5', '--batch', '64');
    const summary = JSON.parse(first.stdout.trim().split('\n').pop()!);
    expect(summary).to.include({ patients: 200, practices: 1, pharmacies: 2, seed: 5 });
    expect(first.stderr).to.contain('patients').and.contain('100%');
    await seed('--patients', '200', '--seed', '5');

    server = await startServer(defaultConfig({ port: 0, dataDir, logLevel: 'silent', auth: 'off' }), pino({ level: 'silent' }));
    expect(await total('/Patient')).to.equal(200);
    expect(await total('/Organization')).to.equal(3);
    expect(await total('/Organization?roleCode=RO76')).to.equal(1);
    expect(await total('/Practitioner')).to.equal(summary.practitioners);
    expect(await total('/PractitionerRole')).to.equal(summary.practitionerRoles);
    expect(await total('/Patient?general-practitioner=Organization/Y90000')).to.be.greaterThan(150); // restricted ones are hidden from GP searches
    const p = await fhirFetch(`http://127.0.0.1:${server.port}/fhir`, '/Patient/9990000018');
    expect(p.status, p.text).to.equal(200);
    expect(p.json.meta.versionId).to.equal('2'); // written twice, never duplicated
    expect(p.json.identifier[0].value).to.equal('9990000018');
  });

  it('refuses bad arguments with usage (exit 2)', async () => {
    const err = await seed('--patients', 'many').then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(err?.code).to.equal(2);
    expect(err?.stderr).to.contain('usage');
    // the 999 range (909,091 numbers) and the 900 sandbox block (909,000) hold 1,818,091
    const tooMany = await seed('--patients', '5000000').then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(tooMany?.code).to.equal(2);
    expect(tooMany?.stderr).to.contain("hold 1818091 valid numbers");
  });
});
