import type { CodeSystem, CodeSystemConcept, Coding } from 'fhir/r4.js';

/**
 * What the terminology services need from a code system, whatever holds it: a CodeSystem
 * resource (stored, from an IG, or an R4 base one) or a SNOMED CT RF2 release loaded from disk
 * (snomed-rf2.ts). Everything else (expansion, validate-code, subsumes, lookup) is written
 * against this interface only.
 */
export interface CodeSystemProvider {
  readonly url: string;
  readonly version?: string;
  readonly name?: string;
  /**
   * `complete` and `fragment`/`example` (a code we do not find may still exist, so we cannot say
   * "invalid"). `not-present` systems are never providers: they are "not held".
   */
  readonly content: 'complete' | 'fragment' | 'example';
  readonly caseSensitive: boolean;
  readonly size: number;
  /** The concept, by code (case-folded when the system is case-insensitive). */
  concept(code: string): ConceptInfo | undefined;
  codes(): Iterable<string>;
  parents(code: string): readonly string[];
  children(code: string): readonly string[];
}

export interface Designation { language?: string; use?: Coding; value: string }

/** A property value in FHIR's value[x] shape (`{ valueCode: 'x' }`, `{ valueBoolean: true }`…). */
export type PropertyValue = Record<string, string | number | boolean | Coding>;

export interface ConceptInfo {
  code: string;
  display?: string;
  definition?: string;
  designations: Designation[];
  properties: { code: string; value: PropertyValue }[];
  /** Retired/inactive/deprecated: still a code of the system, but not in `activeOnly` expansions. */
  inactive: boolean;
  /** notSelectable: a grouper, not for use in data. */
  abstract: boolean;
}

/** The value of a property as a string, for `=`/`in`/`regex` filters and comparisons. */
export function propertyString(value: PropertyValue): string {
  const v = Object.values(value)[0];
  return typeof v === 'object' ? String((v as Coding).code ?? '') : String(v);
}

/** A CodeSystem resource as a provider; indexes are built once per resource object. */
export class FhirCodeSystem implements CodeSystemProvider {
  readonly url: string;
  readonly version?: string;
  readonly name?: string;
  readonly content: 'complete' | 'fragment' | 'example';
  readonly caseSensitive: boolean;
  private readonly byCode = new Map<string, ConceptInfo>();
  private readonly parentMap = new Map<string, string[]>();
  private readonly childMap = new Map<string, string[]>();

  constructor(cs: CodeSystem) {
    this.url = cs.url!;
    this.version = cs.version;
    this.name = cs.name ?? cs.title;
    this.content = cs.content === 'complete' ? 'complete' : cs.content === 'example' ? 'example' : 'fragment';
    // R4 codesystem.html: caseSensitive has no default; HL7 code systems are case-sensitive, and
    // treating an unstated one as sensitive never accepts a code the system would refuse.
    this.caseSensitive = cs.caseSensitive !== false;
    // Which property codes mean "parent" / "retired" / "not selectable": the system may declare them
    // under its own codes but with the standard concept-properties uri.
    const declared = new Map((cs.property ?? []).map((p) => [p.code, p.uri ?? '']));
    const meaning = (code: string): string => {
      const uri = declared.get(code) ?? '';
      const m = /concept-properties#(\w+)$/.exec(uri);
      return m ? m[1] : code;
    };
    const walk = (concepts: CodeSystemConcept[] | undefined, parent?: string) => {
      for (const c of concepts ?? []) {
        const info: ConceptInfo = {
          code: c.code, display: c.display, definition: c.definition,
          designations: (c.designation ?? []).map((d) => ({ language: d.language, use: d.use, value: d.value })),
          properties: [], inactive: false, abstract: false,
        };
        if (parent) this.link(parent, c.code);
        for (const p of c.property ?? []) {
          const { code, ...rest } = p;
          const value = Object.fromEntries(Object.entries(rest).filter(([k]) => k.startsWith('value'))) as PropertyValue;
          info.properties.push({ code, value });
          const kind = meaning(code);
          if ((kind === 'parent' || kind === 'subsumedBy') && p.valueCode) this.link(p.valueCode, c.code);
          if (kind === 'child' && p.valueCode) this.link(c.code, p.valueCode);
          if (kind === 'status' && /^(retired|inactive|deprecated)$/.test(p.valueCode ?? '')) info.inactive = true;
          if ((kind === 'inactive' || kind === 'deprecated') && p.valueBoolean === true) info.inactive = true;
          if (kind === 'notSelectable' && p.valueBoolean === true) info.abstract = true;
        }
        this.byCode.set(this.key(c.code), info);
        walk(c.concept, c.code);
      }
    };
    walk(cs.concept);
  }

  get size(): number { return this.byCode.size; }

  private key(code: string): string {
    return this.caseSensitive ? code : code.toLowerCase();
  }

  private link(parent: string, child: string): void {
    const add = (map: Map<string, string[]>, k: string, v: string) => {
      const list = map.get(k);
      if (!list) map.set(k, [v]);
      else if (!list.includes(v)) list.push(v);
    };
    add(this.childMap, this.key(parent), child);
    add(this.parentMap, this.key(child), parent);
  }

  concept(code: string): ConceptInfo | undefined {
    return this.byCode.get(this.key(code));
  }

  *codes(): Iterable<string> {
    for (const c of this.byCode.values()) yield c.code;
  }

  parents(code: string): readonly string[] {
    return this.parentMap.get(this.key(code)) ?? [];
  }

  children(code: string): readonly string[] {
    return this.childMap.get(this.key(code)) ?? [];
  }
}

/** `code` and everything reachable from it through `next` (cycles tolerated). */
export function closure(code: string, next: (code: string) => readonly string[]): Set<string> {
  const seen = new Set([code]);
  const queue = [code];
  while (queue.length) {
    for (const n of next(queue.pop()!)) {
      if (!seen.has(n)) { seen.add(n); queue.push(n); }
    }
  }
  return seen;
}

/** True when `ancestor` is `code` or one of its ancestors in `cs`. */
export function subsumes(cs: CodeSystemProvider, ancestor: string, code: string): boolean {
  const target = cs.concept(ancestor)?.code ?? ancestor;
  const seen = new Set<string>();
  const queue = [cs.concept(code)?.code ?? code];
  while (queue.length) {
    const c = queue.pop()!;
    if (c === target) return true;
    if (seen.has(c)) continue;
    seen.add(c);
    queue.push(...cs.parents(c));
  }
  return false;
}
