import type { CapabilityStatement, CapabilityStatementRestResource } from 'fhir/r4.js';
import { resourceTypes } from '../fhir/definitions.js';

/**
 * What the REST layer really implements. routes.ts registers exactly these interactions, and the
 * CapabilityStatement is generated from the same lists, so the two cannot drift apart.
 */
export const TYPE_INTERACTIONS = ['read', 'vread', 'update', 'delete', 'history-instance', 'history-type', 'create'] as const;
export const SYSTEM_INTERACTIONS = ['history-system'] as const;

export const SOFTWARE = { name: 'vertebra', version: '0.1.0' };

export function capabilityStatement(baseUrl: string, startedAt: string): CapabilityStatement {
  const resource: CapabilityStatementRestResource[] = [...resourceTypes().keys()].sort().map((type) => ({
    type: type as CapabilityStatementRestResource['type'],
    profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
    interaction: TYPE_INTERACTIONS.map((code) => ({ code })),
    versioning: 'versioned-update',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: false,
    conditionalRead: 'full-support',
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
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
      documentation: 'Authorization is not yet enforced: this build serves an open endpoint.',
      resource,
      interaction: SYSTEM_INTERACTIONS.map((code) => ({ code })),
    }],
  };
}
