import type { IndexEntry } from './index-entries.js';
import type { SearchParameterRegistry, SearchParamDef } from './registry.js';
import { compileExpression, type Evaluator } from './expression.js';
import { toEntries } from './convert.js';
import { compileComposite, type CompiledComposite } from './composite.js';

export interface ExtractorOptions {
  /** Take the hand-written fast path for simple expressions (default true); false is for comparison. */
  fastPath?: boolean;
  /**
   * Told about each parameter that could not be compiled or evaluated. The parameter is skipped
   * and the write goes on: a quirk of one expression must not make valid data unstorable.
   */
  onError?: (error: unknown, where: { resourceType: string; param: string }) => void;
}

interface CompiledParam {
  def: SearchParamDef;
  evaluate: Evaluator;
}

interface Plan {
  registryVersion: number;
  params: CompiledParam[];
  composites: CompiledComposite[];
}

/**
 * Special parameters (_text, _content, near, ...) are not extracted: they have no expression to
 * index. Composite ones are, by search/composite.ts, as grouped component entries.
 */
const EXTRACTED = new Set(['string', 'token', 'date', 'number', 'quantity', 'reference', 'uri']);

/** Computes the search index entries of a resource for every parameter that applies to its type. */
export class IndexExtractor {
  /** Parameters skipped because compiling or evaluating them threw (see ExtractorOptions.onError). */
  errors = 0;
  private readonly plans = new Map<string, Plan>();
  private readonly fastPath: boolean;

  constructor(private readonly registry: SearchParameterRegistry, private readonly options: ExtractorOptions = {}) {
    this.fastPath = options.fastPath ?? true;
  }

  extract(resource: { resourceType: string } & Record<string, any>): IndexEntry[] {
    const resourceType = resource.resourceType;
    const entries: IndexEntry[] = [];
    const plan = this.plan(resourceType);
    for (const { def, evaluate } of plan.params) {
      let values;
      try {
        values = evaluate(resource);
      } catch (error) {
        this.failed(error, resourceType, def.code);
        continue;
      }
      const start = entries.length;
      for (const v of values) toEntries(def.code, def.type, v, entries);
      if (entries.length - start > 1) dedupeTail(entries, start);
    }
    let group = 1;
    for (const composite of plan.composites) {
      const start = entries.length;
      try {
        group = composite.extract(resource, entries, group);
      } catch (error) {
        entries.length = start;
        this.failed(error, resourceType, composite.code);
        continue;
      }
      // Entries carry their group, so only repeats within one group are dropped.
      if (entries.length - start > 1) dedupeTail(entries, start);
    }
    return entries;
  }

  private plan(resourceType: string): Plan {
    const cached = this.plans.get(resourceType);
    if (cached && cached.registryVersion === this.registry.version) return cached;
    const params: CompiledParam[] = [];
    const composites: CompiledComposite[] = [];
    const options = { fastPath: this.fastPath };
    for (const def of this.registry.forType(resourceType)) {
      if (!def.expression || (def.type !== 'composite' && !EXTRACTED.has(def.type))) continue;
      try {
        if (def.type === 'composite') composites.push(compileComposite(def, resourceType, this.registry, options));
        else params.push({ def, evaluate: compileExpression(def.expression, resourceType, options) });
      } catch (error) {
        this.failed(error, resourceType, def.code);
      }
    }
    const plan = { registryVersion: this.registry.version, params, composites };
    this.plans.set(resourceType, plan);
    return plan;
  }

  private failed(error: unknown, resourceType: string, param: string): void {
    this.errors++;
    this.options.onError?.(error, { resourceType, param });
  }
}

/**
 * Unions in expressions and repeated data (the same code twice) yield identical entries, always
 * within one parameter, so only a parameter's own entries (entries[start..]) are compared; most
 * parameters yield at most one, which keeps this off the hot path. A parameter's entries are few
 * (a handful of codings, a composite's groups), so they are compared pairwise: serialising each to
 * a key cost more than the rest of extraction put together. Large runs fall back to keys.
 */
function dedupeTail(entries: IndexEntry[], start: number): void {
  let kept = start;
  if (entries.length - start > 32) {
    const seen = new Set<string>();
    for (let i = start; i < entries.length; i++) {
      const key = JSON.stringify(entries[i]);
      if (seen.has(key)) continue;
      seen.add(key);
      entries[kept++] = entries[i];
    }
  } else {
    next: for (let i = start; i < entries.length; i++) {
      const e = entries[i];
      for (let j = start; j < kept; j++) if (sameEntry(entries[j], e)) continue next;
      entries[kept++] = e;
    }
  }
  entries.length = kept;
}

/** Field-by-field equality of two flat entries (same kind means same fields; group may differ). */
function sameEntry(a: IndexEntry, b: IndexEntry): boolean {
  if (a.kind !== b.kind || a.param !== b.param || a.group !== b.group) return false;
  const x = a as unknown as Record<string, unknown>;
  const y = b as unknown as Record<string, unknown>;
  for (const k in x) if (x[k] !== y[k]) return false;
  return true;
}
