import type { Endpoints } from './discovery.js';
import type { AccessTokenClaims } from './tokens.js';

/**
 * What one call into @node-oauth/oauth2-server carries to the model (through AsyncLocalStorage):
 * the library passes the model no request of ours. The token endpoint sets it for each grant; the
 * consent step sets it while its Allow issues an authorization code.
 */
export interface TokenRequestContext {
  endpoints: Endpoints;
  /** The token grant type, or 'authorize' while the consent page's Allow issues a code. */
  grantType: string;
  /** Set only after this request's client assertion verified. */
  assertedClientId?: string;
  claims?: AccessTokenClaims;
  /** 'authorize': the scopes the user consented to (validateScope returns exactly these). */
  grantedScope?: string[];
  /** refresh_token: the family of the token being rotated. */
  refreshFamily?: string;
}
