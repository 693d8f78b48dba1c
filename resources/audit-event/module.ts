import type { SpineModule } from '../module.js';
import { auditEvent, auditEventHooks } from './index.js';
import { loginAuditEvent } from './login.js';
import { privacyOfficerRestriction } from './privacy-officer.js';

/**
 * The audit trail: AuditEvent written by the server only, the records of accesses and sign-ins,
 * and the privacy officer's narrowed view of it. Reading the trail is not itself audited.
 */
export const auditModule: SpineModule = {
  name: 'audit',
  register: (hooks) => hooks.register('AuditEvent', auditEventHooks),
  audit: { access: auditEvent, login: loginAuditEvent },
  unaudited: ['AuditEvent'],
  restrictions: [privacyOfficerRestriction],
};
