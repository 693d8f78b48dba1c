import { expect } from 'chai';
import { timeOrderedUuid } from '../../resources/time-ordered-id.js';

describe('time-ordered ids (UUID v7)', () => {
  it('are RFC 9562 version 7 UUIDs carrying the creation millisecond, valid FHIR ids', () => {
    const id = timeOrderedUuid(Date.UTC(2026, 10, 30, 12, 0, 0, 123));
    expect(id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).to.equal(Date.UTC(2026, 10, 30, 12, 0, 0, 123));
    expect(id).to.match(/^[A-Za-z0-9\-.]{1,64}$/);
  });

  it('sort by creation time across milliseconds, and differ within one', () => {
    const earlier = timeOrderedUuid(1_800_000_000_000);
    const later = timeOrderedUuid(1_800_000_000_001);
    expect(earlier < later).to.equal(true);
    const same = new Set(Array.from({ length: 1000 }, () => timeOrderedUuid(1_800_000_000_000)));
    expect(same.size).to.equal(1000);
  });
});
