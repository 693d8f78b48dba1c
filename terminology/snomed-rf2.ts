import { createReadStream, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Coding } from 'fhir/r4.js';
import { SNOMED } from './canonical.js';
import type { CodeSystemProvider, ConceptInfo, Designation } from './code-system.js';

/**
 * SNOMED CT from an RF2 release on disk (SNOMED_RF2_PATH, read at start-up). SNOMED CT is
 * licensed, so nothing is bundled: a user with a release (International or the UK Edition)
 * points the server at its folder. Read from it:
 *
 *   sct2_Concept_*           id, active, module, definition status
 *   sct2_Description_*       FSN (900000000000003001) and synonyms (900000000000013009)
 *   der2_cRefset_Language*   which synonym is preferred (acceptability 900000000000548007)
 *   sct2_Relationship_*      active |Is a| (116680003) rows: the hierarchy
 *
 * Snapshot files are used when present, else Full files (the latest row of each component id
 * wins). The result is an in-memory CodeSystemProvider: $lookup, $validate-code, $subsumes,
 * is-a filters and the implicit `?fhir_vs=isa/<id>` value sets all work through it.
 */

const FSN = '900000000000003001';
const SYNONYM = '900000000000013009';
const PREFERRED = '900000000000548007';
const IS_A = '116680003';
const FULLY_DEFINED = '900000000000073002';
/** Language refsets to take the preferred term from, first match wins: UK clinical, GB English, US English. */
const LANGUAGE_PREFERENCE = ['999001261000000100', '900000000000508004', '900000000000509007'];

const FSN_USE: Coding = { system: SNOMED, code: FSN, display: 'Fully specified name' };
const SYNONYM_USE: Coding = { system: SNOMED, code: SYNONYM, display: 'Synonym' };

interface SnomedConcept {
  id: string;
  active: boolean;
  defined: boolean;
  module: string;
  fsn?: string;
  /** Preferred term per language refset (refset id → term). */
  preferred?: Map<string, string>;
  synonyms: { id: string; term: string; lang: string }[];
}

export interface Rf2Files { concept: string[]; description: string[]; relationship: string[]; language: string[] }

/** The RF2 files under `dir` (searched recursively), Snapshot preferred over Full. */
export function findRf2Files(dir: string): Rf2Files {
  const all: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.txt')) all.push(p);
    }
  };
  walk(dir);
  const pick = (re: RegExp) => {
    const matches = all.filter((p) => re.test(p.split(/[\\/]/).pop()!));
    const snapshot = matches.filter((p) => /Snapshot/.test(p.split(/[\\/]/).pop()!));
    return snapshot.length ? snapshot : matches.filter((p) => /Full/.test(p.split(/[\\/]/).pop()!));
  };
  return {
    concept: pick(/^sct2_Concept_/),
    description: pick(/^sct2_Description_/),
    relationship: pick(/^sct2_Relationship_(Snapshot|Full)/),
    language: pick(/^der2_cRefset_Language/),
  };
}

/** Rows of a tab-separated RF2 file, header skipped; of each id only the latest effectiveTime is kept. */
async function latestRows(files: string[], keep: (cols: string[]) => boolean): Promise<Map<string, string[]>> {
  const rows = new Map<string, string[]>();
  for (const file of files) {
    const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    let header = true;
    for await (const line of lines) {
      if (header) { header = false; continue; }
      if (!line) continue;
      const cols = line.split('\t');
      if (!keep(cols)) continue;
      const seen = rows.get(cols[0]);
      if (!seen || seen[1] <= cols[1]) rows.set(cols[0], cols);
    }
  }
  return rows;
}

export class SnomedCodeSystem implements CodeSystemProvider {
  readonly url = SNOMED;
  readonly name = 'SNOMED CT';
  readonly content = 'complete' as const;
  readonly caseSensitive = true;
  readonly version: string;

  constructor(
    private readonly concepts: Map<string, SnomedConcept>,
    private readonly parentMap: Map<string, string[]>,
    private readonly childMap: Map<string, string[]>,
    version: string,
  ) {
    this.version = version;
  }

  get size(): number { return this.concepts.size; }

  codes(): Iterable<string> { return this.concepts.keys(); }

  parents(code: string): readonly string[] { return this.parentMap.get(code) ?? []; }

  children(code: string): readonly string[] { return this.childMap.get(code) ?? []; }

  concept(code: string): ConceptInfo | undefined {
    const c = this.concepts.get(code);
    if (!c) return undefined;
    const designations: Designation[] = [];
    if (c.fsn) designations.push({ language: 'en', use: FSN_USE, value: c.fsn });
    for (const s of c.synonyms) designations.push({ language: s.lang, use: SYNONYM_USE, value: s.term });
    return {
      code: c.id,
      display: preferredTerm(c),
      designations,
      properties: [
        { code: 'inactive', value: { valueBoolean: !c.active } },
        { code: 'sufficientlyDefined', value: { valueBoolean: c.defined } },
        { code: 'moduleId', value: { valueCode: c.module } },
      ],
      inactive: !c.active,
      abstract: false,
    };
  }
}

function preferredTerm(c: SnomedConcept): string | undefined {
  for (const refset of LANGUAGE_PREFERENCE) {
    const t = c.preferred?.get(refset);
    if (t) return t;
  }
  const any = c.preferred?.values().next().value;
  if (any) return any;
  // No language refset in the folder: the first synonym, else the FSN without its semantic tag.
  return c.synonyms[0]?.term ?? c.fsn?.replace(/\s*\([^()]*\)$/, '');
}

/** Loads an RF2 release folder into a provider. Throws when the folder has no concept file. */
export async function loadSnomedRf2(dir: string): Promise<SnomedCodeSystem> {
  const files = findRf2Files(dir);
  if (!files.concept.length) throw new Error(`SNOMED_RF2_PATH '${dir}' has no sct2_Concept_* file`);
  const concepts = new Map<string, SnomedConcept>();
  const modules = new Map<string, number>();
  let effective = '';
  for (const [id, cols] of await latestRows(files.concept, () => true)) {
    concepts.set(id, { id, active: cols[2] === '1', module: cols[3], defined: cols[4] === FULLY_DEFINED, synonyms: [] });
    modules.set(cols[3], (modules.get(cols[3]) ?? 0) + 1);
    if (cols[1] > effective) effective = cols[1];
  }
  const descriptions = await latestRows(files.description, () => true);
  const byDescription = new Map<string, SnomedConcept>();
  for (const [id, cols] of descriptions) {
    // id effectiveTime active moduleId conceptId languageCode typeId term caseSignificanceId
    if (cols[2] !== '1') continue;
    const c = concepts.get(cols[4]);
    if (!c) continue;
    if (cols[6] === FSN) c.fsn = cols[7];
    else if (cols[6] === SYNONYM) {
      c.synonyms.push({ id, term: cols[7], lang: cols[5] });
      byDescription.set(id, c);
    }
  }
  // id effectiveTime active moduleId refsetId referencedComponentId acceptabilityId
  for (const cols of (await latestRows(files.language, () => true)).values()) {
    if (cols[2] !== '1' || cols[6] !== PREFERRED) continue;
    const c = byDescription.get(cols[5]);
    if (!c) continue;
    (c.preferred ??= new Map()).set(cols[4], c.synonyms.find((s) => s.id === cols[5])!.term);
  }
  const parents = new Map<string, string[]>();
  const children = new Map<string, string[]>();
  // id effectiveTime active moduleId sourceId destinationId relationshipGroup typeId characteristicTypeId modifierId
  for (const cols of (await latestRows(files.relationship, (r) => r[7] === IS_A)).values()) {
    if (cols[2] !== '1' || !concepts.has(cols[4]) || !concepts.has(cols[5])) continue;
    const add = (m: Map<string, string[]>, k: string, v: string) => {
      const list = m.get(k);
      if (!list) m.set(k, [v]);
      else if (!list.includes(v)) list.push(v);
    };
    add(parents, cols[4], cols[5]);
    add(children, cols[5], cols[4]);
  }
  // R4 snomedct.html#version: http://snomed.info/sct/[module]/version/[effectiveTime], the
  // edition's module taken as the one most concepts belong to.
  const module = [...modules].sort((a, b) => b[1] - a[1])[0][0];
  return new SnomedCodeSystem(concepts, parents, children, `${SNOMED}/${module}/version/${effective}`);
}
