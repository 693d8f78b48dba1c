import type { Request, Response, Router } from 'express';
import type { AuthLogger } from './auth-logger.js';
import type { IdpIdentity, RoleProfile } from './idp-identity.js';
import { continueUrl, csrfOf, PENDING_SECONDS, pendingOf, postedForm, requestExpired, signIn, type LoginSession, type Pending, type StaffUser } from './login-session.js';
import type { OidcRelyingParty } from './oidc.js';
import { PageError, pageContext, pageRoute, sendPage } from './page-route.js';
import { rolePickerPage } from './pages.js';
import { auditedUser, type ReportLoginAttempt } from './sign-in-audit.js';

/**
 * CIS2-style role selection: an IdP user works under one of their national RBAC role profiles per
 * session. With several to choose from, the user picks one (POST /auth/oidc/role); with one it is
 * taken (auth/idp-identity.ts decides which). Either way the sign-in completes here, under that
 * role: the session user is built from the identity and the profile, then audited, then signed in.
 */

/** The Practitioner (`Practitioner/<id>`) holding an SDS user id, or undefined when none is held. */
export type PractitionerFinder = (sdsUserId: string) => Promise<string | undefined>;

export interface RoleSelectionDeps {
  /** The OpenID Connect IdP, when configured; without one, the role route is a 404 page. */
  oidc?: OidcRelyingParty;
  findPractitioner?: PractitionerFinder;
  logger: AuthLogger;
  report: ReportLoginAttempt;
}

function roleLabel(p: RoleProfile): string {
  return `${p.roleName ?? p.jobRole} (${p.jobRole})${p.orgCode ? `, organisation ${p.orgCode}` : ''}`;
}

function sendRolePicker(req: Request, res: Response, status: number, o: { rid: string; identity: IdpIdentity; profiles: RoleProfile[]; error?: string }): void {
  sendPage(res, status, rolePickerPage(pageContext(req), {
    csrf: csrfOf(req), rid: o.rid, user: o.identity.name ?? o.identity.sdsUserId ?? o.identity.subject, error: o.error,
    roles: o.profiles.map((p) => ({ id: p.personRoleId, label: roleLabel(p) })),
  }));
}

/** Keeps the identity in the session, waiting for the user to pick one of these profiles, and shows the picker. */
export function offerRoles(req: Request, res: Response, rid: string, identity: IdpIdentity, profiles: RoleProfile[]): void {
  req.session.oidcPending = { rid, identity, createdAt: Date.now() / 1000 };
  sendRolePicker(req, res, 200, { rid, identity, profiles });
}

/** Completes an IdP sign-in with the chosen role profile: audit, then the session. */
export async function signInWithRole(req: Request, res: Response, identity: IdpIdentity, profile: RoleProfile, rid: string, deps: RoleSelectionDeps): Promise<void> {
  const user: StaffUser = {
    username: `oidc:${identity.sdsUserId ?? identity.subject}`,
    roles: [profile.jobRole],
    idp: { subject: identity.subject, roleProfileId: profile.personRoleId },
  };
  if (identity.sdsUserId) user.idp!.sdsUserId = identity.sdsUserId;
  if (profile.orgCode) user.idp!.orgCode = profile.orgCode;
  if (identity.name) user.displayName = identity.name;
  if (identity.sdsUserId && deps.findPractitioner) {
    const practitioner = await deps.findPractitioner(identity.sdsUserId);
    if (practitioner) user.fhirUser = practitioner;
  }
  let p: Pending;
  try {
    p = pendingOf(req, rid);
  } catch (err) {
    await deps.report(res, { action: 'login', outcome: 'failure', method: 'oidc', user: auditedUser(user), reason: 'the authorization request had expired' });
    throw err;
  }
  await deps.report(res, { action: 'login', outcome: 'success', method: 'oidc', clientId: p.clientId, user: auditedUser(user) });
  await signIn(req, user);
  deps.logger.info({ user: user.username, client_id: p.clientId, role: profile.jobRole }, 'staff signed in with the IdP');
  res.redirect(303, continueUrl(req, rid));
}

export function roleSelectionRoutes(router: Router, session: LoginSession, deps: RoleSelectionDeps): void {
  router.post('/oidc/role', ...session.interactive, pageRoute(async (req, res) => {
    if (!deps.oidc) throw new PageError(404, 'Not available', 'No identity provider is configured on this server.');
    const f = postedForm(req);
    const waiting = req.session.oidcPending;
    const rid = f.get('rid') ?? '';
    if (!waiting || waiting.rid !== rid || waiting.createdAt + PENDING_SECONDS < Date.now() / 1000) throw requestExpired();
    const profile = waiting.identity.roleProfiles.find((p) => p.personRoleId === f.get('role'));
    if (!profile) {
      sendRolePicker(req, res, 400, { rid, identity: waiting.identity, profiles: waiting.identity.roleProfiles, error: 'Select one of your roles.' });
      return;
    }
    delete req.session.oidcPending;
    await signInWithRole(req, res, waiting.identity, profile, rid, deps);
  }));
}
