import type { SpineModule } from '../module.js';
import { registerEps } from './index.js';

/** EPS: prescriptions as MedicationRequest, Task and MedicationDispense, changed through the EPS operations. */
export const epsModule: SpineModule = {
  name: 'eps',
  register: (hooks, { registry }) => registerEps(hooks, registry),
};
