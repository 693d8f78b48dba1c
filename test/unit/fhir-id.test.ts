import { expect } from 'chai';
import { FHIR_ID, FHIR_ID_SOURCE, referencedId } from '../../fhir/id.js';

describe('FHIR id syntax (fhir/id.ts)', () => {
  it('takes 1 to 64 letters, digits, - and .', () => {
    for (const id of ['a', 'A-1.b', '9000000009', 'x'.repeat(64)]) expect(FHIR_ID.test(id), id).to.equal(true);
    for (const id of ['', 'x'.repeat(65), 'a_b', 'a/b', 'a b', 'é']) expect(FHIR_ID.test(id), id).to.equal(false);
  });

  it('gives the source text for larger patterns', () => {
    expect(new RegExp(`^Patient/${FHIR_ID_SOURCE}$`).test('Patient/1.2-x')).to.equal(true);
  });

  it('finds the id of a reference to a given type, relative or at the end of an absolute URL', () => {
    expect(referencedId('Organization/Y12345', 'Organization')).to.equal('Y12345');
    expect(referencedId('https://example.org/fhir/Organization/A1', 'Organization')).to.equal('A1');
    expect(referencedId('Patient/1', 'Organization')).to.equal(undefined);
    expect(referencedId('XOrganization/1', 'Organization')).to.equal(undefined);
    expect(referencedId('Organization/1/_history/2', 'Organization')).to.equal(undefined);
    expect(referencedId(undefined, 'Organization')).to.equal(undefined);
  });
});
