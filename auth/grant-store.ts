import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * What a user authorized, as it travels from the consent page through the authorization code to
 * the tokens (the `user` of @node-oauth/oauth2-server's model): the signed-in account, its RBAC
 * roles and the launch context.
 */
export interface AuthorizedUser {
  username: string;
  /**
   * Absolute fhirUser URL (SMART: the id_token's fhirUser is a resolvable URL). Absent for an IdP
   * user whose SDS user id matches no Practitioner held here.
   */
  fhirUser?: string;
  roles: string[];
  /** Display name (the IdP's `name`; local accounts keep theirs in the account). */
  name?: string;
  /**
   * 'oidc': signed in through the OpenID Connect IdP, so there is no local account: a refresh
   * keeps the roles of the sign-in (the role profile chosen then) instead of re-reading an account.
   */
  source?: 'oidc';
  /** The ODS code of the organisation of the user's role profile (CIS2 `org_code`). */
  orgCode?: string;
  patient?: string;
  encounter?: string;
  /** OIDC nonce from the authorization request, echoed in the id_token. */
  nonce?: string;
  /** When the user signed in (seconds since the epoch): the id_token's auth_time. */
  authTime: number;
}

export const isAuthorizedUser = (u: unknown): u is AuthorizedUser => typeof (u as AuthorizedUser)?.username === 'string';

const hash = (token: string) => createHash('sha256').update(token, 'utf8').digest('base64url');
export const randomToken = () => randomBytes(32).toString('base64url');

export interface StoredCode {
  authorizationCode: string;
  expiresAt: Date;
  redirectUri: string;
  scope: string[];
  codeChallenge?: string;
  codeChallengeMethod?: string;
  clientId: string;
  user: AuthorizedUser;
}

/**
 * Authorization codes: in memory only (they live at most a minute), keyed by the code's hash,
 * single-use (take() removes the code whatever happens next).
 */
export class AuthorizationCodes {
  private readonly codes = new Map<string, StoredCode>();

  save(code: StoredCode): void {
    this.sweep();
    this.codes.set(hash(code.authorizationCode), code);
  }

  get(code: string): StoredCode | undefined {
    const c = this.codes.get(hash(code));
    if (c && c.expiresAt.getTime() <= Date.now()) {
      this.codes.delete(hash(code));
      return undefined;
    }
    return c;
  }

  /** Removes the code; false when it was already gone (used, expired or never issued). */
  take(code: string): boolean {
    return this.codes.delete(hash(code));
  }

  private sweep(): void {
    const now = Date.now();
    for (const [k, c] of this.codes) if (c.expiresAt.getTime() <= now) this.codes.delete(k);
  }
}

export interface RefreshRecord {
  /** Every token descending from one authorization shares the family: reuse of a rotated token revokes it all. */
  family: string;
  clientId: string;
  scope: string[];
  user: AuthorizedUser;
  /** Seconds since the epoch. */
  expiresAt: number;
  /** Set when the token was exchanged (rotation) or revoked; kept until expiry to detect reuse. */
  used?: boolean;
}

/**
 * Refresh tokens, kept by hash (never the token itself) in `<DATA_DIR>/auth/refresh-tokens.json`
 * so that they survive a restart, as the signing keys do. Rotation: every exchange marks the
 * presented token used and issues a new one of the same family; presenting a used token again is
 * treated as theft (RFC 9700 §4.14.2) and revokes the whole family.
 */
export class RefreshTokens {
  private readonly records = new Map<string, RefreshRecord>();

  constructor(private readonly file?: string) {
    if (file && existsSync(file)) {
      try {
        for (const [k, v] of Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, RefreshRecord>)) this.records.set(k, v);
      } catch { /* an unreadable file revokes every refresh token: users sign in again */ }
    }
    this.sweep();
  }

  issue(rec: Omit<RefreshRecord, 'family'> & { family?: string }): string {
    const token = randomToken();
    this.records.set(hash(token), { ...rec, family: rec.family ?? randomUUID() });
    this.save();
    return token;
  }

  /** The live record of a token; a used token revokes its family and answers undefined. */
  find(token: string): RefreshRecord | undefined {
    const rec = this.records.get(hash(token));
    if (!rec || rec.expiresAt <= Date.now() / 1000) return undefined;
    if (rec.used) {
      this.revokeFamily(rec.family);
      return undefined;
    }
    return rec;
  }

  /** Marks the token used; false when it was not live. */
  use(token: string): boolean {
    const rec = this.records.get(hash(token));
    if (!rec || rec.used || rec.expiresAt <= Date.now() / 1000) return false;
    rec.used = true;
    this.save();
    return true;
  }

  revokeFamily(family: string): void {
    for (const rec of this.records.values()) if (rec.family === family) rec.used = true;
    this.save();
  }

  private sweep(): void {
    const now = Date.now() / 1000;
    for (const [k, r] of this.records) if (r.expiresAt <= now) this.records.delete(k);
  }

  private save(): void {
    if (!this.file) return;
    this.sweep();
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries(this.records)), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}

export interface LaunchContext {
  patient?: string;
  encounter?: string;
  /** Who created it (client id of the token presented to POST /auth/launch). */
  createdBy: string;
  expiresAt: number;
}

/** EHR launch contexts (POST /auth/launch), in memory, by opaque id, for a few minutes. */
export class LaunchContexts {
  private readonly contexts = new Map<string, LaunchContext>();

  create(ctx: Omit<LaunchContext, 'expiresAt'>, lifetimeSeconds = 300): { launch: string; expiresIn: number } {
    const now = Date.now() / 1000;
    for (const [k, c] of this.contexts) if (c.expiresAt <= now) this.contexts.delete(k);
    const launch = randomToken();
    this.contexts.set(launch, { ...ctx, expiresAt: now + lifetimeSeconds });
    return { launch, expiresIn: lifetimeSeconds };
  }

  get(launch: string): LaunchContext | undefined {
    const c = this.contexts.get(launch);
    return c && c.expiresAt > Date.now() / 1000 ? c : undefined;
  }
}
