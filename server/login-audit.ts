import type { AuditEvent } from 'fhir/r4.js';
import type { Logger } from 'pino';
import type { LoginAttempt, LoginAttemptListener } from '../auth/login-events.js';
import type { InteractionEngine } from '../resources/engine.js';
import type { Spine } from '../resources/spine.js';

/**
 * Audit of staff sign-ins and sign-outs (issue 5): the listener auth/ calls for every attempt
 * (auth/login-events.ts) writes one AuditEvent (the audit module's login record) durably, through
 * the engine's trusted path, before the sign-in goes ahead. A failed write rejects, and auth/ then
 * refuses the sign-in (fail closed: no session, no code).
 */
export interface LoginAuditOptions {
  /** Test seam: wraps the durable write (e.g. to make it fail). */
  writer?: (event: AuditEvent, write: (event: AuditEvent) => Promise<void>) => Promise<void>;
}

export function loginAudit(engine: InteractionEngine, spine: Spine, logger: Logger, options: LoginAuditOptions = {}): LoginAttemptListener {
  const write = async (event: AuditEvent): Promise<void> => {
    await engine.transaction(async (session) => {
      await session.create('AuditEvent', event);
    }, { origin: 'server' });
  };
  return async (attempt: LoginAttempt) => {
    const event = spine.audit.login({
      action: attempt.action, success: attempt.outcome === 'success', recorded: attempt.at,
      clientId: attempt.clientId, user: attempt.user, outcomeDesc: attempt.reason, requestId: attempt.requestId,
    });
    try {
      await (options.writer ? options.writer(event, write) : write(event));
    } catch (err) {
      logger.error({ err, action: attempt.action, outcome: attempt.outcome }, 'sign-in audit could not be written');
      throw err;
    }
  };
}
