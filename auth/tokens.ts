import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { ExpiringSet } from './expiring-set.js';
import type { KeyStore } from './keys.js';

/**
 * Access tokens: JWTs (RFC 9068 shape, `typ: at+jwt`) signed with the server's newest key.
 * Claims: iss (the authorization server's base URL, e.g. https://host/auth), aud (the FHIR base
 * URL), sub and client_id (the client; the subject of a backend-services token is the client
 * itself), scope, iat, exp, jti. Revocation is by jti, remembered until the token would expire.
 */

export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  aud: string;
  sub: string;
  client_id: string;
  scope: string;
  iat: number;
  exp: number;
  jti: string;
  /** User tokens (authorization code grant): the launch patient, encounter, fhirUser URL and RBAC roles. */
  patient?: string;
  encounter?: string;
  fhirUser?: string;
  roles?: string[];
  /** The ODS code of the organisation the caller acts for: the user's role profile, or the registered backend client's. */
  org_code?: string;
}

export interface IssueRequest {
  issuer: string;
  audience: string;
  clientId: string;
  /** Granted scopes, space-separated. */
  scope: string;
  lifetimeSeconds: number;
  /** A user's token: sub is the username instead of the client. */
  user?: { sub: string; fhirUser?: string; roles: string[]; patient?: string; encounter?: string };
  /** The ODS code of the organisation the caller acts for. */
  orgCode?: string;
}

export async function issueAccessToken(keys: KeyStore, req: IssueRequest): Promise<{ token: string; claims: AccessTokenClaims }> {
  const key = keys.signingKey();
  const iat = Math.floor(Date.now() / 1000);
  const claims: AccessTokenClaims = {
    iss: req.issuer, aud: req.audience, sub: req.user?.sub ?? req.clientId, client_id: req.clientId, scope: req.scope,
    iat, exp: iat + req.lifetimeSeconds, jti: randomUUID(),
  };
  if (req.user) {
    if (req.user.patient) claims.patient = req.user.patient;
    if (req.user.encounter) claims.encounter = req.user.encounter;
    if (req.user.fhirUser) claims.fhirUser = req.user.fhirUser;
    claims.roles = req.user.roles;
  }
  if (req.orgCode) claims.org_code = req.orgCode;
  const token = await new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
    .sign(key.privateKey);
  return { token, claims };
}

export interface IdTokenRequest {
  issuer: string;
  clientId: string;
  sub: string;
  fhirUser?: string;
  authTime: number;
  nonce?: string;
  name?: string;
  lifetimeSeconds: number;
}

/** An OpenID Connect id_token (SMART sso-openid-connect): aud is the client, signed with the server key. */
export async function issueIdToken(keys: KeyStore, req: IdTokenRequest): Promise<string> {
  const key = keys.signingKey();
  const iat = Math.floor(Date.now() / 1000);
  const claims: JWTPayload & Record<string, unknown> = {
    iss: req.issuer, sub: req.sub, aud: req.clientId, iat, exp: iat + req.lifetimeSeconds, auth_time: req.authTime,
  };
  if (req.fhirUser) claims.fhirUser = req.fhirUser;
  if (req.nonce) claims.nonce = req.nonce;
  if (req.name) claims.name = req.name;
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' }).sign(key.privateKey);
}

/** Why a token was refused; the message is safe to show to the token's bearer. */
export class InvalidAccessTokenError extends Error {
  constructor(readonly reason: 'malformed' | 'expired' | 'signature' | 'claims' | 'revoked', message: string) {
    super(message);
  }
}

export interface VerifyOptions {
  keys: KeyStore;
  revoked: ExpiringSet;
  /** The expected `iss` (this authorization server's base URL). */
  issuer: string;
  /** The expected `aud` (the FHIR base URL the token is presented to). */
  audience: string;
  /** Seconds of clock skew tolerated on exp/iat; 0 by default (issuer and verifier are one process). */
  clockTolerance?: number;
}

/**
 * Verifies an access token and returns its claims, or throws InvalidAccessTokenError. Refuses:
 * anything but a compact JWS; an alg other than the server keys' own (so `none` and HMAC-with-
 * the-public-key tricks); an unknown kid or a signature that no server key verifies (tampered or
 * signed by someone else); a typ other than at+jwt; a wrong iss or aud; exp in the past; a
 * missing jti/sub/client_id/scope; a revoked jti.
 */
export async function verifyAccessToken(token: string, opts: VerifyOptions): Promise<AccessTokenClaims> {
  if (typeof token !== 'string' || token.split('.').length !== 3) throw new InvalidAccessTokenError('malformed', 'The access token is not a signed JWT');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, opts.keys.verificationKeys(), {
      algorithms: opts.keys.algorithms(),
      issuer: opts.issuer,
      audience: opts.audience,
      typ: 'at+jwt',
      requiredClaims: ['exp', 'iat', 'jti', 'sub'],
      clockTolerance: opts.clockTolerance ?? 0,
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new InvalidAccessTokenError('expired', 'The access token has expired');
    if (err instanceof joseErrors.JWTClaimValidationFailed) {
      throw new InvalidAccessTokenError('claims', `The access token's ${err.claim} claim is not valid here`);
    }
    if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JWKSNoMatchingKey
      || err instanceof joseErrors.JOSEAlgNotAllowed) {
      throw new InvalidAccessTokenError('signature', 'The access token was not signed by this server');
    }
    throw new InvalidAccessTokenError('malformed', 'The access token is not a valid JWT');
  }
  const p = payload as Partial<AccessTokenClaims>;
  if (typeof p.client_id !== 'string' || typeof p.scope !== 'string' || typeof p.jti !== 'string' || typeof p.aud !== 'string') {
    throw new InvalidAccessTokenError('claims', 'The access token lacks client_id, scope or jti');
  }
  if (opts.revoked.has(p.jti)) throw new InvalidAccessTokenError('revoked', 'The access token has been revoked');
  return payload as AccessTokenClaims;
}
