import { FHIR_ID } from '../../fhir/id.js';
import { SDS_USER_ID_SYSTEM } from './identifiers.js';
import type { SpineModule } from '../module.js';
import { registerSds } from './hooks.js';
import { isClinicalRole } from './rbac.js';

/** SDS: Practitioner and PractitionerRole with SDS ids and national RBAC job roles. */
export const sdsModule: SpineModule = {
  name: 'sds',
  register: (hooks) => registerSds(hooks),
  identity: {
    isClinicalRole,
    async practitionersBySdsUserId(engine, sdsUserId) {
      if (!FHIR_ID.test(sdsUserId)) return []; // an SDS user id has the FHIR id syntax
      const { matches } = await engine.candidates('Practitioner', [['identifier', `${SDS_USER_ID_SYSTEM}|${sdsUserId}`]], 2);
      return matches.map((m) => `Practitioner/${m.id}`);
    },
  },
};
