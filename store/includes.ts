import type { IncludeSpec, SearchPlan } from '../search/plan.js';

/**
 * _include / _revinclude for both stores: the rounds, the :iterate rule, the caps and the order in
 * which resources are taken in. A store only answers the queries a round asks (IncludeQuery), in
 * its own query language; SQLite synchronously (inside its read transaction), MongoDB with awaits,
 * hence the rounds are a generator that both drive (includesSync, includesAsync).
 *
 * Round 0 applies every spec to the matches; each later round applies the :iterate specs to what
 * the round before brought in, until a round brings in nothing, or maxIncludeRounds rounds, or
 * maxIncluded resources. A resource comes in once, and never when it is a match. Within a round:
 * the forward specs in plan order, then the reverse ones, each for the types of the frontier in
 * the order they first appear; the rows of each query in (type, id) order.
 */

export interface IncludeLimits {
  /** Rounds of _include/_revinclude :iterate (the first round is the matches'). */
  maxIncludeRounds: number;
  /** Included resources per page at most. */
  maxIncluded: number;
}

export const INCLUDE_LIMITS: Readonly<IncludeLimits> = { maxIncludeRounds: 10, maxIncluded: 10_000 };

export interface ResourceRef {
  type: string;
  id: string;
}

/**
 * One query of a round, about the resources `ids` of type `type`; at most `limit` rows, current
 * and not deleted, in (type, id) order, each resource once.
 * - forward: the resources their reference entries (of `param`; any when undefined) point at,
 *   those of `targetType` only when defined;
 * - reverse: the resources whose reference entries (of `param`; any when undefined) point at
 *   them, those of `sourceType` only when defined.
 */
export type IncludeQuery =
  | { direction: 'forward'; type: string; ids: string[]; param?: string; targetType?: string; limit: number }
  | { direction: 'reverse'; type: string; ids: string[]; param?: string; sourceType?: string; limit: number };

/** `'*'` in a spec's type: any type. */
const anyType = (t: string | undefined): string | undefined => (t === '*' ? undefined : t);

function groupByType(refs: readonly ResourceRef[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const r of refs) {
    const ids = m.get(r.type);
    if (ids) ids.push(r.id);
    else m.set(r.type, [r.id]);
  }
  return m;
}

/** The rounds: yields each query, is sent its rows, returns what came in, in the order it did. */
function* rounds<R extends ResourceRef>(plan: SearchPlan, matches: readonly ResourceRef[], limits: IncludeLimits): Generator<IncludeQuery, R[], R[]> {
  const { maxIncludeRounds, maxIncluded } = limits;
  const seen = new Set(matches.map((r) => `${r.type}/${r.id}`));
  const included: R[] = [];
  let frontier: readonly ResourceRef[] = matches;
  for (let round = 0; round < maxIncludeRounds && frontier.length > 0 && included.length < maxIncluded; round++) {
    const forward: IncludeSpec[] = round === 0 ? plan.include : plan.include.filter((s) => s.iterate);
    const reverse: IncludeSpec[] = round === 0 ? plan.revinclude : plan.revinclude.filter((s) => s.iterate);
    if (forward.length === 0 && reverse.length === 0) break;
    const byType = groupByType(frontier);
    const found: R[] = [];
    const add = (rows: R[]) => {
      for (const r of rows) {
        const k = `${r.type}/${r.id}`;
        if (seen.has(k) || included.length >= maxIncluded) continue;
        seen.add(k);
        included.push(r);
        found.push(r);
      }
    };
    for (const spec of forward) {
      for (const [type, ids] of byType) {
        if (spec.sourceType !== '*' && spec.sourceType !== type) continue;
        add(yield { direction: 'forward', type, ids, param: spec.param, targetType: anyType(spec.targetType), limit: maxIncluded - included.length + seen.size });
      }
    }
    for (const spec of reverse) {
      for (const [type, ids] of byType) {
        add(yield { direction: 'reverse', type, ids, param: spec.param, sourceType: anyType(spec.sourceType), limit: maxIncluded - included.length + seen.size });
      }
    }
    frontier = found;
  }
  return included;
}

/** What the plan's includes bring in for `matches`, each query answered by `run` (synchronously). */
export function includesSync<R extends ResourceRef>(plan: SearchPlan, matches: readonly ResourceRef[], limits: IncludeLimits, run: (q: IncludeQuery) => R[]): R[] {
  const steps = rounds<R>(plan, matches, limits);
  let step = steps.next([]);
  while (!step.done) step = steps.next(run(step.value));
  return step.value;
}

/** The same, each query answered by `run` asynchronously (one query at a time, in order). */
export async function includesAsync<R extends ResourceRef>(plan: SearchPlan, matches: readonly ResourceRef[], limits: IncludeLimits, run: (q: IncludeQuery) => Promise<R[]>): Promise<R[]> {
  const steps = rounds<R>(plan, matches, limits);
  let step = steps.next([]);
  while (!step.done) step = steps.next(await run(step.value));
  return step.value;
}
