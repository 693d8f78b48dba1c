import type { Coding, ConceptMap, ConceptMapGroup, Parameters, ParametersParameter } from 'fhir/r4.js';
import { splitCanonical } from './canonical.js';
import { issue, type TerminologyContext } from './operations.js';
import { OperationInput, parameters } from './params.js';

/**
 * ConceptMap/$translate (R4 conceptmap-operation-translate): the targets a code maps to in the
 * ConceptMaps the server holds (the instance, the map named by `url`, an inline `conceptMap`,
 * or every held map whose source/target fit), or with `reverse=true` the sources that map to it.
 * `result` is true when at least one match is not `unmatched`/`disjoint`.
 */

/** Reading a map backwards turns narrower into wider and so on (R4 concept-map-equivalence). */
const REVERSED: Record<string, string> = { wider: 'narrower', narrower: 'wider', subsumes: 'specializes', specializes: 'subsumes' };

const NEGATIVE = new Set(['unmatched', 'disjoint']);

export async function translate(ctx: TerminologyContext, input: OperationInput, instance?: ConceptMap): Promise<Parameters> {
  const maps = await candidateMaps(ctx, input, instance);
  const coding = input.coding('coding');
  const cc = input.codeableConcept('codeableConcept');
  const code = input.string('code');
  const forms = [code !== undefined, coding !== undefined, cc !== undefined].filter(Boolean).length;
  if (forms !== 1) throw issue(400, 'required', '$translate needs exactly one of code (+system), coding or codeableConcept');
  const sources: Coding[] = code !== undefined ? [{ system: input.string('system'), code }] : coding ? [coding] : cc!.coding ?? [];
  for (const s of sources) if (!s.system || !s.code) throw issue(400, 'required', '$translate needs the system of the code');
  const reverse = input.boolean('reverse') ?? false;
  const targetSystem = input.string('targetsystem');
  const matches: ParametersParameter[] = [];
  for (const map of maps) {
    for (const group of map.group ?? []) {
      for (const s of sources) matches.push(...(reverse ? backward(map, group, s, targetSystem) : forward(map, group, s, targetSystem)));
    }
  }
  const result = matches.some((m) => !NEGATIVE.has(m.part![0].valueCode!));
  const what = sources.map((s) => `${s.system}#${s.code}`).join(', ');
  return parameters(
    { name: 'result', valueBoolean: result },
    !result && { name: 'message', valueString: maps.length ? `No translation of ${what} was found in ${maps.length} ConceptMap(s)` : `No ConceptMap held by this server applies to ${what}` },
    ...matches,
  );
}

async function candidateMaps(ctx: TerminologyContext, input: OperationInput, instance?: ConceptMap): Promise<ConceptMap[]> {
  if (instance) return [instance];
  const inline = input.resource<ConceptMap>('conceptMap', 'ConceptMap');
  if (inline) return [inline];
  const url = input.string('url');
  if (url) {
    const version = input.string('conceptMapVersion') ?? splitCanonical(url).version;
    const plain = splitCanonical(url).url;
    const map = await ctx.canonicals.resource<ConceptMap>('ConceptMap', version ? `${plain}|${version}` : plain);
    if (!map) throw issue(404, 'not-found', `ConceptMap '${url}' is not known to this server`);
    return [map];
  }
  const source = input.string('source');
  const target = input.string('target');
  return (await ctx.canonicals.conceptMaps()).filter((m) =>
    (!source || (m.sourceUri ?? m.sourceCanonical) === source) && (!target || (m.targetUri ?? m.targetCanonical) === target));
}

function match(equivalence: string, concept: Coding | undefined, source: string | undefined): ParametersParameter {
  const part: ParametersParameter[] = [{ name: 'equivalence', valueCode: equivalence }];
  if (concept) part.push({ name: 'concept', valueCoding: concept });
  if (source) part.push({ name: 'source', valueUri: source });
  return { name: 'match', part };
}

function coding(system: string | undefined, version: string | undefined, code: string | undefined, display: string | undefined): Coding | undefined {
  if (!code) return undefined;
  const c: Coding = {};
  if (system) c.system = system;
  if (version) c.version = version;
  c.code = code;
  if (display) c.display = display;
  return c;
}

function forward(map: ConceptMap, group: ConceptMapGroup, s: Coding, targetSystem?: string): ParametersParameter[] {
  if (group.source !== s.system || (targetSystem && group.target !== targetSystem)) return [];
  const out: ParametersParameter[] = [];
  const elements = (group.element ?? []).filter((e) => e.code === s.code);
  for (const e of elements) {
    for (const t of e.target ?? []) out.push(match(t.equivalence, coding(group.target, group.targetVersion, t.code, t.display), map.url));
  }
  if (!elements.length && group.unmapped) { // R4 ConceptMap.group.unmapped
    const u = group.unmapped;
    if (u.mode === 'provided') out.push(match('equal', coding(group.target, group.targetVersion, s.code, s.display), map.url));
    if (u.mode === 'fixed' && u.code) out.push(match('equivalent', coding(group.target, group.targetVersion, u.code, u.display), map.url));
  }
  return out;
}

function backward(map: ConceptMap, group: ConceptMapGroup, s: Coding, targetSystem?: string): ParametersParameter[] {
  if (group.target !== s.system || (targetSystem && group.source !== targetSystem)) return [];
  const out: ParametersParameter[] = [];
  for (const e of group.element ?? []) {
    for (const t of e.target ?? []) {
      if (t.code === s.code) out.push(match(REVERSED[t.equivalence] ?? t.equivalence, coding(group.source, group.sourceVersion, e.code, e.display), map.url));
    }
  }
  return out;
}
