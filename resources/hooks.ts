import type { Resource } from 'fhir/r4.js';

/**
 * Extension points through which the Spine mappings (resources/patient, resources/organization, …)
 * add their rules to the generic engine (ARCHITECTURE rule 4): the engine never tests a type name.
 * Every hook may throw a FhirError to refuse the request.
 */
export interface ResourceHooks {
  /** Checks a client-chosen or URL id beyond the generic FHIR id syntax (e.g. an NHS number). */
  validateId?(id: string): void;
  /** Chooses the id for a create (e.g. allocate the next NHS number); default is a random UUID. */
  assignId?(resource: Resource): Promise<string> | string;
  /** Business rules for a resource about to be written, after structural validation. */
  validate?(resource: Resource): Promise<void> | void;
  /** Shapes a resource on its way out (e.g. redaction of restricted patients). */
  afterRead?(resource: Resource): Resource;
  /**
   * Told after a write of this type has committed (resource undefined for a delete), e.g. to
   * register a SearchParameter so that the next write is indexed with it.
   */
  afterCommit?(change: { id: string; resource?: Resource }): void;
}

export class HookRegistry {
  private readonly byType = new Map<string, ResourceHooks>();

  register(resourceType: string, hooks: ResourceHooks): void {
    if (this.byType.has(resourceType)) throw new Error(`Hooks for ${resourceType} are already registered`);
    this.byType.set(resourceType, hooks);
  }

  for(resourceType: string): ResourceHooks {
    return this.byType.get(resourceType) ?? {};
  }
}
