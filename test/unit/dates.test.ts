import { expect } from 'chai';
import { dateBounds } from '../../search/dates.js';

const iso = (ms: number) => new Date(ms).toISOString();

describe('unit: FHIR date precision as ranges', () => {
  it('a year covers the whole year', () => {
    const b = dateBounds('2020')!;
    expect(iso(b.low)).to.equal('2020-01-01T00:00:00.000Z');
    expect(iso(b.high)).to.equal('2020-12-31T23:59:59.999Z');
  });

  it('a month covers the month, leap years included', () => {
    const b = dateBounds('2024-02')!;
    expect(iso(b.low)).to.equal('2024-02-01T00:00:00.000Z');
    expect(iso(b.high)).to.equal('2024-02-29T23:59:59.999Z');
  });

  it('a day covers the day', () => {
    const b = dateBounds('1980-01-02')!;
    expect(iso(b.low)).to.equal('1980-01-02T00:00:00.000Z');
    expect(iso(b.high)).to.equal('1980-01-02T23:59:59.999Z');
  });

  it('minutes, seconds and milliseconds narrow the range; the zone shifts it', () => {
    const minute = dateBounds('2020-03-01T10:00+01:00')!;
    expect(iso(minute.low)).to.equal('2020-03-01T09:00:00.000Z');
    expect(iso(minute.high)).to.equal('2020-03-01T09:00:59.999Z');
    const second = dateBounds('2020-03-01T10:00:05Z')!;
    expect(second.high - second.low).to.equal(999);
    const ms = dateBounds('2020-03-01T10:00:05.123456Z')!;
    expect(iso(ms.low)).to.equal('2020-03-01T10:00:05.123Z');
    expect(ms.high).to.equal(ms.low);
  });

  it('values without a zone are taken as UTC', () => {
    expect(iso(dateBounds('2020-03-01T10:00:00')!.low)).to.equal('2020-03-01T10:00:00.000Z');
  });

  it('rejects impossible or malformed values', () => {
    for (const bad of ['2020-13', '2021-02-29', '2020-01-01T24:00', '20', 'yesterday', '2020-1-1', '']) {
      expect(dateBounds(bad), bad).to.equal(undefined);
    }
  });
});
