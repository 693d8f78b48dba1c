import { randomBytes } from 'node:crypto';
import type { Request, Response, Router } from 'express';
import { RedirectError, validateAuthorizationRequest, type AuthorizationRequestDeps } from './authorization-request.js';
import type { ClientRegistry } from './clients.js';
import { csrfOf, PENDING_SECONDS, pendingOf, userOf, type LoginSession, type Pending } from './login-session.js';
import type { OidcRelyingParty } from './oidc.js';
import { PageError, pageContext, htmlHeaders, pageRoute } from './page-route.js';
import { consentPage, describeScope, loginPage, patientPickerPage } from './pages.js';
import type { PatientFinder } from './patient-picker.js';

/**
 * GET /auth/authorize opens an authorization request in the session; it and
 * GET /auth/authorize/continue (where every step sends the browser back to) show the step the
 * request is at: sign-in, the patient picker, or consent.
 */

/** Open requests kept per session: a user who starts many sign-ins keeps only the newest. */
const MAX_PENDING = 10;

export interface AuthorizeDeps extends AuthorizationRequestDeps {
  clients: ClientRegistry;
  /** Whether username + password sign-in is offered. */
  localLogin: boolean;
  oidc?: OidcRelyingParty;
  findPatient?: PatientFinder;
}

function patientLabelOf(id: string, found?: { label: string }): string {
  return found ? found.label : `Patient ${id}`;
}

/** Shows the step the request is at: sign-in, patient picker, or consent. */
async function showStep(req: Request, res: Response, rid: string, deps: AuthorizeDeps): Promise<void> {
  const p = pendingOf(req, rid);
  const client = deps.clients.get(p.clientId);
  if (!client) throw new PageError(400, 'Unknown application', 'The application is no longer registered.');
  const clientName = client.clientName ?? client.clientId;
  const user = userOf(req);
  const ctx = pageContext(req);
  htmlHeaders(res);
  if (!user) {
    res.status(200).send(loginPage(ctx, { csrf: csrfOf(req), rid, clientName, local: deps.localLogin, idp: deps.oidc?.displayName }));
    return;
  }
  if (p.needsPatient && !p.patient) {
    if (user.patients?.length === 1) {
      p.patient = user.patients[0];
    } else {
      const patients = user.patients && await Promise.all(user.patients.map(async (id) => ({ id, label: patientLabelOf(id, await deps.findPatient?.(id)) })));
      res.status(200).send(patientPickerPage(ctx, { csrf: csrfOf(req), rid, clientName, patients }));
      return;
    }
  }
  const patientLabel = p.patient ? patientLabelOf(p.patient, await deps.findPatient?.(p.patient)) : undefined;
  res.status(200).send(consentPage(ctx, {
    csrf: csrfOf(req), rid, clientName, user: user.displayName ?? user.username, patient: patientLabel,
    scopes: p.scope.map((scope) => ({ scope, text: describeScope(scope) })),
  }));
}

export function authorizeRoutes(router: Router, session: LoginSession, deps: AuthorizeDeps): void {
  router.get('/authorize', ...session.interactive, pageRoute(async (req, res) => {
    const q = new URL(req.originalUrl, 'http://x').searchParams;
    let pending: Pending;
    try {
      pending = validateAuthorizationRequest(req, q, deps);
    } catch (err) {
      if (err instanceof RedirectError && err.redirect) {
        res.setHeader('Cache-Control', 'no-store');
        res.redirect(302, err.redirect);
        return;
      }
      throw err;
    }
    const rid = randomBytes(16).toString('base64url');
    const all = req.session.pending ?? {};
    const live = Object.entries(all).filter(([, p]) => p.createdAt + PENDING_SECONDS >= Date.now() / 1000).slice(-(MAX_PENDING - 1));
    req.session.pending = Object.fromEntries([...live, [rid, pending]]);
    await showStep(req, res, rid, deps);
  }));

  router.get('/authorize/continue', ...session.interactive, pageRoute(async (req, res) => {
    await showStep(req, res, String(req.query.rid ?? ''), deps);
  }));
}
