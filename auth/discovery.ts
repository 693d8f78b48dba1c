/**
 * The URLs of the authorization server and the SMART discovery document
 * (`GET <fhir base>/.well-known/smart-configuration`, SMART App Launch 2.x "Conformance").
 */

export interface Endpoints {
  /** The FHIR base URL: the `aud` of access tokens. */
  fhir: string;
  /** The authorization server's base URL (`<origin>/auth`): the `iss` of access tokens. */
  issuer: string;
  authorize: string;
  token: string;
  introspect: string;
  revoke: string;
  jwks: string;
}

/**
 * The authorization server lives beside the FHIR endpoint: FHIR at `<prefix>/fhir`, auth at
 * `<prefix>/auth` (server/app.ts mounts both), so a public BASE_URL of `https://host/x/fhir` puts
 * the token endpoint at `https://host/x/auth/token`.
 */
export function endpointsFor(fhirBase: string): Endpoints {
  const u = new URL(fhirBase);
  u.search = '';
  u.hash = '';
  u.pathname = `${u.pathname.replace(/\/+$/, '').replace(/\/[^/]*$/, '')}/auth`;
  const auth = u.href;
  return {
    fhir: fhirBase.replace(/\/+$/, ''),
    issuer: auth,
    authorize: `${auth}/authorize`,
    token: `${auth}/token`,
    introspect: `${auth}/introspect`,
    revoke: `${auth}/revoke`,
    jwks: `${auth}/jwks.json`,
  };
}

/** Scopes a backend-services client may ask for (scopes_supported is a RECOMMENDED hint, not the full grammar). */
export const SCOPES_SUPPORTED = ['system/*.cruds', 'system/*.rs', 'system/*.read', 'system/*.write', 'system/*.*'];

/**
 * Fields (SMART App Launch 2.x, well-known smart-configuration): REQUIRED token_endpoint,
 * grant_types_supported, capabilities, code_challenge_methods_supported (S256, never plain);
 * authorization_endpoint is required once a launch capability is offered and is published now at
 * its planned path (`/auth/authorize`, which answers unsupported_response_type until the
 * authorization code + PKCE step lands); issuer and jwks_uri (required with sso-openid-connect);
 * RECOMMENDED scopes_supported, response_types_supported, introspection_endpoint,
 * revocation_endpoint; token_endpoint_auth_methods_supported and (SMART Backend Services)
 * token_endpoint_auth_signing_alg_values_supported.
 *
 * `capabilities` lists only what works today: backend services with asymmetric client
 * authentication, and both scope syntaxes. Launch, PKCE-for-public-clients, openid and context
 * capabilities arrive with the authorization code step.
 */
export function smartConfiguration(e: Endpoints): Record<string, unknown> {
  return {
    issuer: e.issuer,
    jwks_uri: e.jwks,
    authorization_endpoint: e.authorize,
    token_endpoint: e.token,
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic'],
    token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    grant_types_supported: ['client_credentials'],
    scopes_supported: SCOPES_SUPPORTED,
    response_types_supported: ['code'],
    capabilities: ['client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
    code_challenge_methods_supported: ['S256'],
    introspection_endpoint: e.introspect,
    revocation_endpoint: e.revoke,
  };
}
