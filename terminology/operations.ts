import type { CodeSystem, ConceptMap, OperationOutcomeIssue, ValueSet } from 'fhir/r4.js';
import { FhirError } from '../fhir/errors.js';
import type { Canonicals } from './canonical.js';
import { FhirCodeSystem, type CodeSystemProvider } from './code-system.js';
import { ExpansionError, type Expander, type Expansion } from './expand.js';

/**
 * The terminology operations the server answers (R4 OperationDefinitions), with the levels R4
 * defines them at. server/ registers a GET and a POST route for each and lists them in the
 * CapabilityStatement from this one table.
 */
export interface TerminologyOperation {
  type: 'CodeSystem' | 'ValueSet' | 'ConceptMap';
  name: 'lookup' | 'validate-code' | 'subsumes' | 'expand' | 'translate';
  instance: boolean;
  definition: string;
  documentation: string;
}

export const TERMINOLOGY_OPERATIONS: readonly TerminologyOperation[] = [
  {
    type: 'CodeSystem', name: 'lookup', instance: false, definition: 'http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup',
    documentation: 'Details of a code (display, designations, properties incl. parent/child) in a code system the server holds.',
  },
  {
    type: 'CodeSystem', name: 'validate-code', instance: true, definition: 'http://hl7.org/fhir/OperationDefinition/CodeSystem-validate-code',
    documentation: 'Is the code in the code system? A system the server does not hold answers result=false with a message saying so (never true unchecked).',
  },
  {
    type: 'CodeSystem', name: 'subsumes', instance: true, definition: 'http://hl7.org/fhir/OperationDefinition/CodeSystem-subsumes',
    documentation: 'equivalent | subsumes | subsumed-by | not-subsumed, for hierarchical code systems (incl. SNOMED CT when an RF2 release is loaded).',
  },
  {
    type: 'ValueSet', name: 'expand', instance: true, definition: 'http://hl7.org/fhir/OperationDefinition/ValueSet-expand',
    documentation: 'Expansion with filter (word-prefix on display), count, offset, activeOnly; nested value sets flattened; 422 too-costly past the expansion limit.',
  },
  {
    type: 'ValueSet', name: 'validate-code', instance: true, definition: 'http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code',
    documentation: 'Is the code in the value set? Evaluated without expanding; codes of systems the server does not hold answer result=false with a message (x-caused-by-unknown-system).',
  },
  {
    type: 'ConceptMap', name: 'translate', instance: true, definition: 'http://hl7.org/fhir/OperationDefinition/ConceptMap-translate',
    documentation: 'Translations through the ConceptMaps the server holds (stored, UK Core, R4 base), forward or reverse.',
  },
];

/** What the operation modules share. */
export interface TerminologyContext {
  canonicals: Canonicals;
  expander: Expander;
  /** The full expansion of a value set, cached by canonical until a terminology write. */
  expansion(vs: ValueSet): Promise<Expansion>;
}

export function issue(status: number, code: OperationOutcomeIssue['code'], diagnostics: string): FhirError {
  return new FhirError(status, [{ severity: 'error', code, diagnostics }]);
}

/** An expansion problem as the operation's error: all are 422 (the request was understood). */
export function expansionFailure(e: unknown): unknown {
  if (!(e instanceof ExpansionError)) return e;
  const code = e.problem === 'too-costly' ? 'too-costly' : e.problem === 'unsupported' ? 'not-supported' : 'not-found';
  return issue(422, code, e.message);
}

/** A CodeSystem given inline or as the instance, as a provider (undefined when it holds no concepts). */
export function inlineProvider(cs: CodeSystem): CodeSystemProvider | undefined {
  if (!cs.url) throw issue(400, 'invalid', 'The CodeSystem has no url');
  return cs.content === 'not-present' || cs.content === 'supplement' ? undefined : new FhirCodeSystem(cs);
}

export type { ConceptMap };
