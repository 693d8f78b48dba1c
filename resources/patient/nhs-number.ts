/**
 * NHS numbers (nhs-spine.md §1.10): ten digits, the last a modulus-11 check digit over the first
 * nine weighted 10..2. A remainder giving 10 has no valid check digit, so such nine-digit stems
 * are never issued.
 */

const TEN_DIGITS = /^\d{10}$/;

/** The check digit for a nine-digit stem, or undefined when the stem cannot be issued. */
export function nhsCheckDigit(stem: string): number | undefined {
  if (!/^\d{9}$/.test(stem)) throw new RangeError(`an NHS number stem is nine digits, not '${stem}'`);
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (stem.charCodeAt(i) - 48) * (10 - i);
  const check = 11 - (sum % 11);
  if (check === 10) return undefined;
  return check === 11 ? 0 : check;
}

export function isValidNhsNumber(value: string): boolean {
  if (!TEN_DIGITS.test(value)) return false;
  return nhsCheckDigit(value.slice(0, 9)) === value.charCodeAt(9) - 48;
}

/** The NHS number built on a nine-digit stem, or undefined when the stem has no check digit. */
export function nhsNumberFromStem(stem: string): string | undefined {
  const check = nhsCheckDigit(stem);
  return check === undefined ? undefined : `${stem}${check}`;
}

/**
 * The valid NHS numbers whose stems run from `fromStem` upwards, in order, at most `count`;
 * stems with no check digit are skipped. Used by allocation and by the synthetic population.
 */
export function* nhsNumbersFrom(fromStem: number, count = Infinity): Generator<string> {
  let produced = 0;
  for (let stem = fromStem; stem <= 999_999_999 && produced < count; stem++) {
    const number = nhsNumberFromStem(String(stem).padStart(9, '0'));
    if (number === undefined) continue;
    produced++;
    yield number;
  }
}

export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
