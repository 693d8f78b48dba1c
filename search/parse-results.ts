import { errors } from '../fhir/errors.js';
import { isResourceType } from '../fhir/definitions.js';
import type { IncludeSpec, SortKey, TotalMode } from './plan.js';
import type { SearchParameterRegistry, SearchParamDef } from './registry.js';
import { entryKindOf, orValues, unescape } from './parse-values.js';

/**
 * The result-shaping parameters the plan carries (search.html#count, #sort, #include, #total):
 * they say which matches come back and how, never which resources match.
 */

export interface Reporter {
  /** An unknown or unsupported parameter: a warning, or a 400 under Prefer: handling=strict. */
  unsupported(diagnostics: string): undefined;
}

export function parseCount(value: string, options: { maxCount: number }): number {
  if (!/^\d+$/.test(value)) throw errors.badRequest(`Invalid value '${value}' for search parameter '_count': expected a non-negative integer`);
  return Math.min(Number(value), options.maxCount);
}

/**
 * `_total`: none | estimate | accurate. The default (chosen in parse.ts) is accurate: counting
 * the matches is one indexed COUNT on SQLite, cheap enough to give clients the exact number.
 */
export function parseTotal(value: string): TotalMode {
  if (value === 'none' || value === 'estimate' || value === 'accurate') return value;
  throw errors.badRequest(`Invalid value '${value}' for search parameter '_total': expected none, estimate or accurate`);
}

/** The same parameter, with the same type, on every searched type (system search with _type). */
export function commonDef(registry: SearchParameterRegistry, types: readonly string[], code: string): SearchParamDef | undefined {
  let first: SearchParamDef | undefined;
  for (const t of types) {
    const def = registry.get(t, code);
    if (!def || (first && def.type !== first.type)) return undefined;
    first ??= def;
  }
  return first;
}

/**
 * `_sort=a,-b` (R4), and `_sort:desc=b` / `_sort:asc=a` as older clients send them. Each key sorts
 * by one column of the parameter's entries: dates by the start of their range ascending and by
 * the end descending, so that "latest first" means what it says for Periods too.
 */
export function parseSort(
  registry: SearchParameterRegistry, types: readonly string[], value: string, modifier: string | undefined, reporter: Reporter,
): SortKey[] {
  if (modifier !== undefined && modifier !== 'asc' && modifier !== 'desc') {
    return reporter.unsupported(`Unknown modifier ':${modifier}' on _sort`) ?? [];
  }
  const keys: SortKey[] = [];
  for (const raw of orValues({ name: '_sort' }, value)) {
    const item = unescape(raw);
    const descending = modifier === 'desc' || item.startsWith('-');
    const code = item.startsWith('-') ? item.slice(1) : item;
    if (code === '') throw errors.badRequest(`Invalid value '${value}' for search parameter '_sort': empty sort key`);
    if (code === '_id') { keys.push({ by: 'id', descending }); continue; }
    if (code === '_lastUpdated') { keys.push({ by: 'lastUpdated', descending }); continue; }
    const def = commonDef(registry, types, code);
    const kind = def && entryKindOf(def.type);
    if (!def || !kind || !def.expression) {
      reporter.unsupported(def ? `Cannot sort by '${code}' (a ${def.type} parameter)` : `Unknown search parameter '${code}' in _sort`);
      continue;
    }
    const column = kind === 'string' ? 'value'
      : kind === 'token' ? 'code'
      : kind === 'date' ? (descending ? 'high' : 'low')
      : kind === 'reference' ? 'targetId'
      : 'value'; // number, quantity, uri
    keys.push({ by: 'entry', entry: kind, param: def.code, column, descending });
  }
  return keys;
}

/**
 * `_include` / `_revinclude`: `Type:param`, `Type:param:TargetType`, `Type:*` (every reference
 * parameter), and for _include a bare `*` (every reference of the searched types).
 * `:iterate` (and R3's `:recurse`) follow what earlier includes brought in too.
 */
export function parseInclude(
  registry: SearchParameterRegistry, types: readonly string[], name: '_include' | '_revinclude', value: string,
  modifier: string | undefined, reporter: Reporter,
): IncludeSpec[] {
  if (modifier !== undefined && modifier !== 'iterate' && modifier !== 'recurse') {
    return reporter.unsupported(`Unknown modifier ':${modifier}' on ${name}`) ?? [];
  }
  const iterate = modifier !== undefined;
  const bad = (why: string) => errors.badRequest(`Invalid value '${value}' for search parameter '${name}': ${why}`);
  if (value === '*') {
    if (name === '_revinclude') return reporter.unsupported(`'_revinclude=*' is not supported; name the type and parameter`) ?? [];
    return types.map((sourceType) => ({ sourceType, iterate }));
  }
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '')) throw bad("expected 'Type:parameter' or 'Type:parameter:TargetType'");
  const [sourceType, code, targetType] = parts;
  if (!isResourceType(sourceType)) throw bad(`'${sourceType}' is not a resource type`);
  if (targetType !== undefined && !isResourceType(targetType)) throw bad(`'${targetType}' is not a resource type`);
  if (code === '*') return [{ sourceType, iterate, ...(targetType ? { targetType } : {}) }];
  const def = registry.get(sourceType, code);
  if (!def || def.type !== 'reference') {
    return reporter.unsupported(`'${code}' is not a reference search parameter of ${sourceType} (in ${name})`) ?? [];
  }
  if (targetType !== undefined && def.target.length && !def.target.includes(targetType)) {
    return reporter.unsupported(`${sourceType}.${code} cannot refer to ${targetType} (in ${name})`) ?? [];
  }
  return [{ sourceType, param: def.code, iterate, ...(targetType ? { targetType } : {}) }];
}
