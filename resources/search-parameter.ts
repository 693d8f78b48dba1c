import type { Resource, SearchParameter } from 'fhir/r4.js';
import { isResourceType } from '../fhir/definitions.js';
import { errors } from '../fhir/errors.js';
import { compileExpression } from '../search/expression.js';
import { narrowExpression, type SearchParameterRegistry } from '../search/registry.js';
import type { ResourceHooks } from './hooks.js';

/**
 * SearchParameter resources created through the API extend search at run time: once a write of
 * an active SearchParameter commits, the registry knows it, so every later write is indexed with
 * it and queries may use it. Resources stored before it need `$reindex`.
 */
const INDEXED_TYPES = new Set(['string', 'token', 'date', 'number', 'quantity', 'reference', 'uri', 'composite']);

/** Business rules for a SearchParameter the server is asked to store and then honour. */
function check(sp: SearchParameter): void {
  if (sp.status === 'retired') return; // stored, never used
  const bad = sp.base.filter((b) => b !== 'Resource' && b !== 'DomainResource' && !isResourceType(b));
  if (bad.length) throw errors.unprocessable(`SearchParameter.base names unknown resource types: ${bad.join(', ')}`, ['SearchParameter.base']);
  if (!/^[A-Za-z0-9][A-Za-z0-9\-_.]*$/.test(sp.code)) {
    throw errors.unprocessable(`SearchParameter.code '${sp.code}' is not a usable parameter name`, ['SearchParameter.code']);
  }
  if (!INDEXED_TYPES.has(sp.type)) throw errors.unprocessable(`SearchParameters of type '${sp.type}' cannot be indexed`, ['SearchParameter.type']);
  if (!sp.expression) throw errors.unprocessable('A SearchParameter needs an expression to be indexed', ['SearchParameter.expression']);
  for (const base of sp.base) {
    const narrowed = narrowExpression(sp.expression, base === 'Resource' || base === 'DomainResource' ? 'Patient' : base);
    try {
      if (narrowed) compileExpression(narrowed, base);
    } catch (e) {
      throw errors.unprocessable(`SearchParameter.expression does not compile: ${(e as Error).message}`, ['SearchParameter.expression']);
    }
  }
}

export function searchParameterHooks(registry: SearchParameterRegistry): ResourceHooks {
  const urlById = new Map<string, string>();
  return {
    validate(resource: Resource) {
      check(resource as SearchParameter);
    },
    afterCommit({ id, resource }) {
      const previous = urlById.get(id);
      if (previous !== undefined) {
        registry.unregister(previous);
        urlById.delete(id);
      }
      const sp = resource as SearchParameter | undefined;
      if (sp && sp.status !== 'retired') {
        registry.register(sp);
        urlById.set(id, sp.url);
      }
    },
  };
}
