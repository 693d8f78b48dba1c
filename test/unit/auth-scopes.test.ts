import { expect } from 'chai';
import { parseResourceScope, parseScopes, permissionString, type Permission } from '../../auth/scopes.js';

const CONTEXTS = ['patient', 'user', 'system'] as const;
const LETTERS: Permission[] = ['c', 'r', 'u', 'd', 's'];

/** Every non-empty subset of cruds, in canonical order (31 strings). */
function orderedSubsets(): string[] {
  const out: string[] = [];
  for (let mask = 1; mask < 32; mask++) out.push(LETTERS.filter((_, i) => mask & (1 << i)).join(''));
  return out;
}

function sorted(set: Set<Permission>): string {
  return permissionString(set);
}

describe('auth/scopes: SMART scope parsing', () => {
  describe('SMART v1 resource scopes', () => {
    const v1: [string, string][] = [['read', 'rs'], ['write', 'cud'], ['*', 'cruds']];
    for (const context of CONTEXTS) {
      for (const type of ['Observation', 'Patient', '*']) {
        for (const [perm, letters] of v1) {
          const scope = `${context}/${type}.${perm}`;
          it(`${scope} → ${context}, ${type}, ${letters}`, () => {
            const set = parseScopes(scope);
            expect(set.invalid).to.deep.equal([]);
            expect(set.other).to.deep.equal([]);
            expect(set.resources).to.have.length(1);
            const [r] = set.resources;
            expect(r.context).to.equal(context);
            expect(r.resourceType).to.equal(type);
            expect(sorted(r.permissions)).to.equal(letters);
            expect(r.query).to.equal(undefined);
            expect(r.version).to.equal(1);
            expect(r.source).to.equal(scope);
          });
        }
      }
    }
  });

  describe('SMART v2 permission strings', () => {
    const valid = orderedSubsets();
    it('there are 31 valid permission strings', () => expect(new Set(valid).size).to.equal(31));

    for (const context of CONTEXTS) {
      it(`${context}/Observation.<every ordered subset of cruds> parses to exactly those letters`, () => {
        for (const perm of valid) {
          const scope = `${context}/Observation.${perm}`;
          const set = parseScopes(scope);
          expect(set.invalid, scope).to.deep.equal([]);
          expect(set.resources, scope).to.have.length(1);
          const [r] = set.resources;
          expect(r.context, scope).to.equal(context);
          expect(r.resourceType, scope).to.equal('Observation');
          expect(sorted(r.permissions), scope).to.equal(perm);
          expect(r.permissions.size, scope).to.equal(perm.length);
          expect(r.version, scope).to.equal(2);
        }
      });
    }

    it('every other string of 1 to 5 letters over c, r, u, d, s is invalid (exhaustive, 3874 strings)', () => {
      const validSet = new Set(valid);
      let invalid = 0;
      const walk = (prefix: string): void => {
        if (prefix.length > 0 && !validSet.has(prefix)) {
          const result = parseResourceScope(`patient/Observation.${prefix}`);
          expect(result.ok, prefix).to.equal(false);
          invalid++;
        }
        if (prefix.length < 5) for (const l of LETTERS) walk(prefix + l);
      };
      walk('');
      expect(invalid).to.equal(5 + 25 + 125 + 625 + 3125 - 31);
    });

    const invalidPerms = [
      'rc', 'sr', 'rr', 'cc', 'srudc', 'crudss', 'dc', 'x', 'R', 'RS', 'Read', 'READ', 'readwrite', 'read,write',
      'cruds*', '**', 'r*', 'rsx', 'search', 'create', 'all',
    ];
    for (const perm of invalidPerms) {
      it(`patient/Observation.${perm} is reported invalid, never widened`, () => {
        const set = parseScopes(`patient/Observation.${perm} openid`);
        expect(set.resources).to.deep.equal([]);
        expect(set.invalid.map((i) => i.scope)).to.deep.equal([`patient/Observation.${perm}`]);
        expect(set.invalid[0].reason).to.be.a('string').and.not.equal('');
        expect(set.openid).to.equal(true);
      });
    }
  });

  describe('v2 queries', () => {
    const LAB = 'http://terminology.hl7.org/CodeSystem/observation-category|laboratory';
    const cases: [string, [string, string][]][] = [
      [`patient/Observation.rs?category=${LAB}`, [['category', LAB]]],
      ['patient/Observation.rs?category=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2Fobservation-category%7Cvital-signs',
        [['category', 'http://terminology.hl7.org/CodeSystem/observation-category|vital-signs']]],
      ['user/Observation.rs?category=laboratory&status=final', [['category', 'laboratory'], ['status', 'final']]],
      ['user/Observation.rs?status=final&category=laboratory', [['status', 'final'], ['category', 'laboratory']]],
      ['user/Observation.rs?code=a&code=b', [['code', 'a'], ['code', 'b']]],
      ['user/Observation.rs?code=a,b', [['code', 'a,b']]],
      ['system/*.rs?_security=http://terminology.hl7.org/CodeSystem/v3-Confidentiality|N', [['_security', 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality|N']]],
      ['user/Condition.cruds?category=problem-list-item', [['category', 'problem-list-item']]],
      ['user/Observation.c?code:in=http://example.org/ValueSet/x', [['code:in', 'http://example.org/ValueSet/x']]],
      ['patient/Observation.s?date=ge2020-01-01', [['date', 'ge2020-01-01']]],
    ];
    for (const [scope, query] of cases) {
      it(`${scope} → ${JSON.stringify(query)}`, () => {
        const set = parseScopes(scope);
        expect(set.invalid).to.deep.equal([]);
        expect(set.resources).to.have.length(1);
        expect(set.resources[0].query).to.deep.equal(query);
        expect(set.resources[0].version).to.equal(2);
        expect(set.resources[0].source).to.equal(scope);
      });
    }

    const invalid = [
      'patient/Observation.read?x=1', 'user/Observation.write?category=laboratory', 'system/*.*?x=1',
      'patient/Observation.rs?', 'patient/Observation.rs?=x', 'patient/Observation.rs?x=',
      'patient/Observation.rs?x', 'patient/Observation.rs?&', 'patient/Observation.rs?category=a&status=',
      'patient/Observation.rc?category=a', 'patient/Observation?category=a', 'patient/Observation.?x=1',
    ];
    for (const scope of invalid) {
      it(`${scope} is invalid`, () => {
        const set = parseScopes(scope);
        expect(set.resources).to.deep.equal([]);
        expect(set.invalid.map((i) => i.scope)).to.deep.equal([scope]);
      });
    }
  });

  describe('malformed resource scopes and types', () => {
    const invalid = [
      'patient/Foo.read', 'patient/observation.read', 'user/OBSERVATION.rs', 'patient/SubscriptionStatus.rs',
      'patient/Observation', 'patient/.read', 'patient/Observation.', 'patient/*', 'patient/', 'user/*.',
      'patient/Observation.read.s', 'patient/Observation/x.read', 'system/Patient/123.read', 'user//Observation.read',
      'patient/Observation.rs.rs', 'user/**.read', 'system/Observation,Condition.rs', 'patient/Resource.rs',
      'patient/DomainResource.read',
    ];
    for (const scope of invalid) {
      it(`${scope} is invalid`, () => {
        const set = parseScopes(scope);
        expect(set.resources).to.deep.equal([]);
        expect(set.other).to.deep.equal([]);
        expect(set.invalid).to.have.length(1);
        expect(set.invalid[0].scope).to.equal(scope);
      });
    }
  });

  describe('launch, identity and refresh scopes', () => {
    it('recognises launch, launch/patient, launch/encounter', () => {
      expect(parseScopes('launch').launch).to.deep.equal({ ehr: true, patient: false, encounter: false });
      expect(parseScopes('launch/patient').launch).to.deep.equal({ ehr: false, patient: true, encounter: false });
      expect(parseScopes('launch/encounter').launch).to.deep.equal({ ehr: false, patient: false, encounter: true });
      expect(parseScopes('launch launch/patient launch/encounter').launch).to.deep.equal({ ehr: true, patient: true, encounter: true });
    });

    const flags: [string, 'openid' | 'fhirUser' | 'profile' | 'offlineAccess' | 'onlineAccess'][] = [
      ['openid', 'openid'], ['fhirUser', 'fhirUser'], ['profile', 'profile'],
      ['offline_access', 'offlineAccess'], ['online_access', 'onlineAccess'],
    ];
    for (const [scope, flag] of flags) {
      it(`${scope} sets ${flag} and nothing else`, () => {
        const set = parseScopes(scope);
        expect(set[flag]).to.equal(true);
        for (const [, other] of flags) if (other !== flag) expect(set[other], other).to.equal(false);
        expect(set.resources).to.deep.equal([]);
        expect(set.other).to.deep.equal([]);
        expect(set.invalid).to.deep.equal([]);
      });
    }

    it('a typical EHR launch scope string', () => {
      const set = parseScopes('launch openid fhirUser offline_access patient/Observation.rs?category=laboratory user/Patient.read');
      expect(set.launch.ehr).to.equal(true);
      expect(set.openid && set.fhirUser && set.offlineAccess).to.equal(true);
      expect(set.profile || set.onlineAccess).to.equal(false);
      expect(set.resources.map((r) => r.source)).to.deep.equal(['patient/Observation.rs?category=laboratory', 'user/Patient.read']);
    });
  });

  describe('other scopes and splitting', () => {
    const others = [
      'urn:nhsd:apim:user-nhs-cis2:aal3:personal-demographics-service', 'urn:nhsd:apim:app:level3:summary-care-record',
      'nationalrbacaccess', 'selectedrole', 'email', 'Patient/Observation.read', 'USER/Observation.read',
      'launch/other', 'launch/patient?role=x', 'LAUNCH', 'OpenID', 'fhiruser', 'offline-access', 'smart/orchestrate_launch',
    ];
    for (const scope of others) {
      it(`${scope} goes to other and grants nothing`, () => {
        const set = parseScopes(scope);
        expect(set.other).to.deep.equal([scope]);
        expect(set.resources).to.deep.equal([]);
        expect(set.invalid).to.deep.equal([]);
        expect(set.launch).to.deep.equal({ ehr: false, patient: false, encounter: false });
        expect(set.openid || set.fhirUser || set.profile || set.offlineAccess || set.onlineAccess).to.equal(false);
      });
    }

    it('splits on any whitespace, ignores empty tokens and keeps order', () => {
      const set = parseScopes('  openid\tpatient/Observation.rs\n\nuser/Patient.read  urn:x \r\n');
      expect(set.openid).to.equal(true);
      expect(set.resources.map((r) => r.source)).to.deep.equal(['patient/Observation.rs', 'user/Patient.read']);
      expect(set.other).to.deep.equal(['urn:x']);
    });

    it('the empty string and blank strings give an empty set', () => {
      for (const s of ['', ' ', '\t\n']) {
        const set = parseScopes(s);
        expect(set.resources).to.deep.equal([]);
        expect(set.other).to.deep.equal([]);
        expect(set.invalid).to.deep.equal([]);
        expect(set.openid).to.equal(false);
      }
    });

    it('a repeated scope is kept once', () => {
      const set = parseScopes('user/Patient.read user/Patient.read urn:x urn:x patient/X.rs patient/X.rs');
      expect(set.resources).to.have.length(1);
      expect(set.other).to.deep.equal(['urn:x']);
      expect(set.invalid).to.have.length(1);
    });

    it('invalid scopes do not affect the valid ones next to them', () => {
      const set = parseScopes('patient/Observation.rc patient/Observation.rs patient/Observation.sr');
      expect(set.resources.map((r) => r.source)).to.deep.equal(['patient/Observation.rs']);
      expect(set.invalid.map((i) => i.scope)).to.deep.equal(['patient/Observation.rc', 'patient/Observation.sr']);
    });

    it('invalid reasons quote only the scope text', () => {
      const r = parseResourceScope('patient/Foo.read');
      expect(r.ok).to.equal(false);
      if (!r.ok) expect(r.reason).to.contain('Foo');
    });
  });
});
