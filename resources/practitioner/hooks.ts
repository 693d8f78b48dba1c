import type { Identifier, OperationOutcomeIssue, Practitioner, PractitionerRole, Reference, Resource } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { spineIssue } from '../../fhir/spine-errors.js';
import type { HookRegistry, ResourceHooks } from '../hooks.js';
import { hasFormatRule, identifierProblem, SDS_ROLE_PROFILE_ID_SYSTEM, SDS_USER_ID_SYSTEM } from './identifiers.js';
import { isWellFormedJobRoleCode, JOB_ROLE_SYSTEMS } from './rbac.js';

/**
 * SDS (nhs-spine.md §4): the business rules of Practitioner and PractitionerRole, as engine hooks.
 * Every problem found is reported at once, each as a Spine-coded issue whose `expression` points
 * at the offending element; the write is refused with 422.
 */

/** Format checks of every identifier whose system has a rule; at most one of `unique` systems. */
function identifierIssues(resourceType: string, identifiers: Identifier[] | undefined, unique: string): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  let seen: number | undefined;
  (identifiers ?? []).forEach((identifier, i) => {
    const at = `${resourceType}.identifier[${i}]`;
    if (identifier.system === undefined) return;
    if (identifier.system === unique) {
      if (seen !== undefined) {
        issues.push(spineIssue('TOO_MANY_VALUES_SUBMITTED', `${resourceType} may carry one ${unique} identifier (also at identifier[${seen}])`, [at]));
      }
      seen ??= i;
    }
    if (identifier.value === undefined) {
      if (hasFormatRule(identifier.system)) {
        issues.push(spineIssue('MISSING_VALUE', `The ${identifier.system} identifier has no value`, [`${at}.value`]));
      }
      return;
    }
    const problem = identifierProblem(identifier.system, identifier.value);
    if (problem !== undefined) issues.push(spineIssue('INVALID_VALUE', problem, [`${at}.value`]));
  });
  return issues;
}

function fail(issues: OperationOutcomeIssue[]): void {
  if (issues.length > 0) throw new FhirError(422, issues);
}

/** A reference names something: a literal reference or a logical identifier. */
function present(ref: Reference | undefined): boolean {
  return ref !== undefined && (ref.reference !== undefined || ref.identifier?.value !== undefined);
}

/** A relative literal reference must be to `type` (absolute and urn: references are not checked). */
function wrongTarget(ref: Reference | undefined, type: string): boolean {
  const literal = ref?.reference;
  if (literal === undefined || /^(https?:|urn:|#)/.test(literal)) return false;
  return !literal.startsWith(`${type}/`);
}

export function practitionerHooks(): ResourceHooks {
  return {
    validate(resource: Resource) {
      const practitioner = resource as Practitioner;
      fail(identifierIssues('Practitioner', practitioner.identifier, SDS_USER_ID_SYSTEM));
    },
  };
}

export function practitionerRoleHooks(): ResourceHooks {
  return {
    validate(resource: Resource) {
      const role = resource as PractitionerRole;
      const issues = identifierIssues('PractitionerRole', role.identifier, SDS_ROLE_PROFILE_ID_SYSTEM);
      const sdsProfile = (role.identifier ?? []).some((i) => i.system === SDS_ROLE_PROFILE_ID_SYSTEM);
      if (sdsProfile) {
        // An SDS role profile is a person's job role at one organisation: both must be named.
        if (!present(role.practitioner)) {
          issues.push(spineIssue('MISSING_VALUE', 'An SDS role profile must name its practitioner', ['PractitionerRole.practitioner']));
        }
        if (!present(role.organization)) {
          issues.push(spineIssue('MISSING_VALUE', 'An SDS role profile must name its organization', ['PractitionerRole.organization']));
        }
      }
      if (wrongTarget(role.practitioner, 'Practitioner')) {
        issues.push(spineIssue('INVALID_VALUE', `PractitionerRole.practitioner must reference a Practitioner, not '${role.practitioner!.reference}'`, ['PractitionerRole.practitioner.reference']));
      }
      if (wrongTarget(role.organization, 'Organization')) {
        issues.push(spineIssue('INVALID_VALUE', `PractitionerRole.organization must reference an Organization, not '${role.organization!.reference}'`, ['PractitionerRole.organization.reference']));
      }
      (role.code ?? []).forEach((concept, i) => {
        (concept.coding ?? []).forEach((coding, j) => {
          if (coding.system === undefined || !JOB_ROLE_SYSTEMS.includes(coding.system)) return;
          const at = `PractitionerRole.code[${i}].coding[${j}].code`;
          if (coding.code === undefined) {
            issues.push(spineIssue('MISSING_VALUE', `A ${coding.system} coding must carry a job role code`, [at]));
          } else if (!isWellFormedJobRoleCode(coding.code)) {
            issues.push(spineIssue('INVALID_VALUE', `'${coding.code}' is not a national RBAC job role code: expected R followed by 4 digits (e.g. R8000), or S....:G....:R....`, [at]));
          }
        });
      });
      fail(issues);
    },
  };
}

/** Registers the SDS hooks (Practitioner, PractitionerRole). */
export function registerSds(hooks: HookRegistry): void {
  hooks.register('Practitioner', practitionerHooks());
  hooks.register('PractitionerRole', practitionerRoleHooks());
}
