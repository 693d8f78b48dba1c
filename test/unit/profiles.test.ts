import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StructureDefinition } from 'fhir/r4.js';
import { NO_TERMINOLOGY } from '../../profiles/code-checker.js';
import { loadIgPaths, readTar } from '../../profiles/ig-source.js';
import { StructureDefinitionRegistry } from '../../profiles/structure-definitions.js';
import { ProfileValidator } from '../../profiles/validator.js';
import { matchesPattern, sameValue } from '../../profiles/values.js';

/** Snapshot generation, IG package loading and the validator's rules, without a server. */

function profile(url: string, type: string, elements: any[], base = `http://hl7.org/fhir/StructureDefinition/${type}`): StructureDefinition {
  return {
    resourceType: 'StructureDefinition', url, name: url.split('/').pop()!, status: 'active', kind: 'resource', abstract: false,
    type, baseDefinition: base, derivation: 'constraint', differential: { element: elements },
  } as StructureDefinition;
}

describe('profiles: snapshot generation from a differential', () => {
  const registry = new StructureDefinitionRegistry();
  registry.add(profile('https://example.org/sd/Obs', 'Observation', [
    { id: 'Observation.valueQuantity', path: 'Observation.valueQuantity', min: 1 },
    { id: 'Observation.valueQuantity.system', path: 'Observation.valueQuantity.system', fixedUri: 'http://unitsofmeasure.org' },
    { id: 'Observation.identifier.system', path: 'Observation.identifier.system', min: 1 },
    { id: 'Observation.category', path: 'Observation.category', slicing: { discriminator: [{ type: 'pattern', path: '$this' }], rules: 'open' } },
    { id: 'Observation.category:lab', path: 'Observation.category', sliceName: 'lab', min: 1, patternCodeableConcept: { coding: [{ code: 'laboratory' }] } },
  ]));
  registry.add(profile('https://example.org/sd/Q', 'Questionnaire', [
    { id: 'Questionnaire.item.item.linkId', path: 'Questionnaire.item.item.linkId', maxLength: 10 },
  ]));
  registry.add(profile('https://example.org/sd/ObsChild', 'Observation', [
    { id: 'Observation.status', path: 'Observation.status', fixedCode: 'final' },
  ], 'https://example.org/sd/Obs'));

  const byId = (url: string) => new Map(registry.snapshot(url).map((e) => [e.id, e]));

  it('a choice named by type constrains value[x], restricted to that type, and unfolds the type', () => {
    const s = byId('https://example.org/sd/Obs');
    expect(s.get('Observation.value[x]')!.min).to.equal(1);
    expect(s.get('Observation.value[x]')!.type!.map((t) => t.code)).to.deep.equal(['Quantity']);
    expect((s.get('Observation.value[x].system') as any).fixedUri).to.equal('http://unitsofmeasure.org');
  });

  it('children of a data type are unfolded from its base definition', () => {
    const s = byId('https://example.org/sd/Obs');
    expect(s.get('Observation.identifier.system')!.min).to.equal(1);
    expect(s.get('Observation.identifier.value')!.min).to.equal(0);
  });

  it('a slice is a copy of the sliced element after it, with its own constraints', () => {
    const elements = registry.snapshot('https://example.org/sd/Obs');
    const sliced = elements.findIndex((e) => e.id === 'Observation.category');
    const slice = elements.findIndex((e) => e.id === 'Observation.category:lab');
    expect(slice).to.be.greaterThan(sliced);
    expect(elements[slice]).to.include({ sliceName: 'lab', min: 1 });
    expect(elements[sliced].slicing!.rules).to.equal('open');
  });

  it('contentReference elements unfold the element they refer to', () => {
    expect(byId('https://example.org/sd/Q').get('Questionnaire.item.item.linkId')!.maxLength).to.equal(10);
  });

  it('a profile on a profile starts from its base profile\'s generated snapshot', () => {
    const s = byId('https://example.org/sd/ObsChild');
    expect((s.get('Observation.status') as any).fixedCode).to.equal('final');
    expect(s.get('Observation.value[x]')!.min).to.equal(1);
  });

  it('a differential element that matches nothing is an error naming it', () => {
    registry.add(profile('https://example.org/sd/Bad', 'Patient', [{ id: 'Patient.shoeSize', path: 'Patient.shoeSize' }]));
    expect(() => registry.snapshot('https://example.org/sd/Bad')).to.throw(/Patient\.shoeSize/);
  });

  it('the validator uses the generated snapshot: slices, patterns, choice types', async () => {
    const validator = new ProfileValidator(registry, NO_TERMINOLOGY);
    const base = { resourceType: 'Observation', status: 'final', code: { text: 'x' } } as any;
    const issues = await validator.validate({ ...base, valueString: 'high' }, ['https://example.org/sd/Obs']);
    const at = issues.filter((i) => i.severity === 'error').map((i) => `${i.code} ${i.expression![0]}`);
    expect(at).to.have.members(['structure Observation.valueString', 'required Observation.value', 'required Observation.category']);
    const ok = await validator.validate({ ...base, category: [{ coding: [{ system: 's', code: 'laboratory' }] }], valueQuantity: { value: 1, system: 'http://unitsofmeasure.org' } }, ['https://example.org/sd/Obs']);
    expect(ok.filter((i) => i.severity === 'error')).to.deep.equal([]);
  });

  it('a binding that cannot be checked is information, never an error', async () => {
    const validator = new ProfileValidator(registry, NO_TERMINOLOGY);
    const issues = await validator.validate({ resourceType: 'Patient', gender: 'female' } as any, ['http://hl7.org/fhir/StructureDefinition/Patient']);
    expect(issues.map((i) => i.severity)).to.include('information').and.not.include('error');
  });
});

describe('profiles: fixed and pattern values', () => {
  it('fixed is exact; pattern allows more, and repeating pattern items match some item', () => {
    expect(sameValue({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).to.equal(true);
    expect(sameValue({ a: 1, b: 2 }, { a: 1 })).to.equal(false);
    const pattern = { coding: [{ system: 's', code: 'c' }] };
    expect(matchesPattern({ coding: [{ system: 'x', code: 'y' }, { system: 's', code: 'c', display: 'C' }], text: 't' }, pattern)).to.equal(true);
    expect(matchesPattern({ coding: [{ system: 's', code: 'd' }] }, pattern)).to.equal(false);
  });
});

describe('profiles: IG_PATHS sources', () => {
  let dir: string;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'vertebra-ig-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a FHIR package .tgz (package/*.json, long names included), skipping examples and the manifest', () => {
    const root = join(dir, 'pkg');
    mkdirSync(join(root, 'package', 'example'), { recursive: true });
    const long = `StructureDefinition-${'x'.repeat(120)}.json`;
    writeFileSync(join(root, 'package', 'package.json'), JSON.stringify({ name: 'test.pkg', version: '1.0.0' }));
    writeFileSync(join(root, 'package', long), JSON.stringify(profile('https://example.org/sd/Long', 'Patient', [{ id: 'Patient.gender', path: 'Patient.gender', min: 1 }])));
    writeFileSync(join(root, 'package', 'ValueSet-v.json'), JSON.stringify({ resourceType: 'ValueSet', url: 'https://example.org/vs/v', status: 'active' }));
    writeFileSync(join(root, 'package', 'example', 'Patient-p.json'), JSON.stringify({ resourceType: 'Patient' }));
    const tgz = join(dir, 'test.pkg.tgz');
    execFileSync('tar', ['-czf', tgz, '-C', root, 'package']);
    const content = loadIgPaths([tgz]);
    expect(content.problems).to.deep.equal([]);
    expect(content.resources.map((r) => (r as any).url).sort()).to.deep.equal(['https://example.org/sd/Long', 'https://example.org/vs/v']);
  });

  it('reads folders recursively (JSON and XML), keeps conformance resources and reports unreadable files', () => {
    const folder = join(dir, 'folder', 'nested');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'vs.xml'), '<ValueSet xmlns="http://hl7.org/fhir"><url value="https://example.org/vs/x"/><status value="active"/></ValueSet>');
    writeFileSync(join(folder, 'example.xml'), '<Patient xmlns="http://hl7.org/fhir"><id value="p"/></Patient>');
    writeFileSync(join(folder, 'broken.json'), '{ not json');
    const content = loadIgPaths([join(dir, 'folder')]);
    expect(content.resources.map((r) => (r as any).url)).to.deep.equal(['https://example.org/vs/x']);
    expect(content.problems).to.have.length(1);
    expect(content.problems[0]).to.match(/broken\.json/);
  });

  it('readTar ignores what is not a regular file', () => {
    expect(readTar(Buffer.alloc(1024)).size).to.equal(0);
  });
});
