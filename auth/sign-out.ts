import type { Router } from 'express';
import { postedForm, userOf, type LoginSession } from './login-session.js';
import { pageContext, pageRoute, sendPage } from './page-route.js';
import { messagePage } from './pages.js';
import { auditedUser, type ReportLoginAttempt } from './sign-in-audit.js';

/** POST /auth/logout: ends the staff session (audited as a sign-out) and says so. */
export function signOutRoutes(router: Router, session: LoginSession, deps: { report: ReportLoginAttempt }): void {
  router.post('/logout', ...session.interactive, pageRoute(async (req, res) => {
    postedForm(req);
    const user = userOf(req);
    if (user) {
      // Signing out goes ahead even when it cannot be recorded (failing closed here means signing out).
      await deps.report(res, { action: 'logout', outcome: 'success', method: user.idp ? 'oidc' : 'local', user: auditedUser(user) })
        .catch(() => undefined);
    }
    await new Promise<void>((resolve, reject) => req.logout((err) => (err ? reject(err) : resolve())));
    sendPage(res, 200, messagePage(pageContext(req), 'Signed out', 'You have signed out.'));
  }));
}
