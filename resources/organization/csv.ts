/**
 * A small RFC 4180 CSV reader: comma-separated fields, double-quoted fields that may hold commas,
 * line breaks and doubled quotes (""), CRLF or LF line ends, an optional UTF-8 BOM. Pure, so the
 * import command's parsing is unit-tested without a file or a server.
 */

export interface CsvRecord {
  /** 1-based line number of the record's first line in the file (the header is line 1). */
  line: number;
  fields: string[];
}

export class CsvError extends Error {
  constructor(readonly line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'CsvError';
  }
}

/** Splits CSV text into records; blank lines are skipped. Throws CsvError on an unterminated quote. */
export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let fields: string[] = [];
  let field = '';
  let recordLine = 1;
  let atFieldStart = true;
  let any = false; // the current record has content (so a blank line yields nothing)
  const endRecord = () => {
    fields.push(field);
    if (any) records.push({ line: recordLine, fields });
    fields = [];
    field = '';
    atFieldStart = true;
    any = false;
  };
  while (i < text.length) {
    const c = text[i];
    if (atFieldStart && c === '"') {
      const openedAt = line;
      any = true;
      i++;
      for (;;) {
        if (i >= text.length) throw new CsvError(openedAt, 'a quoted field is not closed');
        const q = text[i];
        if (q === '"') {
          if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        if (q === '\n') line++;
        field += q;
        i++;
      }
      atFieldStart = false;
      // Anything between the closing quote and the next separator is kept as is (lenient).
      continue;
    }
    if (c === ',') {
      fields.push(field);
      field = '';
      atFieldStart = true;
      any = true;
      i++;
      continue;
    }
    if (c === '\r' || c === '\n') {
      endRecord();
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
      continue;
    }
    if (atFieldStart && !any) recordLine = line;
    field += c;
    any = true;
    atFieldStart = false;
    i++;
  }
  if (any || field !== '') endRecord();
  return records;
}
