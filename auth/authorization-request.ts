import type { Request } from 'express';
import type { ClientRegistry } from './clients.js';
import type { Endpoints } from './discovery.js';
import { grantUserScopes } from './grant.js';
import type { LaunchContexts } from './grant-store.js';
import type { Pending } from './login-session.js';
import { PageError } from './page-route.js';
import { parseScopes } from './scopes.js';

/**
 * Checks a GET /auth/authorize request (authorization code + PKCE, SMART launch) and turns it into
 * the Pending request the sign-in steps work on. Errors about the client or redirect_uri are shown
 * as a page (never redirected to an unverified URI, RFC 6749 §4.1.2.1); everything else is
 * redirected to the client with error and state.
 */

const PKCE_CHALLENGE = /^[A-Za-z0-9\-._~]{43,128}$/;

/** An error the client learns through its redirect_uri (RFC 6749 §4.1.2.1). */
export class RedirectError extends Error {
  /** The client's redirect_uri with error, error_description and state; set once the redirect_uri is verified. */
  redirect?: string;

  constructor(readonly error: string, readonly description: string) {
    super(description);
  }
}

/** `uri` with these query parameters set (undefined ones left out). */
export function withRedirect(uri: string, params: Record<string, string | undefined>): string {
  const u = new URL(uri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) u.searchParams.set(k, v);
  return u.href;
}

export interface AuthorizationRequestDeps {
  clients: ClientRegistry;
  launches: LaunchContexts;
  endpointsOf(req: Request): Endpoints;
}

/** Validates an authorization request; returns the pending request or throws PageError / RedirectError. */
export function validateAuthorizationRequest(req: Request, q: URLSearchParams, deps: AuthorizationRequestDeps): Pending {
  const one = (name: string): string | undefined => {
    const all = q.getAll(name);
    if (all.length > 1) throw new PageError(400, 'Bad request', `The parameter ${name} is repeated.`);
    return all[0];
  };
  const clientId = one('client_id');
  const client = clientId ? deps.clients.get(clientId) : undefined;
  if (!client) throw new PageError(400, 'Unknown application', 'The application that sent you here is not registered with this server.');
  if (!client.grantTypes.includes('authorization_code')) throw new PageError(400, 'Application not allowed', 'This application may not sign users in.');
  const redirectUri = one('redirect_uri');
  if (!redirectUri || !client.redirectUris.includes(redirectUri)) {
    throw new PageError(400, 'Wrong return address', "The application's redirect_uri is missing or is not one it registered.");
  }
  // From here on, errors go back to the application.
  const state = one('state');
  if (!state || !/^[\x20-\x7e]+$/.test(state)) throw new RedirectError('invalid_request', 'state is required');
  const pending = { clientId: client.clientId, redirectUri, state } as Pending;
  try {
    if (one('response_type') !== 'code') throw new RedirectError('unsupported_response_type', 'response_type must be code');
    const endpoints = deps.endpointsOf(req);
    const aud = one('aud');
    if (!aud) throw new RedirectError('invalid_request', 'aud (the FHIR base URL) is required');
    if (aud.replace(/\/+$/, '') !== endpoints.fhir) throw new RedirectError('invalid_request', 'aud is not the FHIR base URL this server authorizes for');
    const challenge = one('code_challenge');
    const method = one('code_challenge_method');
    if (method !== undefined && method !== 'S256') throw new RedirectError('invalid_request', 'code_challenge_method must be S256 (plain is not allowed)');
    if (challenge !== undefined) {
      if (method !== 'S256') throw new RedirectError('invalid_request', 'code_challenge_method=S256 is required with code_challenge');
      if (!PKCE_CHALLENGE.test(challenge)) throw new RedirectError('invalid_request', 'code_challenge is malformed');
      pending.codeChallenge = challenge;
      pending.codeChallengeMethod = 'S256';
    } else if (method !== undefined) {
      throw new RedirectError('invalid_request', 'code_challenge is missing');
    } else if (client.authMethod === 'none') {
      throw new RedirectError('invalid_request', 'a public client must use PKCE: code_challenge and code_challenge_method=S256 are required');
    }
    const launchId = one('launch');
    let launch: { patient?: string; encounter?: string } | undefined;
    if (launchId !== undefined) {
      launch = deps.launches.get(launchId);
      if (!launch) throw new RedirectError('invalid_request', 'launch is unknown or has expired');
    }
    const requested = one('scope') ?? '';
    const parsed = parseScopes(requested);
    if (parsed.invalid.length > 0) throw new RedirectError('invalid_scope', `scope '${parsed.invalid[0].scope}' is malformed`);
    let scope = grantUserScopes(requested, client.scope, launch !== undefined);
    if (!launch?.encounter) scope = scope.filter((s) => s !== 'launch/encounter');
    if (scope.length === 0) throw new RedirectError('invalid_scope', 'none of the requested scopes is registered for this client');
    pending.scope = scope;
    pending.patient = launch?.patient;
    pending.encounter = launch?.encounter;
    pending.needsPatient = scope.includes('launch/patient') && !launch?.patient;
    const nonce = one('nonce');
    if (nonce !== undefined) pending.nonce = nonce.slice(0, 256);
    pending.createdAt = Date.now() / 1000;
    return pending;
  } catch (err) {
    if (err instanceof RedirectError) err.redirect = withRedirect(redirectUri, { error: err.error, error_description: err.description, state });
    throw err;
  }
}
