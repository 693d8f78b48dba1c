/**
 * Case- and accent-folding for string search (R4 search.html#string: "case- and
 * accent-insensitive"). Index entries and query values must be folded by this one function, or
 * 'Zoë' written and 'zoe' searched would not meet.
 */
const COMBINING_MARKS = /\p{M}/gu;

export function fold(text: string): string {
  return text.normalize('NFD').replace(COMBINING_MARKS, '').toLowerCase();
}
