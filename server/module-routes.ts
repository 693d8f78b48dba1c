import type { InteractionEngine } from '../resources/engine.js';
import type { ModuleCall, ModuleRoute } from '../resources/module.js';
import { queryPairs } from '../fhir/request.js';
import { authorizeNeeds } from './access.js';
import type { Config } from './config.js';
import { historyOf } from './history.js';
import { returnPreference } from './preconditions.js';
import { jsonBody, sendFhir } from './representation.js';
import { defaultAccess, type Exchange, type Route } from './route-table.js';

/**
 * The Spine modules' own routes (resources/module.ts ModuleRoute) as rows of the route table:
 * the module sees a ModuleCall and answers a status and a resource; this file does the HTTP.
 */
export function moduleRoutes(routes: readonly ModuleRoute[], engine: InteractionEngine, config: Config): Route[] {
  const calls = new WeakMap<Exchange, ModuleCall>();
  const callOf = (x: Exchange): ModuleCall => {
    let call = calls.get(x);
    if (call) return call;
    let body: { value: unknown } | undefined;
    call = {
      request: x.request,
      params: queryPairs(x.request),
      who: x.ctx.who,
      authenticated: x.ctx.authenticated,
      requestId: x.ctx.requestId,
      baseUrl: x.base,
      engine,
      header: (name) => x.req.get(name),
      body: () => (body ??= { value: jsonBody(x.req) }).value,
      returnMinimal: returnPreference(x.req) === 'minimal',
      authorize: (...needs) => authorizeNeeds(x.ctx, needs),
      instanceHistory: (resourceType, id) => historyOf(x, engine, config, { resourceType, id }),
    };
    calls.set(x, call);
    return call;
  };
  for (const route of routes) {
    // The decision is made for the first row before `when` is asked; a row that may pass the
    // request on must therefore need exactly what the generic row needs.
    if (route.when && route.access) throw new Error(`A module route with 'when' takes its interaction's own access (${route.interaction} ${route.type ?? ''})`);
  }
  return routes.map((route): Route => ({
    interaction: route.interaction,
    serves: (r) => (route.type === undefined || r.type === route.type)
      && (route.operation === undefined || r.operation === route.operation)
      && (route.level === undefined || r.level === route.level),
    methods: route.methods,
    access: route.access ? () => route.access! : defaultAccess(route.interaction),
    when: route.when && ((x) => route.when!(callOf(x))),
    async handle(x) {
      const { status, resource } = await route.handle(callOf(x));
      sendFhir(x.req, x.res, status, resource);
    },
  }));
}
