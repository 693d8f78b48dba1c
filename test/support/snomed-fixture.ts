import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A tiny, made-up SNOMED CT RF2 release (Snapshot) for tests: invented concept ids and terms in
 * the RF2 file layout, not licensed content. Only the RF2 metadata ids (|Is a|, FSN, synonym,
 * preferred, GB English language refset) are the real structural constants the loader looks for.
 *
 *   1000000 Fixture root
 *   ├─ 1000100 Fixture finding
 *   │  ├─ 1000110 Heart fixture disorder
 *   │  │  └─ 1000111 Fixture heart failure ─┐ (two parents)
 *   │  └─ 1000120 Lung fixture disorder     │
 *   │     ├─ 1000121 Fixture pneumonia      │
 *   │     │  └─ 1000122 Bacterial fixture pneumonia
 *   │     └─ 1000111 ───────────────────────┘
 *   ├─ 1000200 Fixture procedure
 *   │  └─ 1000210 Heart fixture operation
 *   └─ (1000300 Retired fixture concept: inactive, its former is-a row inactive too)
 */
export const FIXTURE_CONCEPTS: [id: string, fsn: string, preferred: string, active: boolean][] = [
  ['1000000', 'Fixture root (root)', 'Fixture root', true],
  ['1000100', 'Fixture finding (finding)', 'Fixture finding', true],
  ['1000110', 'Heart fixture disorder (disorder)', 'Heart fixture disorder', true],
  ['1000111', 'Fixture heart failure (disorder)', 'Fixture heart failure', true],
  ['1000120', 'Lung fixture disorder (disorder)', 'Lung fixture disorder', true],
  ['1000121', 'Fixture pneumonia (disorder)', 'Fixture pneumonia', true],
  ['1000122', 'Bacterial fixture pneumonia (disorder)', 'Bacterial fixture pneumonia', true],
  ['1000200', 'Fixture procedure (procedure)', 'Fixture procedure', true],
  ['1000210', 'Heart fixture operation (procedure)', 'Heart fixture operation', true],
  ['1000300', 'Retired fixture concept (finding)', 'Retired fixture concept', false],
];

const IS_A_ROWS: [source: string, destination: string, active: boolean][] = [
  ['1000100', '1000000', true],
  ['1000110', '1000100', true],
  ['1000111', '1000110', true],
  ['1000111', '1000120', true],
  ['1000120', '1000100', true],
  ['1000121', '1000120', true],
  ['1000122', '1000121', true],
  ['1000200', '1000000', true],
  ['1000210', '1000200', true],
  ['1000300', '1000100', false],
];

const MODULE = '900000000000207008';
const DATE = '20250101';

export function writeSnomedFixture(): string {
  const root = mkdtempSync(join(tmpdir(), 'vertebra-rf2-'));
  const dir = join(root, 'Snapshot', 'Terminology');
  const refsets = join(root, 'Snapshot', 'Refset', 'Language');
  mkdirSync(dir, { recursive: true });
  mkdirSync(refsets, { recursive: true });
  const tsv = (header: string[], rows: string[][]) => [header, ...rows].map((r) => r.join('\t')).join('\r\n') + '\r\n';
  writeFileSync(join(dir, `sct2_Concept_Snapshot_INT_${DATE}.txt`), tsv(
    ['id', 'effectiveTime', 'active', 'moduleId', 'definitionStatusId'],
    FIXTURE_CONCEPTS.map(([id, , , active]) => [id, DATE, active ? '1' : '0', MODULE, '900000000000074008']),
  ));
  const descriptions: string[][] = [];
  const language: string[][] = [];
  FIXTURE_CONCEPTS.forEach(([id, fsn, preferred], i) => {
    descriptions.push([`${2000000 + i * 10}`, DATE, '1', MODULE, id, 'en', '900000000000003001', fsn, '900000000000448009']);
    descriptions.push([`${2000000 + i * 10 + 1}`, DATE, '1', MODULE, id, 'en', '900000000000013009', preferred, '900000000000448009']);
    descriptions.push([`${2000000 + i * 10 + 2}`, DATE, '1', MODULE, id, 'en', '900000000000013009', `${preferred} (synonym)`, '900000000000448009']);
    language.push([`lang-${i}-p`, DATE, '1', MODULE, '900000000000508004', `${2000000 + i * 10 + 1}`, '900000000000548007']);
    language.push([`lang-${i}-a`, DATE, '1', MODULE, '900000000000508004', `${2000000 + i * 10 + 2}`, '900000000000549004']);
  });
  // An inactive description: must not become a designation.
  descriptions.push(['2999999', DATE, '0', MODULE, '1000121', 'en', '900000000000013009', 'Withdrawn fixture term', '900000000000448009']);
  writeFileSync(join(dir, `sct2_Description_Snapshot-en_INT_${DATE}.txt`), tsv(
    ['id', 'effectiveTime', 'active', 'moduleId', 'conceptId', 'languageCode', 'typeId', 'term', 'caseSignificanceId'], descriptions,
  ));
  writeFileSync(join(refsets, `der2_cRefset_LanguageSnapshot-en_INT_${DATE}.txt`), tsv(
    ['id', 'effectiveTime', 'active', 'moduleId', 'refsetId', 'referencedComponentId', 'acceptabilityId'], language,
  ));
  writeFileSync(join(dir, `sct2_Relationship_Snapshot_INT_${DATE}.txt`), tsv(
    ['id', 'effectiveTime', 'active', 'moduleId', 'sourceId', 'destinationId', 'relationshipGroup', 'typeId', 'characteristicTypeId', 'modifierId'],
    [
      ...IS_A_ROWS.map(([s, d, active], i) => [`${3000000 + i}`, DATE, active ? '1' : '0', MODULE, s, d, '0', '116680003', '900000000000011006', '900000000000451002']),
      // An attribute relationship (finding site): not part of the hierarchy.
      ['3999999', DATE, '1', MODULE, '1000111', '1000200', '1', '363698007', '900000000000011006', '900000000000451002'],
    ],
  ));
  return root;
}
