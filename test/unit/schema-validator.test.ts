import { expect } from 'chai';
import { pointerToFhirPath, validateStructure } from '../../profiles/schema-validator.js';

describe('unit: structural validation against the R4 JSON schema', () => {
  it('turns JSON pointers into FHIRPath expressions', () => {
    expect(pointerToFhirPath('Patient', '')).to.equal('Patient');
    expect(pointerToFhirPath('Patient', '/name/0/given/1')).to.equal('Patient.name[0].given[1]');
    expect(pointerToFhirPath('Patient', '/name/0', 'nickname')).to.equal('Patient.name[0].nickname');
  });

  it('accepts a valid resource with primitive extensions and nested resources', () => {
    expect(validateStructure({
      resourceType: 'Bundle', type: 'collection',
      entry: [{ resource: { resourceType: 'Patient', birthDate: '1980', _birthDate: { extension: [{ url: 'urn:x', valueString: 'y' }] } } }],
    })).to.deep.equal([]);
    expect(validateStructure({ resourceType: 'Patient', name: [{ given: ['A', 'B'], _given: [null, { extension: [{ url: 'urn:x', valueString: 'y' }] }] }] })).to.deep.equal([]);
  });

  it('reports errors inside a bundle entry against the entry resource type', () => {
    const issues = validateStructure({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', gender: 'robot' } }] });
    expect(issues.map((i) => i.expression![0])).to.deep.equal(['Bundle.entry[0].resource.gender']);
  });

  it('rejects non-R4 resource types that the schema package also ships', () => {
    expect(validateStructure({ resourceType: 'SubscriptionStatus' })[0].code).to.equal('structure');
    expect(validateStructure({ resourceType: 'Project' })[0].code).to.equal('structure');
  });
});

describe('unit: required top-level elements the JSON schema cannot express', () => {
  it('a missing primitive (Observation.status) is reported once, with its path', () => {
    const issues = validateStructure({ resourceType: 'Observation' });
    expect(issues.map((i) => `${i.code} ${i.expression![0]}`).sort()).to.deep.equal(['required Observation.code', 'required Observation.status']);
  });

  it('a primitive present only as its extension (_status) satisfies the requirement', () => {
    const issues = validateStructure({ resourceType: 'Observation', code: { text: 'x' }, _status: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] } });
    expect(issues).to.deep.equal([]);
  });

  it('a required choice element is satisfied by any of its types, and named by its [x] name when absent', () => {
    const base = { resourceType: 'MedicationRequest', status: 'active', intent: 'order', subject: { reference: 'Patient/9000000009' } };
    expect(validateStructure({ ...base, medicationCodeableConcept: { text: 'x' } })).to.deep.equal([]);
    expect(validateStructure({ ...base, medicationReference: { reference: 'Medication/m1' } })).to.deep.equal([]);
    expect(validateStructure(base).map((i) => i.expression![0])).to.deep.equal(['MedicationRequest.medication[x]']);
  });
});

describe('unit: complex types and hostile depth', () => {
  it('a string or an array where a complex type belongs is a structure error', () => {
    const paths = (r: Record<string, unknown>) => validateStructure(r).map((i) => i.expression![0]);
    expect(paths({ resourceType: 'Patient', meta: 'x' })).to.deep.equal(['Patient.meta']);
    expect(paths({ resourceType: 'Patient', name: ['x'] })).to.deep.equal(['Patient.name[0]']);
    expect(paths({ resourceType: 'Patient', managingOrganization: 'Organization/1' })).to.deep.equal(['Patient.managingOrganization']);
  });

  it('JSON nested thousands of levels deep is refused without overflowing the stack', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 6000; i++) deep = [deep];
    const issues = validateStructure({ resourceType: 'Patient', extension: deep });
    expect(issues).to.have.length(1);
    expect(issues[0].diagnostics).to.contain('levels deep');
  });
});
