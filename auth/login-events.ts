/**
 * What the interactive sign-in reports about every staff sign-in attempt and sign-out, so that the
 * server can audit it (issue 5: "AuditEvent ... for logins"). auth/ does not know how an audit is
 * written (it must not import server/): server/ injects the listener. The listener is awaited
 * before a session is created, and if it fails the sign-in fails closed (no session, no code).
 *
 * A report never carries a password or a token; `reason` is a short, data-free text.
 */
export interface LoginAttempt {
  action: 'login' | 'logout';
  outcome: 'success' | 'failure';
  /** passport-local against DATA_DIR/auth/accounts.json, or the configured OpenID Connect IdP. */
  method: 'local' | 'oidc';
  /** ISO instant of the attempt. */
  at: string;
  /** The OAuth client the user was signing in for, when known. */
  clientId?: string;
  /** Who: as much as is known. A failed local attempt knows only the username typed. */
  user?: {
    /** Local username, or `oidc:<subject>` for an IdP user. */
    username?: string;
    fhirUser?: string;
    roles?: string[];
    /** The SDS user id asserted by the IdP (CIS2 `uid`). */
    sdsUserId?: string;
    /** The CIS2 role profile (`person_roleid`) and its organisation (ODS code). */
    roleProfileId?: string;
    orgCode?: string;
  };
  reason?: string;
  /** The request's X-Request-ID, to tie the event to the logs. */
  requestId?: string;
}

/** Resolves when the attempt is durably recorded; rejects when it could not be. */
export type LoginAttemptListener = (attempt: LoginAttempt) => Promise<void>;
