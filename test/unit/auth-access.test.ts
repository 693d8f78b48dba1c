import { expect } from 'chai';
import {
  CLINICAL_RESOURCE_TYPES, decide as decideWith, INTERACTIONS, isClinicalResourceType, requiredPermissions,
  type AccessDecision, type AccessRequest, type Grant, type Interaction,
} from '../../auth/access.js';
import { parseScopes } from '../../auth/scopes.js';
import { isResourceType } from '../../fhir/definitions.js';
import { fhirUserType } from '../../fhir/requester.js';
import { isClinicalRole } from '../../resources/practitioner/rbac.js';

/** The decision with the SDS module's clinical-role rule, as the server passes it in. */
const decide = (request: AccessRequest, g: Grant): AccessDecision => decideWith(request, g, { isClinicalRole });

const PATIENT = 'pat-SECRET-9990001';
const STAFF = 'Practitioner/user-SECRET-1';

function grant(scope: string, extra: Omit<Grant, 'scopes'> = {}): Grant {
  return { scopes: parseScopes(scope), ...extra };
}

/** An independent copy of the interaction → letters table, so the matrix does not test the code with itself. */
const VARIANTS: { name: string; request: Omit<AccessRequest, 'resourceTypes'>; letters: string }[] = [
  { name: 'read', request: { interaction: 'read' }, letters: 'r' },
  { name: 'vread', request: { interaction: 'vread' }, letters: 'r' },
  { name: 'history-instance', request: { interaction: 'history-instance' }, letters: 'r' },
  { name: 'operation', request: { interaction: 'operation' }, letters: 'r' },
  { name: 'history-type', request: { interaction: 'history-type' }, letters: 's' },
  { name: 'history-system', request: { interaction: 'history-system' }, letters: 's' },
  { name: 'search-type', request: { interaction: 'search-type' }, letters: 's' },
  { name: 'search-system', request: { interaction: 'search-system' }, letters: 's' },
  { name: 'create', request: { interaction: 'create' }, letters: 'c' },
  { name: 'update', request: { interaction: 'update' }, letters: 'u' },
  { name: 'update (creates)', request: { interaction: 'update', creates: true }, letters: 'cu' },
  { name: 'patch', request: { interaction: 'patch' }, letters: 'u' },
  { name: 'patch (creates)', request: { interaction: 'patch', creates: true }, letters: 'cu' },
  { name: 'delete', request: { interaction: 'delete' }, letters: 'd' },
];

const SECRETS = ['SECRET', PATIENT, STAFF];

function expectCleanReason(d: AccessDecision): void {
  if (d.allow) return;
  expect(d.reason).to.be.a('string').and.not.equal('');
  for (const s of SECRETS) expect(d.reason).not.to.contain(s);
}

function allow(d: AccessDecision): Extract<AccessDecision, { allow: true }> {
  if (!d.allow) expect.fail(`expected allow, got deny: ${d.reason}`);
  return d as Extract<AccessDecision, { allow: true }>;
}

function denied(d: AccessDecision): string {
  if (d.allow) expect.fail('expected deny, got allow');
  expectCleanReason(d);
  return (d as { reason: string }).reason;
}

describe('auth/access: the access decision', () => {
  it('every interaction kind is in the test table', () => {
    expect(new Set(VARIANTS.map((v) => v.request.interaction))).to.deep.equal(new Set(INTERACTIONS));
  });

  it('requiredPermissions matches the table', () => {
    for (const v of VARIANTS) expect(requiredPermissions(v.request).join(''), v.name).to.equal(v.letters);
  });

  describe('scope × interaction matrix', () => {
    const v1: [string, string][] = [['read', 'rs'], ['write', 'cud'], ['*', 'cruds']];
    const v2: [string, string][] = [];
    for (let mask = 1; mask < 32; mask++) {
      const l = ['c', 'r', 'u', 'd', 's'].filter((_, i) => mask & (1 << i)).join('');
      v2.push([l, l]);
    }
    const perms = [...v1, ...v2];

    for (const context of ['patient', 'user', 'system'] as const) {
      for (const scopeType of ['Observation', '*']) {
        for (const [perm, granted] of perms) {
          const scope = `${context}/${scopeType}.${perm}`;
          it(`${scope} (granted ${granted}) against every interaction`, () => {
            const g = grant(scope, context === 'patient' ? { patient: PATIENT } : {});
            for (const v of VARIANTS) {
              const label = `${scope} ${v.name}`;
              const d = decide({ ...v.request, resourceTypes: ['Observation'] }, g);
              const expected = [...v.letters].every((l) => granted.includes(l));
              expect(d.allow, label).to.equal(expected);
              expectCleanReason(d);
              if (d.allow) {
                expect(d.patientCompartment, label).to.equal(context === 'patient' ? PATIENT : undefined);
                expect(d.constraints, label).to.equal(undefined);
                expect(d.byType, label).to.deep.equal({ Observation: context === 'patient' ? { patientCompartment: PATIENT } : {} });
              } else {
                expect(d.reason, label).to.contain(v.request.interaction).and.to.contain('Observation');
              }
              // A scope for Observation never grants another type; a wildcard grants it the same way.
              const other = decide({ ...v.request, resourceTypes: ['Condition'] }, g);
              expect(other.allow, `${label} on Condition`).to.equal(scopeType === '*' && expected);
              expectCleanReason(other);
            }
          });
        }
      }
    }

    it('v1 read ≡ v2 rs, v1 write ≡ v2 cud, v1 * ≡ v2 cruds, for every interaction and context', () => {
      for (const context of ['patient', 'user', 'system']) {
        for (const [a, b] of [['read', 'rs'], ['write', 'cud'], ['*', 'cruds']]) {
          const g1 = grant(`${context}/Observation.${a}`, { patient: PATIENT });
          const g2 = grant(`${context}/Observation.${b}`, { patient: PATIENT });
          for (const v of VARIANTS) {
            const r = { ...v.request, resourceTypes: ['Observation'] };
            expect(decide(r, g1), `${context} ${a}/${b} ${v.name}`).to.deep.equal(decide(r, g2));
          }
        }
      }
    });

    it('invalid scopes grant nothing (rc, sr, read?x=1, unknown type)', () => {
      const g = grant('patient/Observation.rc patient/Observation.sr patient/Observation.read?x=1 user/Foo.cruds Patient/Observation.read', { patient: PATIENT });
      for (const v of VARIANTS) {
        for (const type of ['Observation', 'Patient', 'Condition']) denied(decide({ ...v.request, resourceTypes: [type] }, g));
      }
    });

    it('no scopes at all: everything denied', () => {
      const g = grant('openid fhirUser launch offline_access urn:nhsd:apim:app:level3:x', { patient: PATIENT });
      for (const v of VARIANTS) denied(decide({ ...v.request, resourceTypes: ['Patient'] }, g));
    });
  });

  describe('patient context', () => {
    it('patient/ scopes without a launch patient grant nothing, and the reason says why', () => {
      const g = grant('patient/*.cruds');
      for (const v of VARIANTS) {
        const reason = denied(decide({ ...v.request, resourceTypes: ['Observation'] }, g));
        expect(reason).to.contain('without a launch patient');
      }
    });

    it('an empty launch patient counts as none', () => {
      denied(decide({ interaction: 'read', resourceTypes: ['Observation'] }, grant('patient/*.rs', { patient: '' })));
    });

    it('patient/ scopes without a launch patient: user/ scopes still decide', () => {
      const d = allow(decide({ interaction: 'search-type', resourceTypes: ['Observation'] }, grant('patient/*.rs user/Observation.rs')));
      expect(d.patientCompartment).to.equal(undefined);
    });

    const broaderWins: [string, Interaction, boolean | undefined, string | undefined, string?][] = [
      // scope, interaction, creates, expected compartment (undefined = none), type (default Observation)
      ['patient/Observation.rs user/Observation.rs', 'search-type', undefined, undefined],
      ['patient/Observation.rs system/Observation.rs', 'search-type', undefined, undefined],
      ['patient/*.cruds user/Observation.r', 'read', undefined, undefined],
      ['patient/*.cruds user/Observation.r', 'search-type', undefined, PATIENT],
      ['patient/*.cruds user/Observation.r', 'update', undefined, PATIENT],
      ['patient/Observation.c user/Observation.u', 'update', true, PATIENT],
      ['patient/Observation.u user/Observation.c', 'update', true, PATIENT],
      ['patient/Observation.cu user/Observation.cu', 'update', true, undefined],
      ['patient/Observation.rs user/*.rs', 'read', undefined, undefined],
      ['patient/*.rs user/Patient.read', 'read', undefined, undefined, 'Patient'],
      ['patient/*.rs user/Patient.read', 'read', undefined, PATIENT, 'Observation'],
    ];
    for (const [scope, interaction, creates, compartment, type = 'Observation'] of broaderWins) {
      it(`${scope}: ${interaction}${creates ? ' (creates)' : ''} on ${type} → ${compartment ? 'patient compartment' : 'no compartment'}`, () => {
        const d = allow(decide({ interaction, creates, resourceTypes: [type] }, grant(scope, { patient: PATIENT })));
        expect(d.patientCompartment).to.equal(compartment);
      });
    }

    it('a patient-context grant covers non-compartment types with the compartment restriction (the caller decides what that means)', () => {
      const d = allow(decide({ interaction: 'read', resourceTypes: ['Organization'] }, grant('patient/*.rs', { patient: PATIENT })));
      expect(d.patientCompartment).to.equal(PATIENT);
    });
  });

  describe('v2 query constraints', () => {
    const LAB = 'http://terminology.hl7.org/CodeSystem/observation-category|laboratory';
    const VS = 'http://terminology.hl7.org/CodeSystem/observation-category|vital-signs';
    const cases: { name: string; scope: string; request: Omit<AccessRequest, 'resourceTypes'>; compartment?: string; constraints?: [string, string][][] }[] = [
      { name: 'one constrained scope', scope: `user/Observation.rs?category=${LAB}`, request: { interaction: 'search-type' }, constraints: [[['category', LAB]]] },
      { name: 'constrained read', scope: `user/Observation.rs?category=${LAB}`, request: { interaction: 'read' }, constraints: [[['category', LAB]]] },
      { name: 'ANDed parameters in one scope', scope: 'user/Observation.rs?category=laboratory&status=final', request: { interaction: 'search-type' }, constraints: [[['category', 'laboratory'], ['status', 'final']]] },
      { name: 'two constrained scopes are ORed', scope: `user/Observation.rs?category=${LAB} user/Observation.rs?category=${VS}`, request: { interaction: 'search-type' }, constraints: [[['category', LAB]], [['category', VS]]] },
      { name: 'a duplicate query counts once', scope: 'user/Observation.rs?category=a user/Observation.s?category=a', request: { interaction: 'search-type' }, constraints: [[['category', 'a']]] },
      { name: 'one unconstrained granting scope lifts the constraint', scope: `user/Observation.rs?category=${LAB} user/Observation.s`, request: { interaction: 'search-type' } },
      { name: 'a wildcard unconstrained scope lifts it too', scope: `user/Observation.rs?category=${LAB} user/*.rs`, request: { interaction: 'search-type' } },
      { name: 'a scope that does not grant the letter does not lift it', scope: `user/Observation.rs?category=${LAB} user/Observation.r`, request: { interaction: 'search-type' }, constraints: [[['category', LAB]]] },
      { name: 'a wildcard constrained scope', scope: 'system/*.rs?_security=N', request: { interaction: 'search-type' }, constraints: [[['_security', 'N']]] },
      { name: 'patient tier with constraints', scope: `patient/Observation.rs?category=${LAB}`, request: { interaction: 'search-type' }, compartment: PATIENT, constraints: [[['category', LAB]]] },
      { name: 'broad constrained beats patient unconstrained (context wins, not breadth of query)', scope: `patient/Observation.rs user/Observation.rs?category=${LAB}`, request: { interaction: 'search-type' }, constraints: [[['category', LAB]]] },
      { name: 'patient-tier queries are ignored when the broad tier wins', scope: `patient/Observation.rs?category=${VS} user/Observation.rs`, request: { interaction: 'search-type' } },
      { name: 'constrained create', scope: 'user/Observation.c?category=survey', request: { interaction: 'create' }, constraints: [[['category', 'survey']]] },
      { name: 'update that creates: c and u constraints are ANDed', scope: 'user/Observation.u?category=a user/Observation.c?status=final', request: { interaction: 'update', creates: true }, constraints: [[['status', 'final'], ['category', 'a']]] },
      { name: 'update that creates from one cu scope: no duplicated pair', scope: 'user/Observation.cu?category=a', request: { interaction: 'update', creates: true }, constraints: [[['category', 'a']]] },
      { name: 'update that creates: (a ∨ b) ∧ (x ∨ y) expands to four lists', scope: 'user/Observation.c?code=a user/Observation.c?code=b user/Observation.u?status=x user/Observation.u?status=y', request: { interaction: 'patch', creates: true },
        constraints: [[['code', 'a'], ['status', 'x']], [['code', 'a'], ['status', 'y']], [['code', 'b'], ['status', 'x']], [['code', 'b'], ['status', 'y']]] },
      { name: 'update that creates: unconstrained c, constrained u', scope: 'user/Observation.c user/Observation.u?status=x', request: { interaction: 'update', creates: true }, constraints: [[['status', 'x']]] },
      { name: 'plain update ignores the c scopes', scope: 'user/Observation.c?code=a user/Observation.u', request: { interaction: 'update' } },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const d = allow(decide({ ...c.request, resourceTypes: ['Observation'] }, grant(c.scope, { patient: PATIENT })));
        expect(d.patientCompartment).to.equal(c.compartment);
        expect(d.constraints).to.deep.equal(c.constraints);
        const expectedType: Record<string, unknown> = {};
        if (c.compartment) expectedType.patientCompartment = c.compartment;
        if (c.constraints) expectedType.constraints = c.constraints;
        expect(d.byType).to.deep.equal({ Observation: expectedType });
      });
    }

    it('the returned constraints are copies (mutating them does not change the grant)', () => {
      const g = grant('user/Observation.rs?category=a');
      const d = allow(decide({ interaction: 'search-type', resourceTypes: ['Observation'] }, g));
      d.constraints![0][0][1] = 'changed';
      expect(g.scopes.resources[0].query).to.deep.equal([['category', 'a']]);
    });
  });

  describe('system-level requests over several types', () => {
    it('every type must be granted; the reason names the missing ones', () => {
      const reason = denied(decide({ interaction: 'search-system', resourceTypes: ['Observation', 'Condition', 'Procedure'] }, grant('user/Observation.rs')));
      expect(reason).to.contain('Condition').and.contain('Procedure').and.not.contain('Observation,');
      expect(reason).not.to.match(/Observation \(/);
    });

    it('history-system needs s on every type', () => {
      denied(decide({ interaction: 'history-system', resourceTypes: ['Observation', 'Patient'] }, grant('user/Observation.rs user/Patient.r')));
      allow(decide({ interaction: 'history-system', resourceTypes: ['Observation', 'Patient'] }, grant('user/Observation.rs user/Patient.s')));
    });

    it('uniform restrictions are repeated at the top level', () => {
      const d = allow(decide({ interaction: 'search-system', resourceTypes: ['Observation', 'Condition'] }, grant('patient/*.rs', { patient: PATIENT })));
      expect(d.patientCompartment).to.equal(PATIENT);
      expect(d.byType).to.deep.equal({ Observation: { patientCompartment: PATIENT }, Condition: { patientCompartment: PATIENT } });
      const u = allow(decide({ interaction: 'search-system', resourceTypes: ['Observation', 'Condition'] }, grant('user/*.rs')));
      expect(u).to.deep.equal({ allow: true, byType: { Observation: {}, Condition: {} } });
    });

    it('mixed compartments: only byType tells, the top level is absent', () => {
      const d = allow(decide({ interaction: 'search-system', resourceTypes: ['Observation', 'Condition'] }, grant('patient/Observation.rs user/Condition.rs', { patient: PATIENT })));
      expect(d.patientCompartment).to.equal(undefined);
      expect(d.constraints).to.equal(undefined);
      expect(d.byType).to.deep.equal({ Observation: { patientCompartment: PATIENT }, Condition: {} });
    });

    it('mixed constraints: only byType tells', () => {
      const d = allow(decide({ interaction: 'search-system', resourceTypes: ['Observation', 'Condition'] }, grant('user/Observation.rs?category=lab user/Condition.rs')));
      expect(d.constraints).to.equal(undefined);
      expect(d.byType).to.deep.equal({ Observation: { constraints: [[['category', 'lab']]] }, Condition: {} });
    });

    it('a repeated type is decided once', () => {
      const d = allow(decide({ interaction: 'search-system', resourceTypes: ['Observation', 'Observation'] }, grant('user/Observation.rs')));
      expect(Object.keys(d.byType)).to.deep.equal(['Observation']);
    });
  });

  describe('malformed requests are denied', () => {
    const g = grant('system/*.cruds');
    it('no resource types', () => {
      for (const v of VARIANTS) denied(decide({ ...v.request, resourceTypes: [] }, g));
    });
    it('type-level interactions take exactly one type', () => {
      for (const v of VARIANTS.filter((x) => !['search-system', 'history-system', 'operation'].includes(x.request.interaction))) {
        denied(decide({ ...v.request, resourceTypes: ['Observation', 'Condition'] }, g));
      }
    });
    it('an operation may span several types (system operation), each needing r', () => {
      allow(decide({ interaction: 'operation', resourceTypes: ['Observation', 'Condition'] }, g));
      denied(decide({ interaction: 'operation', resourceTypes: ['Observation', 'Condition'] }, grant('user/Observation.r')));
    });
    it('unknown resource types', () => {
      for (const t of ['Foo', 'observation', '*', '', 'Resource', 'SubscriptionStatus']) denied(decide({ interaction: 'read', resourceTypes: [t] }, g));
    });
    it('creates on anything but update/patch', () => {
      for (const i of ['read', 'create', 'delete', 'search-type'] as Interaction[]) denied(decide({ interaction: i, creates: true, resourceTypes: ['Observation'] }, g));
    });
    it('an unknown interaction', () => {
      denied(decide({ interaction: 'transaction' as Interaction, resourceTypes: ['Observation'] }, g));
    });
  });

  describe('RBAC: clinical resources need a clinical job role', () => {
    it('the clinical set holds R4 types only and leaves out demographics and directory data', () => {
      for (const t of CLINICAL_RESOURCE_TYPES) expect(isResourceType(t), t).to.equal(true);
      for (const t of ['Observation', 'Condition', 'MedicationRequest', 'MedicationStatement', 'AllergyIntolerance', 'Procedure',
        'DiagnosticReport', 'Composition', 'Encounter', 'Immunization', 'CarePlan', 'DocumentReference', 'Consent']) {
        expect(isClinicalResourceType(t), t).to.equal(true);
      }
      for (const t of ['Patient', 'Organization', 'Practitioner', 'PractitionerRole', 'Location', 'Medication', 'AuditEvent', 'RelatedPerson', 'HealthcareService', 'Endpoint']) {
        expect(isClinicalResourceType(t), t).to.equal(false);
      }
    });

    const scope = 'user/*.cruds';
    const rows: { name: string; user?: Grant['user']; observation: boolean; patient: boolean }[] = [
      { name: 'no user (backend service)', user: undefined, observation: true, patient: true },
      { name: 'Clinical Practitioner R8000', user: { fhirUser: STAFF, roles: ['R8000'] }, observation: true, patient: true },
      { name: 'Nurse R8001', user: { fhirUser: STAFF, roles: ['R8001'] }, observation: true, patient: true },
      { name: 'GP R0260 as a CIS2 triple', user: { fhirUser: STAFF, roles: ['S0010:G0020:R0260'] }, observation: true, patient: true },
      { name: 'Pharmacist R1290', user: { fhirUser: STAFF, roles: ['R1290'] }, observation: true, patient: true },
      { name: 'Clerical R8010', user: { fhirUser: STAFF, roles: ['R8010'] }, observation: false, patient: true },
      { name: 'Healthcare Student R8004', user: { fhirUser: STAFF, roles: ['R8004'] }, observation: false, patient: true },
      { name: 'Privacy Officer R0001', user: { fhirUser: STAFF, roles: ['R0001'] }, observation: false, patient: true },
      { name: 'Systems Support as a CIS2 triple', user: { fhirUser: STAFF, roles: ['S8001:G8005:R8015'] }, observation: false, patient: true },
      { name: 'an unknown well-formed code R9999', user: { fhirUser: STAFF, roles: ['R9999'] }, observation: false, patient: true },
      { name: 'no roles', user: { fhirUser: STAFF, roles: [] }, observation: false, patient: true },
      { name: 'no fhirUser and no roles (staff by default)', user: { roles: [] }, observation: false, patient: true },
      { name: 'clerical plus clinical', user: { fhirUser: STAFF, roles: ['R8010', 'R8000'] }, observation: true, patient: true },
      { name: 'PractitionerRole fhirUser (absolute URL), clerical', user: { fhirUser: 'https://example.org/fhir/PractitionerRole/x1', roles: ['R8010'] }, observation: false, patient: true },
      { name: 'a patient user is not subject to RBAC', user: { fhirUser: 'Patient/9990001', roles: [] }, observation: true, patient: true },
      { name: 'a related person (absolute URL) is not subject to RBAC', user: { fhirUser: 'https://example.org/fhir/RelatedPerson/r1', roles: [] }, observation: true, patient: true },
    ];
    for (const row of rows) {
      it(`${row.name}: Observation ${row.observation ? 'allowed' : 'denied'}, Patient allowed, for every interaction`, () => {
        const g = grant(scope, { user: row.user });
        for (const v of VARIANTS) {
          const obs = decide({ ...v.request, resourceTypes: ['Observation'] }, g);
          expect(obs.allow, `${v.name} Observation`).to.equal(row.observation);
          if (!obs.allow) expect(denied(obs)).to.contain('RBAC').and.contain('clinical');
          expect(decide({ ...v.request, resourceTypes: ['Patient'] }, g).allow, `${v.name} Patient`).to.equal(row.patient);
          expect(decide({ ...v.request, resourceTypes: ['Organization'] }, g).allow, `${v.name} Organization`).to.equal(true);
        }
      });
    }

    it('a multi-type search with a clinical type is denied for a clerk, naming only the clinical types', () => {
      const reason = denied(decide({ interaction: 'search-system', resourceTypes: ['Patient', 'Observation', 'Condition'] }, grant(scope, { user: { fhirUser: STAFF, roles: ['R8010'] } })));
      expect(reason).to.contain('Observation').and.contain('Condition').and.not.contain('Patient');
    });

    it('scope denial is reported before RBAC', () => {
      const reason = denied(decide({ interaction: 'create', resourceTypes: ['Observation'] }, grant('user/*.rs', { user: { fhirUser: STAFF, roles: [] } })));
      expect(reason).not.to.contain('RBAC');
    });

    it('RBAC also applies to patient-context staff launches', () => {
      const g = grant('patient/*.rs', { patient: PATIENT, user: { fhirUser: STAFF, roles: ['R8010'] } });
      denied(decide({ interaction: 'search-type', resourceTypes: ['Observation'] }, g));
      expect(allow(decide({ interaction: 'read', resourceTypes: ['Patient'] }, g)).patientCompartment).to.equal(PATIENT);
    });

    it('fhirUserType reads relative and absolute references', () => {
      expect(fhirUserType('Practitioner/123')).to.equal('Practitioner');
      expect(fhirUserType('https://example.org/fhir/Patient/9990001')).to.equal('Patient');
      expect(fhirUserType('Patient')).to.equal(undefined);
      expect(fhirUserType('')).to.equal(undefined);
    });
  });

  it('no deny reason anywhere in these tables carries a patient id or user id', () => {
    const grants = [
      grant('patient/*.rs', { user: { fhirUser: STAFF, roles: [] } }),
      grant('patient/Observation.rs?category=x', { patient: PATIENT, user: { fhirUser: STAFF, roles: ['R8010'] } }),
      grant('user/Observation.r', { patient: PATIENT, user: { fhirUser: STAFF, roles: [] } }),
    ];
    for (const g of grants) {
      for (const v of VARIANTS) {
        for (const types of [['Observation'], ['Patient'], ['Observation', 'Condition']]) expectCleanReason(decide({ ...v.request, resourceTypes: types }, g));
      }
    }
  });
});
