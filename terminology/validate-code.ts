import type { CodeSystem, Coding, Parameters, ValueSet } from 'fhir/r4.js';
import { notHeldReason, splitCanonical } from './canonical.js';
import type { CodeSystemProvider, ConceptInfo } from './code-system.js';
import type { Membership } from './expand.js';
import { issue, inlineProvider, type TerminologyContext } from './operations.js';
import { OperationInput, parameters } from './params.js';

/**
 * $validate-code on a CodeSystem and on a ValueSet (R4 codesystem-/valueset-operation-validate-code).
 *
 * Honesty: `result` is true only for what was checked. A code of a system the server does not
 * hold (SNOMED CT without a loaded release, dm+d, LOINC) gets result=false with a message saying
 * the code system is unknown, and `x-caused-by-unknown-system` naming it, as tx.fhir.org answers;
 * a client can tell "not valid" from "could not check" by that parameter.
 */

interface Check { result: 'yes' | 'no' | 'unknown'; message?: string; display?: string; unknownSystem?: string }

/** The codings to check: code+system, coding, or codeableConcept (exactly one form). */
function codings(input: OperationInput, defaultSystem: string | undefined, op: string): { codings: Coding[]; display?: string; concept: boolean } {
  const code = input.string('code');
  const coding = input.coding('coding');
  const cc = input.codeableConcept('codeableConcept');
  const forms = [code !== undefined, coding !== undefined, cc !== undefined].filter(Boolean).length;
  if (forms !== 1) throw issue(400, 'required', `${op} needs exactly one of code (+system), coding or codeableConcept`);
  const display = input.string('display');
  if (code !== undefined) {
    const system = input.string('system') ?? defaultSystem;
    const version = input.string('systemVersion') ?? input.string('version');
    return { codings: [{ system, code, ...(version ? { version } : {}) }], display, concept: false };
  }
  if (coding) return { codings: [coding], display: display ?? coding.display, concept: false };
  if (!cc!.coding?.length) throw issue(400, 'required', `${op}: the codeableConcept has no codings`);
  return { codings: cc!.coding, concept: true };
}

function displayMatches(concept: ConceptInfo | undefined, listed: string | undefined, display: string): boolean {
  const norm = (s: string) => s.trim().replace(/\s+/g, ' ').toLowerCase();
  const want = norm(display);
  const candidates = [concept?.display, listed, ...(concept?.designations.map((d) => d.value) ?? [])].filter((s): s is string => !!s);
  return candidates.length === 0 || candidates.some((c) => norm(c) === want);
}

function answer(checks: Check[], concept: boolean): Parameters {
  // A CodeableConcept is valid when any of its codings is (R4: "at least one").
  const best = checks.find((c) => c.result === 'yes') ?? checks.find((c) => c.result === 'unknown') ?? checks[0];
  const messages = concept && best.result !== 'yes' ? checks.map((c) => c.message).filter(Boolean).join('; ') : best.message;
  return parameters(
    { name: 'result', valueBoolean: best.result === 'yes' },
    messages ? { name: 'message', valueString: messages } : undefined,
    best.display !== undefined && { name: 'display', valueString: best.display },
    ...[...new Set(checks.map((c) => c.unknownSystem).filter((s): s is string => !!s))]
      .map((s) => ({ name: 'x-caused-by-unknown-system', valueCanonical: s })),
  );
}

function withDisplay(check: Check, concept: ConceptInfo | undefined, listed: string | undefined, display: string | undefined, coding: Coding): Check {
  if (check.result !== 'yes' || display === undefined || displayMatches(concept, listed, display)) return check;
  return { ...check, result: 'no', message: `The display '${display}' is not a display of ${coding.system}#${coding.code}; it should be '${check.display}'` };
}

/** CodeSystem/$validate-code: is the code a code of this system? */
export async function validateCodeInCodeSystem(ctx: TerminologyContext, input: OperationInput, instance?: CodeSystem): Promise<Parameters> {
  const inline = input.resource<CodeSystem>('codeSystem', 'CodeSystem');
  const given = instance ?? inline;
  const url = given?.url ?? input.string('url') ?? input.string('system');
  const { codings: list, display, concept: isConcept } = codings(input, url, '$validate-code');
  const version = input.string('version');
  let cs: CodeSystemProvider | undefined;
  if (given) cs = inlineProvider(given);
  else if (url) cs = await ctx.canonicals.codeSystem(version ? `${url}|${version}` : url);
  else cs = undefined;
  const checks: Check[] = [];
  for (const coding of list) {
    const system = url ?? coding.system;
    if (!system) throw issue(400, 'required', '$validate-code needs the code system: url, or a coding with a system');
    if (coding.system && url && coding.system !== url) {
      checks.push({ result: 'no', message: `The coding's system '${coding.system}' is not ${url}` });
      continue;
    }
    const provider = cs ?? (url ? undefined : await ctx.canonicals.codeSystem(system));
    if (!provider) {
      checks.push({ result: 'unknown', unknownSystem: system, message: `A definition for CodeSystem '${system}' could not be found, so the code cannot be validated (${notHeldReason(system)})` });
      continue;
    }
    const found = provider.concept(coding.code ?? '');
    if (!found) {
      checks.push(provider.content === 'complete'
        ? { result: 'no', message: `Unknown code '${coding.code}' in the code system '${system}'` }
        : { result: 'unknown', message: `Code '${coding.code}' is not in this server's ${provider.content} copy of ${system}, so it cannot be validated` });
      continue;
    }
    checks.push(withDisplay({ result: 'yes', display: found.display }, found, undefined, display, coding));
  }
  return answer(checks, isConcept);
}

/** The value set of a ValueSet operation: the instance, an inline one, or by url (404 when unknown). */
export async function targetValueSet(ctx: TerminologyContext, input: OperationInput, op: string, instance?: ValueSet): Promise<ValueSet> {
  if (instance) return instance;
  const inline = input.resource<ValueSet>('valueSet', 'ValueSet');
  if (inline) return inline;
  const url = input.string('url');
  if (!url) throw issue(400, 'required', `${op} needs a value set: url, or valueSet in a POSTed Parameters (or call it on ValueSet/[id])`);
  const version = input.string('valueSetVersion') ?? splitCanonical(url).version;
  const plain = splitCanonical(url).url;
  const vs = await ctx.canonicals.resource<ValueSet>('ValueSet', version ? `${plain}|${version}` : plain);
  if (!vs) throw issue(404, 'not-found', `ValueSet '${url}' is not known to this server`);
  return vs;
}

/** ValueSet/$validate-code: is the code in this value set? */
export async function validateCodeInValueSet(ctx: TerminologyContext, input: OperationInput, instance?: ValueSet): Promise<Parameters> {
  const vs = await targetValueSet(ctx, input, '$validate-code', instance);
  const { codings: list, display, concept: isConcept } = codings(input, undefined, '$validate-code');
  const checks: Check[] = [];
  for (const coding of list) {
    if (!coding.code) throw issue(400, 'required', '$validate-code: a coding has no code');
    if (!coding.system) throw issue(400, 'required', '$validate-code: a code needs its system (R4: "If a code is provided, a system or a context must be provided")');
    checks.push(fromMembership(await ctx.expander.member(vs, { system: coding.system, code: coding.code }), vs, coding, display));
  }
  return answer(checks, isConcept);
}

function fromMembership(m: Membership, vs: ValueSet, coding: Coding, display: string | undefined): Check {
  const name = vs.url ?? vs.id ?? 'the value set';
  const shownDisplay = m.concept?.display ?? m.listedDisplay;
  if (m.result === 'yes') return withDisplay({ result: 'yes', display: shownDisplay }, m.concept, m.listedDisplay, display, coding);
  if (m.result === 'no') {
    return { result: 'no', message: `The code '${coding.code}' from system '${coding.system}' is not in the value set '${name}'${m.reason ? `: ${m.reason}` : ''}` };
  }
  return {
    result: 'unknown', unknownSystem: m.unknownSystem,
    message: `Whether '${coding.system}#${coding.code}' is in the value set '${name}' cannot be told: ${m.reason ?? 'not enough is known'}`,
  };
}
