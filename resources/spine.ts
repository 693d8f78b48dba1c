import type { AccessRestriction, AuditRecords, IdentityServices, ModuleOptions, ModuleRoute, SpineModule } from './module.js';
import type { HookRegistry } from './hooks.js';
import { auditModule } from './audit-event/module.js';
import { scrModule } from './composition/module.js';
import { epsModule } from './medication-request/module.js';
import { odsModule } from './organization/module.js';
import { pdsModule } from './patient/module.js';
import { sdsModule } from './practitioner/module.js';

/**
 * The one place the Spine modules are listed (ARCHITECTURE "Request flow"): resources/patient =
 * PDS, resources/organization = ODS, resources/practitioner = SDS, resources/audit-event = the
 * audit trail, resources/composition = SCR, resources/medication-request = EPS. A new Spine
 * service adds its module here; server/ and the command-line tools take what they need from the
 * assembled Spine and know no module by name.
 */
export const SPINE_MODULES: readonly SpineModule[] = [pdsModule, odsModule, sdsModule, auditModule, scrModule, epsModule];

export type SpineOptions = ModuleOptions;

/** The modules, assembled: what server/ reads of them. */
export interface Spine {
  modules: readonly SpineModule[];
  /** The modules' own routes, in module order (tried before the generic interactions). */
  routes: readonly ModuleRoute[];
  restrictions: readonly AccessRestriction[];
  audit: AuditRecords;
  unaudited: ReadonlySet<string>;
  /** What the access decision asks of the modules (auth/access.ts AccessRules). */
  accessRules: Pick<IdentityServices, 'isClinicalRole'>;
  identity: IdentityServices;
}

function one<K extends keyof IdentityServices>(modules: readonly SpineModule[], key: K): IdentityServices[K] {
  const providers = modules.filter((m) => m.identity?.[key] !== undefined);
  if (providers.length !== 1) throw new Error(`Exactly one Spine module must provide ${key} (found ${providers.length})`);
  return providers[0].identity![key]!;
}

export function assembleSpine(modules: readonly SpineModule[] = SPINE_MODULES): Spine {
  const audits = modules.filter((m) => m.audit !== undefined);
  if (audits.length !== 1) throw new Error(`Exactly one Spine module must provide the audit records (found ${audits.length})`);
  const identity: IdentityServices = {
    isPatientId: one(modules, 'isPatientId'),
    isClinicalRole: one(modules, 'isClinicalRole'),
    practitionersBySdsUserId: one(modules, 'practitionersBySdsUserId'),
  };
  return {
    modules,
    routes: modules.flatMap((m) => m.routes ?? []),
    restrictions: modules.flatMap((m) => m.restrictions ?? []),
    audit: audits[0].audit!,
    unaudited: new Set(modules.flatMap((m) => m.unaudited ?? [])),
    accessRules: { isClinicalRole: identity.isClinicalRole },
    identity,
  };
}

/** Registers every module's engine hooks, operations and search parameters. Called once at start-up by server/ and the command-line tools. */
export function registerSpine(hooks: HookRegistry, options: SpineOptions, modules: readonly SpineModule[] = SPINE_MODULES): void {
  for (const module of modules) module.register?.(hooks, options);
}
