import type { SearchParameterRegistry } from '../search/registry.js';
import type { HookRegistry } from './hooks.js';
import { patientHooks, type PatientOptions } from './patient/index.js';
import { registerOrganization } from './organization/hooks.js';
import { registerSds } from './practitioner/hooks.js';
import { auditEventHooks } from './audit-event/index.js';
import { registerScr } from './composition/hooks.js';
import { registerEps } from './medication-request/index.js';

/**
 * Registers the Spine mappings (resources/patient = PDS, resources/organization = ODS,
 * resources/practitioner = SDS, resources/audit-event = the audit trail, resources/composition =
 * SCR, resources/medication-request = EPS) with the engine: their hooks, and the search parameters of their
 * own that the R4 definitions lack. Called once at start-up by server/ and by the command-line tools.
 */
export interface SpineOptions extends PatientOptions {
  registry: SearchParameterRegistry;
}

export function registerSpine(hooks: HookRegistry, options: SpineOptions): void {
  hooks.register('Patient', patientHooks(options));
  registerOrganization(hooks, options.registry);
  registerSds(hooks);
  hooks.register('AuditEvent', auditEventHooks);
  registerScr(hooks);
  registerEps(hooks, options.registry);
}
