import { errors } from '../fhir/errors.js';
import type { Condition, SearchPlan } from './plan.js';

/**
 * How big one query may be. FHIR puts no limit on a query, but a store does (SQLite: 500 terms
 * in a compound SELECT, 32,766 bound values, a bounded expression tree), and a query large
 * enough to reach those limits is a denial of service anyway. Past these limits the answer is a
 * 400 naming the limit, never a 500 or a minute of CPU.
 */
export const SEARCH_LIMITS = {
  /** Name=value pairs in one query (URL and form body together). */
  parameters: 200,
  /** Comma-separated values of one parameter. */
  orValues: 200,
  /** Sort keys in _sort. */
  sortKeys: 10,
  /** Index-entry tests in the whole plan (each value of each parameter, in chains too). */
  leaves: 400,
  /** Nesting of chains and _has. */
  depth: 6,
} as const;

export function tooComplex(what: string): never {
  throw errors.badRequest(`The search is too large: ${what}`);
}

/** Checks the finished plan's size, and that every number in it is a usable (finite) value. */
export function checkPlanSize(plan: SearchPlan): void {
  let leaves = 0;
  const visit = (c: Condition, depth: number): void => {
    if (depth > SEARCH_LIMITS.depth) tooComplex(`chains and _has nest more than ${SEARCH_LIMITS.depth} deep`);
    switch (c.kind) {
      case 'and':
      case 'or':
        for (const inner of c.conditions) visit(inner, depth);
        return;
      case 'not':
        visit(c.condition, depth);
        return;
      case 'chain':
      case 'has':
        leaves++;
        visit(c.condition, depth + 1);
        return;
      case 'composite':
        for (const inner of c.components) visit(inner, depth);
        return;
      case 'entry':
        leaves++;
        for (const clause of c.clauses) {
          if ('value' in clause && typeof clause.value === 'number' && !Number.isFinite(clause.value)) {
            throw errors.badRequest(`A value of search parameter '${c.param}' is out of range`);
          }
        }
        return;
      default:
        leaves++;
    }
  };
  if (plan.where) visit(plan.where, 0);
  if (leaves > SEARCH_LIMITS.leaves) tooComplex(`${leaves} conditions, at most ${SEARCH_LIMITS.leaves}`);
  if (plan.sort.length > SEARCH_LIMITS.sortKeys) tooComplex(`${plan.sort.length} sort keys, at most ${SEARCH_LIMITS.sortKeys}`);
}
