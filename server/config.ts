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

function flag(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(true|1|yes|on)$/i.test(raw)) return true;
  if (/^(false|0|no|off)$/i.test(raw)) return false;
  throw new Error(`${name} must be true or false (got '${raw}')`);
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
    igPaths: paths(env, 'IG_PATHS'),
    requiredProfiles: requiredProfiles(env),
  };
  if (config.accessTokenSeconds > 86_400) throw new Error(`ACCESS_TOKEN_SECONDS must be at most 86400 (got '${env.ACCESS_TOKEN_SECONDS}')`);
  if (env.SMART_CLIENTS) config.smartClients = env.SMART_CLIENTS;
  if (env.BASE_URL) config.baseUrl = env.BASE_URL.replace(/\/+$/, '');
  if (env.MONGODB_URI) config.mongodbUri = env.MONGODB_URI;
  return config;
}

/** Defaults for tests and embedding: everything loadConfig would pick with an empty environment. */
export function defaultConfig(overrides: Partial<Config> = {}): Config {
  return { ...loadConfig({}), ...overrides };
}
