import type { OperationOutcomeIssue, Resource, StructureDefinition } from 'fhir/r4.js';
import { FHIR_ID_SOURCE } from '../fhir/id.js';
import type { CodeChecker, CodeCheckResult } from './code-checker.js';
import { ExtensionContexts, type ExtensionHost } from './extension-context.js';
import { evaluateInvariant } from './invariants.js';
import { compilePlan, type PlanNode, type PlanType } from './plan.js';
import { sliceFor, type Item, type SlicingContext } from './slicing.js';
import { capitalise } from './snapshot.js';
import type { StructureDefinitionRegistry } from './structure-definitions.js';
import { matchesPattern, sameValue } from './values.js';

/**
 * Validation of a resource against StructureDefinitions (R4 validation.html, profiling.html):
 * cardinality, choice types, fixed and pattern values, slicing, bindings, invariants and
 * reference targets along the profile's snapshot, and every extension against its definition.
 *
 * The structural stage (schema-validator.ts) has already run: unknown elements, JSON types and
 * primitive formats are its business. This stage walks only what a profile says.
 *
 * Each definition is compiled once into a plan (plan.ts) and cached until the registry changes.
 * The walk is synchronous; binding checks are collected and asked of the CodeChecker at the end
 * (it may be async), each distinct value set and code once per validation.
 */
type Issue = OperationOutcomeIssue;

interface PendingBinding {
  strength: string;
  valueSet: string;
  codings: { system?: string; code?: string }[];
  /** A CodeableConcept with text but no coding. */
  textOnly: boolean;
  path: string;
}

interface Walk {
  root: unknown;
  issues: Issue[];
  bindings: PendingBinding[];
}

/** A relative (Type/id) or http(s) absolute reference, with an optional /_history/vid: the target type is group 1. */
const REFERENCE = new RegExp(`^(?:https?://[^\\s]+/)?([A-Z][A-Za-z]+)/${FHIR_ID_SOURCE}(?:/_history/${FHIR_ID_SOURCE})?$`);

function issue(severity: Issue['severity'], code: Issue['code'], diagnostics: string, path: string): Issue {
  return { severity, code, diagnostics, expression: [path] };
}

export class ProfileValidator implements SlicingContext {
  private readonly contexts: ExtensionContexts;
  private readonly plans = new Map<string, { generation: number; root: PlanNode } | { generation: number; error: string }>();

  constructor(private readonly registry: StructureDefinitionRegistry, private readonly codes: CodeChecker) {
    this.contexts = new ExtensionContexts(registry);
  }

  /** The compiled root of a definition, or undefined when it is unknown or its snapshot cannot be made. */
  planOf(url: string): PlanNode | undefined {
    const plan = this.plan(url);
    return 'root' in plan ? plan.root : undefined;
  }

  private plan(url: string): { root: PlanNode } | { error: string } {
    const cached = this.plans.get(url);
    if (cached && cached.generation === this.registry.generation) return cached;
    let entry: { generation: number; root: PlanNode } | { generation: number; error: string };
    try {
      if (!this.registry.get(url)) throw new Error(`StructureDefinition '${url}' is not known`);
      entry = { generation: this.registry.generation, root: compilePlan(this.registry.snapshot(url)) };
    } catch (e) {
      entry = { generation: this.registry.generation, error: (e as Error).message };
    }
    this.plans.set(url, entry);
    return entry;
  }

  definition(url: string): StructureDefinition | undefined {
    return this.registry.get(url);
  }

  conforms(url: string, value: unknown): boolean {
    const root = this.planOf(url);
    if (!root || typeof value !== 'object' || value === null) return false;
    const walk: Walk = { root: value, issues: [], bindings: [] };
    this.walkChildren(root, value as Record<string, unknown>, root.path, walk);
    return !walk.issues.some((i) => i.severity === 'error' || i.severity === 'fatal');
  }

  /**
   * The issues of `resource` against each of `profiles` (canonical urls, each known: the policy
   * decides what an unknown claim means) plus its extensions against their definitions.
   */
  async validate(resource: Resource, profiles: string[]): Promise<Issue[]> {
    const walk: Walk = { root: resource, issues: [], bindings: [] };
    const type = resource.resourceType;
    for (const url of profiles) {
      const plan = this.plan(url);
      if ('error' in plan) {
        walk.issues.push(issue('error', 'processing', `Cannot validate against '${url}': ${plan.error}`, type));
        continue;
      }
      const sd = this.registry.get(url)!;
      if (sd.type !== type) {
        walk.issues.push(issue('error', 'invalid', `Profile '${url}' is for ${sd.type} resources, not ${type}`, type));
        continue;
      }
      this.checkElement(plan.root, { value: resource }, type, walk);
    }
    this.checkExtensions(resource, type, type, walk);
    await this.checkBindings(walk);
    return dedupe(walk.issues);
  }

  // ------------------------------------------------------------------------------------------
  // The walk

  private walkChildren(node: PlanNode, object: Record<string, unknown>, path: string, walk: Walk): void {
    for (const child of node.children) {
      const items = this.collect(child, object, path, walk);
      const where = `${path}.${child.name}`;
      if (items.length < child.min) {
        walk.issues.push(issue('error', 'required', `${child.path}: minimum required = ${child.min}, but only found ${items.length}`, where));
      }
      if (items.length > child.max) {
        walk.issues.push(issue('error', 'structure', `${child.path}: max allowed = ${child.max}, but found ${items.length}`, where));
      }
      if (child.slices.length && child.slicing) this.checkSlices(child, items, where, walk);
      for (const item of items) this.checkElement(child, item, item.path, walk);
    }
  }

  /** The instance values of one element definition in `object`, with their FHIRPath locations. */
  private collect(child: PlanNode, object: Record<string, unknown>, path: string, walk: Walk): (Item & { path: string })[] {
    const items: (Item & { path: string })[] = [];
    if (child.choice) {
      for (const key in object) {
        if (!key.startsWith(child.name) || !/^[A-Z]/.test(key.charAt(child.name.length))) continue;
        const suffix = key.slice(child.name.length);
        if (child.types.length && !child.types.some((t) => capitalise(t.code) === suffix)) {
          walk.issues.push(issue('error', 'structure',
            `${child.path}: type ${suffix} is not allowed here (allowed: ${child.types.map((t) => t.code).join(', ')})`, `${path}.${key}`));
          continue;
        }
        items.push({ value: object[key], type: suffix, path: `${path}.${key}` });
      }
      return items;
    }
    const value = object[child.name];
    const extra = object[`_${child.name}`];
    if (value === undefined && extra === undefined) return items;
    const repeats = Array.isArray(value) || Array.isArray(extra);
    const count = Math.max(Array.isArray(value) ? value.length : value === undefined ? 0 : 1, Array.isArray(extra) ? extra.length : extra === undefined ? 0 : 1);
    for (let i = 0; i < count; i++) {
      const v = Array.isArray(value) ? value[i] : value;
      items.push({ value: v ?? (Array.isArray(extra) ? extra[i] : extra), path: repeats ? `${path}.${child.name}[${i}]` : `${path}.${child.name}` });
    }
    return items;
  }

  private checkSlices(sliced: PlanNode, items: (Item & { path: string })[], where: string, walk: Walk): void {
    const counts = new Map<PlanNode, number>();
    for (const item of items) {
      const slice = sliceFor(sliced, item, this);
      if (slice) {
        counts.set(slice, (counts.get(slice) ?? 0) + 1);
        this.checkElement(slice, item, item.path, walk);
      } else if (sliced.slicing!.rules === 'closed') {
        walk.issues.push(issue('error', 'structure', `${sliced.path}: this item matches none of the slices (${sliced.slices.map((s) => s.sliceName).join(', ')}) and the slicing is closed`, item.path));
      }
    }
    for (const slice of sliced.slices) {
      const n = counts.get(slice) ?? 0;
      if (n < slice.min) walk.issues.push(issue('error', 'required', `${sliced.path}: slice '${slice.sliceName}' requires at least ${slice.min}, found ${n}`, where));
      if (n > slice.max) walk.issues.push(issue('error', 'structure', `${sliced.path}: slice '${slice.sliceName}' allows at most ${slice.max}, found ${n}`, where));
    }
  }

  /** One instance of an element: its value rules, bindings, invariants, reference targets, then its children. */
  private checkElement(node: PlanNode, item: Item & { path?: string }, path: string, walk: Walk): void {
    const { value } = item;
    if (node.fixed !== undefined && !sameValue(value, node.fixed)) {
      walk.issues.push(issue('error', 'value', `${node.path}: the value must be exactly ${JSON.stringify(node.fixed)}`, path));
    }
    if (node.pattern !== undefined && !matchesPattern(value, node.pattern)) {
      walk.issues.push(issue('error', 'value', `${node.path}: the value must match the pattern ${JSON.stringify(node.pattern)}`, path));
    }
    if (node.maxLength !== undefined && typeof value === 'string' && [...value].length > node.maxLength) {
      walk.issues.push(issue('error', 'too-long', `${node.path}: at most ${node.maxLength} characters, found ${[...value].length}`, path));
    }
    if (node.minValue !== undefined || node.maxValue !== undefined) this.checkRange(node, value, path, walk);
    const type = item.type ? node.types.find((t) => capitalise(t.code) === item.type) : node.types.length === 1 ? node.types[0] : undefined;
    if (node.binding && type) this.collectBinding(node, type.code, value, path, walk);
    if (type?.targetProfiles.length && (type.code === 'Reference')) this.checkTarget(node, type, value, path, walk);
    for (const c of node.constraints) {
      const base = invariantBase(node, item.type);
      const held = evaluateInvariant(base, c.expression!, value, walk.root);
      if (held === false) {
        walk.issues.push(issue(c.severity === 'warning' ? 'warning' : 'error', 'invariant', `Constraint failed: ${c.key}: ${c.human}`, path));
      }
    }
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      if (node.children.length) this.walkChildren(node, value as Record<string, unknown>, path, walk);
      else if (type && type.profiles.length === 1 && type.code !== 'Extension' && /^[A-Z]/.test(type.code) && type.profiles[0] !== node.path) {
        // A data type constrained by a profile of its own (Dosage.doseQuantity: SimpleQuantity):
        // extensions are left to the extension pass, which checks every one against its definition.
        const root = this.planOf(type.profiles[0]);
        if (root) this.checkElement(root, { value }, path, walk);
      }
      else if (value !== walk.root && typeof (value as { resourceType?: unknown }).resourceType === 'string') this.checkNested(node, value as Resource, path, walk);
    }
  }

  /**
   * A resource inside the resource (Bundle.entry.resource, contained, Parameters.parameter.resource)
   * against the profiles it claims that the server holds and those the element's type names, with
   * its own %resource. Claims the server does not hold are warnings, as at the top level.
   */
  private checkNested(node: PlanNode, resource: Resource, path: string, walk: Walk): void {
    const profiles = new Set(node.types.flatMap((t) => t.profiles));
    (resource.meta?.profile ?? []).forEach((url, i) => {
      if (this.registry.get(url)) profiles.add(url);
      else walk.issues.push(issue('warning', 'not-supported', `The resource claims conformance to '${url}', which this server does not hold: the claim was not checked`, `${path}.meta.profile[${i}]`));
    });
    const nested: Walk = { root: resource, issues: walk.issues, bindings: walk.bindings };
    for (const url of profiles) {
      const plan = this.plan(url);
      const sd = this.registry.get(url);
      if ('error' in plan || !sd) walk.issues.push(issue('error', 'processing', `Cannot validate against '${url}': ${'error' in plan ? plan.error : 'not known'}`, path));
      else if (sd.type !== resource.resourceType) walk.issues.push(issue('error', 'invalid', `Profile '${url}' is for ${sd.type} resources, not ${resource.resourceType}`, path));
      else this.checkElement(plan.root, { value: resource }, path, nested);
    }
  }

  private collectBinding(node: PlanNode, typeCode: string, value: unknown, path: string, walk: Walk): void {
    const binding = node.binding!;
    let codings: { system?: string; code?: string }[] = [];
    let textOnly = false;
    if (typeof value === 'string' && (typeCode === 'code' || typeCode === 'string' || typeCode === 'uri')) {
      codings = [{ code: value }];
    } else if (typeof value === 'object' && value !== null) {
      const v = value as { system?: string; code?: string; coding?: { system?: string; code?: string }[]; text?: string };
      if (typeCode === 'Coding') codings = [{ system: v.system, code: v.code }];
      else if (typeCode === 'CodeableConcept') {
        codings = (v.coding ?? []).filter((c) => c.code !== undefined).map((c) => ({ system: c.system, code: c.code }));
        textOnly = codings.length === 0 && v.text !== undefined;
      } else if (typeCode === 'Quantity' && v.code !== undefined) codings = [{ system: v.system, code: v.code }];
    }
    if (codings.length || textOnly) walk.bindings.push({ strength: binding.strength, valueSet: binding.valueSet, codings, textOnly, path });
  }

  /**
   * minValue[x] / maxValue[x]: numbers compare as numbers (a Quantity by its value); dates and
   * times as strings when both have the same length (precision), else not at all.
   */
  private checkRange(node: PlanNode, value: unknown, path: string, walk: Walk): void {
    const actual = typeof value === 'object' && value !== null ? (value as { value?: unknown }).value : value;
    const below = (a: unknown, b: unknown) => (typeof a === 'number' && typeof b === 'number') ? a < b
      : typeof a === 'string' && typeof b === 'string' && a.length === b.length && a < b;
    if (node.minValue !== undefined && below(actual, node.minValue)) {
      walk.issues.push(issue('error', 'value', `${node.path}: the value must be at least ${node.minValue}`, path));
    }
    if (node.maxValue !== undefined && below(node.maxValue, actual)) {
      walk.issues.push(issue('error', 'value', `${node.path}: the value must be at most ${node.maxValue}`, path));
    }
  }

  /** Reference.reference to a type the element's targetProfiles do not allow. */
  private checkTarget(node: PlanNode, type: PlanType, value: unknown, path: string, walk: Walk): void {
    const reference = (value as { reference?: unknown })?.reference;
    if (typeof reference !== 'string' || reference.startsWith('#') || /^urn:/.test(reference)) return;
    const m = REFERENCE.exec(reference);
    if (!m) {
      walk.issues.push(issue('warning', 'value', `${node.path}: '${reference}' is neither a relative (Type/id) nor an absolute reference, so its target cannot be checked`, `${path}.reference`));
      return;
    }
    const allowed = type.targetProfiles.map((p) => this.registry.get(p)?.type ?? p.slice(p.lastIndexOf('/') + 1));
    if (allowed.includes('Resource') || allowed.includes(m[1])) return;
    walk.issues.push(issue('error', 'structure', `${node.path}: a reference to ${m[1]} is not allowed here (allowed: ${allowed.join(', ')})`, `${path}.reference`));
  }

  /**
   * Every extension (and modifier extension) anywhere in the resource against its definition when
   * the server holds it. An unknown extension is a warning: R4 lets anyone define extensions, and a
   * profile that wants only known ones says so with closed slicing. An unknown modifier extension
   * is an error: R4 forbids ignoring one (extensibility.html#modifierExtension).
   */
  private checkExtensions(value: unknown, path: string, host: string, walk: Walk, hostExtension?: string): void {
    if (typeof value !== 'object' || value === null) return;
    if (Array.isArray(value)) {
      value.forEach((v, i) => this.checkExtensions(v, `${path}[${i}]`, host, walk, hostExtension));
      return;
    }
    // A resource inside the resource is its own host root (contexts name 'Patient', not 'Bundle.entry.resource').
    const resourceType = (value as { resourceType?: unknown }).resourceType;
    if (typeof resourceType === 'string' && value !== walk.root) host = resourceType;
    for (const [key, child] of Object.entries(value)) {
      const name = key.startsWith('_') ? key.slice(1) : key;
      if ((key === 'extension' || key === 'modifierExtension') && Array.isArray(child)) {
        child.forEach((ext, i) => this.checkExtension(ext, `${path}.${key}[${i}]`, { path: host, extensionUrl: hostExtension }, key === 'modifierExtension', walk));
      } else if (typeof child === 'object' && child !== null) {
        const repeats = Array.isArray(child);
        if (repeats) child.forEach((v, i) => this.checkExtensions(v, `${path}.${name}[${i}]`, `${host}.${name}`, walk));
        else this.checkExtensions(child, `${path}.${name}`, `${host}.${name}`, walk);
      }
    }
  }

  private checkExtension(ext: unknown, path: string, host: ExtensionHost, modifier: boolean, walk: Walk): void {
    const url = (ext as { url?: unknown })?.url;
    if (typeof url !== 'string') return;
    const sd = this.registry.get(url);
    if (!sd || sd.type !== 'Extension') {
      walk.issues.push(issue(modifier ? 'error' : 'warning', 'extension',
        `Unknown ${modifier ? 'modifier ' : ''}extension '${url}'${modifier ? ': a modifier extension must be understood to be processed' : ''}`, path));
      return;
    }
    const plan = this.plan(url);
    if ('error' in plan) {
      walk.issues.push(issue('warning', 'extension', `Extension '${url}' could not be checked: ${plan.error}`, path));
      return;
    }
    const allowed = this.contexts.disallowed(sd, host);
    if (allowed !== undefined) {
      walk.issues.push(issue('warning', 'extension', `Extension '${url}' is used on ${host.path}, where its definition does not allow it (contexts: ${allowed})`, path));
    }
    this.checkElement(plan.root, { value: ext }, path, walk);
    // Extensions on the extension's own value (rare) are checked too; its sub-extensions were
    // checked by its definition (their urls are names local to it).
    for (const [key, v] of Object.entries(ext as object)) if (key.startsWith('value')) this.checkExtensions(v, `${path}.${key}`, 'Extension', walk, url);
  }

  private async checkBindings(walk: Walk): Promise<void> {
    const memo = new Map<string, Promise<CodeCheckResult>>();
    const check = (valueSet: string, c: { system?: string; code?: string }) => {
      const key = `${valueSet}\u0000${c.system ?? ''}\u0000${c.code ?? ''}`;
      let result = memo.get(key);
      if (!result) memo.set(key, result = Promise.resolve(this.codes.validateCode(valueSet, c)));
      return result;
    };
    for (const b of walk.bindings) {
      const required = b.strength === 'required';
      if (b.textOnly) {
        if (required) walk.issues.push(issue('error', 'code-invalid', `No coding from the required value set ${b.valueSet} (only text)`, b.path));
        continue;
      }
      const results = await Promise.all(b.codings.map((c) => check(b.valueSet, c)));
      if (results.includes('valid')) continue;
      const shown = b.codings.map((c) => `${c.system ? `${c.system}|` : ''}${c.code}`).join(', ');
      if (results.every((r) => r === 'invalid')) {
        walk.issues.push(issue(required ? 'error' : 'warning', 'code-invalid',
          `${shown} is not in the ${b.strength} value set ${b.valueSet}`, b.path));
      } else {
        walk.issues.push(issue('information', 'not-supported',
          `${shown} could not be checked against the ${b.strength} value set ${b.valueSet}: the server does not hold its terminology`, b.path));
      }
    }
  }
}

/**
 * The FHIRPath base an invariant is compiled against, so that fhirpath.js knows the types of what
 * it navigates: a data type's own name when the element has one (its invariants are written for
 * it, and fhirpath.js does not follow a data type inherited into a path like
 * Patient.identifier.extension), else the element's path (a backbone element, a primitive).
 */
function invariantBase(node: PlanNode, suffix?: string): string {
  const code = suffix ? node.types.find((t) => capitalise(t.code) === suffix)?.code : node.types.length === 1 ? node.types[0].code : undefined;
  if (code && /^[A-Z]/.test(code) && code !== 'BackboneElement' && code !== 'Element') return code;
  return suffix ? node.path.replace(/\[x\]$/, suffix) : node.path;
}

/**
 * One issue per finding: an element reached twice (an extension slice that unfolds its definition
 * and the extension checked against that definition) reports the same thing under two definition
 * paths ('Patient.extension.value[x]: …' and 'Extension.value[x]: …'), so the leading definition
 * path is not part of the key.
 */
function dedupe(issues: Issue[]): Issue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.severity}|${i.code}|${i.expression?.[0]}|${(i.diagnostics ?? '').replace(/^[A-Za-z]+(\.[A-Za-z[\]]+)*: /, '')}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

