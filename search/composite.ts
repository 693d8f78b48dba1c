import type { IndexEntry } from './index-entries.js';
import type { SearchParameterRegistry, SearchParamDef, SearchParamType } from './registry.js';
import { compileNodes, compileRelative, type CompileOptions, type NodeEvaluator, type RelativeEvaluator } from './expression.js';
import { toEntries } from './convert.js';

/**
 * Composite parameters (Observation `code-value-quantity`, `component-code-value-quantity`, ...).
 *
 * The composite's expression selects base nodes (the Observation itself, each
 * Observation.component, each useContext); each component's expression is evaluated relative to
 * each node and converted with the type of the component's own SearchParameter (named by
 * canonical url in definition.component[i].definition). Entry shape:
 *
 *   { kind: 'token',    param: 'component-code-value-quantity.0', system, code, text, group: 7 }
 *   { kind: 'quantity', param: 'component-code-value-quantity.1', value, system, code, unit, group: 7 }
 *
 * - One group per base node: every entry of every component of that node shares it, so a search
 *   matches a composite value when, for one group, each component has a matching entry. A
 *   component yielding several values for a node (several codings of code) puts all of them in
 *   the node's group: any combination of them within the node is a value of the composite.
 * - Group numbers are unique within the resource (a counter across all its composite params),
 *   starting at 1.
 * - A node for which some component yields nothing gets no entries at all: it cannot match a
 *   composite search, which needs every component.
 * - Component entries carry no modifier entries (`:identifier`, `:of-type`): composite
 *   components take no modifiers.
 */

/**
 * Known errors in the published definitions, corrected here: R4's DocumentReference-relationship
 * gives its reference component (relatesto) the expression `code` and its token component
 * (relation) `target`, the wrong way round (R5 pairs relatesto with target, relation with code).
 */
const COMPONENT_ERRATA: Record<string, Record<number, { wrong: string; right: string }>> = {
  'http://hl7.org/fhir/SearchParameter/DocumentReference-relationship': {
    0: { wrong: 'code', right: 'target' },
    1: { wrong: 'target', right: 'code' },
  },
};

interface Component {
  param: string;
  type: SearchParamType;
  expression: string;
  /** Relative evaluators by the base of the node they run on (compileRelative caches globally too). */
  byBase: Map<string, RelativeEvaluator>;
}

export interface CompiledComposite {
  code: string;
  /**
   * Appends the entries of the composite to out, numbering groups from `group`; returns the next
   * free group number.
   */
  extract(resource: object, out: IndexEntry[], group: number): number;
}

/** Looks a component's SearchParameter up by canonical url, with or without a |version. */
function componentType(registry: SearchParameterRegistry, url: string): SearchParamType | undefined {
  const sp = registry.byUrl(url) ?? (url.includes('|') ? registry.byUrl(url.slice(0, url.indexOf('|'))) : undefined);
  return sp?.type;
}

/**
 * Compiles a composite parameter for a resource type. Throws when it cannot be indexed (no
 * components, an unknown component definition, a component that is itself composite or special):
 * the extractor reports and skips it, like any parameter that fails to compile.
 */
export function compileComposite(
  def: SearchParamDef, resourceType: string, registry: SearchParameterRegistry, options: CompileOptions,
): CompiledComposite {
  if (!def.expression) throw new Error(`composite ${def.code} has no expression for ${resourceType}`);
  const parts = def.definition.component ?? [];
  if (parts.length === 0) throw new Error(`composite ${def.code} has no components`);
  const errata = COMPONENT_ERRATA[def.url];
  const components: Component[] = parts.map((c, i) => {
    const type = componentType(registry, c.definition);
    if (!type) throw new Error(`composite ${def.code}: unknown component definition ${c.definition}`);
    if (type === 'composite' || type === 'special') throw new Error(`composite ${def.code}: component ${i} is ${type}`);
    const expression = errata?.[i]?.wrong === c.expression ? errata[i].right : c.expression;
    if (!expression) throw new Error(`composite ${def.code}: component ${i} has no expression`);
    return { param: `${def.code}.${i}`, type, expression, byBase: new Map() };
  });
  const nodes: NodeEvaluator = compileNodes(def.expression, resourceType, options);
  // Bases are known only once nodes are found (the fhirpath path reports them per node), so the
  // relative evaluators are compiled on first use; a failure there is an evaluation error.
  const evaluator = (c: Component, base: string): RelativeEvaluator => {
    let e = c.byBase.get(base);
    if (!e) {
      e = compileRelative(c.expression, base, options);
      c.byBase.set(base, e);
    }
    return e;
  };

  return {
    code: def.code,
    extract(resource, out, group) {
      for (const { node, base } of nodes(resource)) {
        const start = out.length;
        let complete = true;
        for (const c of components) {
          const before = out.length;
          for (const v of evaluator(c, base)(node, resource)) toEntries(c.param, c.type, v, out, false);
          if (out.length === before) {
            complete = false;
            break;
          }
        }
        if (!complete) {
          out.length = start;
          continue;
        }
        for (let i = start; i < out.length; i++) out[i].group = group;
        group++;
      }
      return group;
    },
  };
}
