import type { ValueSetComposeIncludeFilter } from 'fhir/r4.js';
import { closure, propertyString, subsumes, type CodeSystemProvider } from './code-system.js';

/**
 * ValueSet.compose.include.filter evaluation (R4 valueset.html#filters, filter-operator codes)
 * against a code system provider. A filter compiles to a membership test plus, when it can name
 * them cheaply, the candidate codes (is-a, in): expansion then walks those instead of the whole
 * system, which matters for SNOMED CT.
 */

export class UnsupportedFilter extends Error {}

export interface CompiledFilter {
  test(code: string): boolean;
  /** The codes the filter can only be satisfied by, when that set is small to name. */
  candidates?: () => Iterable<string>;
}

const HIERARCHY_PROPERTIES = new Set(['concept', 'code']);

export function compileFilter(cs: CodeSystemProvider, f: ValueSetComposeIncludeFilter): CompiledFilter {
  const { property, op, value } = f;
  if (HIERARCHY_PROPERTIES.has(property)) {
    switch (op) {
      case 'is-a':
      case 'descendent-of':
      case 'is-not-a': {
        const root = cs.concept(value)?.code;
        // Membership walks up from the code (cheap); only an expansion names every descendant.
        const below = (c: string) => root !== undefined && subsumes(cs, root, c) && (op !== 'descendent-of' || canonicalCode(cs, c) !== root);
        if (op === 'is-not-a') return { test: (c) => !below(c) };
        return {
          test: below,
          candidates: () => {
            if (root === undefined) return [];
            const all = closure(root, (c) => cs.children(c));
            if (op === 'descendent-of') all.delete(root);
            return all;
          },
        };
      }
      case 'generalizes': {
        const root = cs.concept(value)?.code;
        return { test: (c) => root !== undefined && subsumes(cs, c, root), candidates: () => (root === undefined ? [] : closure(root, (c) => cs.parents(c))) };
      }
      case '=': {
        const code = canonicalCode(cs, value);
        return { test: (c) => canonicalCode(cs, c) === code, candidates: () => (cs.concept(value) ? [code] : []) };
      }
      case 'in':
      case 'not-in': {
        const set = new Set(value.split(',').map((v) => canonicalCode(cs, v.trim())));
        if (op === 'not-in') return { test: (c) => !set.has(canonicalCode(cs, c)) };
        return { test: (c) => set.has(canonicalCode(cs, c)), candidates: () => [...set].filter((c) => cs.concept(c)) };
      }
      case 'regex': {
        const re = regex(value);
        return { test: (c) => re.test(c) };
      }
      default: throw new UnsupportedFilter(`filter operator '${op}' on '${property}'`);
    }
  }
  if (property === 'display') {
    if (op === '=') return { test: (c) => cs.concept(c)?.display === value };
    if (op === 'regex') {
      const re = regex(value);
      return { test: (c) => re.test(cs.concept(c)?.display ?? '') };
    }
    throw new UnsupportedFilter(`filter operator '${op}' on 'display'`);
  }
  // Any other property: the concept's own properties (R4 codesystem.html#properties).
  const values = (c: string) => (cs.concept(c)?.properties ?? []).filter((p) => p.code === property).map((p) => propertyString(p.value));
  switch (op) {
    case '=': return { test: (c) => values(c).includes(value) };
    case 'in': {
      const set = new Set(value.split(',').map((v) => v.trim()));
      return { test: (c) => values(c).some((v) => set.has(v)) };
    }
    case 'not-in': {
      const set = new Set(value.split(',').map((v) => v.trim()));
      return { test: (c) => !values(c).some((v) => set.has(v)) };
    }
    case 'regex': {
      const re = regex(value);
      return { test: (c) => values(c).some((v) => re.test(v)) };
    }
    case 'exists': {
      if (value !== 'true' && value !== 'false') throw new UnsupportedFilter(`exists needs true or false, not '${value}'`);
      const want = value === 'true';
      return { test: (c) => (values(c).length > 0) === want };
    }
    default: throw new UnsupportedFilter(`filter operator '${op}' on property '${property}'`);
  }
}

function canonicalCode(cs: CodeSystemProvider, code: string): string {
  return cs.concept(code)?.code ?? code;
}

/** A filter regex matches the whole value (R4 filter-operator: "the entire value"). */
function regex(value: string): RegExp {
  try {
    return new RegExp(`^(?:${value})$`, 'u');
  } catch {
    throw new UnsupportedFilter(`'${value}' is not a valid regular expression`);
  }
}
