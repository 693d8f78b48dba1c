import type { ValueSet, ValueSetComposeInclude, ValueSetExpansionContains } from 'fhir/r4.js';
import type { Canonicals } from './canonical.js';
import { notHeldReason } from './canonical.js';
import type { CodeSystemProvider, ConceptInfo, Designation } from './code-system.js';
import { compileFilter, UnsupportedFilter, type CompiledFilter } from './filters.js';

/**
 * ValueSet expansion (R4 valueset.html#compositions): include/exclude by system, by concept list,
 * by filter, and by importing other value sets (nested, intersected when an include names
 * several), evaluated against the code systems the server holds. Expansion names every code, so
 * it is bounded (too-costly past `limit`); membership (`member`) answers "is this code in it"
 * without expanding, which is how validate-code works on big value sets (SNOMED CT is-a).
 */

export interface ExpansionItem {
  system: string;
  version?: string;
  code: string;
  display?: string;
  inactive?: boolean;
  abstract?: boolean;
  designations?: Designation[];
}

export interface Expansion {
  items: ExpansionItem[];
  /** The code systems (and versions) the expansion used, for expansion.parameter `version`. */
  systems: Map<string, string | undefined>;
}

export type ExpansionProblem = 'unknown-system' | 'unknown-value-set' | 'unsupported' | 'too-costly';

export class ExpansionError extends Error {
  constructor(readonly problem: ExpansionProblem, message: string, readonly system?: string) {
    super(message);
  }
}

/** Membership of a code in a value set: yes, no, or cannot tell (and why). */
export interface Membership {
  result: 'yes' | 'no' | 'unknown';
  /** The concept found (for the display to return), when its system is held. */
  concept?: ConceptInfo;
  /** The display a concept list gives, when the system is not held. */
  listedDisplay?: string;
  system?: string;
  /** Why the answer is 'unknown' or 'no'. */
  reason?: string;
  /** The system whose absence made the answer 'unknown'. */
  unknownSystem?: string;
}

const MAX_DEPTH = 10;

export class Expander {
  constructor(private readonly canonicals: Canonicals, private readonly limit: number) {}

  async expand(vs: ValueSet, depth = 0): Promise<Expansion> {
    if (depth > MAX_DEPTH) throw new ExpansionError('unsupported', `value set imports nest deeper than ${MAX_DEPTH} (a cycle?)`);
    if (vs.compose) {
      try {
        return await this.compose(vs, depth);
      } catch (e) {
        // A shipped expansion (UK Core value sets carry one) stands in when the compose names a
        // system we do not hold, provided it is complete.
        const shipped = e instanceof ExpansionError && e.problem === 'unknown-system' ? completeExpansion(vs) : undefined;
        if (shipped) return { items: shipped, systems: new Map() };
        throw e;
      }
    }
    const shipped = completeExpansion(vs);
    if (shipped) return { items: shipped, systems: new Map() };
    throw new ExpansionError('unsupported', `ValueSet '${vs.url ?? vs.id}' has neither a compose nor a complete expansion`);
  }

  private async compose(vs: ValueSet, depth: number): Promise<Expansion> {
    const systems = new Map<string, string | undefined>();
    const seen = new Set<string>();
    const items: ExpansionItem[] = [];
    const excluded = new Set<string>();
    for (const exc of vs.compose!.exclude ?? []) {
      for (const item of await this.include(exc, depth, systems)) excluded.add(key(item));
    }
    for (const inc of vs.compose!.include) {
      for (const item of await this.include(inc, depth, systems)) {
        const k = key(item);
        if (excluded.has(k) || seen.has(k)) continue;
        seen.add(k);
        items.push(item);
        if (items.length > this.limit) throw tooCostly(vs.url ?? vs.id ?? 'the value set', this.limit);
      }
    }
    return { items, systems };
  }

  private async include(inc: ValueSetComposeInclude, depth: number, systems: Map<string, string | undefined>): Promise<ExpansionItem[]> {
    let items: ExpansionItem[] | undefined;
    if (inc.system) {
      const cs = await this.canonicals.codeSystem(inc.version ? `${inc.system}|${inc.version}` : inc.system);
      if (cs) systems.set(cs.url, cs.version);
      if (inc.concept) {
        items = [];
        for (const c of inc.concept) {
          const concept = cs?.concept(c.code);
          if (cs && !concept && cs.content === 'complete') continue; // not a code of the system
          items.push(item(inc.system, cs, concept ?? { code: c.code, designations: [], properties: [], inactive: false, abstract: false }, c.display));
        }
      } else {
        if (!cs) throw new ExpansionError('unknown-system', `code system '${inc.system}' is not held by this server (${notHeldReason(inc.system)})`, inc.system);
        items = this.select(cs, inc).map((code) => item(inc.system!, cs, cs.concept(code)!));
      }
    }
    for (const url of inc.valueSet ?? []) {
      const other = await this.canonicals.resource<ValueSet>('ValueSet', url);
      if (!other) throw new ExpansionError('unknown-value-set', `value set '${url}' is not known to this server`);
      const nested = await this.expand(other, depth + 1);
      for (const [s, v] of nested.systems) systems.set(s, v);
      if (!items) {
        items = nested.items;
      } else { // several value sets (or a system and value sets) in one include intersect
        const keys = new Set(nested.items.map(key));
        items = items.filter((i) => keys.has(key(i)));
      }
    }
    return items ?? [];
  }

  /** The codes of `cs` an include's filters select (all of them without filters). */
  private select(cs: CodeSystemProvider, inc: ValueSetComposeInclude): string[] {
    let filters: CompiledFilter[];
    try {
      filters = (inc.filter ?? []).map((f) => compileFilter(cs, f));
    } catch (e) {
      if (e instanceof UnsupportedFilter) throw new ExpansionError('unsupported', `${cs.url}: ${e.message} is not supported`);
      throw e;
    }
    const narrowest = filters.find((f) => f.candidates);
    if (!narrowest && cs.size > this.limit) throw tooCostly(`all of ${cs.url}`, this.limit);
    const out: string[] = [];
    for (const code of narrowest ? narrowest.candidates!() : cs.codes()) {
      if (filters.every((f) => f.test(code))) {
        out.push(code);
        if (out.length > this.limit) throw tooCostly(`the selection from ${cs.url}`, this.limit);
      }
    }
    return out;
  }

  /** Is `coding` in `vs`? Never 'yes' unless checked; 'unknown' when a needed system is not held. */
  async member(vs: ValueSet, coding: { system?: string; code: string }, depth = 0): Promise<Membership> {
    if (depth > MAX_DEPTH) return { result: 'unknown', reason: 'value set imports nest too deep' };
    let answer: Membership;
    if (vs.compose) {
      answer = { result: 'no' };
      for (const inc of vs.compose.include) {
        const m = await this.includeMember(inc, coding, depth);
        if (m.result === 'yes') { answer = m; break; }
        if (m.result === 'unknown') answer = m;
      }
      if (answer.result === 'yes') {
        for (const exc of vs.compose.exclude ?? []) {
          const m = await this.includeMember(exc, coding, depth);
          if (m.result === 'yes') { answer = { result: 'no', reason: 'the code is excluded from the value set' }; break; }
          if (m.result === 'unknown') answer = { ...m, reason: `whether the code is excluded cannot be told: ${m.reason}` };
        }
      }
      if (answer.result !== 'unknown') return answer;
    } else {
      answer = { result: 'unknown', reason: `ValueSet '${vs.url ?? vs.id}' has no compose` };
    }
    // The shipped expansion, if any, may still settle it.
    if (vs.expansion?.contains) {
      const found = flatten(vs.expansion.contains).find((c) => c.code === coding.code && (!coding.system || c.system === coding.system));
      if (found) return { result: 'yes', system: found.system, listedDisplay: found.display };
      if (!vs.compose && completeExpansion(vs)) return { result: 'no' };
    }
    return answer;
  }

  private async includeMember(inc: ValueSetComposeInclude, coding: { system?: string; code: string }, depth: number): Promise<Membership> {
    let answer: Membership | undefined;
    if (inc.system) {
      if (coding.system !== undefined && coding.system !== inc.system) return { result: 'no' };
      const cs = await this.canonicals.codeSystem(inc.version ? `${inc.system}|${inc.version}` : inc.system);
      const concept = cs?.concept(coding.code);
      if (inc.concept) {
        const listed = inc.concept.find((c) => (cs && !cs.caseSensitive ? c.code.toLowerCase() === coding.code.toLowerCase() : c.code === coding.code));
        if (!listed) return { result: 'no' };
        if (cs && !concept) {
          if (cs.content === 'complete') return { result: 'no', reason: `'${coding.code}' is not a code of ${inc.system}` };
          return { result: 'unknown', reason: `'${coding.code}' is not in this server's ${cs.content} copy of ${inc.system}`, system: inc.system };
        }
        // Listed in the value set: membership holds even when the system is not held (the code's
        // existence in the system is then not checked; see README).
        answer = { result: 'yes', concept, listedDisplay: listed.display, system: inc.system };
      } else {
        if (!cs) {
          return {
            result: 'unknown', system: inc.system, unknownSystem: inc.system,
            reason: `A definition for CodeSystem '${inc.system}' could not be found, so the code cannot be validated (${notHeldReason(inc.system)})`,
          };
        }
        if (!concept) {
          return cs.content === 'complete'
            ? { result: 'no', system: inc.system, reason: `'${coding.code}' is not a code of ${inc.system}` }
            : { result: 'unknown', system: inc.system, reason: `'${coding.code}' is not in this server's ${cs.content} copy of ${inc.system}` };
        }
        for (const f of inc.filter ?? []) {
          let pass: boolean;
          try {
            pass = compileFilter(cs, f).test(concept.code);
          } catch (e) {
            if (!(e instanceof UnsupportedFilter)) throw e;
            return { result: 'unknown', system: inc.system, reason: `${inc.system}: ${e.message} is not supported` };
          }
          if (!pass) return { result: 'no', system: inc.system };
        }
        answer = { result: 'yes', concept, system: inc.system };
      }
    }
    for (const url of inc.valueSet ?? []) {
      const other = await this.canonicals.resource<ValueSet>('ValueSet', url);
      const m: Membership = other ? await this.member(other, coding, depth + 1) : { result: 'unknown', reason: `value set '${url}' is not known to this server` };
      if (m.result === 'no') return m;
      if (m.result === 'unknown') answer = m;
      else if (!answer) answer = m;
    }
    return answer ?? { result: 'no' };
  }
}

function key(item: { system?: string; code: string }): string {
  return `${item.system ?? ''}|${item.code}`;
}

function item(system: string, cs: CodeSystemProvider | undefined, concept: ConceptInfo, listedDisplay?: string): ExpansionItem {
  const out: ExpansionItem = { system, code: concept.code };
  if (cs?.version) out.version = cs.version;
  const display = listedDisplay ?? concept.display;
  if (display !== undefined) out.display = display;
  if (concept.inactive) out.inactive = true;
  if (concept.abstract) out.abstract = true;
  if (concept.designations.length) out.designations = concept.designations;
  return out;
}

function tooCostly(what: string, limit: number): ExpansionError {
  return new ExpansionError('too-costly', `${what} has more than ${limit} codes: too costly to expand (use $validate-code for membership)`);
}

/** Nested `contains` flattened in document order (R4 allows hierarchical expansions). */
export function flatten(contains: ValueSetExpansionContains[]): ExpansionItem[] {
  const out: ExpansionItem[] = [];
  for (const c of contains) {
    if (c.system && c.code) {
      const i: ExpansionItem = { system: c.system, code: c.code };
      if (c.version) i.version = c.version;
      if (c.display) i.display = c.display;
      if (c.inactive) i.inactive = true;
      if (c.abstract) i.abstract = true;
      out.push(i);
    }
    if (c.contains) out.push(...flatten(c.contains));
  }
  return out;
}

/** A shipped expansion that lists every code (no paging left, no declared total beyond what is there). */
function completeExpansion(vs: ValueSet): ExpansionItem[] | undefined {
  const e = vs.expansion;
  if (!e?.contains) return undefined;
  const items = flatten(e.contains);
  if ((e.offset ?? 0) > 0 || (e.total !== undefined && e.total > items.length)) return undefined;
  return items;
}
