import { randomInt } from 'node:crypto';
import { FhirError } from '../../fhir/errors.js';
import { nhsNumberFromStem } from './nhs-number.js';

/**
 * NHS number allocation for POST /Patient (nhs-spine.md §1.6). A number is never reused: one that
 * exists or ever existed (a deleted record keeps its history) counts as taken. Each probe is a
 * random stem of the range, so concurrent creates rarely probe the same numbers and the number of
 * probes depends only on how full the range is, not on where the taken numbers lie: a walk
 * forward from a random start would have to cross a contiguous taken block (a seeded population
 * fills the start of the range) number by number, and gave up after MAX_PROBES inside a
 * 100,000-patient block. A range no larger than MAX_PROBES is walked in full instead, so a free
 * number in a small range is always found.
 */
export interface NhsNumberRange {
  /** Inclusive bounds, ten digits each. */
  from: string;
  to: string;
}

/** Most numbers one allocation tries before it reports the range as (practically) exhausted. */
const MAX_PROBES = 10_000;

export async function allocateNhsNumber(range: NhsNumberRange, isTaken: (id: string) => Promise<boolean>): Promise<string> {
  const low = Number(range.from.slice(0, 9));
  const high = Number(range.to.slice(0, 9));
  const span = high - low + 1;
  const start = randomInt(0, span);
  const exhaustive = span <= MAX_PROBES;
  for (let i = 0; i < Math.min(span, MAX_PROBES); i++) {
    const stem = low + (exhaustive ? (start + i) % span : randomInt(0, span));
    const candidate = nhsNumberFromStem(String(stem).padStart(9, '0'));
    if (candidate === undefined || candidate < range.from || candidate > range.to) continue;
    if (!(await isTaken(candidate))) return candidate;
  }
  throw new FhirError(503, [{
    severity: 'error', code: 'transient',
    diagnostics: 'No free NHS number was found in the configured range (NHS_NUMBER_RANGE); widen it',
  }], { 'Retry-After': '60' });
}
