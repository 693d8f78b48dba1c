import type { SpineModule } from '../module.js';
import { scrRoutes } from './api.js';
import { registerScr } from './hooks.js';

/** SCR: the Summary Care Record API and the hooks that keep its records out of the generic paths. */
export const scrModule: SpineModule = {
  name: 'scr',
  register: (hooks) => registerScr(hooks),
  routes: scrRoutes,
};
