import type { SpineModule } from '../module.js';
import { patientHooks } from './index.js';
import { isValidNhsNumber } from './nhs-number.js';

/** PDS: Patient with NHS number ids, demographic search and matching, PATCH, restricted patients. */
export const pdsModule: SpineModule = {
  name: 'pds',
  register(hooks, options) {
    hooks.register('Patient', patientHooks(options));
  },
  identity: { isPatientId: isValidNhsNumber },
};
