import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fhirFetch, samplePatient, TEST_STORE } from '../support/server.js';
import { NHS_NUMBER_SYSTEM } from '../../resources/patient/nhs-number.js';

const MAIN = fileURLToPath(new URL('../../server/main.js', import.meta.url));

interface Child { process: ChildProcess; base: string }

/** Every server started, so that a failing test cannot leave one running (mocha would never exit). */
const children: ChildProcess[] = [];

/** Starts `node dist/server/main.js` as users do and waits for its "listening" log line. */
function startChild(dataDir: string): Promise<Child> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN], { env: { ...process.env, PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'info', AUTH: 'off' }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      for (const line of out.split('\n')) {
        try {
          const log = JSON.parse(line);
          if (log.port) {
            clearTimeout(timer);
            resolve({ process: child, base: `http://127.0.0.1:${log.port}/fhir` });
            return;
          }
        } catch { /* partial line */ }
      }
    });
    child.on('exit', (code) => reject(new Error(`server exited early (${code}): ${out}`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

describe('Durability: acknowledged writes survive kill -9', function () {
  this.timeout(120_000);
  let dataDir: string;
  before(function () {
    // This kills a real `npm start` process, which runs on the embedded SQLite store. In the
    // Mongo differential run there is no disk to prove anything about (MongoDB's durability is
    // its journal and write concern, which only the real-server suite can exercise).
    if (TEST_STORE !== 'sqlite') {
      console.log('    skipped in the mongo-fake run: kill -9 durability is a property of the embedded SQLite store');
      this.skip();
    }
    dataDir = mkdtempSync(join(tmpdir(), 'vertebra-kill9-'));
  });
  after(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('every acknowledged create and update is readable, at the acknowledged version, after a restart', async () => {
    const first = await startChild(dataDir);
    const n = 60;
    // Concurrent creates, then an update of every third one: versions 1 and 2 must both survive.
    const created = await Promise.all(Array.from({ length: n }, (_, i) =>
      fhirFetch(first.base, '/Patient', { method: 'POST', body: samplePatient({ identifier: undefined, name: [{ family: `Durable${i}` }] }) })));
    expect(created.map((r) => r.status)).to.deep.equal(Array(n).fill(201));
    const acknowledged = new Map<string, { version: string; family: string }>();
    for (const [i, r] of created.entries()) acknowledged.set(r.json.id, { version: '1', family: `Durable${i}` });
    const updates = await Promise.all(created.filter((_, i) => i % 3 === 0).map((r) =>
      fhirFetch(first.base, `/Patient/${r.json.id}`, { method: 'PUT', body: samplePatient({ id: r.json.id, identifier: [{ system: NHS_NUMBER_SYSTEM, value: r.json.id }], name: [{ family: 'Updated' }] }) })));
    for (const u of updates) {
      expect(u.status).to.equal(200);
      acknowledged.set(u.json.id, { version: u.json.meta.versionId, family: 'Updated' });
    }
    // Kill the instant the last acknowledgement arrived: no graceful shutdown, no checkpoint.
    const gone = exited(first.process);
    first.process.kill('SIGKILL');
    await gone;

    const second = await startChild(dataDir);
    try {
      for (const [id, { version, family }] of acknowledged) {
        const read = await fhirFetch(second.base, `/Patient/${id}`);
        expect(read.status, `Patient/${id}`).to.equal(200);
        expect(read.json.meta.versionId).to.equal(version);
        expect(read.json.name[0].family).to.equal(family);
      }
      const history = await fhirFetch(second.base, '/Patient/_history?_count=0');
      expect(history.json.total).to.equal(n + updates.length);
    } finally {
      const stopped = exited(second.process);
      second.process.kill('SIGTERM');
      await stopped;
    }
  });
});
