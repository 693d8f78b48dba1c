import type { CodeSystem, Parameters } from 'fhir/r4.js';
import { notHeldReason } from './canonical.js';
import { subsumes as isAncestor } from './code-system.js';
import { issue, inlineProvider, type TerminologyContext } from './operations.js';
import { OperationInput, parameters } from './params.js';

/**
 * CodeSystem/$subsumes (R4 codesystem-operation-subsumes): how codeA relates to codeB in the
 * system's hierarchy: equivalent | subsumes | subsumed-by | not-subsumed.
 */
export async function subsumesOperation(ctx: TerminologyContext, input: OperationInput, instance?: CodeSystem): Promise<Parameters> {
  const codingA = input.coding('codingA');
  const codingB = input.coding('codingB');
  const codeA = input.string('codeA') ?? codingA?.code;
  const codeB = input.string('codeB') ?? codingB?.code;
  const system = input.string('system') ?? instance?.url ?? codingA?.system ?? codingB?.system;
  const version = input.string('version');
  if (!codeA || !codeB) throw issue(400, 'required', '$subsumes needs codeA and codeB (or codingA and codingB)');
  if (!system) throw issue(400, 'required', '$subsumes needs a system (or codings with one)');
  for (const c of [codingA, codingB]) {
    if (c?.system && c.system !== system) throw issue(400, 'invalid', `$subsumes compares codes of one system: '${c.system}' is not '${system}'`);
  }
  const cs = instance ? inlineProvider(instance) : await ctx.canonicals.codeSystem(version ? `${system}|${version}` : system);
  if (!cs) throw issue(404, 'not-found', `Code system '${system}' is not held by this server (${notHeldReason(system)})`);
  for (const code of [codeA, codeB]) {
    if (!cs.concept(code)) throw issue(422, 'not-found', `Code '${code}' was not found in ${system}`);
  }
  const a = cs.concept(codeA)!.code;
  const b = cs.concept(codeB)!.code;
  const outcome = a === b ? 'equivalent' : isAncestor(cs, a, b) ? 'subsumes' : isAncestor(cs, b, a) ? 'subsumed-by' : 'not-subsumed';
  return parameters({ name: 'outcome', valueCode: outcome });
}
