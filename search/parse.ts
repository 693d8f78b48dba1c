import type { OperationOutcomeIssue } from 'fhir/r4.js';
import { errors } from '../fhir/errors.js';
import { isResourceType } from '../fhir/definitions.js';
import type { Clause, Condition, SearchPlan } from './plan.js';
import type { SearchParameterRegistry, SearchParamDef } from './registry.js';
import {
  type EntryCondition, type ValueContext, entryKindOf, invalid, orValues, splitEscaped, unescape,
  dateAlternatives, numberAlternatives, quantityAlternatives, referenceAlternatives, stringAlternatives,
  tokenAlternatives, tokenClauses, tokenTextAlternatives, uriAlternatives, valueAlternatives,
} from './parse-values.js';
import { checkPlanSize, SEARCH_LIMITS, tooComplex } from './limits.js';
import { commonDef, parseCount, parseInclude, parseSort, parseTotal, type Reporter } from './parse-results.js';

export { compartmentCondition } from './parse-compartment.js';

/**
 * A FHIR R4 search query -> SearchPlan (search.html). Everything the query means is decided here
 * (ARCHITECTURE rule 3); the plan only says which index-entry columns to compare with what.
 * Query text only ever becomes clause values; parameter names, types and columns in the plan come
 * from the registry after the query's names were checked against it.
 */

export interface ParseOptions {
  defaultCount: number;
  maxCount: number;
  /** Prefer: handling=strict -> unknown/unsupported parameters are a 400 instead of a warning. */
  strict: boolean;
  /** Expands a ValueSet the server knows (for :in / :not-in); undefined when unknown (-> 400). */
  expandValueSet?: (url: string) => Promise<{ system: string; code: string }[] | undefined>;
  /** Codes subsumed by (below) or subsuming (above) system|code, including itself; undefined when the code system is unknown (-> 400). */
  subsumption?: (system: string, code: string, direction: 'above' | 'below') => Promise<string[] | undefined>;
  /** The clock for `ap` on dates (epoch ms); Date.now by default. */
  now?: () => number;
  /** This server's FHIR base URL: references written with it are local ones. */
  localBase?: string;
  /**
   * Criteria a resource type adds to every search that reaches it, given the parameters used on
   * it (e.g. restricted patients are not found by location). Applied here to the types a chain
   * reaches; the engine applies it to the searched type itself.
   */
  typeCriteria?: (resourceType: string, params: [string, string][]) => [string, string][];
}

/** Shape the response; the server applies them, so they are known here but yield nothing. */
const SERVER_SIDE = new Set(['_summary', '_elements', '_format', '_pretty', '_contained', '_containedType']);
/** Known to R4 but not implemented: reported, never silently treated as "match everything". */
const UNSUPPORTED = new Set(['_text', '_content', '_query', '_filter', '_list']);

const MODIFIERS: Record<string, readonly string[]> = {
  string: ['exact', 'contains'],
  token: ['text', 'not', 'above', 'below', 'in', 'not-in', 'of-type'],
  reference: ['identifier'], // plus :[type], checked separately
  uri: ['above', 'below'],
  date: [],
  number: [],
  quantity: [],
  composite: [],
};

/** params: the query as ordered [name, value] pairs (names may carry :modifiers and chains). */
export async function parseSearch(
  resourceTypes: string[], params: [string, string][], registry: SearchParameterRegistry, options: ParseOptions,
): Promise<SearchPlan> {
  return new QueryParser(registry, options).parse(resourceTypes, params);
}

const anyOf = (conditions: Condition[]): Condition => (conditions.length === 1 ? conditions[0] : { kind: 'or', conditions });
const allOf = (conditions: Condition[]): Condition => (conditions.length === 1 ? conditions[0] : { kind: 'and', conditions });

class QueryParser implements Reporter {
  private readonly warnings: OperationOutcomeIssue[] = [];
  private readonly warned = new Set<string>();
  private readonly now: number;

  constructor(private readonly registry: SearchParameterRegistry, private readonly options: ParseOptions) {
    // The default clock is rounded to the day: `ap` tolerances (at least a day) then stay the
    // same while a client pages, so the plan, and with it the paging cursor, keeps matching.
    this.now = options.now ? options.now() : Math.floor(Date.now() / 86_400_000) * 86_400_000;
  }

  unsupported(diagnostics: string): undefined {
    if (this.options.strict) throw errors.badRequest(diagnostics);
    if (!this.warned.has(diagnostics)) {
      this.warned.add(diagnostics);
      this.warnings.push({ severity: 'warning', code: 'not-supported', diagnostics });
    }
    return undefined;
  }

  async parse(resourceTypes: string[], params: [string, string][]): Promise<SearchPlan> {
    if (params.length > SEARCH_LIMITS.parameters) tooComplex(`${params.length} parameters, at most ${SEARCH_LIMITS.parameters}`);
    const types = searchedTypes(resourceTypes, params);
    const plan: SearchPlan = {
      resourceTypes: types,
      sort: [],
      count: Math.min(this.options.defaultCount, this.options.maxCount),
      total: 'accurate',
      include: [],
      revinclude: [],
      warnings: this.warnings,
    };
    const conditions: Condition[] = [];
    for (const [name, value] of params) {
      if (SERVER_SIDE.has(name) || name === '_type') continue;
      // R4 search.html#errors: "Empty parameters are not an error - they are just ignored".
      if (value === '') continue;
      const colon = name.indexOf(':');
      const base = colon < 0 ? name : name.slice(0, colon);
      const modifier = colon < 0 ? undefined : name.slice(colon + 1);
      switch (base) {
        case '_count':
        case '_total':
        case '_cursor':
          if (modifier !== undefined) { this.unsupported(`Unknown modifier ':${modifier}' on ${base}`); break; }
          if (base === '_count') plan.count = parseCount(value, this.options);
          else if (base === '_total') plan.total = parseTotal(value);
          else plan.cursor = value;
          break;
        case '_sort':
          plan.sort.push(...parseSort(this.registry, types, value, modifier, this));
          break;
        case '_include':
        case '_revinclude':
          plan[base === '_include' ? 'include' : 'revinclude'].push(...parseInclude(this.registry, types, base, value, modifier, this));
          break;
        default:
          if (UNSUPPORTED.has(base)) { this.unsupported(`Search parameter '${name}' is not supported`); break; }
          {
            const condition = await this.param(types, name, value, name);
            if (condition) conditions.push(condition);
          }
      }
    }
    if (conditions.length) plan.where = allOf(conditions);
    checkPlanSize(plan);
    return plan;
  }

  /**
   * One parameter (`name=value`) evaluated in `types`: `_has:...`, a chain `a[:Type].rest`, or a
   * plain parameter with an optional modifier. `full` is the name as the query wrote it.
   */
  private async param(types: string[], name: string, value: string, full: string): Promise<Condition | undefined> {
    if (name.startsWith('_has:')) return this.has(types, name, value, full);
    const dot = name.indexOf('.');
    const head = dot < 0 ? name : name.slice(0, dot);
    const colon = head.indexOf(':');
    const code = colon < 0 ? head : head.slice(0, colon);
    const modifier = colon < 0 ? undefined : head.slice(colon + 1);
    const def = this.resolve(types, code);
    if (!def && types.length > 1 && types.some((t) => this.registry.get(t, code))) {
      // Ignoring it (as for an unknown parameter) would return every resource of the other types.
      throw errors.badRequest(`Search parameter '${code}' is not defined the same way for every type searched; name the types with _type`);
    }
    if (!def) {
      const where = types.length === 1 ? types[0] : types.length <= 3 ? types.join(', ') : 'every type searched';
      return this.unsupported(`Unknown search parameter '${code}' for ${where}${full !== code ? ` (in '${full}')` : ''}`);
    }
    if (dot >= 0) return this.chain(def, modifier, name.slice(dot + 1), value, full);
    if (def.type === 'special' || (!def.expression && def.type !== 'composite')) {
      return this.unsupported(`Search parameter '${full}' is not supported`);
    }
    if (modifier === 'missing') return this.missing(def, value, full);
    if (modifier !== undefined && !MODIFIERS[def.type].includes(modifier) && !(def.type === 'reference' && isResourceType(modifier))) {
      // Unlike an unknown parameter, an unsupported modifier is always refused (R4 search.html#
      // modifiers: servers SHALL reject it): ignoring it would widen the search, e.g. to everyone.
      throw errors.badRequest(`Modifier ':${modifier}' is not supported on ${def.type} parameter '${code}' (in '${full}')`);
    }
    if (def.type === 'reference' && modifier !== undefined && modifier !== 'identifier' && def.target.length && !def.target.includes(modifier)) {
      return this.unsupported(`'${code}' cannot refer to ${modifier} (in '${full}')`);
    }
    return this.value(def, modifier, value, full);
  }

  /** The parameter on every one of `types`, with one type; reference targets are united. */
  private resolve(types: string[], code: string): SearchParamDef | undefined {
    const def = commonDef(this.registry, types, code);
    if (!def || types.length === 1) return def;
    const defs = types.map((t) => this.registry.get(t, code)!);
    return {
      ...def,
      expression: defs.find((d) => d.expression)?.expression,
      target: [...new Set(defs.flatMap((d) => d.target))].sort(),
    };
  }

  /** `_has:Type:param:rest=value`: some Type whose `param` refers here satisfies `rest=value`. */
  private async has(types: string[], name: string, value: string, full: string): Promise<Condition | undefined> {
    const [, sourceType, code, ...rest] = name.split(':');
    const inner = rest.join(':');
    if (!sourceType || !code || !inner) {
      throw errors.badRequest(`Search parameter '${full}' is malformed: expected _has:Type:parameter:searchParameter=value`);
    }
    if (!isResourceType(sourceType)) return this.unsupported(`Unknown resource type '${sourceType}' in '${full}'`);
    const def = this.registry.get(sourceType, code);
    if (!def || def.type !== 'reference') {
      return this.unsupported(`'${code}' is not a reference search parameter of ${sourceType} (in '${full}')`);
    }
    if (def.target.length && !types.some((t) => def.target.includes(t))) {
      return this.unsupported(`${sourceType}.${code} cannot refer to ${types.join(', ')} (in '${full}')`);
    }
    const condition = await this.param([sourceType], inner, value, full);
    return condition && { kind: 'has', sourceType, param: def.code, condition };
  }

  /**
   * `ref[:Type].rest=value`: some resource `ref` points at satisfies `rest=value`. Without a type
   * the candidates are the parameter's targets that have the chained parameter (R4 lets a server
   * reject that ambiguity; searching all of them is more useful). Targets where the chained
   * parameter has different types get separate chains.
   */
  private async chain(def: SearchParamDef, modifier: string | undefined, rest: string, value: string, full: string): Promise<Condition | undefined> {
    if (def.type !== 'reference') {
      throw errors.badRequest(`Search parameter '${full}' chains through '${def.code}', which is a ${def.type} parameter, not a reference`);
    }
    let candidates: string[];
    if (modifier !== undefined) {
      if (!isResourceType(modifier)) {
        return this.unsupported(`Modifier ':${modifier}' cannot be used in a chain; name a resource type (in '${full}')`);
      }
      if (def.target.length && !def.target.includes(modifier)) {
        return this.unsupported(`'${def.code}' cannot refer to ${modifier} (in '${full}')`);
      }
      candidates = [modifier];
    } else {
      if (!def.target.length) {
        throw errors.badRequest(`Search parameter '${full}': '${def.code}' may refer to any type, so the chain must name one ('${def.code}:Type.${rest}')`);
      }
      candidates = def.target;
    }
    if (rest === '') throw errors.badRequest(`Search parameter '${full}' is malformed: nothing after '.'`);
    const groups = new Map<string, string[]>();
    if (rest.startsWith('_has:')) groups.set('_has', candidates);
    else {
      const code = rest.split(/[.:]/)[0];
      for (const t of candidates) {
        const type = this.registry.get(t, code)?.type;
        if (type) groups.set(type, [...(groups.get(type) ?? []), t]);
      }
      if (!groups.size) return this.unsupported(`Unknown search parameter '${code}' for ${candidates.join(', ')} (in '${full}')`);
    }
    const chains: Condition[] = [];
    for (const targetTypes of groups.values()) {
      const condition = await this.param(targetTypes, rest, value, full);
      if (condition) chains.push({ kind: 'chain', param: def.code, targetTypes, condition: allOf([condition, ...await this.typeCriteria(targetTypes, rest, value, full)]) });
    }
    return chains.length ? anyOf(chains) : undefined;
  }

  /** The conditions the chained-to types add for `rest=value` (see ParseOptions.typeCriteria), each once. */
  private async typeCriteria(targetTypes: string[], rest: string, value: string, full: string): Promise<Condition[]> {
    const extra = new Map<string, [string, string]>();
    for (const t of targetTypes) {
      for (const pair of this.options.typeCriteria?.(t, [[rest, value]]) ?? []) extra.set(pair.join('='), pair);
    }
    const conditions: Condition[] = [];
    for (const [name, v] of extra.values()) {
      const condition = await this.param(targetTypes, name, v, full);
      if (condition) conditions.push(condition);
    }
    return conditions;
  }

  /** `:missing=true|false`. A reference is present through its reference or its identifier. */
  private missing(def: SearchParamDef, value: string, full: string): Condition | undefined {
    if (value !== 'true' && value !== 'false') throw invalid({ name: full }, value, 'expected true or false');
    const missing = value === 'true';
    if (def.type === 'composite') {
      const first = this.components(def, full)?.[0];
      const entry = first && entryKindOf(first.type);
      if (!entry) return undefined;
      return { kind: 'missing', entry, param: `${def.code}.0`, missing };
    }
    const entry = entryKindOf(def.type)!;
    const own: Condition = { kind: 'missing', entry, param: def.code, missing };
    if (def.type !== 'reference') return own;
    const byIdentifier: Condition = { kind: 'missing', entry: 'token', param: `${def.code}:identifier`, missing };
    return missing ? { kind: 'and', conditions: [own, byIdentifier] } : { kind: 'or', conditions: [own, byIdentifier] };
  }

  private async value(def: SearchParamDef, modifier: string | undefined, value: string, full: string): Promise<Condition | undefined> {
    const ctx: ValueContext = { name: full, param: def.code, targets: def.target, now: this.now, localBase: this.options.localBase };
    const values = orValues(ctx, value);
    const each = (f: (raw: string) => EntryCondition[]) => anyOf(values.flatMap(f));
    switch (def.type) {
      case 'string': {
        const mode = modifier === 'exact' ? 'exact' : modifier === 'contains' ? 'contains' : 'startsWith';
        return each((v) => stringAlternatives(ctx, v, mode));
      }
      case 'token': return this.token(def, modifier, values, ctx);
      case 'date': return each((v) => dateAlternatives(ctx, v));
      case 'number': return each((v) => numberAlternatives(ctx, v));
      case 'quantity': return each((v) => quantityAlternatives(ctx, v));
      case 'uri': {
        const mode = modifier === 'above' ? 'above' : modifier === 'below' ? 'below' : 'eq';
        return each((v) => uriAlternatives(ctx, v, mode));
      }
      case 'reference':
        if (modifier === 'identifier') {
          const param = `${def.code}:identifier`;
          return each((v) => [{ kind: 'entry', entry: 'token', param, clauses: tokenClauses(ctx, v) }]);
        }
        return each((v) => referenceAlternatives(ctx, v, modifier));
      case 'composite': return this.composite(def, values, full);
      default: return this.unsupported(`Search parameter '${full}' is not supported`);
    }
  }

  private async token(def: SearchParamDef, modifier: string | undefined, values: string[], ctx: ValueContext): Promise<Condition | undefined> {
    const each = (f: (raw: string) => EntryCondition[]) => anyOf(values.flatMap(f));
    switch (modifier) {
      case undefined:
        // The logical id is a column of its own in every store: cheaper than its token entry.
        if (def.code === '_id') return { kind: 'id', ids: values.map(unescape) };
        return each((v) => tokenAlternatives(ctx, v));
      case 'text': return each((v) => tokenTextAlternatives(ctx, v));
      // :not: the resource has no entry matching any of the values (including no entry at all).
      case 'not': return { kind: 'not', condition: each((v) => tokenAlternatives(ctx, v)) };
      case 'above':
      case 'below': {
        const alternatives: EntryCondition[] = [];
        for (const v of values) alternatives.push(await this.subsumed(ctx, v, modifier));
        return anyOf(alternatives);
      }
      case 'in':
      case 'not-in': {
        const alternatives: EntryCondition[] = [];
        for (const v of values) alternatives.push(...(await this.inValueSet(ctx, unescape(v))));
        // An empty expansion: nothing is in it (an empty `or`), everything is not in it.
        const inSet: Condition = alternatives.length === 1 ? alternatives[0] : { kind: 'or', conditions: alternatives };
        return modifier === 'in' ? inSet : { kind: 'not', condition: inSet };
      }
      case 'of-type': return each((v) => ofType(ctx, v));
      default: return undefined; // unreachable: modifiers were checked against MODIFIERS
    }
  }

  /** :above / :below: the codes the terminology service says are subsumed by (or subsume) it. */
  private async subsumed(ctx: ValueContext, raw: string, direction: 'above' | 'below'): Promise<EntryCondition> {
    const parts = splitEscaped(raw, '|').map(unescape);
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') throw invalid(ctx, unescape(raw), `:${direction} needs 'system|code'`);
    const [system, code] = parts;
    const codes = this.options.subsumption ? await this.options.subsumption(system, code, direction) : undefined;
    if (!codes) throw errors.badRequest(`Search parameter '${ctx.name}': code system '${system}' is not known to this server, so :${direction} cannot be evaluated`);
    return { kind: 'entry', entry: 'token', param: ctx.param, clauses: [
      { column: 'system', op: 'eq', value: system },
      { column: 'code', op: 'in', values: [...new Set([code, ...codes])] },
    ] };
  }

  /**
   * :in / :not-in: one entry condition per code system of the expansion. Elements of FHIR type
   * `code` (Patient.gender, Observation.status) are indexed without a system, which their
   * required binding implies; so a system-less entry whose code is in the expansion matches too.
   */
  private async inValueSet(ctx: ValueContext, url: string): Promise<EntryCondition[]> {
    const expansion = this.options.expandValueSet ? await this.options.expandValueSet(url) : undefined;
    if (!expansion) throw errors.badRequest(`Search parameter '${ctx.name}': ValueSet '${url}' is not known to this server`);
    const bySystem = new Map<string, string[]>();
    for (const { system, code } of expansion) {
      const codes = bySystem.get(system ?? '');
      if (codes) codes.push(code);
      else bySystem.set(system ?? '', [code]);
    }
    const entry = (system: Clause, codes: string[]): EntryCondition => ({
      kind: 'entry', entry: 'token', param: ctx.param, clauses: [system, { column: 'code', op: 'in', values: [...new Set(codes)] }],
    });
    const conditions = [...bySystem]
      .filter(([system]) => system !== '')
      .map(([system, codes]) => entry({ column: 'system', op: 'eq', value: system }, codes));
    if (expansion.length) conditions.push(entry({ column: 'system', op: 'null' }, expansion.map((c) => c.code)));
    return conditions;
  }

  /** Composite components, by type, resolved from their SearchParameter urls. */
  private components(def: SearchParamDef, full: string): { type: string; target: string[] }[] | undefined {
    const components = def.definition.component ?? [];
    const resolved: { type: string; target: string[] }[] = [];
    for (const c of components) {
      const sp = this.registry.byUrl(c.definition);
      if (!sp || !entryKindOf(sp.type)) {
        return this.unsupported(`Composite search parameter '${full}' has a component ('${c.definition}') this server cannot search`);
      }
      resolved.push({ type: sp.type, target: sp.target ?? [] });
    }
    return resolved.length ? resolved : this.unsupported(`Composite search parameter '${full}' has no components`);
  }

  /**
   * `a$b` matches when one composite group (one Observation.component, say) has entries matching
   * every component. A component with alternatives (`ne`, `||unit`) multiplies into alternative
   * groups, since a composite condition holds only entry conditions.
   */
  private composite(def: SearchParamDef, values: string[], full: string): Condition | undefined {
    const components = this.components(def, full);
    if (!components) return undefined;
    const groups: Condition[] = [];
    for (const v of values) {
      const pieces = splitEscaped(v, '$');
      if (pieces.length !== components.length) {
        throw invalid({ name: full }, unescape(v), `expected ${components.length} components separated by '$'`);
      }
      let combos: EntryCondition[][] = [[]];
      pieces.forEach((piece, i) => {
        if (piece === '') throw invalid({ name: full }, unescape(v), `component ${i + 1} is empty`);
        const ctx: ValueContext = { name: full, param: `${def.code}.${i}`, targets: components[i].target, now: this.now, localBase: this.options.localBase };
        const alternatives = valueAlternatives(components[i].type, ctx, piece);
        combos = combos.flatMap((combo) => alternatives.map((a) => [...combo, a]));
      });
      for (const combo of combos) groups.push({ kind: 'composite', param: def.code, components: combo });
    }
    return anyOf(groups);
  }
}

/**
 * Identifier :of-type (`type-system|type-code|value`). The extractor writes, for each coding of
 * Identifier.type, a token entry of param `${code}:of-type` with system/code from the coding and
 * text = the identifier's value, unfolded (identifier values are compared exactly).
 */
function ofType(ctx: ValueContext, raw: string): EntryCondition[] {
  const parts = splitEscaped(raw, '|').map(unescape);
  if (parts.length !== 3 || parts.some((p) => p === '')) throw invalid(ctx, unescape(raw), ":of-type needs 'type-system|type-code|value'");
  const [system, code, value] = parts;
  return [{ kind: 'entry', entry: 'token', param: `${ctx.param}:of-type`, clauses: [
    { column: 'system', op: 'eq', value: system },
    { column: 'code', op: 'eq', value: code },
    { column: 'text', op: 'eq', value },
  ] }];
}

/**
 * System search: `_type=A,B` (repeats intersect) narrows the types the caller offered. Every
 * listed name must be a resource type.
 */
function searchedTypes(resourceTypes: string[], params: [string, string][]): string[] {
  let types = [...new Set(resourceTypes)];
  const given = params.filter(([name, value]) => name === '_type' && value !== '');
  for (const [, value] of given) {
    const listed = orValues({ name: '_type' }, value).map((t) => unescape(t).trim());
    for (const t of listed) {
      if (!isResourceType(t)) throw errors.badRequest(`Invalid value '${t}' for search parameter '_type': not a resource type`);
    }
    types = types.filter((t) => listed.includes(t));
  }
  if (given.length && !types.length) throw errors.badRequest(`Search parameter '_type' leaves no resource type to search`);
  return types;
}
