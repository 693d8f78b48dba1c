import type {
  CapabilityStatement, CapabilityStatementRestResource, CapabilityStatementRestResourceOperation, CapabilityStatementRestResourceSearchParam,
} from 'fhir/r4.js';
import { resourceTypes } from '../fhir/definitions.js';
import type { SearchParameterRegistry } from '../search/registry.js';
import { TERMINOLOGY_OPERATIONS } from '../terminology/operations.js';

/**
 * The R4 interaction codes the CapabilityStatement may list; it lists those the route table
 * (server/routes.ts) has a row for, so the two cannot drift apart.
 */
export const TYPE_INTERACTIONS = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'] as const;
export const SYSTEM_INTERACTIONS = ['transaction', 'batch', 'history-system', 'search-system'] as const;

/** What a read-only type (TypeFeatures.readOnly) still offers. */
const READ_ONLY = new Set<string>(['read', 'vread', 'history-instance', 'history-type', 'search-type']);

/** Search parameter types the parser and stores implement (special ones, like `near`, are not). */
const SEARCHABLE = new Set(['string', 'token', 'date', 'number', 'quantity', 'reference', 'uri', 'composite']);

const REINDEX: CapabilityStatementRestResourceOperation = {
  name: 'reindex',
  definition: 'http://vertebra.dev/fhir/OperationDefinition/reindex',
  documentation: 'Recomputes the search index of stored resources (system or type level), e.g. after a SearchParameter was added.',
};

const VALIDATE: CapabilityStatementRestResourceOperation = {
  name: 'validate',
  definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate',
  documentation: 'Validates against the base R4 definition (structure, cardinality of top-level elements, value formats) and the server\'s business rules, without writing.',
};

const MATCH: CapabilityStatementRestResourceOperation = {
  name: 'match',
  definition: 'http://hl7.org/fhir/OperationDefinition/Patient-match',
  documentation: 'Scored candidates for the demographics of a Patient (a PDS trace), each with a match-grade extension.',
};

/** The terminology operations routes.ts registers for `type` (terminology/operations.ts). */
function terminologyOperations(type: string): CapabilityStatementRestResourceOperation[] {
  return TERMINOLOGY_OPERATIONS.filter((o) => o.type === type).map((o) => ({
    name: o.name, definition: o.definition, documentation: `${o.documentation} (${o.instance ? 'type and instance level' : 'type level'}; GET and POST)`,
  }));
}

/** What a resource type adds to the generic interactions (from its hooks in resources/). */
export interface TypeFeatures {
  match: boolean;
  /** Clients may only read and search it (e.g. AuditEvent, written by the server itself). */
  readOnly?: boolean;
  /** Documentation of the type's own behaviour (e.g. the PDS search). */
  documentation?: string;
  /** The type's custom operations (e.g. EPS Task/$release). */
  operations?: { name: string; documentation?: string }[];
}

/** A custom operation's entry; its definition is a vertebra URL (no OperationDefinition is published yet). */
function customOperation({ name, documentation }: { name: string; documentation?: string }): CapabilityStatementRestResourceOperation {
  return { name, definition: `http://vertebra.dev/fhir/OperationDefinition/${name}`, ...(documentation ? { documentation } : {}) };
}

function searchParams(registry: SearchParameterRegistry, type: string): CapabilityStatementRestResourceSearchParam[] {
  return registry.forType(type)
    .filter((d) => SEARCHABLE.has(d.type) && d.expression !== undefined)
    .map((d) => ({ name: d.code, definition: d.url, type: d.type }));
}

export const SOFTWARE = { name: 'vertebra', version: '0.1.0' };

export function capabilityStatement(
  baseUrl: string, startedAt: string, registry: SearchParameterRegistry, conditionalDeleteMultiple: boolean,
  features: (type: string) => TypeFeatures = () => ({ match: false }),
  authorization: 'smart' | 'off' = 'off',
  systemOperations: { name: string; documentation?: string }[] = [],
  /** The interactions of the route table's rows (fhir/request.ts names). */
  routed: ReadonlySet<string> = new Set([...TYPE_INTERACTIONS, 'search-system', 'history-system', 'batch-or-transaction']),
): CapabilityStatement {
  const served = (code: string) => routed.has(code === 'transaction' || code === 'batch' ? 'batch-or-transaction' : code);
  const resource: CapabilityStatementRestResource[] = [...resourceTypes().keys()].sort().map((type) => ({
    ...(features(type).documentation ? { documentation: features(type).documentation } : {}),
    type: type as CapabilityStatementRestResource['type'],
    profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
    interaction: TYPE_INTERACTIONS.filter((code) => served(code) && (!features(type).readOnly || READ_ONLY.has(code))).map((code) => ({ code })),
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: !features(type).readOnly,
    conditionalCreate: !features(type).readOnly,
    conditionalRead: 'full-support',
    conditionalUpdate: !features(type).readOnly,
    conditionalDelete: features(type).readOnly ? 'not-supported' : conditionalDeleteMultiple ? 'multiple' : 'single',
    searchInclude: ['*'],
    searchRevInclude: ['*'],
    searchParam: searchParams(registry, type),
    operation: [VALIDATE, REINDEX, ...(features(type).match ? [MATCH] : []), ...terminologyOperations(type), ...(features(type).operations ?? []).map(customOperation)],
  }));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: startedAt,
    publisher: 'vertebra',
    kind: 'instance',
    software: SOFTWARE,
    implementation: { description: 'vertebra FHIR R4 server', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [{
      mode: 'server',
      documentation: authorization === 'smart'
        ? 'Every request but this one needs a SMART on FHIR bearer token; see .well-known/smart-configuration.'
        : 'AUTH=off: this endpoint checks no tokens (local trials and conformance runs only).',
      ...(authorization === 'smart' ? {
        security: {
          service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }] }],
          description: 'SMART App Launch 2.x; discovery at .well-known/smart-configuration',
        },
      } : {}),
      resource,
      interaction: SYSTEM_INTERACTIONS.filter(served).map((code) => ({ code })),
      searchParam: [
        { name: '_id', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id' },
        { name: '_lastUpdated', type: 'date', definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated' },
        { name: '_type', type: 'token', documentation: 'Resource types searched by a system-level search' },
      ],
      operation: [REINDEX, ...systemOperations.map(customOperation)],
    }],
  };
}
