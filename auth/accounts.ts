import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Staff accounts for the embedded login (passport-local). They are deliberately NOT FHIR
 * resources: a password hash must never be readable through the FHIR API. They live in
 * `<DATA_DIR>/auth/accounts.json` (folder 0700, file 0600), managed by `npm run auth:add-user`.
 *
 * Passwords are hashed with scrypt (node:crypto), a fresh 16-byte salt per user, and stored as
 * `scrypt$<N>$<r>$<p>$<salt b64url>$<hash b64url>` so the cost can be raised later without
 * breaking existing hashes. The plaintext is never written anywhere.
 */

export interface Account {
  username: string;
  passwordHash: string;
  /** The user's FHIR identity: `Practitioner/<id>` (or an absolute URL). */
  fhirUser: string;
  /** National RBAC job role codes, e.g. ["R8000"]. */
  roles: string[];
  /** Patient ids this user may pick at a standalone launch; absent = search by NHS number. */
  patients?: string[];
  displayName?: string;
}

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 } as const;
const USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password.normalize('NFC'), salt, keylen, { ...options, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), hash.toString('base64url')].join('$');
}

/** Constant-time check of a password against a stored hash; false for a malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0) || N > 1 << 20) return false;
  const salt = Buffer.from(parts[4], 'base64url');
  const expected = Buffer.from(parts[5], 'base64url');
  if (salt.length < 8 || expected.length < 16) return false;
  const actual = await scrypt(password, salt, expected.length, { N, r, p });
  return timingSafeEqual(actual, expected);
}

/** A hash of a random password: verifying against it costs what a real check costs (unknown users). */
let decoy: Promise<string> | undefined;

export class AccountStore {
  private accounts = new Map<string, Account>();

  constructor(readonly file: string) {
    this.reload();
  }

  reload(): void {
    this.accounts = new Map();
    if (!existsSync(this.file)) return;
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (err) {
      throw new Error(`${this.file}: not valid JSON (${(err as Error).message})`);
    }
    if (!Array.isArray(json)) throw new Error(`${this.file}: must be a JSON array of accounts`);
    for (const a of json as Account[]) {
      if (typeof a?.username !== 'string' || typeof a.passwordHash !== 'string' || typeof a.fhirUser !== 'string' || !Array.isArray(a.roles)) {
        throw new Error(`${this.file}: every account needs username, passwordHash, fhirUser and roles`);
      }
      this.accounts.set(a.username, a);
    }
  }

  get(username: string): Account | undefined {
    return this.accounts.get(username);
  }

  get size(): number {
    return this.accounts.size;
  }

  /** The account when the password is right; the same work is done for an unknown username. */
  async authenticate(username: string, password: string): Promise<Account | undefined> {
    const account = this.accounts.get(username);
    if (!account) {
      decoy ??= hashPassword(randomBytes(16).toString('hex'));
      await verifyPassword(password, await decoy);
      return undefined;
    }
    return (await verifyPassword(password, account.passwordHash)) ? account : undefined;
  }

  /** Adds or replaces an account (the password is hashed here) and writes the file atomically. */
  async put(input: Omit<Account, 'passwordHash'> & { password: string }): Promise<Account> {
    if (!USERNAME.test(input.username)) throw new Error('username must be 1-64 letters, digits, or . _ @ -');
    if (input.password.length < 8) throw new Error('password must be at least 8 characters');
    if (!/^([A-Za-z]+\/[A-Za-z0-9\-.]{1,64}|https?:\/\/\S+)$/.test(input.fhirUser)) {
      throw new Error("fhirUser must be a reference such as 'Practitioner/123' or an absolute URL");
    }
    if (input.roles.some((r) => !/^[A-Za-z0-9:]{1,64}$/.test(r))) throw new Error('roles must be RBAC codes such as R8000');
    const { password, ...rest } = input;
    const account: Account = { ...rest, passwordHash: await hashPassword(password) };
    if (!account.patients?.length) delete account.patients;
    this.accounts.set(account.username, account);
    this.save();
    return account;
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, `${JSON.stringify([...this.accounts.values()], null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
