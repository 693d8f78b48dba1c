import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { loadScripts } from '../conformance/runner/load.js';
import { runTestScript, type ScriptReport } from '../conformance/runner/runner.js';
import type { ScriptShape } from '../conformance/runner/types.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Compiled to dist/test/http: the scripts live in the source tree.
const scriptsDir = fileURLToPath(new URL('../../../test/conformance/scripts', import.meta.url));

/** Proves the wiring on its own, whatever the scripts directory holds: create → read → search → delete. */
const wiring: ScriptShape = {
  resourceType: 'TestScript',
  name: 'runner-wiring',
  contained: [{
    resourceType: 'Patient', id: 'wiring-patient',
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9000000009' }],
    name: [{ family: 'Wiringtest', given: ['Ada'] }], gender: 'female', birthDate: '1970-05-06',
  }],
  fixture: [{ id: 'patient', resource: { reference: '#wiring-patient' } }],
  variable: [{ name: 'patientId', expression: 'Patient.id', sourceId: 'created' }],
  test: [
    { name: 'create', action: [
      { operation: { type: { code: 'create' }, resource: 'Patient', sourceId: 'patient', responseId: 'created' } },
      { assert: { response: 'created' } },
      { assert: { headerField: 'Location', operator: 'contains', value: '/Patient/' } },
      { assert: { minimumId: 'patient' } },
    ] },
    { name: 'read', action: [
      { operation: { type: { code: 'read' }, resource: 'Patient', targetId: 'patient' } },
      { assert: { response: 'okay' } },
      { assert: { contentType: 'application/fhir+json' } },
      { assert: { expression: 'Patient.id', compareToSourceId: 'created', compareToSourceExpression: 'Patient.id' } },
    ] },
    { name: 'search', action: [
      { operation: { type: { code: 'search' }, resource: 'Patient', params: '?_id=${patientId}&family=Wiringtest' } },
      { assert: { response: 'okay' } },
      { assert: { resource: 'Bundle' } },
      { assert: { expression: 'Bundle.entry.count()', value: '1' } },
    ] },
    { name: 'delete', action: [
      { operation: { type: { code: 'delete' }, resource: 'Patient', targetId: 'patient' } },
      { assert: { responseCode: '200,204', operator: 'in' } },
      { operation: { type: { code: 'read' }, resource: 'Patient', targetId: 'patient' } },
      { assert: { response: 'gone' } },
    ] },
  ],
};

const scripts = [{ file: '(inline)', script: wiring }, ...loadScripts(scriptsDir)];

describe('conformance TestScripts against vertebra', function () {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  for (const { file, script } of scripts) {
    describe(`${script.name ?? script.id ?? file}`, () => {
      let report: ScriptReport;
      before(async function () {
        this.timeout(60000);
        report = await runTestScript(script, { base: server.url, fixtureDir: scriptsDir });
      });

      for (const [i, t] of (script.test ?? []).entries()) {
        it(t.name ?? t.id ?? `test ${i + 1}`, function () {
          const result = report.tests[i]!;
          if (result.status === 'skip') {
            this.test!.title += ` (skipped: ${result.reason})`;
            this.skip();
          }
          expect(result.status, result.reason).to.equal('pass');
        });
      }
    });
  }
});

describe('conformance TestScripts are FHIR resources the server stores', () => {
  let server: TestServer;
  before(async () => { server = await startTestServer(); });
  after(async () => { await server?.stop(); });

  it('every script in test/conformance/scripts can be PUT as a TestScript and read back unchanged', async () => {
    const files = loadScripts(scriptsDir);
    expect(files.length).to.be.greaterThan(0);
    for (const { file, script } of files) {
      const id = (script as { id?: string }).id!;
      const put = await server.fhir(`/TestScript/${id}`, { method: 'PUT', body: script });
      expect(put.status, `${file}: ${JSON.stringify(put.json?.issue?.slice(0, 2))}`).to.equal(201);
      const { meta: _m, ...stored } = (await server.fhir(`/TestScript/${id}`)).json;
      const { meta: _n, ...original } = script as unknown as Record<string, unknown>;
      expect(stored, file).to.deep.equal(original);
    }
  });
});
