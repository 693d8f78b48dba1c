/**
 * Configuration, read once at start-up into a typed object and passed down (ARCHITECTURE rule 6):
 * this is the only module that looks at the environment.
 */
export interface Config {
  port: number;
  /** Public base URL of the FHIR endpoint; when unset it is derived from each request's Host. */
  baseUrl?: string;
  dataDir: string;
  logLevel: string;
  /** Largest request body accepted, in bytes; larger ones are refused with 413. */
  maxBodyBytes: number;
  /** Page size when a client gives no _count. */
  defaultPageSize: number;
  /** Largest page a client may ask for; larger _count values are reduced to it. */
  maxPageSize: number;
  sqliteSynchronous: 'FULL' | 'NORMAL';
  /** MONGODB_URI: use the MongoDB store (a replica set or sharded cluster) instead of SQLite. */
  mongodbUri?: string;
  /** MongoDB connection pool size (MONGODB_MAX_POOL_SIZE) and server selection timeout (MONGODB_TIMEOUT_MS). */
  mongodbMaxPoolSize: number;
  mongodbTimeoutMs: number;
  /** Most entries a batch or transaction Bundle may have; larger ones are refused with 413 before any work. */
  maxBundleEntries: number;
  /**
   * Whether a conditional delete may delete several matches (up to maxPageSize); when false
   * (the default) several matches are a 412, as R4 allows.
   */
  conditionalDeleteMultiple: boolean;
  /**
   * PDS=on (default): Patient follows the PDS rules (id = NHS number, allocation on create, the
   * PDS demographic search, PDS PATCH). PDS=off: Patient is a plain FHIR resource, for generic
   * conformance suites whose fixtures use arbitrary ids. Restricted-patient rules apply in both.
   */
  pds: boolean;
  /** NHS_NUMBER_RANGE: the NHS numbers POST /Patient allocates from, inclusive (default the 999 test range). */
  nhsNumberRange: { from: string; to: string };
  /**
   * AUTH=smart (default): the SMART authorization server runs at /auth and publishes
   * /fhir/.well-known/smart-configuration. AUTH=off: neither exists (local trials and
   * conformance runs only; loud warning at start-up). FHIR requests are not yet checked against
   * tokens in either mode: enforcement is a later step.
   */
  auth: 'smart' | 'off';
  /**
   * AUDIT=on (default): every FHIR request touching patient data leaves AuditEvents, written
   * durably before the response (server/audit.ts). AUDIT=off: no audit trail at all, for
   * benchmarks and local trials only (loud warning at start-up).
   */
  audit: boolean;
  /** SMART_CLIENTS: path of the JSON file of registered OAuth clients (RFC 7591 metadata array). */
  smartClients?: string;
  /** ACCESS_TOKEN_SECONDS: lifetime of issued access tokens (default 300, SMART's recommended ceiling). */
  accessTokenSeconds: number;
  /**
   * TRUST_PROXY: Express's `trust proxy` (unset: trust none). Behind a load balancer or TLS proxy
   * set it (a hop count, or the proxies' addresses) so that a client's own address, not the
   * proxy's, keys the sign-in throttle and the logs; never `true` on a directly exposed server
   * (any client could then claim any address in X-Forwarded-For).
   */
  trustProxy: boolean | number | string;
  /** OIDC_*: staff sign-in through an OpenID Connect IdP such as NHS CIS2; absent when OIDC_ISSUER is unset. */
  oidc?: OidcConfig;
  /**
   * LOCAL_LOGIN: offer username + password sign-in (passport-local, DATA_DIR/auth/accounts.json).
   * Default on without an IdP, off when OIDC_ISSUER is set (a national IdP's assurance should not
   * sit beside a weaker password form); LOCAL_LOGIN=on keeps both.
   */
  localLogin: boolean;
  /**
   * SNOMED_RF2_PATH: folder of a SNOMED CT RF2 release (Snapshot or Full), loaded into memory at
   * start-up for $lookup/$validate-code/$subsumes/$expand. SNOMED CT is licensed: never bundled.
   */
  snomedRf2Path?: string;
  /** MAX_EXPANSION: most codes a $expand names before answering 422 too-costly. */
  maxExpansion: number;
  /**
   * IG_PATHS: implementation-guide content loaded at start-up (comma- or colon-separated): folders
   * of FHIR JSON/XML files, searched recursively, and FHIR package .tgz files. Empty: the R4 base only.
   */
  igPaths: string[];
  /**
   * REQUIRED_PROFILES: profiles every write of a type must meet, whatever it claims, as
   * comma-separated `Type=canonical-url` pairs (a type may be named more than once).
   */
  requiredProfiles: Record<string, string[]>;
}

export interface OidcConfig {
  /** OIDC_ISSUER: https (http only on localhost/127.0.0.1, for trials and tests). */
  issuer: string;
  /** OIDC_CLIENT_ID */
  clientId: string;
  /** OIDC_CLIENT_SECRET (client_secret_basic / client_secret_post). Never logged. */
  clientSecret?: string;
  /** OIDC_PRIVATE_KEY_FILE: a private JWK (JSON, with alg and kid) for private_key_jwt. */
  privateKeyFile?: string;
  /** OIDC_TOKEN_AUTH_METHOD; default private_key_jwt with a key file, else client_secret_basic. */
  tokenAuthMethod: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  /** OIDC_SCOPES; default CIS2's `openid profile nationalrbacaccess selectedrole`. */
  scopes: string;
  /** OIDC_NAME: the button says "Sign in with <name>"; default `NHS CIS2`. */
  displayName: string;
  /** OIDC_PROMPT; default `login` (CIS2 then offers role selection); `none-sent` to send no prompt. */
  prompt?: string;
}

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(true|1|yes|on)$/i.test(raw)) return true;
  if (/^(false|0|no|off)$/i.test(raw)) return false;
  throw new Error(`${name} must be true or false (got '${raw}')`);
}

function trustProxy(raw: string | undefined): boolean | number | string {
  if (raw === undefined || raw.trim() === '' || /^(false|off|no|0)$/i.test(raw.trim())) return false;
  if (/^(true|on|yes)$/i.test(raw.trim())) return true;
  if (/^[1-9]\d{0,1}$/.test(raw.trim())) return Number(raw.trim()); // hops
  return raw.trim(); // addresses / subnets / loopback, linklocal, uniquelocal (Express parses and checks them)
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min} (got '${raw}')`);
  return n;
}

function numberRange(env: NodeJS.ProcessEnv, name: string, fallback: string): { from: string; to: string } {
  const raw = env[name] || fallback;
  const m = /^(\d{10})-(\d{10})$/.exec(raw);
  if (!m || m[1] > m[2]) throw new Error(`${name} must be two ten-digit numbers, low-high (got '${raw}')`);
  return { from: m[1], to: m[2] };
}

function authMode(env: NodeJS.ProcessEnv): 'smart' | 'off' {
  const raw = (env.AUTH || 'smart').toLowerCase();
  if (raw !== 'smart' && raw !== 'off') throw new Error(`AUTH must be smart or off (got '${env.AUTH}')`);
  return raw;
}

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] as const;

function oidcConfig(env: NodeJS.ProcessEnv): OidcConfig | undefined {
  if (!env.OIDC_ISSUER) {
    const stray = Object.keys(env).filter((k) => k.startsWith('OIDC_') && env[k]);
    if (stray.length) throw new Error(`${stray[0]} is set but OIDC_ISSUER is not: set OIDC_ISSUER to use an OpenID Connect IdP`);
    return undefined;
  }
  let issuer: URL;
  try {
    issuer = new URL(env.OIDC_ISSUER);
  } catch {
    throw new Error(`OIDC_ISSUER must be a URL (got '${env.OIDC_ISSUER}')`);
  }
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(issuer.hostname);
  if (issuer.protocol !== 'https:' && !(issuer.protocol === 'http:' && loopback)) throw new Error('OIDC_ISSUER must be https (http only on localhost)');
  if (!env.OIDC_CLIENT_ID) throw new Error('OIDC_CLIENT_ID is required with OIDC_ISSUER');
  const method = env.OIDC_TOKEN_AUTH_METHOD || (env.OIDC_PRIVATE_KEY_FILE ? 'private_key_jwt' : 'client_secret_basic');
  if (!(AUTH_METHODS as readonly string[]).includes(method)) throw new Error(`OIDC_TOKEN_AUTH_METHOD must be one of ${AUTH_METHODS.join(', ')} (got '${method}')`);
  if (method === 'private_key_jwt' && !env.OIDC_PRIVATE_KEY_FILE) throw new Error('OIDC_TOKEN_AUTH_METHOD=private_key_jwt needs OIDC_PRIVATE_KEY_FILE');
  if (method !== 'private_key_jwt' && !env.OIDC_CLIENT_SECRET) throw new Error(`OIDC_TOKEN_AUTH_METHOD=${method} needs OIDC_CLIENT_SECRET`);
  const scopes = (env.OIDC_SCOPES || 'openid profile nationalrbacaccess selectedrole').trim().split(/\s+/);
  if (!scopes.includes('openid')) throw new Error('OIDC_SCOPES must include openid');
  const prompt = env.OIDC_PROMPT ?? 'login';
  const oidc: OidcConfig = {
    issuer: env.OIDC_ISSUER, clientId: env.OIDC_CLIENT_ID, tokenAuthMethod: method as OidcConfig['tokenAuthMethod'],
    scopes: scopes.join(' '), displayName: env.OIDC_NAME || 'NHS CIS2',
  };
  if (prompt !== '' && prompt !== 'none-sent') oidc.prompt = prompt;
  if (env.OIDC_CLIENT_SECRET) oidc.clientSecret = env.OIDC_CLIENT_SECRET;
  if (env.OIDC_PRIVATE_KEY_FILE) oidc.privateKeyFile = env.OIDC_PRIVATE_KEY_FILE;
  return oidc;
}

function paths(env: NodeJS.ProcessEnv, name: string): string[] {
  return (env[name] ?? '').split(/[,:]/).map((p) => p.trim()).filter((p) => p !== '');
}

function requiredProfiles(env: NodeJS.ProcessEnv): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const pair of (env.REQUIRED_PROFILES ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([A-Z][A-Za-z]+)=(\S+)$/.exec(pair);
    if (!m) throw new Error(`REQUIRED_PROFILES must be comma-separated Type=url pairs (got '${pair}')`);
    (out[m[1]] ??= []).push(m[2]);
  }
  return out;
}

export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const synchronous = (env.SQLITE_SYNCHRONOUS ?? 'FULL').toUpperCase();
  if (synchronous !== 'FULL' && synchronous !== 'NORMAL') throw new Error(`SQLITE_SYNCHRONOUS must be FULL or NORMAL (got '${synchronous}')`);
  const config: Config = {
    port: integer(env, 'PORT', 8080, 0),
    dataDir: env.DATA_DIR || './data',
    logLevel: env.LOG_LEVEL || 'info',
    // Room for a 10,000-entry transaction Bundle of typical clinical resources.
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 64 * 1024 * 1024, 1024),
    defaultPageSize: integer(env, 'DEFAULT_PAGE_SIZE', 50, 1),
    maxPageSize: integer(env, 'MAX_PAGE_SIZE', 1000, 1),
    sqliteSynchronous: synchronous,
    maxBundleEntries: integer(env, 'MAX_BUNDLE_ENTRIES', 20_000, 1),
    conditionalDeleteMultiple: flag(env, 'CONDITIONAL_DELETE_MULTIPLE', false),
    mongodbMaxPoolSize: integer(env, 'MONGODB_MAX_POOL_SIZE', 50, 1),
    mongodbTimeoutMs: integer(env, 'MONGODB_TIMEOUT_MS', 10_000, 100),
    pds: flag(env, 'PDS', true),
    nhsNumberRange: numberRange(env, 'NHS_NUMBER_RANGE', '9990000000-9999999999'),
    auth: authMode(env),
    audit: flag(env, 'AUDIT', true),
    accessTokenSeconds: integer(env, 'ACCESS_TOKEN_SECONDS', 300, 1),
    trustProxy: trustProxy(env.TRUST_PROXY),
    localLogin: true,
    maxExpansion: integer(env, 'MAX_EXPANSION', 50_000, 1),
    igPaths: paths(env, 'IG_PATHS'),
    requiredProfiles: requiredProfiles(env),
  };
  const oidc = oidcConfig(env);
  if (oidc) config.oidc = oidc;
  config.localLogin = flag(env, 'LOCAL_LOGIN', !oidc);
  if (!config.localLogin && !oidc) throw new Error('LOCAL_LOGIN=off needs an IdP (OIDC_ISSUER): staff could not sign in at all');
  if (config.accessTokenSeconds > 86_400) throw new Error(`ACCESS_TOKEN_SECONDS must be at most 86400 (got '${env.ACCESS_TOKEN_SECONDS}')`);
  if (env.SMART_CLIENTS) config.smartClients = env.SMART_CLIENTS;
  if (env.BASE_URL) config.baseUrl = env.BASE_URL.replace(/\/+$/, '');
  if (env.MONGODB_URI) config.mongodbUri = env.MONGODB_URI;
  if (env.SNOMED_RF2_PATH) config.snomedRf2Path = env.SNOMED_RF2_PATH;
  return config;
}

/** Defaults for tests and embedding: everything loadConfig would pick with an empty environment. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), ...overrides };
}
