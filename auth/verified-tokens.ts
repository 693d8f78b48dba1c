import type { AccessTokenClaims } from './tokens.js';

/**
 * Access tokens already verified, so that a client presenting the same token on every request
 * pays for one signature check, not one per request (the check was the largest cost of a read
 * with authorization on). An entry is keyed by the exact token text and the audience it was
 * verified for (identical text means an identical signature), is used only until the token's
 * `exp`, and is re-checked against the revocation list on every use. Bounded: the oldest entries
 * go first.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, AccessTokenClaims>();

  constructor(private readonly isRevoked: (jti: string) => boolean, private readonly maxEntries = 10_000) {}

  get(token: string, audience: string): AccessTokenClaims | undefined {
    const key = `${audience} ${token}`;
    const claims = this.entries.get(key);
    if (!claims) return undefined;
    if (claims.exp * 1000 <= Date.now() || this.isRevoked(claims.jti)) {
      this.entries.delete(key);
      return undefined;
    }
    return claims;
  }

  set(token: string, audience: string, claims: AccessTokenClaims): void {
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(`${audience} ${token}`, claims);
  }
}
