import type { Router } from 'express';
import type { ClientRegistry } from './clients.js';
import { continueUrl, csrfOf, postedForRequest, signedInUser, type LoginSession } from './login-session.js';
import { pageContext, pageRoute, sendPage } from './page-route.js';
import { patientPickerPage } from './pages.js';

/**
 * POST /auth/patient: the standalone-launch patient picker's answer (launch/patient granted with no
 * EHR launch patient). A user with a list of patients picks one of them; anyone else types an NHS
 * number, which must be one (`isPatientId`) and, when the server can look patients up, exist.
 */

/** A patient for the picker: a display label (or undefined when the id is unknown). */
export type PatientFinder = (id: string) => Promise<{ id: string; label: string } | undefined>;

export interface PatientPickerDeps {
  clients: ClientRegistry;
  findPatient?: PatientFinder;
  /** Whether a typed patient id can be one (the NHS number check, passed in by server/). */
  isPatientId(id: string): boolean;
}

export function patientPickerRoutes(router: Router, session: LoginSession, deps: PatientPickerDeps): void {
  router.post('/patient', ...session.interactive, pageRoute(async (req, res) => {
    const { form: f, rid, pending: p } = postedForRequest(req);
    const user = signedInUser(req);
    const client = deps.clients.get(p.clientId);
    const again = (error: string) => {
      sendPage(res, 400, patientPickerPage(pageContext(req), {
        csrf: csrfOf(req), rid, clientName: client?.clientName ?? p.clientId, error,
        patients: user.patients?.map((id) => ({ id, label: `Patient ${id}` })),
      }));
    };
    if (user.patients?.length) {
      const chosen = f.get('patient');
      if (!chosen || !user.patients.includes(chosen)) return again('Choose one of the patients listed.');
      p.patient = chosen;
    } else {
      const nhs = (f.get('nhs_number') ?? '').replace(/\s+/g, '');
      if (!deps.isPatientId(nhs)) return again('Enter a valid 10-digit NHS number.');
      if (deps.findPatient && !(await deps.findPatient(nhs))) return again('No patient has that NHS number.');
      p.patient = nhs;
    }
    res.redirect(303, continueUrl(req, rid));
  }));
}
