import type { SpineModule } from '../module.js';
import { registerOrganization } from './hooks.js';

/** ODS: Organization with ODS code ids, roles and relationships. */
export const odsModule: SpineModule = {
  name: 'ods',
  register: (hooks, { registry }) => registerOrganization(hooks, registry),
};
