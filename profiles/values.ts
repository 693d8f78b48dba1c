/**
 * Comparisons the profile rules are made of (R4 elementdefinition-definitions.html#ElementDefinition.fixed_x_
 * and #pattern_x_), and JSON navigation along the simple FHIRPath a discriminator names.
 */

/** fixed[x]: the value must be exactly the fixed value (JSON equality, key order aside). */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((v, i) => sameValue(v, (b as unknown[])[i]));
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

/**
 * pattern[x]: every property the pattern has, the value has with a matching value; for a
 * repeating property, every pattern item matches some item of the value. Extra content is allowed.
 */
export function matchesPattern(value: unknown, pattern: unknown): boolean {
  if (typeof pattern !== 'object' || pattern === null) return value === pattern;
  if (Array.isArray(pattern)) {
    const items = Array.isArray(value) ? value : value === undefined ? [] : [value];
    return pattern.every((p) => items.some((v) => matchesPattern(v, p)));
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.entries(pattern).every(([k, p]) => matchesPattern((value as Record<string, unknown>)[k], p));
}

/** One step of a discriminator path: a name, `name[x]`, `extension('url')`, `ofType(T)`. */
export interface Step { name: string; extensionUrl?: string; ofType?: string }

const EXTENSION_CALL = /^(extension|modifierExtension)\(\s*'([^']*)'\s*\)$/;
const OF_TYPE = /^ofType\(\s*([A-Za-z]+)\s*\)$/;

/** `code.coding.system`, `extension('http://…').value`, `value.ofType(Quantity)`; undefined for what we cannot follow (resolve()). */
export function parseSteps(path: string): Step[] | undefined {
  if (path === '$this' || path === '') return [];
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < path.length; i++) {
    const c = path[i];
    if (c === "'") quoted = !quoted;
    else if (!quoted && c === '(') depth++;
    else if (!quoted && c === ')') depth--;
    else if (!quoted && depth === 0 && c === '.') { parts.push(path.slice(start, i)); start = i + 1; }
  }
  parts.push(path.slice(start));
  const steps: Step[] = [];
  for (const part of parts) {
    if (part === '$this') continue;
    const ext = EXTENSION_CALL.exec(part);
    const ofType = OF_TYPE.exec(part);
    if (ext) steps.push({ name: ext[1], extensionUrl: ext[2] });
    else if (ofType && steps.length) steps[steps.length - 1].ofType = ofType[1];
    else if (/^[A-Za-z][A-Za-z0-9]*(\[x\])?$/.test(part)) steps.push({ name: part.replace(/\[x\]$/, '') });
    else return undefined;
  }
  return steps;
}

/** The JSON values at one step from `value` (arrays flattened; choice names by stem). */
export function stepValues(value: unknown, step: Step): { value: unknown; type?: string }[] {
  if (typeof value !== 'object' || value === null) return [];
  const object = value as Record<string, unknown>;
  const out: { value: unknown; type?: string }[] = [];
  const push = (v: unknown, type?: string) => {
    for (const item of Array.isArray(v) ? v : [v]) if (item !== undefined && item !== null) out.push({ value: item, type });
  };
  if (step.name in object) {
    push(object[step.name]);
  } else {
    for (const key in object) {
      if (key.startsWith(step.name) && /^[A-Z]/.test(key.charAt(step.name.length))) push(object[key], key.slice(step.name.length));
    }
  }
  let result = out;
  if (step.extensionUrl !== undefined) result = result.filter((v) => (v.value as { url?: unknown }).url === step.extensionUrl);
  if (step.ofType !== undefined) result = result.filter((v) => v.type === undefined || v.type.toLowerCase() === step.ofType!.toLowerCase());
  return result;
}
