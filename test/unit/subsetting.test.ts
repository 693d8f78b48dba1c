import { expect } from 'chai';
import type { Resource } from 'fhir/r4.js';
import { parseSubsetting, subset } from '../../resources/subsetting.js';

const observation = {
  resourceType: 'Observation', id: 'o', meta: { versionId: '1' }, text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">x</div>' },
  status: 'final', code: { text: 'bp' }, note: [{ text: 'not a summary element' }], valueQuantity: { value: 1 }, _status: { id: 's' },
} as unknown as Resource;

describe('unit: _summary and _elements', () => {
  it('_summary=true keeps summary and mandatory elements, drops the rest', () => {
    const out = subset(observation, { summary: 'true' }) as any;
    expect(out.status).to.equal('final');
    expect(out._status).to.deep.equal({ id: 's' });
    expect(out.valueQuantity).to.deep.equal({ value: 1 });
    expect(out.note).to.equal(undefined);
    expect(out.text).to.equal(undefined);
  });

  it('does not change its input and replaces rather than duplicates the SUBSETTED tag', () => {
    const once = subset(observation, { elements: ['note'] });
    const twice = subset(once, { elements: ['note'] });
    expect(twice.meta!.tag).to.have.length(1);
    expect((observation as any).meta.tag).to.equal(undefined);
  });

  it('parses and checks the parameters', () => {
    expect(parseSubsetting({ _summary: 'data' })).to.deep.equal({ summary: 'data' });
    expect(parseSubsetting({ _elements: 'a, b,,c' })).to.deep.equal({ elements: ['a', 'b', 'c'] });
    expect(() => parseSubsetting({ _summary: 'all' })).to.throw(/_summary/);
    expect(() => parseSubsetting({ _summary: 'true', _elements: 'a' })).to.throw(/cannot be combined/);
    expect(() => parseSubsetting({ _summary: ['true', 'data'] })).to.throw(/only once/);
  });
});
