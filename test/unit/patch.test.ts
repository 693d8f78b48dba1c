import { expect } from 'chai';
import type { Patient, Resource } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { applyPatch } from '../../resources/patch/index.js';
import { thrownFhirError } from '../support/fhir-errors.js';

function patient(): Patient {
  return {
    resourceType: 'Patient',
    id: 'pat-1',
    meta: { versionId: '3', lastUpdated: '2024-05-01T10:00:00Z' },
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: '9990000018' }],
    name: [
      { use: 'official', family: 'Testperson', given: ['Alexa', 'Jo'], _given: [null, { extension: [{ url: 'https://example.org/x', valueString: 'y' }] }] },
      { use: 'nickname', given: ['Lex'] },
    ],
    telecom: [
      { system: 'phone', value: '01632 960000' },
      { system: 'email', value: 'alexa@example.org' },
    ],
    gender: 'female',
    birthDate: '1980-01-02',
    _birthDate: { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/patient-birthTime', valueDateTime: '1980-01-02T10:15:00Z' }] },
    deceasedBoolean: false,
    maritalStatus: { text: 'Single' },
  } as Patient;
}

const failure = thrownFhirError;

// ---------------------------------------------------------------------------------------------

describe('unit: JSON Patch (RFC 6902)', () => {
  const jp = (resource: Resource, operations: unknown) => applyPatch(resource, { kind: 'json-patch', operations });

  it('add: a new member, an array item at an index, and "-" to append', () => {
    const input = patient();
    const out = jp(input, [
      { op: 'add', path: '/active', value: true },
      { op: 'add', path: '/telecom/0', value: { system: 'sms', value: '07700 900000' } },
      { op: 'add', path: '/telecom/-', value: { system: 'fax', value: '01632 960001' } },
      { op: 'add', path: '/name/1/given/1', value: 'Lexi' },
    ]) as Patient;
    expect(out.active).to.equal(true);
    expect(out.telecom!.map((t) => t.system)).to.deep.equal(['sms', 'phone', 'email', 'fax']);
    expect(out.name![1].given).to.deep.equal(['Lex', 'Lexi']);
    expect(input).to.deep.equal(patient());
  });

  it('add on an existing member replaces it; add at index == length appends', () => {
    const out = jp(patient(), [
      { op: 'add', path: '/gender', value: 'male' },
      { op: 'add', path: '/telecom/2', value: { system: 'url', value: 'https://example.org' } },
    ]) as Patient;
    expect(out.gender).to.equal('male');
    expect(out.telecom).to.have.length(3);
  });

  it('remove: a member and an array item', () => {
    const out = jp(patient(), [
      { op: 'remove', path: '/maritalStatus' },
      { op: 'remove', path: '/telecom/0' },
    ]) as Patient;
    expect(out).not.to.have.property('maritalStatus');
    expect(out.telecom).to.deep.equal([{ system: 'email', value: 'alexa@example.org' }]);
  });

  it('replace: a member, an array item and a nested value', () => {
    const out = jp(patient(), [
      { op: 'replace', path: '/birthDate', value: '1981-03-04' },
      { op: 'replace', path: '/name/0/given/0', value: 'Alex' },
      { op: 'replace', path: '/telecom/1', value: { system: 'email', value: 'new@example.org' } },
    ]) as Patient;
    expect(out.birthDate).to.equal('1981-03-04');
    expect(out.name![0].given).to.deep.equal(['Alex', 'Jo']);
    expect(out.telecom![1].value).to.equal('new@example.org');
  });

  it('move: between members and within an array (the destination is judged after the removal)', () => {
    const out = jp(patient(), [
      { op: 'move', from: '/telecom/0', path: '/telecom/1' },
      { op: 'move', from: '/maritalStatus/text', path: '/name/1/text' },
    ]) as Patient;
    expect(out.telecom!.map((t) => t.system)).to.deep.equal(['email', 'phone']);
    expect(out.name![1].text).to.equal('Single');
    expect(out.maritalStatus).to.deep.equal({});
    const err = failure(() => jp(patient(), [{ op: 'move', from: '/telecom/0', path: '/telecom/2' }]));
    expect(err.status).to.equal(422);
  });

  it('copy: a value to a new place, deep-copied', () => {
    const out = jp(patient(), [
      { op: 'copy', from: '/telecom/0', path: '/telecom/-' },
      { op: 'replace', path: '/telecom/2/value', value: '01632 960999' },
    ]) as Patient;
    expect(out.telecom![0].value).to.equal('01632 960000');
    expect(out.telecom![2]).to.deep.equal({ system: 'phone', value: '01632 960999' });
  });

  it('test: passes on deep equality, and a failed test is a 422 that leaves nothing applied', () => {
    const input = patient();
    const ok = jp(input, [
      { op: 'test', path: '/telecom/0', value: { value: '01632 960000', system: 'phone' } },
      { op: 'replace', path: '/gender', value: 'male' },
    ]) as Patient;
    expect(ok.gender).to.equal('male');
    const err = failure(() => jp(input, [
      { op: 'replace', path: '/gender', value: 'male' },
      { op: 'test', path: '/birthDate', value: '1999-01-01' },
    ]));
    expect(err.status).to.equal(422);
    expect(err.message).to.match(/test failed/);
    expect(input).to.deep.equal(patient());
    expect(failure(() => jp(input, [{ op: 'test', path: '/active', value: true }])).status).to.equal(422);
  });

  it('~0 and ~1 escapes in pointers', () => {
    const input = { resourceType: 'Basic', id: 'b', 'a/b': 1, 'm~n': 2 } as unknown as Resource;
    const out = jp(input, [
      { op: 'replace', path: '/a~1b', value: 10 },
      { op: 'replace', path: '/m~0n', value: 20 },
      { op: 'add', path: '/x~01', value: 30 },
    ]) as unknown as Record<string, unknown>;
    expect(out['a/b']).to.equal(10);
    expect(out['m~n']).to.equal(20);
    expect(out['x~1']).to.equal(30);
  });

  it('is atomic: a failing later operation leaves the input unchanged and returns nothing', () => {
    const input = patient();
    const err = failure(() => jp(input, [
      { op: 'remove', path: '/telecom/0' },
      { op: 'add', path: '/active', value: true },
      { op: 'remove', path: '/nosuchthing' },
    ]));
    expect(err.status).to.equal(422);
    expect(input).to.deep.equal(patient());
  });

  it('never mutates the input, even for nested values it copies or adds', () => {
    const input = patient();
    const value = { system: 'sms', value: '1' };
    const out = jp(input, [{ op: 'add', path: '/telecom/-', value }]) as Patient;
    out.telecom![2].value = 'changed';
    out.name![0].given!.push('X');
    expect(value.value).to.equal('1');
    expect(input).to.deep.equal(patient());
  });

  it('400 for a malformed document', () => {
    const bad: unknown[] = [
      { op: 'add', path: '/active', value: true }, // not an array
      [{ op: 'frobnicate', path: '/active' }],
      [{ path: '/active', value: true }],
      [{ op: 'add', value: true }],
      [{ op: 'add', path: '/active' }],
      [{ op: 'replace', path: '/gender' }],
      [{ op: 'test', path: '/gender' }],
      [{ op: 'move', path: '/gender' }],
      [{ op: 'copy', path: '/gender', from: 7 }],
      [{ op: 'remove', path: 'gender' }],
      [{ op: 'remove', path: '/name/~2' }],
      [{ op: 'remove', path: '/name/~' }],
      [{ op: 'remove', path: 42 }],
      ['remove /gender'],
    ];
    for (const doc of bad) {
      const err = failure(() => jp(patient(), doc));
      expect(err.status, JSON.stringify(doc)).to.equal(400);
    }
  });

  it('422 for paths that do not exist and indices out of range or not numeric', () => {
    const bad: unknown[] = [
      [{ op: 'remove', path: '/active' }],
      [{ op: 'replace', path: '/active', value: true }],
      [{ op: 'remove', path: '/telecom/2' }],
      [{ op: 'replace', path: '/telecom/2', value: {} }],
      [{ op: 'add', path: '/telecom/3', value: {} }],
      [{ op: 'remove', path: '/telecom/-' }],
      [{ op: 'remove', path: '/telecom/01' }],
      [{ op: 'replace', path: '/telecom/x', value: {} }],
      [{ op: 'remove', path: '/name/length' }],
      [{ op: 'test', path: '/name/length', value: 2 }],
      [{ op: 'remove', path: '/toString' }],
      [{ op: 'add', path: '/nosuch/child', value: 1 }],
      [{ op: 'add', path: '/birthDate/x', value: 1 }],
      [{ op: 'copy', from: '/nosuch', path: '/x' }],
      [{ op: 'move', from: '/name', path: '/name/0/x' }],
      [{ op: 'replace', path: '', value: { resourceType: 'Patient' } }],
      [{ op: 'remove', path: '' }],
    ];
    for (const doc of bad) {
      const err = failure(() => jp(patient(), doc));
      expect(err.status, JSON.stringify(doc)).to.equal(422);
    }
  });

  it('rejects prototype-polluting pointers with 400 and pollutes nothing', () => {
    for (const path of ['/__proto__/polluted', '/constructor/prototype/polluted', '/name/0/__proto__', '/meta/constructor']) {
      const err = failure(() => jp(patient(), [{ op: 'add', path, value: 'yes' }]));
      expect(err.status, path).to.equal(400);
    }
    expect(failure(() => jp(patient(), [{ op: 'copy', from: '/__proto__', path: '/x' }])).status).to.equal(400);
    // A value carrying a __proto__ member is plain data and changes no prototype.
    const value = JSON.parse('{"__proto__": {"polluted": "yes"}, "system": "phone"}');
    const out = jp(patient(), [{ op: 'add', path: '/telecom/-', value }]) as Patient;
    expect(out.telecom).to.have.length(3);
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
    expect((Object.prototype as Record<string, unknown>).polluted).to.equal(undefined);
  });

  it('an empty document returns an equal copy', () => {
    const input = patient();
    const out = jp(input, []);
    expect(out).to.deep.equal(input);
    expect(out).not.to.equal(input);
  });
});

// ---------------------------------------------------------------------------------------------

type Part = Record<string, unknown>;
const op = (type: string, path: string, ...parts: Part[]) => ({
  name: 'operation',
  part: [{ name: 'type', valueCode: type }, { name: 'path', valueString: path }, ...parts],
});
const params = (...operations: unknown[]) => ({ resourceType: 'Parameters', parameter: operations });
const fp = (resource: Resource, parameters: unknown) => applyPatch(resource, { kind: 'fhirpath-patch', parameters }) as Patient;

describe('unit: FHIRPath Patch', () => {
  describe('add', () => {
    it('adds a telecom to the patient (appended to the list)', () => {
      const input = patient();
      const out = fp(input, params(op('add', 'Patient', { name: 'name', valueString: 'telecom' },
        { name: 'value', valueContactPoint: { system: 'sms', value: '07700 900000' } })));
      expect(out.telecom!.map((t) => t.system)).to.deep.equal(['phone', 'email', 'sms']);
      expect(input).to.deep.equal(patient());
    });

    it('creates the list when the repeating element is absent', () => {
      const input = patient();
      delete input.telecom;
      const out = fp(input, params(op('add', 'Patient', { name: 'name', valueString: 'telecom' },
        { name: 'value', valueContactPoint: { system: 'sms', value: '1' } })));
      expect(out.telecom).to.deep.equal([{ system: 'sms', value: '1' }]);
    });

    it('adds a non-repeating element that is absent (the spec example: birthDate)', () => {
      const input = patient();
      delete input.birthDate;
      delete input._birthDate;
      const out = fp(input, params(op('add', 'Patient', { name: 'name', valueString: 'birthDate' }, { name: 'value', valueDate: '1930-01-01' })));
      expect(out.birthDate).to.equal('1930-01-01');
    });

    it('422 when a non-repeating element already has a value', () => {
      const err = failure(() => fp(patient(), params(op('add', 'Patient', { name: 'name', valueString: 'birthDate' }, { name: 'value', valueDate: '1930-01-01' }))));
      expect(err.status).to.equal(422);
    });

    it('builds a complex value from nested parts (the spec example: a contact)', () => {
      const out = fp(patient(), params(op('add', 'Patient', { name: 'name', valueString: 'contact' }, {
        name: 'value',
        part: [
          { name: 'name', valueHumanName: { text: 'a name' } },
          { name: 'telecom', valueContactPoint: { system: 'phone', value: '01632 960123' } },
          { name: 'relationship', part: [{ name: 'text', valueString: 'Neighbour' }] },
        ],
      })));
      // telecom and relationship repeat in Patient.contact, name does not: the model decides.
      expect(out.contact).to.deep.equal([{
        name: { text: 'a name' },
        telecom: [{ system: 'phone', value: '01632 960123' }],
        relationship: [{ text: 'Neighbour' }],
      }]);
    });

    it('names a choice element by the value type (deceased → deceasedDateTime) and refuses a second', () => {
      const input = patient();
      delete input.deceasedBoolean;
      const out = fp(input, params(op('add', 'Patient', { name: 'name', valueString: 'deceased' }, { name: 'value', valueDateTime: '2024-01-01' })));
      expect(out.deceasedDateTime).to.equal('2024-01-01');
      const err = failure(() => fp(patient(), params(op('add', 'Patient', { name: 'name', valueString: 'deceased' }, { name: 'value', valueDateTime: '2024-01-01' }))));
      expect(err.status).to.equal(422);
    });

    it('adds into a nested element and an extension to a primitive (into its _ twin)', () => {
      const out = fp(patient(), params(
        op('add', "Patient.name.where(use='nickname')", { name: 'name', valueString: 'family' }, { name: 'value', valueString: 'Testperson' }),
        op('add', 'Patient.gender', { name: 'name', valueString: 'extension' }, {
          name: 'value', part: [{ name: 'url', valueUri: 'https://example.org/g' }, { name: 'value', valueString: 'note' }],
        }),
      ));
      expect(out.name![1]).to.deep.equal({ use: 'nickname', given: ['Lex'], family: 'Testperson' });
      expect(out.gender).to.equal('female');
      expect(out._gender).to.deep.equal({ extension: [{ url: 'https://example.org/g', valueString: 'note' }] });
    });

    it('422 when the path matches no element or several', () => {
      const value = { name: 'value', valueString: 'x' };
      const name = { name: 'name', valueString: 'text' };
      expect(failure(() => fp(patient(), params(op('add', "Patient.name.where(use='old')", name, value)))).status).to.equal(422);
      expect(failure(() => fp(patient(), params(op('add', 'Patient.name', name, value)))).status).to.equal(422);
    });

    it('422 for a primitive where a complex type belongs, and for a member a primitive lacks', () => {
      expect(failure(() => fp(patient(), params(op('add', 'Patient', { name: 'name', valueString: 'address' }, { name: 'value', valueString: '1 High St' })))).status).to.equal(422);
      expect(failure(() => fp(patient(), params(op('add', 'Patient.gender', { name: 'name', valueString: 'text' }, { name: 'value', valueString: 'x' })))).status).to.equal(422);
    });
  });

  describe('insert', () => {
    it('inserts a name at index 0', () => {
      const out = fp(patient(), params(op('insert', 'Patient.name', { name: 'index', valueInteger: 0 },
        { name: 'value', valueHumanName: { use: 'maiden', family: 'Oldname' } })));
      expect(out.name!.map((n) => n.use)).to.deep.equal(['maiden', 'official', 'nickname']);
    });

    it('inserts at the end (index == length) and into an absent list', () => {
      const out = fp(patient(), params(
        op('insert', 'Patient.telecom', { name: 'index', valueInteger: 2 }, { name: 'value', valueContactPoint: { system: 'sms', value: '1' } }),
        op('insert', 'Patient.address', { name: 'index', valueInteger: 0 }, { name: 'value', valueAddress: { city: 'Leeds' } }),
      ));
      expect(out.telecom!.map((t) => t.system)).to.deep.equal(['phone', 'email', 'sms']);
      expect(out.address).to.deep.equal([{ city: 'Leeds' }]);
    });

    it('keeps primitive extensions in step when inserting into a primitive list', () => {
      const out = fp(patient(), params(op('insert', 'Patient.name[0].given', { name: 'index', valueInteger: 1 }, { name: 'value', valueString: 'Middle' })));
      expect(out.name![0].given).to.deep.equal(['Alexa', 'Middle', 'Jo']);
      expect(out.name![0]._given).to.deep.equal([null, null, patient().name![0]._given![1]]);
    });

    it('422 for an index out of range, a path matching several lists, and a non-repeating element', () => {
      const value = { name: 'value', valueString: 'X' };
      expect(failure(() => fp(patient(), params(op('insert', 'Patient.telecom', { name: 'index', valueInteger: 3 }, { name: 'value', valueContactPoint: {} })))).status).to.equal(422);
      expect(failure(() => fp(patient(), params(op('insert', 'Patient.name.given', { name: 'index', valueInteger: 0 }, value)))).status).to.equal(422);
      expect(failure(() => fp(patient(), params(op('insert', 'Patient.gender', { name: 'index', valueInteger: 0 }, { name: 'value', valueCode: 'male' })))).status).to.equal(422);
    });

    it('400 when the path does not end in an element name', () => {
      const err = failure(() => fp(patient(), params(op('insert', 'Patient.name.first()', { name: 'index', valueInteger: 0 }, { name: 'value', valueHumanName: {} }))));
      expect(err.status).to.equal(400);
    });
  });

  describe('delete', () => {
    it("deletes Patient.telecom.where(system='phone')", () => {
      const input = patient();
      const out = fp(input, params(op('delete', "Patient.telecom.where(system='phone')")));
      expect(out.telecom).to.deep.equal([{ system: 'email', value: 'alexa@example.org' }]);
      expect(input.telecom).to.have.length(2);
    });

    it('deletes a single element, a choice element, and removes a list it empties', () => {
      const out = fp(patient(), params(
        op('delete', 'Patient.birthDate'),
        op('delete', 'Patient.deceased'),
        op('delete', 'Patient.identifier'),
      ));
      expect(out).not.to.have.any.keys('birthDate', '_birthDate', 'deceasedBoolean', 'identifier');
    });

    it('matching nothing is not an error', () => {
      const input = patient();
      expect(fp(input, params(op('delete', "Patient.telecom.where(system='fax')")))).to.deep.equal(input);
    });

    it('keeps primitive extensions in step, and removes elements the deletion left empty', () => {
      const out = fp(patient(), params(
        op('delete', "Patient.name[0].given[0]"),
        op('delete', 'Patient.maritalStatus.text'),
        op('delete', 'Patient.birthDate.extension'),
      ));
      expect(out.name![0].given).to.deep.equal(['Jo']);
      expect(out.name![0]._given).to.deep.equal([patient().name![0]._given![1]]);
      expect(out).not.to.have.property('maritalStatus');
      expect(out.birthDate).to.equal('1980-01-02');
      expect(out).not.to.have.property('_birthDate');
    });

    it('422 when the path matches several elements or the resource itself', () => {
      expect(failure(() => fp(patient(), params(op('delete', 'Patient.telecom')))).status).to.equal(422);
      expect(failure(() => fp(patient(), params(op('delete', 'Patient')))).status).to.equal(422);
    });
  });

  describe('replace', () => {
    it('replaces Patient.birthDate (its extensions go with the old value)', () => {
      const out = fp(patient(), params(op('replace', 'Patient.birthDate', { name: 'value', valueDate: '1930-01-01' })));
      expect(out.birthDate).to.equal('1930-01-01');
      expect(out).not.to.have.property('_birthDate');
    });

    it('replaces a complex element, Patient.name[0], with a value built from nested parts', () => {
      const out = fp(patient(), params(op('replace', 'Patient.name[0]', {
        name: 'value',
        part: [
          { name: 'use', valueCode: 'official' },
          { name: 'family', valueString: 'Newname' },
          { name: 'given', valueString: 'Alexa' },
          { name: 'given', valueString: 'Josephine' },
          { name: 'period', part: [{ name: 'start', valueDateTime: '2024-01-01' }] },
        ],
      })));
      expect(out.name![0]).to.deep.equal({ use: 'official', family: 'Newname', given: ['Alexa', 'Josephine'], period: { start: '2024-01-01' } });
      expect(out.name![0]).not.to.have.property('_given');
      expect(out.name![1]).to.deep.equal(patient().name![1]);
    });

    it('replaces a list item found by where(), a primitive list item, and a choice element with another type', () => {
      const out = fp(patient(), params(
        op('replace', "Patient.telecom.where(system='email').value", { name: 'value', valueString: 'new@example.org' }),
        op('replace', 'Patient.name[0].given[1]', { name: 'value', valueString: 'Joanna' }),
        op('replace', 'Patient.deceased', { name: 'value', valueDateTime: '2024-02-03' }),
      ));
      expect(out.telecom![1]).to.deep.equal({ system: 'email', value: 'new@example.org' });
      expect(out.name![0].given).to.deep.equal(['Alexa', 'Joanna']);
      expect(out.name![0]).not.to.have.property('_given');
      expect(out).not.to.have.property('deceasedBoolean');
      expect(out.deceasedDateTime).to.equal('2024-02-03');
    });

    it('422 when the path matches no element, several, or the value is of the wrong kind', () => {
      const value = { name: 'value', valueString: 'x' };
      expect(failure(() => fp(patient(), params(op('replace', 'Patient.active', value)))).status).to.equal(422);
      expect(failure(() => fp(patient(), params(op('replace', 'Patient.telecom.value', value)))).status).to.equal(422);
      expect(failure(() => fp(patient(), params(op('replace', 'Patient.maritalStatus', value)))).status).to.equal(422);
      expect(failure(() => fp(patient(), params(op('replace', 'Patient', { name: 'value', resource: { resourceType: 'Patient' } })))).status).to.equal(422);
    });
  });

  describe('move', () => {
    it('moves names within the list', () => {
      const out = fp(patient(), params(op('move', 'Patient.name', { name: 'source', valueInteger: 1 }, { name: 'destination', valueInteger: 0 })));
      expect(out.name!.map((n) => n.use)).to.deep.equal(['nickname', 'official']);
    });

    it('moves primitive list items together with their extensions', () => {
      const out = fp(patient(), params(op('move', 'Patient.name[0].given', { name: 'source', valueInteger: 0 }, { name: 'destination', valueInteger: 1 })));
      expect(out.name![0].given).to.deep.equal(['Jo', 'Alexa']);
      expect(out.name![0]._given).to.deep.equal([patient().name![0]._given![1], null]);
    });

    it('422 for an index out of range', () => {
      expect(failure(() => fp(patient(), params(op('move', 'Patient.name', { name: 'source', valueInteger: 2 }, { name: 'destination', valueInteger: 0 })))).status).to.equal(422);
      expect(failure(() => fp(patient(), params(op('move', 'Patient.name', { name: 'source', valueInteger: 0 }, { name: 'destination', valueInteger: 2 })))).status).to.equal(422);
    });
  });

  it('works on numbers (fhirpath.js wraps them) and on other resource types', () => {
    const obs = {
      resourceType: 'Observation', id: 'o', status: 'final', code: { text: 'BP' },
      valueQuantity: { value: 120, unit: 'mmHg' },
      component: [{ code: { text: 'a' }, valueInteger: 1 }, { code: { text: 'b' }, valueInteger: 2 }],
    } as Resource;
    const out = applyPatch(obs, { kind: 'fhirpath-patch', parameters: params(
      op('replace', 'Observation.valueQuantity.value', { name: 'value', valueDecimal: 121.5 }),
      op('delete', 'Observation.component[0].value'),
      op('replace', "Observation.component.where(code.text='b').value", { name: 'value', valueString: 'two' }),
    ) }) as unknown as Record<string, any>;
    expect(out.valueQuantity).to.deep.equal({ value: 121.5, unit: 'mmHg' });
    expect(out.component).to.deep.equal([{ code: { text: 'a' } }, { code: { text: 'b' }, valueString: 'two' }]);
  });

  it('applies operations in order, atomically: a later failure leaves the input unchanged', () => {
    const input = patient();
    const ok = fp(input, params(
      op('insert', 'Patient.name', { name: 'index', valueInteger: 0 }, { name: 'value', valueHumanName: { family: 'First' } }),
      op('replace', 'Patient.name[0].family', { name: 'value', valueString: 'Second' }),
    ));
    expect(ok.name![0].family).to.equal('Second');
    const err = failure(() => fp(input, params(
      op('delete', 'Patient.telecom[0]'),
      op('replace', 'Patient.birthDate', { name: 'value', valueDate: '2000-01-01' }),
      op('replace', 'Patient.active', { name: 'value', valueBoolean: true }),
    )));
    expect(err.status).to.equal(422);
    expect(err.issues[0].expression).to.deep.equal(['Parameters.parameter[2]']);
    expect(input).to.deep.equal(patient());
  });

  it('never mutates the input or the Parameters values', () => {
    const input = patient();
    const body = params(op('add', 'Patient', { name: 'name', valueString: 'telecom' }, { name: 'value', valueContactPoint: { system: 'sms', value: '1' } }));
    const before = JSON.parse(JSON.stringify(body));
    const out = fp(input, body);
    out.telecom![2].value = 'changed';
    expect(body).to.deep.equal(before);
    expect(input).to.deep.equal(patient());
  });

  it('400 for malformed Parameters', () => {
    const bad: unknown[] = [
      [{ op: 'add' }],
      { resourceType: 'Patient' },
      { resourceType: 'Parameters', parameter: {} },
      params({ name: 'op', part: [] }),
      params({ name: 'operation' }),
      params({ name: 'operation', part: [{ name: 'path', valueString: 'Patient' }] }),
      params(op('frobnicate', 'Patient')),
      params(op('add', 'Patient', { name: 'value', valueString: 'x' })),
      params(op('add', 'Patient', { name: 'name', valueString: 'x' })),
      params(op('add', 'Patient', { name: 'name', valueString: 'bad name' }, { name: 'value', valueString: 'x' })),
      params(op('add', 'Patient', { name: 'name', valueString: 'x' }, { name: 'value' })),
      params(op('add', 'Patient', { name: 'name', valueString: 'x' }, { name: 'value', valueString: 'a', valueInteger: 1 })),
      params(op('insert', 'Patient.name', { name: 'value', valueHumanName: {} })),
      params(op('insert', 'Patient.name', { name: 'index', valueInteger: -1 }, { name: 'value', valueHumanName: {} })),
      params(op('insert', 'Patient.name', { name: 'index', valueString: '0' }, { name: 'value', valueHumanName: {} })),
      params(op('move', 'Patient.name', { name: 'source', valueInteger: 0 })),
      params(op('delete', 'Patient.name.where(')),
      params(op('delete', 'Patient', { name: 'bogus', valueString: 'x' })),
      params(op('delete', 'Patient', { name: 'path', valueString: 'Patient' })),
      params({ name: 'operation', part: [{ name: 'type', valueCode: 'delete' }, { name: 'path', valueString: '' }] }),
    ];
    for (const body of bad) {
      const err = failure(() => fp(patient(), body));
      expect(err.status, JSON.stringify(body)).to.equal(400);
    }
  });

  it('an empty Parameters resource returns an equal copy', () => {
    const input = patient();
    const out = fp(input, { resourceType: 'Parameters' });
    expect(out).to.deep.equal(input);
    expect(out).not.to.equal(input);
  });

  it('cannot write outside the resource or to a prototype', () => {
    const name = { name: 'name', valueString: 'polluted' };
    const value = { name: 'value', valueString: 'yes' };
    // Spelled plainly, the forbidden names are refused outright.
    expect(failure(() => fp(patient(), params(op('add', 'Patient.__proto__', name, value)))).status).to.equal(400);
    expect(failure(() => fp(patient(), params(op('add', 'Patient', { name: 'name', valueString: 'constructor' }, value)))).status).to.equal(400);
    expect(failure(() => fp(patient(), params(op('add', 'Patient', { name: 'name', valueString: 'x' }, {
      name: 'value', part: [{ name: '__proto__', valueString: 'x' }],
    })))).status).to.equal(400);
    // Spelled with escapes, they get past the text check but are not elements of the resource.
    for (const path of ['Patient.`\\u005f_proto__`', 'Patient.name.first().`\\u0063onstructor`']) {
      const err = failure(() => fp(patient(), params(op('add', path, name, value))));
      expect(err.status, path).to.equal(422);
    }
    // Literals and computed values are not elements of the resource.
    expect(failure(() => fp(patient(), params(op('add', "'text'", name, value)))).status).to.equal(422);
    expect(failure(() => fp(patient(), params(op('replace', "Patient.name.first().family.upper()", value)))).status).to.equal(422);
    expect(failure(() => fp(patient(), params(op('delete', '%factory.string(\'x\')')))).status).to.be.oneOf([400, 422]);
    expect((Object.prototype as Record<string, unknown>).polluted).to.equal(undefined);
    expect((Object.prototype as Record<string, unknown>)._polluted).to.equal(undefined);
  });

  it('refuses resolve(), which would leave the resource', () => {
    const input = { ...patient(), managingOrganization: { reference: 'Organization/o1' } } as Patient;
    const err = failure(() => fp(input, params(op('delete', 'Patient.managingOrganization.resolve().name'))));
    expect(err.status).to.be.oneOf([400, 422]);
  });
});

describe('unit: client FHIRPath never writes to the server output', () => {
  it('trace() in a FHIRPath Patch path is silent', () => {
    const logged: unknown[] = [];
    const original = console.log;
    console.log = (...args: unknown[]) => { logged.push(args); };
    try {
      const patched = applyPatch({ resourceType: 'Patient', id: 'x', gender: 'male' } as Resource, {
        kind: 'fhirpath-patch',
        parameters: { resourceType: 'Parameters', parameter: [{ name: 'operation', part: [
          { name: 'type', valueCode: 'replace' }, { name: 'path', valueString: "Patient.gender.trace('LEAK')" }, { name: 'value', valueCode: 'female' },
        ] }] },
      }) as Patient;
      expect(patched.gender).to.equal('female');
    } finally {
      console.log = original;
    }
    expect(logged).to.deep.equal([]);
  });
});
