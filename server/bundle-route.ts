import type { Request, Response } from 'express';
import type { Bundle } from 'fhir/r4.js';
import type { Logger } from 'pino';
import { errors } from '../fhir/errors.js';
import { processBundle, type BundleOptions } from '../resources/bundle.js';
import type { InteractionEngine } from '../resources/engine.js';
import type { Config } from './config.js';
import { returnPreference } from './preconditions.js';
import { jsonBody, sendFhir } from './representation.js';
import { includedFilter, searchBundleText, type SearchScope } from './search.js';
import { decide, type Grant } from '../auth/access.js';
import { accessRequestFor, forbidden, restricts } from './access.js';
import { isPrivacyOfficer } from './scr-access.js';

/** `POST /` with a batch or transaction Bundle (R4 http.html#transaction). */
export function bundleHandler(engine: InteractionEngine, config: Config, baseUrl: (req: Request) => string, logger: Logger) {
  return async (req: Request, res: Response): Promise<void> => {
    const body = jsonBody(req) as Bundle;
    // The size limit comes before any other work on the entries.
    const count = Array.isArray(body?.entry) ? body.entry.length : 0;
    if (count > config.maxBundleEntries) {
      throw errors.payloadTooLarge(`The Bundle has ${count} entries; this server accepts at most ${config.maxBundleEntries}`);
    }
    const base = baseUrl(req);
    if (res.locals.grant) checkEntries(body, res.locals.grant as Grant, base);
    const options: BundleOptions = {
      runGet: (url) => runGet(req, engine, config, base, url, res.locals.grant as Grant | undefined),
      returnPreference: returnPreference(req),
      conditionalDelete: { allowed: config.conditionalDeleteMultiple, max: config.maxPageSize },
      baseUrl: base,
      render: (version) => engine.render(version),
      onUnexpected: (err) => logger.error({ reqId: res.locals.requestId, err }, 'unexpected error in a batch entry'),
    };
    sendFhir(req, res, 200, await processBundle(engine, body, options));
  };
}

/**
 * Every entry of a batch or transaction must be allowed on its own, before any runs: a transaction
 * is all or nothing, and a batch must not become a way round the decision. Restricted grants
 * (patient context, v2 constraints) cannot be applied entry by entry yet and are refused.
 */
function checkEntries(body: Bundle, grant: Grant, base: string): void {
  for (const [index, entry] of (Array.isArray(body?.entry) ? body.entry : []).entries()) {
    const rawMethod = entry?.request?.method;
    let url = entry?.request?.url;
    if (typeof rawMethod !== 'string' || typeof url !== 'string') continue; // malformed: the bundle processor refuses it
    const method = rawMethod.toUpperCase(); // as the bundle processor reads it
    if (url.startsWith(base)) url = url.slice(base.length);
    const q = url.indexOf('?');
    const what = accessRequestFor(method, `/${q < 0 ? url : url.slice(0, q)}`, new URLSearchParams(q < 0 ? '' : url.slice(q + 1)));
    if (what === 'public') continue;
    if (what === undefined) throw forbidden(`Bundle.entry[${index}]: the request cannot be authorised (unknown path or method)`);
    if (what === 'admin' || what === 'bundle' || what === 'operation') throw forbidden(`Bundle.entry[${index}]: this operation cannot run inside a Bundle`);
    const decision = decide(what, grant);
    if (!decision.allow) throw forbidden(`Bundle.entry[${index}]: ${decision.reason}`);
    if (decision.byType.AuditEvent && isPrivacyOfficer(grant)) throw forbidden(`Bundle.entry[${index}]: a privacy officer's AuditEvent access is restricted, which entries cannot apply yet`);
    if (Object.values(decision.byType).some(restricts)) {
      throw forbidden(`Bundle.entry[${index}]: entries under a patient-context or query-constrained scope are not supported yet`);
    }
  }
}

/** A GET entry: read (`Type/id`), vread (`Type/id/_history/n`) or search (`Type?...`). */
async function runGet(req: Request, engine: InteractionEngine, config: Config, base: string, url: string, grant?: Grant): ReturnType<BundleOptions['runGet']> {
  const q = url.indexOf('?');
  const parts = (q < 0 ? url : url.slice(0, q)).split('/').filter((p) => p !== '');
  const pairs = q < 0 ? [] : [...new URLSearchParams(url.slice(q + 1))];
  if (parts.length === 1) {
    engine.assertType(parts[0]);
    const scope: SearchScope = { resourceTypes: [parts[0]], path: parts[0] };
    if (grant) { // the entry itself was allowed by checkEntries; what it includes must be readable too
      const decision = decide({ interaction: 'search-type', resourceTypes: [parts[0]] }, grant);
      if (decision.allow) scope.filterIncluded = includedFilter(engine, { grant, decision });
    }
    const text = await searchBundleText(req, engine, config, base, scope, pairs);
    return { status: 200, resource: JSON.parse(text) };
  }
  if (parts.length === 2) {
    const version = await engine.read(parts[0], parts[1]);
    return { status: 200, resource: engine.render(version), version };
  }
  if (parts.length === 4 && parts[2] === '_history') {
    const version = await engine.vread(parts[0], parts[1], parts[3]);
    return { status: 200, resource: engine.render(version), version };
  }
  throw errors.badRequest(`GET entries may read, vread or search; '${url}' is none of these`);
}
