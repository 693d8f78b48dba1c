/** Shared by the stores: prefix searches as index ranges (no LIKE, no regex). */

/**
 * The least string greater than every string that starts with `prefix` (in code point order,
 * which is SQLite's BINARY order on UTF-8 text), or undefined when there is none. Lets
 * startsWith be an index range: col >= prefix AND col < upper.
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      let next = last + 1;
      if (next >= 0xd800 && next <= 0xdfff) next = 0xe000; // skip the surrogate range
      points.push(String.fromCodePoint(next));
      return points.join('');
    }
  }
  return undefined;
}
