import { expect } from 'chai';
import { validateStructure } from '../../profiles/schema-validator.js';
import { dataset, nhsCheckDigit, nhsNumber, NHS_NUMBER_SYSTEM } from '../search/dataset.js';
import { searchCases } from '../search/cases.js';

/** The search conformance dataset must itself be valid R4 and synthetic, or every case is moot. */
describe('unit: search conformance dataset', () => {
  it('every resource passes structural validation against the R4 JSON schema', () => {
    const failures = dataset
      .map((r) => ({ id: `${r.resourceType}/${r.id}`, issues: validateStructure(r as unknown as Record<string, unknown>) }))
      .filter((f) => f.issues.length > 0)
      .map((f) => `${f.id}: ${f.issues.map((i) => i.diagnostics).join('; ')}`);
    expect(failures).to.deep.equal([]);
  });

  it('ids are unique and resources come after what they reference', () => {
    const seen = new Set<string>();
    for (const r of dataset) {
      const id = `${r.resourceType}/${r.id}`;
      expect(seen.has(id), `duplicate ${id}`).to.equal(false);
      const refs = [...JSON.stringify(r).matchAll(/"reference":"([A-Za-z]+\/[^"]+)"/g)].map((m) => m[1]);
      for (const ref of refs) expect(seen.has(ref) || ref === id, `${id} references ${ref} before it is loaded`).to.equal(true);
      seen.add(id);
    }
    expect(dataset.length).to.be.within(60, 120);
  });

  it('NHS numbers are valid modulus-11 numbers in the test ranges', () => {
    expect(nhsCheckDigit('900000000')).to.equal(9);
    expect(nhsCheckDigit('999000005')).to.equal(0); // 11 -> 0
    expect(nhsCheckDigit('999000000')).to.equal(undefined); // 10 -> no valid number
    expect(() => nhsNumber('999000000')).to.throw();
    for (const r of dataset) {
      for (const identifier of (r as { identifier?: { system?: string; value?: string }[] }).identifier ?? []) {
        if (identifier.system !== NHS_NUMBER_SYSTEM) continue;
        const value = identifier.value!;
        expect(value, `${r.resourceType}/${r.id}`).to.match(/^(999\d{7}|9000000009)$/);
        expect(nhsCheckDigit(value.slice(0, 9)), `${r.resourceType}/${r.id} ${value}`).to.equal(Number(value[9]));
      }
    }
  });

  it('every case names only dataset resources, and has a unique name and query', () => {
    const known = new Set(dataset.map((r) => `${r.resourceType}/${r.id}`));
    const labels = new Set<string>();
    for (const c of searchCases) {
      for (const id of [...c.expect, ...(c.include ?? [])]) expect(known.has(id), `${c.name}: ${id} is not in the dataset`).to.equal(true);
      const label = `${c.name}|${c.query}|${c.strict}|${c.post}`;
      expect(labels.has(label), `duplicate case ${label}`).to.equal(false);
      labels.add(label);
    }
  });
});
