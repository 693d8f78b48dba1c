import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, createRemoteJWKSet, importJWK, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';
import { parseScopes, type ScopeSet } from './scopes.js';

/**
 * The registered OAuth clients (SMART_CLIENTS, ARCHITECTURE.md "Runtime contract"): a JSON array
 * of RFC 7591 client metadata objects, read and validated once at start-up. A malformed file stops
 * the start with a message naming the file, the client and the field (never a secret's value).
 *
 * Recognised members: client_id, client_name, scope, redirect_uris, grant_types,
 * token_endpoint_auth_method, jwks | jwks_uri (private_key_jwt), client_secret
 * (client_secret_basic). Unknown members are ignored, as RFC 7591 §2 asks.
 */

export type AuthMethod = 'private_key_jwt' | 'client_secret_basic' | 'none';
export const AUTH_METHODS: readonly AuthMethod[] = ['private_key_jwt', 'client_secret_basic', 'none'];
export const GRANT_TYPES = ['client_credentials', 'authorization_code', 'refresh_token'] as const;
/** Client assertion algorithms SMART Backend Services names (RS384 and ES384). */
export const ASSERTION_ALGS = ['RS384', 'ES384'] as const;

export type KeyResolver = JWTVerifyGetKey;

export interface RegisteredClient {
  clientId: string;
  clientName?: string;
  /** The registered scope string, normalised (single spaces). */
  scope: string;
  scopes: ScopeSet;
  grantTypes: string[];
  redirectUris: string[];
  authMethod: AuthMethod;
  jwks?: JSONWebKeySet;
  jwksUri?: string;
  /** SHA-256 of client_secret: compared in constant time, never kept or logged in the clear. */
  secretHash?: Buffer;
  /** Resolves the key that verifies a client assertion (private_key_jwt only). */
  keys?: KeyResolver;
  /**
   * `org_code`: the ODS code of the organisation a backend system acts for (e.g. a pharmacy's
   * dispensing system). Its client_credentials tokens carry it, and the Spine services that act
   * for an organisation (EPS dispensing) hold the caller to it.
   */
  orgCode?: string;
}

/** An ODS organisation code (organisations, pharmacies, GP practices: 3 to 12 letters and digits). */
const ODS_CODE = /^[A-Za-z0-9]{3,12}$/;

export class ClientRegistry {
  private readonly byId: Map<string, RegisteredClient>;

  constructor(clients: RegisteredClient[] = [], readonly source?: string) {
    this.byId = new Map(clients.map((c) => [c.clientId, c]));
  }

  get(clientId: string): RegisteredClient | undefined {
    return this.byId.get(clientId);
  }

  get size(): number {
    return this.byId.size;
  }

  all(): RegisteredClient[] {
    return [...this.byId.values()];
  }

  /** The client when `secret` is its client_secret (constant-time comparison of hashes). */
  authenticateSecret(clientId: string, secret: string): RegisteredClient | undefined {
    const client = this.byId.get(clientId);
    if (!client || client.authMethod !== 'client_secret_basic' || !client.secretHash) return undefined;
    return timingSafeEqual(sha256(secret), client.secretHash) ? client : undefined;
  }
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Reads and validates the SMART_CLIENTS file. */
export async function loadClients(file: string): Promise<ClientRegistry> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`SMART_CLIENTS ${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`SMART_CLIENTS ${file}: not valid JSON (${(err as Error).message})`);
  }
  return new ClientRegistry(await parseClients(json, `SMART_CLIENTS ${file}`), file);
}

/** Loopback hosts may serve a jwks_uri over plain http (local development and tests). */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
}

const VSCHAR = /^[\x20-\x7e]+$/;

/** Validates parsed client metadata; `where` prefixes every error message. */
export async function parseClients(json: unknown, where = 'SMART_CLIENTS'): Promise<RegisteredClient[]> {
  if (!Array.isArray(json)) throw new Error(`${where}: must be a JSON array of client metadata objects`);
  const seen = new Set<string>();
  const clients: RegisteredClient[] = [];
  for (const [i, raw] of json.entries()) {
    let label = `client #${i + 1}`;
    const fail = (why: string) => new Error(`${where}: ${label}: ${why}`);
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw fail('must be a JSON object');
    const m = raw as Record<string, unknown>;

    if (typeof m.client_id !== 'string' || m.client_id === '' || !VSCHAR.test(m.client_id)) {
      throw fail('client_id must be a non-empty string of printable ASCII characters');
    }
    const clientId = m.client_id;
    label = `client #${i + 1} ('${clientId}')`;
    if (seen.has(clientId)) throw fail('client_id is registered twice');
    seen.add(clientId);

    if (m.client_name !== undefined && typeof m.client_name !== 'string') throw fail('client_name must be a string');

    if (typeof m.scope !== 'string' || m.scope.trim() === '') throw fail('scope must be a non-empty space-separated string of the scopes the client may be granted');
    const scopes = parseScopes(m.scope);
    if (scopes.invalid.length > 0) throw fail(`scope '${scopes.invalid[0].scope}' is malformed: ${scopes.invalid[0].reason}`);

    const grantTypes = m.grant_types === undefined ? ['authorization_code'] : m.grant_types; // RFC 7591 default
    if (!Array.isArray(grantTypes) || grantTypes.length === 0 || !grantTypes.every((g) => typeof g === 'string')) {
      throw fail('grant_types must be a non-empty array of strings');
    }
    const unknownGrant = grantTypes.find((g) => !(GRANT_TYPES as readonly string[]).includes(g));
    if (unknownGrant) throw fail(`grant type '${unknownGrant}' is not supported (use ${GRANT_TYPES.join(', ')})`);

    const redirectUris = m.redirect_uris ?? [];
    if (!Array.isArray(redirectUris) || !redirectUris.every((u) => typeof u === 'string' && URL.canParse(u))) {
      throw fail('redirect_uris must be an array of absolute URLs');
    }
    if (grantTypes.includes('authorization_code') && redirectUris.length === 0) throw fail('redirect_uris is required for the authorization_code grant');

    // RFC 7591: the default method is client_secret_basic; a client that registers keys means private_key_jwt.
    const method = m.token_endpoint_auth_method
      ?? (m.jwks !== undefined || m.jwks_uri !== undefined ? 'private_key_jwt' : 'client_secret_basic');
    if (typeof method !== 'string' || !(AUTH_METHODS as readonly string[]).includes(method)) {
      throw fail(`token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`);
    }
    const client: RegisteredClient = {
      clientId, scope: m.scope.trim().split(/\s+/).join(' '), scopes, grantTypes: grantTypes as string[],
      redirectUris: redirectUris as string[], authMethod: method as AuthMethod,
    };
    if (m.client_name !== undefined) client.clientName = m.client_name as string;
    if (m.org_code !== undefined) {
      if (typeof m.org_code !== 'string' || !ODS_CODE.test(m.org_code)) throw fail('org_code must be an ODS code (3 to 12 letters and digits)');
      client.orgCode = m.org_code.toUpperCase();
    }

    if (method === 'private_key_jwt') {
      if ((m.jwks === undefined) === (m.jwks_uri === undefined)) throw fail('private_key_jwt needs exactly one of jwks and jwks_uri');
      if (m.jwks !== undefined) {
        client.jwks = await validateJwks(m.jwks, fail);
        client.keys = createLocalJWKSet(client.jwks);
      } else {
        if (typeof m.jwks_uri !== 'string' || !URL.canParse(m.jwks_uri)) throw fail('jwks_uri must be an absolute URL');
        const url = new URL(m.jwks_uri);
        if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
          throw fail('jwks_uri must be an https URL (plain http only for localhost)');
        }
        client.jwksUri = url.href;
        // jose caches the set, refetches it (at most every 30 s) when an unknown kid arrives, and times out after 5 s.
        client.keys = createRemoteJWKSet(url, { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
      }
      if (m.client_secret !== undefined) throw fail('client_secret must not be given with private_key_jwt');
    } else if (method === 'client_secret_basic') {
      if (typeof m.client_secret !== 'string' || m.client_secret.length < 16 || !VSCHAR.test(m.client_secret)) {
        throw fail('client_secret_basic needs a client_secret of at least 16 printable ASCII characters');
      }
      client.secretHash = sha256(m.client_secret);
    } else if (m.client_secret !== undefined) {
      throw fail('a public client (token_endpoint_auth_method none) has no client_secret');
    }
    if (grantTypes.includes('client_credentials') && method === 'none') {
      throw fail('the client_credentials grant needs a confidential client (private_key_jwt or client_secret_basic)');
    }
    clients.push(client);
  }
  return clients;
}

/** A public JWK set whose keys can verify RS384 or ES384 assertions. */
async function validateJwks(value: unknown, fail: (why: string) => Error): Promise<JSONWebKeySet> {
  const keys = (value as { keys?: unknown })?.keys;
  if (typeof value !== 'object' || value === null || !Array.isArray(keys) || keys.length === 0) {
    throw fail('jwks must be a JWK set: {"keys": [ ... ]} with at least one key');
  }
  for (const [j, key] of (keys as JWK[]).entries()) {
    const k = `jwks key #${j + 1}`;
    if (typeof key !== 'object' || key === null) throw fail(`${k} must be a JSON object`);
    // A private member here means the client's private key was pasted in: refuse rather than keep it.
    if ('d' in key || 'p' in key || 'k' in key) throw fail(`${k} holds private key material; register the public key only`);
    const alg = key.kty === 'RSA' ? 'RS384' : key.kty === 'EC' && key.crv === 'P-384' ? 'ES384' : undefined;
    if (!alg) throw fail(`${k} must be an RSA key or an EC key on curve P-384 (for RS384 / ES384)`);
    if (key.alg !== undefined && key.alg !== alg) throw fail(`${k} has alg '${key.alg}'; only ${alg} fits this key`);
    try {
      await importJWK(key, alg);
    } catch (err) {
      throw fail(`${k} is not a valid ${alg} public key (${(err as Error).message})`);
    }
  }
  return { keys: keys as JWK[] };
}
