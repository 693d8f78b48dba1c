import type { OperationOutcomeIssue, Resource } from 'fhir/r4.js';
import type { ProfileValidator } from './validator.js';

/**
 * Which profiles a resource is validated against, per resource type:
 *
 * - the profiles it claims in meta.profile that the server holds. A claimed profile the server
 *   does not hold is a warning, not a failure: R4 makes meta.profile an assertion by the sender
 *   ("this resource conforms to..."), not a request, and a receiver that cannot check a claim
 *   may accept the resource (resource.html#Meta, profiling.html#profile-tags); refusing it would
 *   make every unknown IG a hard error.
 * - the required profiles configured for its type (REQUIRED_PROFILES, e.g. UKCore-Patient for
 *   Patient), which every write of that type must meet whatever it claims. A required profile the
 *   server does not hold is a configuration error, reported at start-up by the caller.
 * - on $validate, the `profile` parameter instead of nothing (the claims and requirements apply too).
 */
export type RequiredProfiles = Record<string, string[]>;

export class ProfilePolicy {
  constructor(private readonly validator: ProfileValidator, private readonly required: RequiredProfiles = {}) {}

  /** Whether a write of this resource needs the profile stage at all (the hot path skips it otherwise). */
  applies(resource: Resource): boolean {
    return claims(resource) || (this.required[resource.resourceType]?.length ?? 0) > 0 || nestedClaims(resource);
  }

  /** Required profiles that the server does not hold (to refuse start-up with). */
  missingRequired(): string[] {
    return Object.values(this.required).flat().filter((url) => !this.validator.definition(url));
  }

  async check(resource: Resource, explicit: string[] = []): Promise<OperationOutcomeIssue[]> {
    const type = resource.resourceType;
    const issues: OperationOutcomeIssue[] = [];
    const profiles = new Set<string>([...explicit, ...(this.required[type] ?? [])]);
    (resource.meta?.profile ?? []).forEach((url, i) => {
      if (this.validator.definition(url)) profiles.add(url);
      else {
        issues.push({
          severity: 'warning', code: 'not-supported',
          diagnostics: `The resource claims conformance to '${url}', which this server does not hold: the claim was not checked`,
          expression: [`${type}.meta.profile[${i}]`],
        });
      }
    });
    if (profiles.size === 0 && nestedClaims(resource)) {
      // Only resources inside it claim profiles: the walk along the base definition reaches them.
      profiles.add(`http://hl7.org/fhir/StructureDefinition/${type}`);
    }
    if (profiles.size === 0 && issues.length === 0) return [];
    issues.push(...(await this.validator.validate(resource, [...profiles])));
    return issues;
  }
}

const claims = (resource: Resource | undefined) => (resource?.meta?.profile?.length ?? 0) > 0;

/** A contained resource or a Bundle entry claims a profile (one level down: where claims are met in practice). */
function nestedClaims(resource: Resource): boolean {
  const contained = (resource as { contained?: Resource[] }).contained ?? [];
  const entries = resource.resourceType === 'Bundle' ? (resource as { entry?: { resource?: Resource }[] }).entry ?? [] : [];
  return contained.some(claims) || entries.some((e) => claims(e.resource));
}

export function hasErrors(issues: OperationOutcomeIssue[]): boolean {
  return issues.some((i) => i.severity === 'error' || i.severity === 'fatal');
}
