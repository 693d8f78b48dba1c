/**
 * String similarity for demographic matching. Written here rather than pulled in: Soundex and
 * Jaro-Winkler are a few lines each, and the well-known packages bundle dozens of algorithms.
 */

/** Folds case, accents and punctuation: "O'Brien" and "obrien", "Zoë" and "ZOE" compare equal. */
export function foldName(value: string): string {
  return value.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9 ]+/g, '').replace(/\s+/g, ' ').trim();
}

const SOUNDEX_CODES: Record<string, string> = {
  b: '1', f: '1', p: '1', v: '1',
  c: '2', g: '2', j: '2', k: '2', q: '2', s: '2', x: '2', z: '2',
  d: '3', t: '3', l: '4', m: '5', n: '5', r: '6',
};

/**
 * American Soundex (the homophone code PDS's fuzzy search is described with): first letter plus
 * three digits; h and w do not separate equal codes, vowels do. "" for a name without letters.
 */
export function soundex(name: string): string {
  const letters = foldName(name).replace(/[^a-z]/g, '');
  if (!letters) return '';
  let code = letters[0].toUpperCase();
  let last = SOUNDEX_CODES[letters[0]] ?? '';
  for (let i = 1; i < letters.length && code.length < 4; i++) {
    const ch = letters[i];
    const digit = SOUNDEX_CODES[ch];
    if (digit === undefined) {
      if (ch !== 'h' && ch !== 'w') last = ''; // a vowel separates two equal codes
      continue;
    }
    if (digit !== last) code += digit;
    last = digit;
  }
  return code.padEnd(4, '0');
}

/** Jaro-Winkler similarity (0..1) of two folded strings: tolerant of typos and transposed letters. */
export function jaroWinkler(a: string, b: string): number {
  if (a === b) return a.length ? 1 : 0;
  if (!a.length || !b.length) return 0;
  const window = Math.max(0, Math.floor(Math.max(a.length, b.length) / 2) - 1);
  const aMatched = new Array<boolean>(a.length).fill(false);
  const bMatched = new Array<boolean>(b.length).fill(false);
  let matches = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = Math.max(0, i - window); j < Math.min(b.length, i + window + 1); j++) {
      if (bMatched[j] || a[i] !== b[j]) continue;
      aMatched[i] = bMatched[j] = true;
      matches++;
      break;
    }
  }
  if (!matches) return 0;
  let transpositions = 0;
  for (let i = 0, j = 0; i < a.length; i++) {
    if (!aMatched[i]) continue;
    while (!bMatched[j]) j++;
    if (a[i] !== b[j]) transpositions++;
    j++;
  }
  const jaro = (matches / a.length + matches / b.length + (matches - transpositions / 2) / matches) / 3;
  let prefix = 0;
  while (prefix < Math.min(4, a.length, b.length) && a[prefix] === b[prefix]) prefix++;
  return jaro + prefix * 0.1 * (1 - jaro);
}

/** Score for a name that sounds the same but is spelt differently (Smith / Smyth). */
export const HOMOPHONE_SIMILARITY = 0.85;

/** Fuzzy similarity of two names: exact 1, else the better of Jaro-Winkler and a Soundex homophone. */
export function nameSimilarity(query: string, candidate: string): number {
  const q = foldName(query);
  const c = foldName(candidate);
  if (!q || !c) return 0;
  if (q === c) return 1;
  const homophone = soundex(q) === soundex(c) ? HOMOPHONE_SIMILARITY : 0;
  return Math.max(homophone, jaroWinkler(q, c));
}
