import { expect } from 'chai';
import { checkCharacter, generateShortId, isUuid, isValidShortId, shortIdProblem, generateLongId } from '../../resources/medication-request/prescription-id.js';

describe('EPS prescription ids (ISO 7064 MOD 37-2 with +)', () => {
  it('accepts the published example short id and computes its check character', () => {
    expect(isValidShortId('24F5DA-A83008-7EFE6Z')).to.equal(true);
    expect(checkCharacter('24F5DA-A83008-7EFE6')).to.equal('Z');
  });

  it('refuses a wrong check character and a malformed id, telling which', () => {
    expect(shortIdProblem('24F5DA-A83008-7EFE6Y')).to.equal('check');
    expect(shortIdProblem('24F5DA-A83008-7EFE6')).to.equal('format');
    expect(shortIdProblem('24f5da-A83008-7EFE6Z')).to.equal('format');
    expect(shortIdProblem('24F5DAA83008-7EFE6Z')).to.equal('format');
  });

  it('every single-character change of a valid id is detected', () => {
    const id = '24F5DA-A83008-7EFE6Z';
    const symbols = '0123456789ABCDEF';
    for (let i = 0; i < id.length; i++) {
      if (id[i] === '-' || i === id.length - 1) continue;
      for (const s of symbols) {
        if (s === id[i]) continue;
        const changed = id.slice(0, i) + s + id.slice(i + 1);
        expect(isValidShortId(changed), changed).to.equal(false);
      }
    }
  });

  it('uses + as the 37th check symbol', () => {
    // Search bodies until one needs the 37th symbol; MOD 37-2 reaches every check value.
    let found: string | undefined;
    for (let n = 0; n < 100_000 && !found; n++) {
      const body = `${n.toString(16).toUpperCase().padStart(6, '0')}-A83008-00000`;
      if (checkCharacter(body) === '+') found = body + '+';
    }
    expect(found).to.be.a('string');
    expect(isValidShortId(found!)).to.equal(true);
  });

  it('generates valid ids carrying the zero-padded prescriber ODS code', () => {
    for (let i = 0; i < 500; i++) {
      const id = generateShortId('A83008');
      expect(isValidShortId(id), id).to.equal(true);
      expect(id.slice(7, 13)).to.equal('A83008');
    }
    expect(generateShortId('y90').slice(7, 13)).to.equal('000Y90');
    expect(() => generateShortId('TOOLONGCODE')).to.throw(RangeError);
  });

  it('long-form and line item ids are UUIDs', () => {
    expect(isUuid(generateLongId())).to.equal(true);
    expect(isUuid('a5b9dc81-ccf4-4dab-b887-3d88e557febb')).to.equal(true);
    expect(isUuid('not-a-uuid')).to.equal(false);
  });
});
