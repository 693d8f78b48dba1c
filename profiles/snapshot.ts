import type { ElementDefinition, StructureDefinition } from 'fhir/r4.js';

/**
 * Snapshot generation (R4 profiling.html#snapshot): the base definition's snapshot, with each
 * differential element merged into the element it constrains. What the differential needs that
 * the base does not have yet is made on the way:
 *
 * - a slice (`Patient.identifier:nhsNumber`) is a copy of the sliced element and its children,
 *   placed after the sliced element's existing children and slices, with min 0 unless the
 *   differential says otherwise (a slice is never required just because its base is);
 * - children of an element the base does not unfold (`Patient.identifier:nhsNumber.system`, or
 *   `Patient.extension:birthSex.value[x]`) come from the element's type: its profile's snapshot
 *   when the type names one (an extension definition), else the data type's base definition;
 *   `contentReference` elements (`Questionnaire.item.item`) unfold the referenced element;
 * - choice elements named by type (`valueQuantity`, or the type slice `value[x]:valueQuantity`)
 *   constrain `value[x]`, restricted to that type.
 *
 * Not handled (left as the base says): re-slicing (`a:b/c`) and differential elements out of
 * snapshot order that would need a slice to see a constraint added after it was copied.
 */
export type SnapshotLookup = (url: string) => ElementDefinition[] | undefined;

/** Elements copied into the snapshot as they are; everything else in a differential element overrides. */
const SKIP = new Set(['id', 'path', 'extension', 'mapping']);

export function generateSnapshot(sd: StructureDefinition, baseElements: ElementDefinition[], lookup: SnapshotLookup): ElementDefinition[] {
  const elements: ElementDefinition[] = structuredClone(baseElements);
  const index = new Map<string, number>();
  const reindex = () => {
    index.clear();
    elements.forEach((e, i) => index.set(e.id ?? e.path, i));
  };
  reindex();
  const rootId = elements[0]?.id ?? elements[0]?.path;
  if (!rootId) throw new Error(`The base of '${sd.url}' has an empty snapshot`);

  const hasChildren = (id: string) => elements.some((e) => (e.id ?? '').startsWith(`${id}.`));

  /** Unfolds the children of `id` from its type (or content reference), right after it. */
  const unfold = (id: string): void => {
    const at = index.get(id)!;
    const el = elements[at];
    let source: ElementDefinition[] | undefined;
    let sourceRoot: string;
    if (el.contentReference) {
      sourceRoot = el.contentReference.replace(/^#/, '');
      source = elements.filter((e) => e.id === sourceRoot || (e.id ?? '').startsWith(`${sourceRoot}.`));
      if (!source.length) source = baseElements.filter((e) => e.id === sourceRoot || (e.id ?? '').startsWith(`${sourceRoot}.`));
    } else {
      const types = el.type ?? [];
      if (types.length !== 1) throw new Error(`Cannot unfold '${id}' in '${sd.url}': it has ${types.length} types`);
      const [type] = types;
      const profile = type.profile?.[0];
      source = (profile ? lookup(profile) : undefined) ?? lookup(`http://hl7.org/fhir/StructureDefinition/${type.code}`);
      if (!source) throw new Error(`Cannot unfold '${id}' in '${sd.url}': no definition of ${profile ?? type.code}`);
      sourceRoot = source[0].id ?? source[0].path;
    }
    const sourcePath = source[0].path;
    const children = structuredClone(source.slice(1)).map((c) => ({
      ...c,
      id: id + (c.id ?? c.path).slice(sourceRoot.length),
      path: el.path + c.path.slice(sourcePath.length),
    }));
    elements.splice(at + 1, 0, ...children);
    reindex();
  };

  /** Makes slice `name` of the element `id`: a copy of it and its children, after its existing slices. */
  const makeSlice = (id: string, name: string): void => {
    const sliced = elements[index.get(id)!];
    const family = elements.filter((e) => (e.id ?? '').startsWith(`${id}.`));
    let last = index.get(id)!;
    elements.forEach((e, i) => {
      const eid = e.id ?? '';
      if (eid.startsWith(`${id}.`) || eid.startsWith(`${id}:`)) last = Math.max(last, i);
    });
    const sliceId = `${id}:${name}`;
    const head: ElementDefinition = { ...structuredClone(sliced), id: sliceId, sliceName: name, min: 0 };
    delete head.slicing;
    const copies = structuredClone(family).map((c) => ({ ...c, id: sliceId + (c.id ?? '').slice(id.length) }));
    elements.splice(last + 1, 0, head, ...copies);
    reindex();
  };

  /** Restricts a choice element to one type (from `valueQuantity` or `value[x]:valueQuantity`). */
  const restrict = (id: string, suffix: string): void => {
    const el = elements[index.get(id)!];
    const kept = (el.type ?? []).filter((t) => capitalise(t.code) === suffix);
    if (kept.length) el.type = kept;
  };

  /** The snapshot id of the element a differential id names, making slices and unfolding types on the way. */
  const locate = (diffId: string): string => {
    const segments = diffId.split('.');
    let built = rootId;
    for (const segment of segments.slice(1)) {
      let [name, slice] = splitSlice(segment);
      let typeSuffix: string | undefined;
      if (name.endsWith('[x]') && slice?.startsWith(name.slice(0, -3))) { // value[x]:valueQuantity
        typeSuffix = slice.slice(name.length - 3);
        slice = undefined;
      }
      let candidate = `${built}.${name}`;
      if (!index.has(candidate) && !hasChildren(built)) unfold(built);
      if (!index.has(candidate)) { // valueQuantity → value[x]
        const choice = elements.find((e) => {
          const eid = e.id ?? '';
          if (!eid.startsWith(`${built}.`) || !eid.endsWith('[x]') || eid.slice(built.length + 1).includes('.')) return false;
          const stem = eid.slice(built.length + 1, -3);
          return name.startsWith(stem) && /^[A-Z]/.test(name.slice(stem.length));
        });
        if (choice) {
          candidate = choice.id!;
          typeSuffix = name.slice(candidate.length - built.length - 4); // name minus the stem
        }
      }
      if (!index.has(candidate)) throw new Error(`Differential element '${diffId}' of '${sd.url}' matches nothing in its base`);
      if (typeSuffix) restrict(candidate, typeSuffix);
      if (slice !== undefined) {
        if (!index.has(`${candidate}:${slice}`)) makeSlice(candidate, slice);
        candidate = `${candidate}:${slice}`;
      }
      built = candidate;
    }
    return built;
  };

  for (const diff of sd.differential?.element ?? []) {
    const diffId = diff.id ?? (diff.sliceName ? `${diff.path}:${diff.sliceName}` : diff.path);
    const target = elements[index.get(locate(diffId))!];
    merge(target, diff);
  }
  return elements;
}

function splitSlice(segment: string): [string, string | undefined] {
  const at = segment.indexOf(':');
  return at < 0 ? [segment, undefined] : [segment.slice(0, at), segment.slice(at + 1)];
}

export function capitalise(code: string): string {
  return code.charAt(0).toUpperCase() + code.slice(1);
}

/** Applies a differential element's constraints to the snapshot element. */
function merge(target: ElementDefinition, diff: ElementDefinition): void {
  const t = target as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(diff)) {
    if (SKIP.has(key)) continue;
    if (key === 'constraint') {
      const byKey = new Map((target.constraint ?? []).map((c) => [c.key, c]));
      for (const c of value as ElementDefinition['constraint'] & object) byKey.set(c.key, c);
      target.constraint = [...byKey.values()];
    } else if (key === 'binding') {
      target.binding = { ...target.binding, ...(value as object) } as ElementDefinition['binding'];
    } else if (key.startsWith('fixed') || key.startsWith('pattern')) {
      for (const k of Object.keys(t)) if (k.startsWith('fixed') || k.startsWith('pattern')) delete t[k];
      t[key] = structuredClone(value);
    } else {
      t[key] = structuredClone(value);
    }
  }
}
