import type { CodeSystem, Parameters, ParametersParameter } from 'fhir/r4.js';
import { notHeldReason } from './canonical.js';
import { issue, inlineProvider, type TerminologyContext } from './operations.js';
import { OperationInput, parameters } from './params.js';

/**
 * CodeSystem/$lookup (R4 codesystem-operation-lookup): name, version, display, designations and
 * properties of a code, including `parent`/`child` for hierarchical systems. `property` inputs
 * restrict which properties (and whether `designation`) are returned.
 */
export async function lookup(ctx: TerminologyContext, input: OperationInput, instance?: CodeSystem): Promise<Parameters> {
  const coding = input.coding('coding');
  const code = input.string('code') ?? coding?.code;
  const system = input.string('system') ?? coding?.system ?? instance?.url;
  const version = input.string('version') ?? coding?.version;
  if (!code || !system) throw issue(400, 'required', '$lookup needs code and system, or a coding');
  if (coding && (input.has('code') || input.has('system'))) throw issue(400, 'invalid', '$lookup takes either code+system or coding, not both');
  const cs = instance ? inlineProvider(instance) : await ctx.canonicals.codeSystem(version ? `${system}|${version}` : system);
  if (!cs) throw issue(404, 'not-found', `Code system '${system}' is not held by this server (${notHeldReason(system)})`);
  const concept = cs.concept(code);
  if (!concept) throw issue(404, 'not-found', `Code '${code}' was not found in ${system}${cs.content === 'complete' ? '' : ` (this server holds only a ${cs.content} of it)`}`);
  const wanted = new Set(input.strings('property'));
  const want = (p: string) => wanted.size === 0 || wanted.has(p);
  const props: ParametersParameter[] = [];
  const property = (code: string, value: Record<string, unknown>): ParametersParameter => ({
    name: 'property', part: [{ name: 'code', valueCode: code }, { name: 'value', ...value } as ParametersParameter],
  });
  for (const p of concept.properties) if (want(p.code) && p.code !== 'parent' && p.code !== 'child') props.push(property(p.code, p.value));
  if (want('parent')) for (const p of cs.parents(concept.code)) props.push(property('parent', { valueCode: p }));
  if (want('child')) for (const c of cs.children(concept.code)) props.push(property('child', { valueCode: c }));
  if (want('inactive') && !concept.properties.some((p) => p.code === 'inactive')) props.push(property('inactive', { valueBoolean: concept.inactive }));
  if (concept.definition && want('definition')) props.push(property('definition', { valueString: concept.definition }));
  const designations: ParametersParameter[] = want('designation') ? concept.designations.map((d) => ({
    name: 'designation',
    part: [
      ...(d.language ? [{ name: 'language', valueCode: d.language }] : []),
      ...(d.use ? [{ name: 'use', valueCoding: d.use }] : []),
      { name: 'value', valueString: d.value },
    ] as ParametersParameter[],
  })) : [];
  return parameters(
    { name: 'name', valueString: cs.name ?? cs.url },
    cs.version !== undefined && { name: 'version', valueString: cs.version },
    { name: 'display', valueString: concept.display ?? concept.code },
    ...designations,
    ...props,
  );
}
