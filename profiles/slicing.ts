import type { PlanNode } from './plan.js';
import { matchesPattern, parseSteps, sameValue, stepValues, type Step } from './values.js';

/**
 * Which slice an item of a sliced element belongs to (R4 profiling.html#discriminator): the first
 * slice all of whose discriminators the item satisfies. Discriminator types: value and pattern
 * (the slice's fixed[x] or pattern[x] at the path), exists (the slice requires or forbids the
 * path), type (the type of the value at the path) and profile (the value at the path conforms to
 * the slice's profile there). A slice whose rule cannot be read here (a path through resolve(),
 * a value slice with no fixed or pattern value) matches nothing, so an item is never forced into
 * a slice we cannot judge; with open slicing it is then simply unsliced.
 */
export interface SlicingContext {
  /** The compiled root of a profile (for paths that continue into an extension's definition). */
  planOf(url: string): PlanNode | undefined;
  /** Whether a value conforms to a profile, errors only (the profile discriminator). */
  conforms(url: string, value: unknown): boolean;
}

export interface Item {
  value: unknown;
  /** The type the item's JSON name gives it (choice elements), e.g. 'Quantity'. */
  type?: string;
}

/** The node a discriminator path reaches inside a slice, following type profiles where the slice does not unfold. */
function nodeAt(slice: PlanNode, steps: Step[], ctx: SlicingContext): PlanNode | undefined {
  let current: PlanNode | undefined = slice;
  for (const step of steps) {
    if (!current) return undefined;
    let next: PlanNode | undefined = current.children.find((c) => c.name === step.name);
    if (!next && current.types[0]?.profiles[0]) {
      next = ctx.planOf(current.types[0].profiles[0])?.children.find((c) => c.name === step.name);
    }
    if (next && step.extensionUrl !== undefined) {
      next = next.slices.find((s) => s.types.some((t) => t.profiles.includes(step.extensionUrl!)))
        ?? next.slices.find((s) => fixedUrl(s, ctx) === step.extensionUrl);
    }
    current = next;
  }
  // The path ends at an element the slice leaves to its type profile (an extension slice's url).
  return current;
}

function fixedUrl(slice: PlanNode, ctx: SlicingContext): unknown {
  const url = slice.children.find((c) => c.name === 'url');
  if (url?.fixed !== undefined) return url.fixed;
  const profile = slice.types[0]?.profiles[0];
  return profile ? ctx.planOf(profile)?.children.find((c) => c.name === 'url')?.fixed ?? profile : undefined;
}

function valuesAt(item: Item, steps: Step[]): Item[] {
  let values: Item[] = [item];
  for (const step of steps) values = values.flatMap((v) => stepValues(v.value, step));
  return values;
}

function discriminatorHolds(slice: PlanNode, item: Item, d: { type: string; path: string }, ctx: SlicingContext): boolean {
  const steps = parseSteps(d.path);
  if (!steps) return false;
  const target = steps.length ? nodeAt(slice, steps, ctx) : slice;
  const values = valuesAt(item, steps);
  switch (d.type) {
    case 'value':
    case 'pattern': {
      // An extension slice is keyed by url, which its definition fixes rather than the slice.
      const isUrl = steps.length === 1 && steps[0].name === 'url';
      const expected = target?.fixed ?? target?.pattern ?? (isUrl ? fixedUrl(slice, ctx) : undefined);
      if (expected === undefined) return false;
      const exact = target?.fixed !== undefined || (isUrl && target?.pattern === undefined);
      return values.some((v) => (exact ? sameValue(v.value, expected) : matchesPattern(v.value, expected)));
    }
    case 'exists':
      if (!target) return false;
      if (target.min >= 1) return values.length > 0;
      if (target.max === 0) return values.length === 0;
      return false;
    case 'type': {
      if (!target) return false;
      const codes = target.types.map((t) => t.code.toLowerCase());
      return values.length > 0 && values.every((v) => {
        const type = v.type ?? (v.value as { resourceType?: string })?.resourceType;
        return type !== undefined && codes.includes(type.toLowerCase());
      });
    }
    case 'profile': {
      const profiles = target?.types.flatMap((t) => t.profiles) ?? [];
      return profiles.length > 0 && values.length > 0 && values.every((v) => profiles.some((p) => ctx.conforms(p, v.value)));
    }
    default:
      return false;
  }
}

export function sliceFor(sliced: PlanNode, item: Item, ctx: SlicingContext): PlanNode | undefined {
  const discriminators = sliced.slicing?.discriminators ?? [];
  if (discriminators.length === 0) return undefined;
  return sliced.slices.find((slice) => discriminators.every((d) => discriminatorHolds(slice, item, d, ctx)));
}
