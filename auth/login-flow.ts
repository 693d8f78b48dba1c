import type { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type OAuth2Server from '@node-oauth/oauth2-server';
import express, { type Request } from 'express';
import type { AccountStore } from './accounts.js';
import type { AuthLogger } from './auth-logger.js';
import { authorizeRoutes } from './authorize-endpoint.js';
import type { ClientRegistry } from './clients.js';
import { consentRoutes } from './consent.js';
import type { Endpoints } from './discovery.js';
import { ehrLaunchRoutes } from './ehr-launch.js';
import type { LaunchContexts } from './grant-store.js';
import { localSignInRoutes } from './local-sign-in.js';
import type { LoginAttemptListener } from './login-events.js';
import { createLoginSession } from './login-session.js';
import type { OidcRelyingParty } from './oidc.js';
import { oidcSignInRoutes } from './oidc-sign-in.js';
import { patientPickerRoutes, type PatientFinder } from './patient-picker.js';
import { roleSelectionRoutes, type PractitionerFinder } from './role-selection.js';
import { loginAttemptReporter } from './sign-in-audit.js';
import { signOutRoutes } from './sign-out.js';
import type { AccessTokenClaims } from './tokens.js';
import type { TokenRequestContext } from './token-request-context.js';

/**
 * The interactive half of the SMART authorization server, assembled from its steps:
 * GET /auth/authorize (authorization code + PKCE: authorize-endpoint.ts), staff sign-in
 * (passport-local against auth/accounts.ts: local-sign-in.ts, and/or an OpenID Connect IdP such
 * as NHS CIS2: oidc-sign-in.ts, with CIS2-style role selection: role-selection.ts), the
 * standalone-launch patient picker (patient-picker.ts), the consent page (consent.ts), sign-out,
 * and POST /auth/launch (EHR launch contexts: ehr-launch.ts).
 *
 * The steps share the browser session (login-session.ts), the sign-in audit (sign-in-audit.ts)
 * and the way pages and their errors are answered (page-route.ts).
 */

export interface FlowDeps {
  oauth: OAuth2Server;
  context: AsyncLocalStorage<TokenRequestContext>;
  clients: ClientRegistry;
  accounts: AccountStore;
  launches: LaunchContexts;
  logger: AuthLogger;
  endpointsOf(req: Request): Endpoints;
  findPatient?: PatientFinder;
  /** Whether a typed patient id can be one (the NHS number check, passed in by server/). */
  isPatientId(id: string): boolean;
  findPractitioner?: PractitionerFinder;
  /** The OpenID Connect IdP, when configured. */
  oidc?: OidcRelyingParty;
  /** Whether username + password sign-in is offered. */
  localLogin: boolean;
  onLoginAttempt?: LoginAttemptListener;
  verifyBearer(token: string, endpoints: Endpoints): Promise<AccessTokenClaims>;
}

/** The nhsuk-frontend compiled CSS and its assets, served under /auth/assets for the pages. */
function nhsuk(): string {
  return join(dirname(createRequire(import.meta.url).resolve('nhsuk-frontend/package.json')), 'dist', 'nhsuk');
}

export function interactiveRoutes(deps: FlowDeps): express.Router {
  const router = express.Router();
  const session = createLoginSession(deps.accounts);
  const steps = { ...deps, report: loginAttemptReporter(deps.onLoginAttempt, deps.logger) };

  authorizeRoutes(router, session, steps);
  localSignInRoutes(router, session, steps);
  patientPickerRoutes(router, session, steps);
  consentRoutes(router, session, steps);
  oidcSignInRoutes(router, session, steps);
  roleSelectionRoutes(router, session, steps);
  signOutRoutes(router, session, steps);
  ehrLaunchRoutes(router, steps);

  router.use('/assets', express.static(nhsuk(), { index: false, fallthrough: false, maxAge: '1h' }));
  return router;
}
