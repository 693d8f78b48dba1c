import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { ASSERTION_ALGS, type ClientRegistry, type RegisteredClient } from './clients.js';
import type { ExpiringSet } from './expiring-set.js';
import { oauthErrors } from './oauth-error.js';

/**
 * private_key_jwt client authentication (RFC 7523 §2.2 and §3, as profiled by SMART Backend
 * Services): the client signs a short-lived JWT with its own key and sends it as
 * `client_assertion`. @node-oauth/oauth2-server only knows client_id/client_secret, so this check
 * runs before the request is handed to it (see router.ts).
 */

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** The longest an assertion may live ahead: SMART says exp no more than five minutes in the future. */
export const MAX_ASSERTION_LIFETIME = 300;
/** Clock skew tolerated between the client and us. */
export const ASSERTION_CLOCK_TOLERANCE = 30;

export interface AssertionCheck {
  clients: ClientRegistry;
  /** Acceptable `aud` values: the token endpoint URL (and, for introspection/revocation, that endpoint's URL). */
  audiences: string[];
  /** Replay cache, keyed by client and jti, each entry kept until the assertion's exp. */
  seen: ExpiringSet;
  /** Told when a client's jwks_uri cannot be fetched (an operational problem, not the caller's). */
  onKeyFetchError?: (client: RegisteredClient, err: Error) => void;
}

/** Verifies a client assertion and returns the client it authenticates, or throws invalid_client. */
export async function verifyClientAssertion(assertion: string, check: AssertionCheck): Promise<RegisteredClient> {
  const invalid = oauthErrors.invalidClient;
  let header: ReturnType<typeof decodeProtectedHeader>;
  let unverified: JWTPayload;
  try {
    header = decodeProtectedHeader(assertion);
    unverified = decodeJwt(assertion);
  } catch {
    throw invalid('client_assertion is not a signed JWT');
  }
  if (!(ASSERTION_ALGS as readonly string[]).includes(header.alg ?? '')) {
    throw invalid(`client_assertion must be signed with ${ASSERTION_ALGS.join(' or ')}`);
  }
  if (typeof unverified.iss !== 'string') throw invalid('client_assertion has no iss (the client_id)');
  const client = check.clients.get(unverified.iss);
  // One answer for an unknown client and a client without keys: do not confirm which ids exist.
  if (!client || client.authMethod !== 'private_key_jwt' || !client.keys) throw invalid('client_assertion: unknown client or client not registered for private_key_jwt');

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(assertion, client.keys, {
      algorithms: [...ASSERTION_ALGS],
      issuer: client.clientId,
      subject: client.clientId,
      audience: check.audiences,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'jti'],
      clockTolerance: ASSERTION_CLOCK_TOLERANCE,
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw invalid('client_assertion has expired');
    if (err instanceof joseErrors.JWTClaimValidationFailed) {
      if (err.claim === 'aud') throw invalid('client_assertion aud must be the token endpoint URL');
      if (err.claim === 'sub' || err.claim === 'iss') throw invalid('client_assertion iss and sub must both be the client_id');
      throw invalid(`client_assertion claim ${err.claim} is missing or invalid`);
    }
    // Fetch failures: a timeout, a network error (not a JOSEError), or a non-200 answer (a bare JOSEError).
    const fetchFailed = err instanceof joseErrors.JWKSTimeout
      || (client.jwksUri !== undefined && (!(err instanceof joseErrors.JOSEError) || err.constructor === joseErrors.JOSEError));
    if (fetchFailed) {
      check.onKeyFetchError?.(client, err as Error);
      throw invalid("the client's jwks_uri could not be fetched");
    }
    if (err instanceof joseErrors.JWKSInvalid) {
      check.onKeyFetchError?.(client, err);
      throw invalid("the client's jwks_uri did not return a valid JWK set");
    }
    throw invalid("client_assertion signature does not verify with the client's registered keys");
  }
  const now = Math.floor(Date.now() / 1000);
  const exp = payload.exp!;
  if (exp - now > MAX_ASSERTION_LIFETIME + ASSERTION_CLOCK_TOLERANCE) throw invalid('client_assertion exp is more than 5 minutes in the future');
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti === '' || jti.length > 255) throw invalid('client_assertion jti must be a non-empty string');
  // Checked only after the signature, so that nobody but the client can fill its replay cache.
  if (!check.seen.addIfAbsent(`${client.clientId}\u0000${jti}`, exp + ASSERTION_CLOCK_TOLERANCE)) {
    throw invalid('client_assertion jti has been used before (replay)');
  }
  return client;
}
