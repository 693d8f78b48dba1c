/**
 * FHIR date, dateTime and instant values as ranges (R4 search.html#date): a value stands for the
 * whole interval its precision implies, so '2020' is every instant of 2020 and '2020-03-01T10:00Z'
 * the minute (seconds absent) starting then. Values without a zone are taken as UTC.
 * Bounds are epoch milliseconds, both inclusive.
 */
export interface DateBounds {
  low: number;
  high: number;
}

const DATE_TIME =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The range a FHIR date/dateTime/instant stands for, or undefined when the text is not one. */
export function dateBounds(text: string): DateBounds | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = mo === undefined ? undefined : Number(mo);
  const day = d === undefined ? undefined : Number(d);
  if (month !== undefined && (month < 1 || month > 12)) return undefined;
  if (day !== undefined && (day < 1 || day > daysInMonth(year, month!))) return undefined;
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || (s !== undefined && Number(s) > 59))) return undefined;

  let offsetMs = 0;
  if (zone && zone !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    offsetMs = sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  const start = Date.UTC(year, (month ?? 1) - 1, day ?? 1, Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0),
    frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0')));
  let end: number;
  if (month === undefined) end = Date.UTC(year + 1, 0, 1);
  else if (day === undefined) end = Date.UTC(year, month, 1);
  else if (h === undefined) end = Date.UTC(year, month - 1, day + 1);
  else if (s === undefined) end = start + 60_000;
  else if (frac === undefined) end = start + 1000;
  else end = start + 1;
  return { low: start - offsetMs, high: end - offsetMs - 1 };
}
