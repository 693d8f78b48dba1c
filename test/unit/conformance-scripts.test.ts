import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validateStructure } from '../../profiles/schema-validator.js';

/**
 * The TestScripts of test/conformance/scripts are data, not code: nothing else checks that they
 * are valid R4 TestScripts, that their fixtures resolve, or that the ids their operations and
 * asserts name exist. This does, so a broken script fails here rather than in the runner.
 */
const SCRIPTS_DIR = fileURLToPath(new URL('../../../test/conformance/scripts/', import.meta.url));
const OPERATION_CODES = 'http://terminology.hl7.org/CodeSystem/testscript-operation-codes';

type Json = Record<string, any>;
type Action = { operation?: Json; assert?: Json };

const files = readdirSync(SCRIPTS_DIR).filter((f) => f.endsWith('.json')).sort();
const load = (file: string): Json => JSON.parse(readFileSync(`${SCRIPTS_DIR}${file}`, 'utf8'));

/** Every action in execution order: setup, each test, teardown. */
function actions(script: Json): { where: string; action: Action }[] {
  const out: { where: string; action: Action }[] = [];
  (script.setup?.action ?? []).forEach((action: Action, i: number) => out.push({ where: `setup.action[${i}]`, action }));
  (script.test ?? []).forEach((test: Json, t: number) =>
    (test.action ?? []).forEach((action: Action, i: number) => out.push({ where: `test[${t}].action[${i}]`, action })));
  (script.teardown?.action ?? []).forEach((action: Action, i: number) => out.push({ where: `teardown.action[${i}]`, action }));
  return out;
}

/** The assertion kinds of which an assert may carry only one (R4 invariants tst-5 / tst-10). */
const ASSERTION_KINDS = ['contentType', 'expression', 'headerField', 'minimumId', 'navigationLinks', 'path', 'requestMethod',
  'resource', 'responseCode', 'response', 'validateProfileId'];

describe('unit: the conformance TestScripts (test/conformance/scripts)', () => {
  it('the folder holds the CRUD scripts of the mission types, a transaction and a capabilities script', () => {
    for (const name of ['patient', 'organization', 'practitioner', 'practitionerrole', 'medicationrequest', 'composition', 'auditevent']) {
      expect(files).to.include(`${name}-crud.json`);
    }
    expect(files).to.include.members(['transaction.json', 'capabilities.json']);
  });

  for (const file of files) {
    describe(file, () => {
      const script = load(file);
      const contained = new Map<string, Json>((script.contained ?? []).map((r: Json) => [r.id, r]));
      const fixtureIds = new Set<string>((script.fixture ?? []).map((f: Json) => f.id));
      const profileIds = new Set<string>((script.profile ?? []).map((p: Json) => p.id));
      const variableNames = new Set<string>((script.variable ?? []).map((v: Json) => v.name));
      const responseIds = new Set<string>(actions(script).map(({ action }) => action.operation?.responseId).filter(Boolean));

      it('is a structurally valid R4 TestScript, contained resources included', () => {
        expect(script.resourceType).to.equal('TestScript');
        expect(validateStructure(script)).to.deep.equal([]);
        for (const resource of contained.values()) expect(validateStructure(resource), `contained ${resource.id}`).to.deep.equal([]);
      });

      it('has a unique id, the file name as id and a url ending in it', () => {
        expect(`${script.id}.json`).to.equal(file);
        expect(script.url.endsWith(`/${script.id}`)).to.equal(true);
      });

      it('refers every fixture to a contained resource, and every contained resource is a fixture', () => {
        for (const fixture of script.fixture ?? []) {
          const reference: string = fixture.resource?.reference ?? '';
          expect(reference, `fixture ${fixture.id}`).to.match(/^#/);
          expect(contained.has(reference.slice(1)), `fixture ${fixture.id} -> ${reference}`).to.equal(true);
        }
        const referenced = new Set((script.fixture ?? []).map((f: Json) => f.resource.reference.slice(1)));
        for (const id of contained.keys()) expect(referenced.has(id), `contained ${id} is not a fixture`).to.equal(true);
      });

      it('defines every sourceId, targetId and responseId before it is used', () => {
        const known = new Set(fixtureIds);
        for (const { where, action } of actions(script)) {
          const op = action.operation;
          const as = action.assert;
          if (op?.sourceId) expect(known.has(op.sourceId), `${where} sourceId ${op.sourceId}`).to.equal(true);
          if (op?.targetId) expect(known.has(op.targetId), `${where} targetId ${op.targetId}`).to.equal(true);
          if (as?.sourceId) expect(known.has(as.sourceId), `${where} sourceId ${as.sourceId}`).to.equal(true);
          if (as?.compareToSourceId) expect(known.has(as.compareToSourceId), `${where} compareToSourceId ${as.compareToSourceId}`).to.equal(true);
          if (as?.minimumId) expect(fixtureIds.has(as.minimumId), `${where} minimumId ${as.minimumId}`).to.equal(true);
          if (as?.validateProfileId) expect(profileIds.has(as.validateProfileId), `${where} validateProfileId ${as.validateProfileId}`).to.equal(true);
          if (op?.responseId) {
            expect(fixtureIds.has(op.responseId), `${where} responseId ${op.responseId} shadows a fixture`).to.equal(false);
            known.add(op.responseId);
          }
        }
      });

      it('gives each variable exactly one source, and names only fixtures or responses as its sourceId', () => {
        for (const v of script.variable ?? []) {
          expect(['expression', 'headerField', 'path'].filter((k) => v[k] !== undefined), `variable ${v.name}`).to.have.length(1);
          if (v.sourceId) expect(fixtureIds.has(v.sourceId) || responseIds.has(v.sourceId), `variable ${v.name} sourceId ${v.sourceId}`).to.equal(true);
        }
      });

      it('uses only variables it defines (${name} placeholders)', () => {
        const text = JSON.stringify({ setup: script.setup, test: script.test, teardown: script.teardown });
        for (const [, name] of text.matchAll(/\$\{([^}]+)\}/g)) expect(variableNames.has(name), `\${${name}}`).to.equal(true);
      });

      it('follows the TestScript invariants for actions, operations and asserts', () => {
        for (const { where, action } of actions(script)) {
          expect(Number(action.operation !== undefined) + Number(action.assert !== undefined), `${where}: operation xor assert`).to.equal(1);
          if (where.startsWith('teardown')) expect(action.operation, `${where}: teardown holds operations only`).to.not.equal(undefined);
          const op = action.operation;
          if (op) {
            expect(op.type?.system, `${where} type.system`).to.equal(OPERATION_CODES);
            expect(op.encodeRequestUrl, `${where} encodeRequestUrl`).to.be.a('boolean');
            const addressed = op.sourceId !== undefined
              || ['targetId', 'url', 'params'].filter((k) => op[k] !== undefined).length === 1
              || ['capabilities', 'search', 'transaction', 'history'].includes(op.type.code);
            expect(addressed, `${where}: sourceId, or one of targetId/url/params (tst-7)`).to.equal(true);
          }
          const as = action.assert;
          if (as) {
            expect(as.warningOnly, `${where} warningOnly`).to.be.a('boolean');
            expect(ASSERTION_KINDS.filter((k) => as[k] !== undefined), `${where}: one assertion per assert`).to.have.length(1);
            expect(as.compareToSourceId === undefined, `${where}: compareToSourceId comes with compareToSourceExpression`)
              .to.equal(as.compareToSourceExpression === undefined && as.compareToSourcePath === undefined);
          }
        }
      });

      it('has tests and at least five asserts', () => {
        expect(script.test ?? []).to.not.have.length(0);
        const asserts = actions(script).filter(({ action }) => action.assert).length;
        expect(asserts).to.be.at.least(5);
      });
    });
  }
});
