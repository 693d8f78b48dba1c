import type { SearchPlan } from './plan.js';

/**
 * The plan for "the current resource of this type with this canonical url" (the `url` search
 * parameter every conformance resource has, indexed as a uri entry). Used to resolve ValueSets,
 * CodeSystems and SearchParameters held by the server.
 */
export function byCanonicalUrlPlan(resourceType: string, url: string): SearchPlan {
  return {
    resourceTypes: [resourceType],
    where: { kind: 'entry', entry: 'uri', param: 'url', clauses: [{ column: 'value', op: 'eq', value: url }] },
    sort: [{ by: 'lastUpdated', descending: true }],
    count: 1,
    total: 'none',
    include: [],
    revinclude: [],
    warnings: [],
  };
}

/** Every current resource of one type, a page at a time (start-up loading of SearchParameters). */
export function allOfTypePlan(resourceType: string, count: number, cursor?: string): SearchPlan {
  return { resourceTypes: [resourceType], sort: [], count, cursor, total: 'none', include: [], revinclude: [], warnings: [] };
}
