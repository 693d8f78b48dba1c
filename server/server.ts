import type { AddressInfo } from 'node:net';
import type { Resource } from 'fhir/r4.js';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { warmSchemaValidator } from '../profiles/schema-validator.js';
import { InteractionEngine } from '../resources/engine.js';
import { IndexExtractor } from '../search/extract.js';
import { SearchParameterRegistry } from '../search/registry.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store } from '../store/port.js';
import { HookRegistry } from '../resources/hooks.js';
import { ProfileStage, localCodeChecker } from '../resources/profile-stage.js';
import { loadIgPaths } from '../profiles/ig-source.js';
import { warmBaseDefinitions } from '../profiles/structure-definitions.js';
import type { CodeChecker } from '../profiles/code-checker.js';
import { searchParameterHooks } from '../resources/search-parameter.js';
import { assembleSpine, registerSpine, type Spine } from '../resources/spine.js';
import { allOfTypePlan } from '../search/canonical.js';
import { createAuthServer, type AuthServer } from '../auth/authorization-server.js';
import { FhirError } from '../fhir/errors.js';
import { FHIR_ID } from '../fhir/id.js';
import { loadSnomedRf2 } from '../terminology/snomed-rf2.js';
import { createApp, type AppDeps } from './app.js';
import type { Config, OidcConfig } from './config.js';
import { loginAudit, type LoginAuditOptions } from './login-audit.js';
import type { OidcOptions } from '../auth/oidc.js';
import { readFileSync } from 'node:fs';

export interface RunningServer {
  /** The FHIR base URL, e.g. http://127.0.0.1:8080/fhir */
  url: string;
  port: number;
  engine: InteractionEngine;
  /** The SMART authorization server (absent with AUTH=off). */
  auth?: AuthServer;
  close(): Promise<void>;
}

/** Opens the store the configuration names, builds the engine and app, and listens. Used by main.ts and the HTTP tests. */
export async function startServer(config: Config, logger: Logger = pino({ level: config.logLevel }), options: ServeOptions = {}): Promise<RunningServer> {
  warmSchemaValidator();
  return serveStore(config, logger, await openStore(config), options);
}

/** Opens the store the configuration names (also used by the command-line tools, e.g. import-ods). */
export async function openStore(config: Config): Promise<Store> {
  return config.mongodbUri // MONGODB_URI: MongoDB (store/mongo, loaded only then); else the embedded SQLite
    ? await (await import('../store/mongo/mongo-store.js')).MongoStore.open(config.mongodbUri, {
      clientOptions: { maxPoolSize: config.mongodbMaxPoolSize, serverSelectionTimeoutMS: config.mongodbTimeoutMs },
    })
    : new SqliteStore({ file: join(config.dataDir, 'vertebra.sqlite'), synchronous: config.sqliteSynchronous });
}

/** What an embedder (the HTTP tests) may add beyond the configuration. */
export interface ServeOptions {
  audit?: AppDeps['audit'];
  /** The sign-in audit's test seam (server/login-audit.ts). */
  loginAudit?: LoginAuditOptions;
}

/** Builds the engine and app over an open store and listens; closing the server closes the store. */
export async function serveStore(config: Config, logger: Logger, store: Store, options: ServeOptions = {}): Promise<RunningServer> {
  warmSchemaValidator();
  let engine: InteractionEngine;
  const spine = assembleSpine();
  try {
    engine = await buildEngine(store, logger, config, spine);
  } catch (err) {
    await store.close(); // e.g. a SNOMED_RF2_PATH without a release must not leave the store open
    throw err;
  }
  let auth: AuthServer | undefined;
  try {
    auth = config.auth === 'smart' ? await createAuthServer({
      dataDir: config.dataDir, fhirBaseUrl: config.baseUrl, clientsFile: config.smartClients,
      accessTokenSeconds: config.accessTokenSeconds, logger: logger.child({ component: 'auth' }),
      findPatient: (id) => findPatient(engine, id),
      isPatientId: spine.identity.isPatientId,
      findPractitioner: (sdsUserId) => findPractitioner(engine, spine, logger, sdsUserId),
      oidc: config.oidc && oidcOptions(config.oidc),
      localLogin: config.localLogin,
      // Sign-ins are audited like every access (AUDIT=off switches this off too).
      onLoginAttempt: config.audit ? loginAudit(engine, spine, logger, options.loginAudit) : undefined,
    }) : undefined;
  } catch (err) {
    await store.close(); // a bad SMART_CLIENTS file must not leave the store open
    throw err;
  }
  const app = createApp({ config, engine, spine, logger, auth, audit: options.audit });
  const http: Server = await new Promise((resolve, reject) => {
    const s = app.listen(config.port, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = http.address() as AddressInfo;
  return {
    url: config.baseUrl ?? `http://localhost:${port}/fhir`,
    port,
    engine,
    auth,
    async close() {
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeIdleConnections();
      });
      await store.close();
    },
  };
}

/**
 * The engine over an open store, wired as `npm start` wires it: the R4 search parameters, the Spine
 * mappings' hooks and parameters, and the custom SearchParameters stored by earlier runs.
 */
export async function buildEngine(store: Store, logger: Logger, config: Config, spine: Spine = assembleSpine()): Promise<InteractionEngine> {
  const registry = new SearchParameterRegistry();
  const extractor = new IndexExtractor(registry, {
    onError: (error, where) => logger.warn({ err: error, ...where }, 'search parameter skipped during indexing'),
  });
  const hooks = new HookRegistry();
  hooks.register('SearchParameter', searchParameterHooks(registry));
  registerSpine(hooks, { registry, pds: config.pds, nhsNumberRange: config.nhsNumberRange }, spine.modules);
  // The profile stage asks terminology, which the engine owns (stored, IG and base value sets).
  let codes: CodeChecker | undefined;
  const profiles = new ProfileStage({ validateCode: (valueSet, coding) => codes!.validateCode(valueSet, coding) }, config.requiredProfiles);
  const igResources = loadImplementationGuides(profiles, config, logger);
  hooks.register('StructureDefinition', profiles.structureDefinitionHooks());
  // The IGs' SearchParameters are in force like stored ones (indexed on new writes; $reindex for older).
  for (const sp of igResources.filter((r) => r.resourceType === 'SearchParameter')) {
    try {
      hooks.for('SearchParameter').afterCommit!({ id: `ig:${(sp as { url?: string }).url}`, resource: sp });
    } catch (err) {
      logger.warn({ err, url: (sp as { url?: string }).url }, 'implementation guide SearchParameter skipped');
    }
  }
  const engine = new InteractionEngine({ store, registry, extractor, hooks, profiles, maxExpansion: config.maxExpansion });
  engine.terminology.addConformanceResources(igResources); // the IGs' CodeSystems, ValueSets and ConceptMaps
  codes = localCodeChecker(engine.terminology);
  await loadStoredSearchParameters(store, hooks);
  if (config.snomedRf2Path) {
    const started = Date.now();
    const snomed = await loadSnomedRf2(config.snomedRf2Path);
    engine.terminology.addCodeSystem(snomed);
    logger.info({ concepts: snomed.size, version: snomed.version, ms: Date.now() - started }, 'SNOMED CT RF2 release loaded');
  }
  await loadStored(store, hooks, 'StructureDefinition');
  const missing = profiles.policy.missingRequired();
  if (missing.length) throw new Error(`REQUIRED_PROFILES names profiles this server does not hold (load them with IG_PATHS): ${missing.join(', ')}`);
  return engine;
}

/**
 * IG_PATHS content, in force before the first request. Only a server that names IG content pays
 * for it (the R4 base definitions, ~1 s, are otherwise parsed on the first profile validation).
 */
function loadImplementationGuides(profiles: ProfileStage, config: Config, logger: Logger): Resource[] {
  if (config.igPaths.length === 0) return [];
  const started = performance.now();
  warmBaseDefinitions(); // first, so the XML parser reuses the parsed R4 definitions
  const content = loadIgPaths(config.igPaths);
  profiles.loadIg(content);
  const counts: Record<string, number> = {};
  for (const r of content.resources) counts[r.resourceType] = (counts[r.resourceType] ?? 0) + 1;
  logger.info({ igPaths: config.igPaths, files: content.files, loaded: counts, ms: Math.round(performance.now() - started) }, 'implementation guides loaded');
  for (const problem of content.problems) logger.warn({ problem }, 'implementation guide file skipped');
  return content.resources;
}

/** Custom SearchParameters stored by earlier runs are in force again before the first request. */
function loadStoredSearchParameters(store: Store, hooks: HookRegistry): Promise<void> {
  return loadStored(store, hooks, 'SearchParameter');
}

/** Conformance resources of a type stored by earlier runs, replayed through its after-commit hook. */
async function loadStored(store: Store, hooks: HookRegistry, resourceType: string): Promise<void> {
  const afterCommit = hooks.for(resourceType).afterCommit!;
  let cursor: string | undefined;
  do {
    const page = await store.search(allOfTypePlan(resourceType, 500, cursor));
    for (const v of page.matches) afterCommit({ id: v.id, resource: JSON.parse(v.json!) });
    cursor = page.nextCursor;
  } while (cursor !== undefined);
}

/** The patient picker's look-up (auth/ has no store): a label for a Patient id, or undefined when it does not exist. */
async function findPatient(engine: InteractionEngine, id: string): Promise<{ id: string; label: string } | undefined> {
  if (!FHIR_ID.test(id)) return undefined;
  try {
    const version = await engine.read('Patient', id);
    if (!version.json) return undefined;
    const resource = JSON.parse(version.json) as { name?: { family?: string; given?: string[] }[]; birthDate?: string };
    const name = resource.name?.[0];
    const who = [name?.family?.toUpperCase(), name?.given?.join(' ')].filter(Boolean).join(', ') || `Patient ${id}`;
    return { id, label: `${who}${resource.birthDate ? `, born ${resource.birthDate}` : ''} (${id})` };
  } catch (err) {
    if (err instanceof FhirError && err.status < 500) return undefined;
    throw err;
  }
}

/** The IdP settings as auth/ takes them; a private_key_jwt key file is read here, once. */
function oidcOptions(c: OidcConfig): OidcOptions {
  const o: OidcOptions = {
    issuer: c.issuer, clientId: c.clientId, tokenAuthMethod: c.tokenAuthMethod, scopes: c.scopes, displayName: c.displayName,
  };
  if (c.prompt) o.prompt = c.prompt;
  if (c.clientSecret) o.clientSecret = c.clientSecret;
  if (c.privateKeyFile) {
    try {
      o.privateKey = { jwk: JSON.parse(readFileSync(c.privateKeyFile, 'utf8')) };
    } catch (err) {
      throw new Error(`OIDC_PRIVATE_KEY_FILE ${c.privateKeyFile}: not a readable JSON Web Key (${(err as Error).message})`);
    }
  }
  return o;
}

/**
 * The Practitioner holding an SDS user id (https://fhir.nhs.uk/Id/sds-user-id), as the fhirUser of
 * an IdP sign-in; undefined when none, or when several claim it (which is a data error, logged).
 */
async function findPractitioner(engine: InteractionEngine, spine: Spine, logger: Logger, sdsUserId: string): Promise<string | undefined> {
  const found = await spine.identity.practitionersBySdsUserId(engine, sdsUserId);
  if (found.length > 1) logger.warn('several Practitioners hold the same SDS user id: none is taken as the fhirUser');
  return found.length === 1 ? found[0] : undefined;
}
