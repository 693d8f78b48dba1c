import type { IndexEntry } from './index-entries.js';
import type { SearchParameterRegistry, SearchParamDef } from './registry.js';
import { compileExpression, type Evaluator } from './expression.js';
import { toEntries } from './convert.js';

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
}

/**
 * composite and special parameters are not extracted here: special ones (_text, _content, near,
 * ...) have no expression to index, and composite ones pair the entries of their components at
 * query time, which arrives with the search plan.
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
    for (const { def, evaluate } of this.plan(resourceType)) {
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
    return entries;
  }

  private plan(resourceType: string): CompiledParam[] {
    const cached = this.plans.get(resourceType);
    if (cached && cached.registryVersion === this.registry.version) return cached.params;
    const params: CompiledParam[] = [];
    for (const def of this.registry.forType(resourceType)) {
      if (!EXTRACTED.has(def.type) || !def.expression) continue;
      try {
        params.push({ def, evaluate: compileExpression(def.expression, resourceType, { fastPath: this.fastPath }) });
      } catch (error) {
        this.failed(error, resourceType, def.code);
      }
    }
    this.plans.set(resourceType, { registryVersion: this.registry.version, params });
    return params;
  }

  private failed(error: unknown, resourceType: string, param: string): void {
    this.errors++;
    this.options.onError?.(error, { resourceType, param });
  }
}

/**
 * Unions in expressions and repeated data (the same code twice) yield identical entries, always
 * within one parameter, so only a parameter's own entries (entries[start..]) are compared; most
 * parameters yield at most one, which keeps this off the hot path.
 */
function dedupeTail(entries: IndexEntry[], start: number): void {
  const seen = new Set<string>();
  let kept = start;
  for (let i = start; i < entries.length; i++) {
    const key = JSON.stringify(entries[i]);
    if (seen.has(key)) continue;
    seen.add(key);
    entries[kept++] = entries[i];
  }
  entries.length = kept;
}
