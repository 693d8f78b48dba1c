import { expect } from 'chai';
import {
  GMC_SYSTEM, GPHC_SYSTEM, HCPC_SYSTEM, identifierProblem, isGmcNumber, isGmpNumber, isGphcNumber, isHcpcNumber, isNmcPin,
  isSdsRoleProfileId, isSdsUserId, SDS_USER_ID_SYSTEM,
} from '../../resources/practitioner/identifiers.js';
import { isClinicalRole, isWellFormedJobRoleCode, jobRoleOf, NATIONAL_RBAC_ROLES, rbacRole } from '../../resources/practitioner/rbac.js';

describe('SDS identifier formats', () => {
  it('SDS user and role profile ids are 12 digits', () => {
    for (const ok of ['555086689106', '100334993514', '555086415105']) {
      expect(isSdsUserId(ok), ok).to.equal(true);
      expect(isSdsRoleProfileId(ok), ok).to.equal(true);
    }
    for (const bad of ['P12345678', '55508668910', '5550866891066', '55508668910a', '']) expect(isSdsUserId(bad), bad).to.equal(false);
  });

  it('GMC: 7 digits (optionally C-prefixed, as EPS sends it) or L + 6 digits', () => {
    for (const ok of ['6095103', 'C6095103', 'L123456']) expect(isGmcNumber(ok), ok).to.equal(true);
    for (const bad of ['C12345678', '609510', '60951034', 'L1234567', 'X6095103', 'c6095103']) expect(isGmcNumber(bad), bad).to.equal(false);
  });

  it('GMP: G + 7 digits', () => {
    expect(isGmpNumber('G1234567')).to.equal(true);
    for (const bad of ['G12345678', '1234567', 'G123456', 'H1234567']) expect(isGmpNumber(bad), bad).to.equal(false);
  });

  it('NMC: 8 letters or digits', () => {
    for (const ok of ['12A3456B', '71A2998E', '99X1234Z']) expect(isNmcPin(ok), ok).to.equal(true);
    for (const bad of ['12A3456', '12A3456BC', '12A-456B', '12a3456b']) expect(isNmcPin(bad), bad).to.equal(false);
  });

  it('GPhC: 7 digits starting with 2', () => {
    for (const ok of ['2095103', '2298676']) expect(isGphcNumber(ok), ok).to.equal(true);
    for (const bad of ['1095103', '209510', '20951034', '2O95103']) expect(isGphcNumber(bad), bad).to.equal(false);
  });

  it('HCPC: 2 letters + up to 6 digits', () => {
    for (const ok of ['CH001234', 'PA1', 'SL123456']) expect(isHcpcNumber(ok), ok).to.equal(true);
    for (const bad of ['C001234', 'CH1234567', 'CH', '12001234', 'ch001234']) expect(isHcpcNumber(bad), bad).to.equal(false);
  });

  it('identifierProblem explains the rule and ignores systems without one', () => {
    expect(identifierProblem(GMC_SYSTEM, '6095103')).to.equal(undefined);
    expect(identifierProblem(GMC_SYSTEM, 'nope')).to.contain('GMC number').and.contain('7 digits');
    expect(identifierProblem(GPHC_SYSTEM, '1234567')).to.contain('starting with 2');
    expect(identifierProblem(HCPC_SYSTEM, 'X')).to.contain('HCPC');
    expect(identifierProblem(SDS_USER_ID_SYSTEM, 'P12345678')).to.contain('12 digits');
    expect(identifierProblem('https://example.org/local', 'anything')).to.equal(undefined);
    expect(identifierProblem('toString', 'x')).to.equal(undefined);
  });
});

describe('national RBAC roles', () => {
  it('job role codes are R + 4 digits, alone or as the CIS2 S:G:R triple', () => {
    expect(jobRoleOf('R8000')).to.equal('R8000');
    expect(jobRoleOf('S8001:G8005:R8015')).to.equal('R8015');
    for (const bad of ['R800', 'R80000', 'r8000', 'S8001:G8005', 'S801:G8005:R8015', 'B0825', ' R8000']) {
      expect(isWellFormedJobRoleCode(bad), bad).to.equal(false);
    }
  });

  it('isClinicalRole: clinicians yes; admin, clerical, privacy officer, unknown codes no', () => {
    for (const c of ['R8000', 'R8001', 'R8003', 'R0260', 'R0270', 'R1290', 'S8000:G8000:R8000']) expect(isClinicalRole(c), c).to.equal(true);
    for (const c of ['R8008', 'R8010', 'R0001', 'R8015', 'R9999', 'nonsense', 'S8001:G8005:R8015']) expect(isClinicalRole(c), c).to.equal(false);
  });

  it('knows the roles of the reference with their UK Core displays', () => {
    expect(rbacRole('R8000')?.display).to.equal('Clinical Practitioner Access Role');
    expect(rbacRole('R0001')?.display).to.equal('Privacy Officer');
    expect(rbacRole('R1290')?.display).to.equal('Pharmacist');
    expect(new Set(NATIONAL_RBAC_ROLES.map((r) => r.code)).size).to.equal(NATIONAL_RBAC_ROLES.length);
    for (const r of NATIONAL_RBAC_ROLES) expect(r.code).to.match(/^R\d{4}$/);
  });
});
