import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { subsumes } from '../../terminology/code-system.js';
import { findRf2Files, loadSnomedRf2 } from '../../terminology/snomed-rf2.js';

/** RF2 Full files (made-up content): of each component id, the row with the latest effectiveTime wins. */
describe('SNOMED CT RF2 loader: Full files', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vertebra-rf2-full-'));
    const tsv = (rows: string[][]) => rows.map((r) => r.join('\t')).join('\n') + '\n';
    const M = '900000000000207008';
    writeFileSync(join(dir, 'sct2_Concept_Full_INT_20250101.txt'), tsv([
      ['id', 'effectiveTime', 'active', 'moduleId', 'definitionStatusId'],
      ['10', '20200101', '1', M, '900000000000074008'],
      ['20', '20200101', '1', M, '900000000000074008'],
      ['30', '20200101', '1', M, '900000000000074008'],
      ['30', '20250101', '0', M, '900000000000074008'], // retired later
    ]));
    writeFileSync(join(dir, 'sct2_Description_Full-en_INT_20250101.txt'), tsv([
      ['id', 'effectiveTime', 'active', 'moduleId', 'conceptId', 'languageCode', 'typeId', 'term', 'caseSignificanceId'],
      ['101', '20250101', '1', M, '10', 'en', '900000000000013009', 'Newer term', '900000000000448009'],
      ['101', '20200101', '1', M, '10', 'en', '900000000000013009', 'Older term', '900000000000448009'], // older row after the newer one
      ['201', '20200101', '1', M, '20', 'en', '900000000000003001', 'Child concept (finding)', '900000000000448009'],
    ]));
    writeFileSync(join(dir, 'sct2_Relationship_Full_INT_20250101.txt'), tsv([
      ['id', 'effectiveTime', 'active', 'moduleId', 'sourceId', 'destinationId', 'relationshipGroup', 'typeId', 'characteristicTypeId', 'modifierId'],
      ['1', '20200101', '1', M, '20', '10', '0', '116680003', '900000000000011006', '900000000000451002'],
      ['2', '20200101', '1', M, '30', '10', '0', '116680003', '900000000000011006', '900000000000451002'],
      ['2', '20250101', '0', M, '30', '10', '0', '116680003', '900000000000011006', '900000000000451002'], // is-a withdrawn
    ]));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the Full files when there is no Snapshot', () => {
    const files = findRf2Files(dir);
    expect(files.concept).to.have.length(1);
    expect(files.language).to.deep.equal([]);
  });

  it('keeps the latest row of each id: term, activity and hierarchy', async () => {
    const cs = await loadSnomedRf2(dir);
    expect(cs.version).to.equal('http://snomed.info/sct/900000000000207008/version/20250101');
    expect(cs.concept('10')!.display).to.equal('Newer term'); // no language refset: the synonym
    expect(cs.concept('20')!.display).to.equal('Child concept'); // no synonym: the FSN without its tag
    expect(cs.concept('30')!.inactive).to.equal(true);
    expect(subsumes(cs, '10', '20')).to.equal(true);
    expect(subsumes(cs, '10', '30')).to.equal(false);
  });

  it('refuses a folder without a concept file', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'vertebra-rf2-empty-'));
    try {
      await loadSnomedRf2(empty).then(() => expect.fail('should throw'), (e: Error) => expect(e.message).to.match(/no sct2_Concept_/));
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
