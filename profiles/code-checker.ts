/**
 * What the profile validator asks of terminology, and nothing more: profiles/ does not own
 * CodeSystems or ValueSets. The server wires an implementation over the terminology it holds
 * (resources/profile-stage.ts today; terminology/ may provide a richer one of the same shape).
 *
 * 'valid': the code is in the value set. 'invalid': the value set is known and fully expandable
 * here, and the code is not in it. 'unknown': the value set or its code system is not held
 * (SNOMED CT, dm+d...), so nothing can be said: the validator never turns that into an error.
 */
export type CodeCheckResult = 'valid' | 'invalid' | 'unknown';

export interface CodeChecker {
  validateCode(valueSetUrl: string, coding: { system?: string; code?: string }): CodeCheckResult | Promise<CodeCheckResult>;
}

/** A checker that knows nothing: every binding is reported as not checked. */
export const NO_TERMINOLOGY: CodeChecker = { validateCode: () => 'unknown' };
