import type { OperationOutcomeIssue, Resource, StructureDefinition } from 'fhir/r4.js';
import { errors, FhirError } from '../fhir/errors.js';
import type { CodeChecker, CodeCheckResult } from '../profiles/code-checker.js';
import type { IgContent } from '../profiles/ig-source.js';
import { hasErrors, ProfilePolicy, type RequiredProfiles } from '../profiles/policy.js';
import { generateSnapshot } from '../profiles/snapshot.js';
import { StructureDefinitionRegistry } from '../profiles/structure-definitions.js';
import { ProfileValidator } from '../profiles/validator.js';
import type { LocalTerminology } from '../terminology/local-terminology.js';
import type { ResourceHooks } from './hooks.js';

/**
 * The profile stage of every write, and of $validate: the second stage after the structural
 * (JSON schema) one, run only when a profile applies to the resource (it claims one in
 * meta.profile, or its type has a required profile). A resource failing it is refused with 422
 * and an OperationOutcome whose issues carry FHIRPath expressions; nothing is written.
 *
 * It owns the StructureDefinitions in force: the R4 base, the implementation guides loaded from
 * IG_PATHS at start-up, and StructureDefinitions posted to the server (in force once their write
 * commits). The IGs' ValueSets and CodeSystems go to terminology (server start-up adds them there).
 */
export class ProfileStage {
  readonly registry = new StructureDefinitionRegistry();
  readonly validator: ProfileValidator;
  readonly policy: ProfilePolicy;

  constructor(codes: CodeChecker, required: RequiredProfiles = {}) {
    this.validator = new ProfileValidator(this.registry, codes);
    this.policy = new ProfilePolicy(this.validator, required);
  }

  /** Puts an implementation guide's StructureDefinitions in force (start-up). */
  loadIg(content: IgContent): void {
    for (const r of content.resources) {
      if (r.resourceType === 'StructureDefinition' && (r as StructureDefinition).url) this.registry.add(r as StructureDefinition);
    }
  }

  /** The write-path check: throws 422 when the resource fails a profile that applies to it. */
  async enforce(resource: Resource): Promise<void> {
    if (!this.policy.applies(resource)) return;
    const issues = await this.policy.check(resource);
    if (hasErrors(issues)) throw new FhirError(422, issues);
  }

  /** Throws 400 when `profile` is not held: $validate against it cannot be performed. */
  assertKnown(profile: string): void {
    if (!this.registry.get(profile)) throw errors.badRequest(`The profile '${profile}' is not known to this server, so the resource cannot be validated against it`);
  }

  /** $validate: the issues against the claimed, required and asked-for profiles. */
  async issues(resource: Resource, profile?: string): Promise<OperationOutcomeIssue[]> {
    if (profile !== undefined) this.assertKnown(profile);
    return this.policy.check(resource, profile === undefined ? [] : [profile]);
  }

  /**
   * StructureDefinition writes: one the validator could not use (no url, a base it does not hold,
   * a differential that does not fit its base) is refused with 422; a committed one is in force
   * for the next request, its snapshot generated from the differential when it has none.
   */
  structureDefinitionHooks(): ResourceHooks {
    const urlById = new Map<string, { url: string; version?: string }>();
    return {
      validate: (resource) => {
        const sd = resource as StructureDefinition;
        if (!sd.url) throw errors.unprocessable('A StructureDefinition needs a url to be used', ['StructureDefinition.url']);
        // Replacing an R4 definition would change what every resource of that type is checked against.
        if (this.registry.isBase(sd.url)) throw errors.unprocessable(`'${sd.url}' is an R4 base definition and cannot be replaced`, ['StructureDefinition.url']);
        if (sd.snapshot?.element?.length) return;
        if (!sd.differential?.element?.length) throw errors.unprocessable('A StructureDefinition needs a snapshot or a differential', ['StructureDefinition.differential']);
        if (sd.derivation !== 'constraint' || !sd.baseDefinition) {
          throw errors.unprocessable('Without a snapshot, a StructureDefinition must be a constraint on a baseDefinition (a snapshot is generated from its differential)', ['StructureDefinition.baseDefinition']);
        }
        try {
          const base = this.registry.snapshot(sd.baseDefinition);
          generateSnapshot(sd, base, (url) => {
            try { return this.registry.snapshot(url); } catch { return undefined; }
          });
        } catch (e) {
          throw errors.unprocessable(`No snapshot can be generated for this StructureDefinition: ${(e as Error).message}`, ['StructureDefinition.differential']);
        }
      },
      afterCommit: ({ id, resource }) => {
        const previous = urlById.get(id);
        if (previous) {
          this.registry.remove(previous.url, previous.version);
          urlById.delete(id);
        }
        const sd = resource as StructureDefinition | undefined;
        if (sd?.url && sd.status !== 'retired') {
          this.registry.add(sd);
          urlById.set(id, { url: sd.url, version: sd.version });
        }
      },
    };
  }
}

/**
 * The CodeChecker the profile stage uses, over the terminology the server holds (stored
 * ValueSets and CodeSystems, then the IGs', then the R4 base ones). A value set that cannot be
 * expanded here (it draws on SNOMED CT or another system the server does not hold, or is too
 * large) is 'unknown', never 'invalid'.
 */
export function localCodeChecker(terminology: LocalTerminology): CodeChecker {
  // Results by value set and coding, for the current terminology generation: a required binding
  // on a hot element (gender, identifier use) is then a map lookup, not a store query.
  const cache = new Map<string, CodeCheckResult>();
  let cachedGeneration = terminology.generation;
  const MAX_CACHED = 50_000;
  return {
    async validateCode(valueSetUrl, coding) {
      if (terminology.generation !== cachedGeneration) {
        cache.clear();
        cachedGeneration = terminology.generation;
      }
      const key = `${valueSetUrl}\u0000${coding.system ?? ''}\u0000${coding.code ?? ''}`;
      let result = cache.get(key);
      if (result === undefined) {
        result = await check(valueSetUrl, coding);
        if (cache.size >= MAX_CACHED) cache.clear();
        cache.set(key, result);
      }
      return result;
    },
  };

  async function check(valueSetUrl: string, coding: { system?: string; code?: string }): Promise<CodeCheckResult> {
    if (coding.code === undefined) return 'unknown';
    try {
      return await terminology.validateCode(valueSetUrl, { system: coding.system, code: coding.code });
    } catch {
      return 'unknown'; // a value set this server cannot evaluate: never a false error
    }
  }
}
