import type { Response } from 'express';
import type { AuthLogger } from './auth-logger.js';
import type { LoginAttempt, LoginAttemptListener } from './login-events.js';
import type { StaffUser } from './login-session.js';
import { PageError } from './page-route.js';

/**
 * Every sign-in attempt (either way, success or failure) and every sign-out is reported to
 * `onLoginAttempt` (server/ audits it) before anything else happens; when that report fails, the
 * sign-in fails closed: no session, so no code.
 */

export type ReportLoginAttempt = (res: Response, attempt: Omit<LoginAttempt, 'at' | 'requestId'>) => Promise<void>;

/**
 * Reports a sign-in attempt (the audit). If it cannot be recorded the sign-in does not go ahead:
 * the user sees a 503 page and no session is created.
 */
export function loginAttemptReporter(listener: LoginAttemptListener | undefined, logger: AuthLogger): ReportLoginAttempt {
  return async (res, attempt) => {
    if (!listener) return;
    try {
      // The request id the edge gave this exchange (server/context.ts sets the header first).
      const requestId = res.getHeader('x-request-id');
      await listener({ ...attempt, at: new Date().toISOString(), requestId: typeof requestId === 'string' ? requestId : undefined });
    } catch (err) {
      logger.error({ err, client_id: attempt.clientId, action: attempt.action }, 'sign-in could not be audited: refused');
      throw new PageError(503, 'Sign-in not available', 'The sign-in could not be recorded, so it was not completed. Try again later.');
    }
  };
}

/** What the audit learns about a signed-in user. */
export function auditedUser(user: StaffUser): NonNullable<LoginAttempt['user']> {
  const out: NonNullable<LoginAttempt['user']> = { username: user.username, roles: user.roles };
  if (user.fhirUser) out.fhirUser = user.fhirUser;
  if (user.idp?.sdsUserId) out.sdsUserId = user.idp.sdsUserId;
  if (user.idp) out.roleProfileId = user.idp.roleProfileId;
  if (user.idp?.orgCode) out.orgCode = user.idp.orgCode;
  return out;
}
