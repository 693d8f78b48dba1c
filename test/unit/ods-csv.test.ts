import { expect } from 'chai';
import { CsvError, parseCsv } from '../../resources/organization/csv.js';

describe('ODS import: CSV parsing', () => {
  it('splits records and fields, numbering lines from the header (line 1)', () => {
    const records = parseCsv('a,b,c\n1,2,3\n4,,6\n');
    expect(records).to.deep.equal([
      { line: 1, fields: ['a', 'b', 'c'] },
      { line: 2, fields: ['1', '2', '3'] },
      { line: 3, fields: ['4', '', '6'] },
    ]);
  });

  it('keeps commas, doubled quotes and line breaks inside quoted fields', () => {
    const records = parseCsv('code,name\nA1,"SMITH, JONES ""AND"" PARTNERS"\nB2,"TWO\nLINES"\nC3,plain\n');
    expect(records[1]).to.deep.equal({ line: 2, fields: ['A1', 'SMITH, JONES "AND" PARTNERS'] });
    expect(records[2]).to.deep.equal({ line: 3, fields: ['B2', 'TWO\nLINES'] });
    expect(records[3]).to.deep.equal({ line: 5, fields: ['C3', 'plain'] });
  });

  it('accepts CRLF line ends, a BOM, blank lines and a missing final newline', () => {
    const records = parseCsv('\uFEFFa,b\r\n\r\n1,"x,y"\r\n2,z');
    expect(records).to.deep.equal([
      { line: 1, fields: ['a', 'b'] },
      { line: 3, fields: ['1', 'x,y'] },
      { line: 4, fields: ['2', 'z'] },
    ]);
  });

  it('keeps empty trailing fields', () => {
    expect(parseCsv('a,,\n')[0].fields).to.deep.equal(['a', '', '']);
    expect(parseCsv('"",""\n')[0].fields).to.deep.equal(['', '']);
  });

  it('refuses an unterminated quoted field, naming the line it opened on', () => {
    expect(() => parseCsv('a,b\n1,"open\n2,3\n')).to.throw(CsvError, /line 2/);
  });
});
