import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JSONWebKeySet, type JWK } from 'jose';

/**
 * The authorization server's signing keys (access tokens are JWTs signed with them).
 *
 * Kept as private JWK files in `<DATA_DIR>/keys/` (folder 0700, files 0600), one key per file named
 * `<UTC timestamp>-<kid>.jwk`; the kid is the key's RFC 7638 thumbprint. The first start on an
 * empty folder generates an ES256 key. Rotation: add a newer key (`rotate()`, or drop a JWK file
 * whose name sorts after the others); the newest file (by name) signs, and every key in the folder
 * is published in the JWKS and accepted when verifying, so tokens signed by an older key stay valid
 * until it is removed. Remove a retired key only after the longest token lifetime has passed.
 */

/** Algorithms a server key may use (the `alg` member of its JWK; ES256 when generated). */
export const SERVER_KEY_ALGS = ['ES256', 'ES384', 'RS256', 'RS384', 'PS256'] as const;
const GENERATED_ALG = 'ES256';

export interface ServerKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  /** The public half as published: kty and its public members, kid, alg, use. */
  publicJwk: JWK;
  file: string;
}

export interface KeyStoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** The JWK members that hold key material but no private part, per key type. */
const PUBLIC_MEMBERS: Record<string, string[]> = { EC: ['crv', 'x', 'y'], RSA: ['n', 'e'], OKP: ['crv', 'x'] };

function publicPart(jwk: JWK, kid: string, alg: string): JWK {
  const members = PUBLIC_MEMBERS[jwk.kty ?? ''];
  if (!members) throw new Error(`unsupported key type '${jwk.kty}'`);
  const pub: JWK = { kty: jwk.kty };
  for (const m of members) (pub as Record<string, unknown>)[m] = (jwk as Record<string, unknown>)[m];
  return { ...pub, kid, alg, use: 'sig' };
}

function timestamp(date = new Date()): string {
  return date.toISOString().replace(/[-:]/g, '').replace('.', '');
}

export class KeyStore {
  private constructor(readonly dir: string, private keys: ServerKey[], private readonly logger?: KeyStoreLogger) {}

  /** Loads every `*.jwk` in `dir`, generating the first key when there is none. */
  static async open(dir: string, logger?: KeyStoreLogger): Promise<KeyStore> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const files = readdirSync(dir).filter((f) => f.endsWith('.jwk')).sort();
    const keys: ServerKey[] = [];
    for (const name of files) {
      const file = join(dir, name);
      if ((statSync(file).mode & 0o077) !== 0) {
        // A private key readable by others is a finding, not a reason to stop: tighten it and say so.
        chmodSync(file, 0o600);
        logger?.warn({ file }, 'signing key file was readable by other users; its mode is now 0600');
      }
      keys.push(await loadKey(file));
    }
    const store = new KeyStore(dir, keys, logger);
    if (keys.length === 0) await store.rotate();
    return store;
  }

  /** Generates a new key and makes it the signing key; the older keys stay published. */
  async rotate(): Promise<ServerKey> {
    const { privateKey } = await generateKeyPair(GENERATED_ALG, { extractable: true });
    const jwk = await exportJWK(privateKey);
    const kid = await calculateJwkThumbprint(jwk, 'sha256');
    let name = `${timestamp()}-${kid}.jwk`;
    // Two rotations within one millisecond must still sort in creation order.
    const newest = this.keys.at(-1);
    if (newest && name <= newest.file.slice(this.dir.length + 1)) name = `${newest.file.slice(this.dir.length + 1, -4)}~-${kid}.jwk`;
    const file = join(this.dir, name);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ ...jwk, kid, alg: GENERATED_ALG, use: 'sig' }, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    renameSync(tmp, file);
    const key = await loadKey(file);
    this.keys.push(key);
    this.logger?.info({ kid, file }, 'generated a new token signing key');
    return key;
  }

  /** The key that signs new tokens: the newest. */
  signingKey(): ServerKey {
    return this.keys.at(-1)!;
  }

  all(): readonly ServerKey[] {
    return this.keys;
  }

  /** The public JWK set (GET /auth/jwks.json). */
  jwks(): JSONWebKeySet {
    return { keys: this.keys.map((k) => k.publicJwk) };
  }

  /** A key resolver for jose's jwtVerify over the public keys (selects by kid and alg). */
  verificationKeys(): ReturnType<typeof createLocalJWKSet> {
    return createLocalJWKSet(this.jwks());
  }

  algorithms(): string[] {
    return [...new Set(this.keys.map((k) => k.alg))];
  }
}

async function loadKey(file: string): Promise<ServerKey> {
  const fail = (why: string) => new Error(`Signing key ${file}: ${why}`);
  let jwk: JWK;
  try {
    jwk = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    throw fail('not a JSON Web Key (JSON could not be parsed)');
  }
  if (typeof jwk !== 'object' || jwk === null || !jwk.d) throw fail('not a private JWK (no "d" member)');
  const alg = jwk.alg ?? '';
  if (!(SERVER_KEY_ALGS as readonly string[]).includes(alg)) throw fail(`"alg" must be one of ${SERVER_KEY_ALGS.join(', ')}`);
  let privateKey: CryptoKey;
  try {
    privateKey = (await importJWK(jwk, alg)) as CryptoKey;
  } catch (err) {
    throw fail(`cannot be imported as ${alg} (${(err as Error).message})`);
  }
  const kid = jwk.kid ?? (await calculateJwkThumbprint(jwk, 'sha256'));
  return { kid, alg, privateKey, publicJwk: publicPart(jwk, kid, alg), file };
}
