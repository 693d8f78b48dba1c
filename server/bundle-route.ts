import type { Bundle } from 'fhir/r4.js';
import type { Logger } from 'pino';
import { errors } from '../fhir/errors.js';
import { parseFhirRequest, queryPairs, type FhirRequest } from '../fhir/request.js';
import { entryPath, processBundle, type BundleOptions } from '../resources/bundle.js';
import { forbidden, restricts, unappliedRestriction } from './access.js';
import type { RequestContext } from './context.js';
import { returnPreference } from './preconditions.js';
import { jsonBody, sendFhir } from './representation.js';
import type { Exchange, Resolved } from './route-table.js';
import { includedFilter, searchBundleText, type SearchDeps, type SearchScope } from './search.js';

/**
 * `POST /` with a batch or transaction Bundle (R4 http.html#transaction). Each entry's url is read
 * by the same parser as an HTTP request (fhir/request.ts), and its access need is the route
 * table's for the same request (`resolveEntry`).
 */
export function bundleHandler(deps: SearchDeps, logger: Logger, resolveEntry: (request: FhirRequest) => Resolved) {
  const { engine, config } = deps;
  return async (x: Exchange): Promise<void> => {
    const body = jsonBody(x.req) as Bundle;
    // The size limit comes before any other work on the entries.
    const count = Array.isArray(body?.entry) ? body.entry.length : 0;
    if (count > config.maxBundleEntries) {
      throw errors.payloadTooLarge(`The Bundle has ${count} entries; this server accepts at most ${config.maxBundleEntries}`);
    }
    if (x.ctx.decide) checkEntries(body, x.ctx, deps, x.base, resolveEntry);
    const options: BundleOptions = {
      runGet: (url) => runGet(x, deps, url),
      returnPreference: returnPreference(x.req),
      conditionalDelete: { allowed: config.conditionalDeleteMultiple, max: config.maxPageSize },
      baseUrl: x.base,
      render: (version) => engine.render(version, x.ctx.who),
      onUnexpected: (err) => logger.error({ reqId: x.ctx.requestId, err }, 'unexpected error in a batch entry'),
    };
    sendFhir(x.req, x.res, 200, await processBundle(engine, body, options));
  };
}

/**
 * Every entry of a batch or transaction must be allowed on its own, before any runs: a transaction
 * is all or nothing, and a batch must not become a way round the decision. Restricted grants
 * (patient context, v2 constraints, a module's restriction) cannot be applied entry by entry yet
 * and are refused.
 */
function checkEntries(body: Bundle, ctx: RequestContext, deps: SearchDeps, base: string, resolveEntry: (request: FhirRequest) => Resolved): void {
  for (const [index, entry] of (Array.isArray(body?.entry) ? body.entry : []).entries()) {
    const rawMethod = entry?.request?.method;
    const url = entry?.request?.url;
    if (typeof rawMethod !== 'string' || typeof url !== 'string') continue; // malformed: the bundle processor refuses it
    let resolved: Resolved;
    try {
      resolved = resolveEntry(parseFhirRequest(rawMethod.toUpperCase(), entryPath(url, base))); // the method as the bundle processor reads it
    } catch {
      throw forbidden(`Bundle.entry[${index}]: the request cannot be authorised (unknown path or method)`);
    }
    if (resolved.access === 'public') continue;
    if (!resolved.need) throw forbidden(`Bundle.entry[${index}]: this operation cannot run inside a Bundle`);
    const decision = ctx.decide!(resolved.need);
    if (!decision.allow) throw forbidden(`Bundle.entry[${index}]: ${decision.reason}`);
    const restriction = unappliedRestriction(deps.spine, ctx.who, decision);
    if (restriction) throw forbidden(`Bundle.entry[${index}]: ${restriction}, which entries cannot apply yet`);
    if (Object.values(decision.byType).some(restricts)) {
      throw forbidden(`Bundle.entry[${index}]: entries under a patient-context or query-constrained scope are not supported yet`);
    }
  }
}

/** A GET entry (its url already relative to the base): read (`Type/id`), vread (`Type/id/_history/n`) or search (`Type?...`). */
async function runGet(x: Exchange, deps: SearchDeps, url: string): ReturnType<BundleOptions['runGet']> {
  const { engine, config } = deps;
  const request = parseFhirRequest('GET', url);
  switch (request.interaction) {
    case 'search-type': {
      const type = request.type!;
      const scope: SearchScope = { resourceTypes: [type], path: type };
      if (x.ctx.decide && x.ctx.grant) { // the entry itself was allowed by checkEntries; what it includes must be readable too
        const decision = x.ctx.decide({ interaction: 'search-type', resourceTypes: [type] });
        if (decision.allow) scope.filterIncluded = includedFilter(deps, x.ctx.who, x.ctx.decide, { grant: x.ctx.grant, decision });
      }
      const text = await searchBundleText(x.req, x.ctx.who, engine, config, x.base, scope, queryPairs(request));
      return { status: 200, resource: JSON.parse(text) };
    }
    case 'read': {
      const version = await engine.read(request.type!, request.id!);
      return { status: 200, resource: engine.render(version, x.ctx.who), version };
    }
    case 'vread': {
      const version = await engine.vread(request.type!, request.id!, request.version!);
      return { status: 200, resource: engine.render(version, x.ctx.who), version };
    }
    default:
      throw errors.badRequest(`GET entries may read, vread or search; '${url}' is none of these`);
  }
}
