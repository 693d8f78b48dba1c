import { randomUUID } from 'node:crypto';
import type { ValueSet, ValueSetExpansionContains, ValueSetExpansionParameter } from 'fhir/r4.js';
import { expansionFailure, type TerminologyContext } from './operations.js';
import { OperationInput } from './params.js';
import { targetValueSet } from './validate-code.js';
import type { ExpansionItem } from './expand.js';

/**
 * ValueSet/$expand (R4 valueset-operation-expand). The full expansion is computed once per value
 * set and cached (until a terminology write); `filter`, `activeOnly`, `offset` and `count` are
 * applied to it per request, and `expansion.total` counts what the filter left.
 */
export async function expandOperation(ctx: TerminologyContext, input: OperationInput, instance?: ValueSet): Promise<ValueSet> {
  const vs = await targetValueSet(ctx, input, '$expand', instance);
  const filter = input.string('filter');
  const offset = input.integer('offset', 0) ?? 0;
  const count = input.integer('count', 0);
  const activeOnly = input.boolean('activeOnly') ?? false;
  const includeDesignations = input.boolean('includeDesignations') ?? false;
  let expanded: Awaited<ReturnType<TerminologyContext['expansion']>>;
  try {
    expanded = await ctx.expansion(vs);
  } catch (e) {
    throw expansionFailure(e);
  }
  const systems = expanded.systems;
  let items: ExpansionItem[] = expanded.items;
  if (activeOnly) items = items.filter((i) => !i.inactive);
  if (filter !== undefined && filter.trim() !== '') items = items.filter(matcher(filter));
  const page = items.slice(offset, count === undefined ? undefined : offset + count);
  const parameter: ValueSetExpansionParameter[] = [
    ...[...systems].map(([s, v]) => ({ name: 'version', valueUri: v ? `${s}|${v}` : s })),
    ...(filter !== undefined ? [{ name: 'filter', valueString: filter }] : []),
    ...(count !== undefined ? [{ name: 'count', valueInteger: count }] : []),
    { name: 'offset', valueInteger: offset },
    ...(activeOnly ? [{ name: 'activeOnly', valueBoolean: true }] : []),
  ];
  const expansion: ValueSet['expansion'] = {
    identifier: `urn:uuid:${randomUUID()}`,
    timestamp: new Date().toISOString(),
    total: items.length,
    offset,
    parameter,
  };
  if (page.length) expansion.contains = page.map((i) => contains(i, includeDesignations));
  const out: ValueSet = { resourceType: 'ValueSet', status: vs.status ?? 'active' };
  if (vs.id) out.id = vs.id;
  for (const k of ['url', 'version', 'name', 'title'] as const) if (vs[k] !== undefined) out[k] = vs[k];
  out.expansion = expansion;
  return out;
}

function contains(i: ExpansionItem, designations: boolean): ValueSetExpansionContains {
  const c: ValueSetExpansionContains = { system: i.system };
  if (i.version) c.version = i.version;
  if (i.abstract) c.abstract = true;
  if (i.inactive) c.inactive = true;
  c.code = i.code;
  if (i.display !== undefined) c.display = i.display;
  if (designations && i.designations?.length) c.designation = i.designations.map((d) => ({ ...d }));
  return c;
}

const words = (s: string) => s.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);

/** The display's words per expansion item: cached expansions are filtered many times. */
const displayWords = new WeakMap<ExpansionItem, string[]>();

/**
 * The `filter` text: every word of it must begin a word of the display (case-insensitive), so
 * "chron kid" finds "Chronic kidney disease"; a filter equal to the code also matches.
 */
function matcher(filter: string): (i: ExpansionItem) => boolean {
  const wanted = words(filter);
  const exact = filter.trim().toLowerCase();
  return (i) => {
    if (i.code.toLowerCase() === exact) return true;
    if (!wanted.length) return true;
    let have = displayWords.get(i);
    if (!have) displayWords.set(i, have = words(i.display ?? ''));
    return wanted.every((w) => have.some((h) => h.startsWith(w)));
  };
}
