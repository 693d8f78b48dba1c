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

/** A hint of the scopes clients may ask for (scopes_supported is RECOMMENDED, not the full grammar). */
export const SCOPES_SUPPORTED = [
  'openid', 'fhirUser', 'profile', 'launch', 'launch/patient', 'launch/encounter', 'offline_access', 'online_access',
  'patient/*.rs', 'patient/*.read', 'user/*.rs', 'user/*.read', 'user/*.cruds',
  'system/*.cruds', 'system/*.rs', 'system/*.read', 'system/*.write', 'system/*.*',
];

/**
 * Fields (SMART App Launch 2.x, well-known smart-configuration): REQUIRED token_endpoint,
 * grant_types_supported, capabilities, code_challenge_methods_supported (S256, never plain),
 * authorization_endpoint; issuer and jwks_uri (required with sso-openid-connect); RECOMMENDED
 * scopes_supported, response_types_supported, introspection_endpoint, revocation_endpoint;
 * token_endpoint_auth_methods_supported and (SMART Backend Services)
 * token_endpoint_auth_signing_alg_values_supported.
 *
 * `capabilities` lists only what works and is tested: standalone launch (login, patient picker,
 * consent) and EHR launch (POST /auth/launch contexts), public clients (PKCE) and confidential
 * ones (client_secret_basic, private_key_jwt), OpenID Connect id_tokens with fhirUser, patient
 * and encounter context with need_patient_banner, offline/online refresh tokens, patient- and
 * user-level scopes in both syntaxes.
 */
export function smartConfiguration(e: Endpoints): Record<string, unknown> {
  return {
    issuer: e.issuer,
    jwks_uri: e.jwks,
    authorization_endpoint: e.authorize,
    token_endpoint: e.token,
    token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_basic', 'none'],
    token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
    grant_types_supported: ['authorization_code', 'client_credentials', 'refresh_token'],
    scopes_supported: SCOPES_SUPPORTED,
    response_types_supported: ['code'],
    capabilities: [
      'launch-standalone', 'launch-ehr', 'client-public', 'client-confidential-symmetric', 'client-confidential-asymmetric',
      'sso-openid-connect', 'context-standalone-patient', 'context-ehr-patient', 'context-ehr-encounter', 'context-banner',
      'permission-offline', 'permission-online', 'permission-patient', 'permission-user', 'permission-v1', 'permission-v2',
    ],
    code_challenge_methods_supported: ['S256'],
    introspection_endpoint: e.introspect,
    revocation_endpoint: e.revoke,
  };
}
