import { expect } from 'chai';
import { chooseRole, identityFromClaims, jobRoleOf } from '../../auth/idp-identity.js';
import { loadConfig } from '../../server/config.js';

const GP = { person_roleid: '555254242105', role_code: 'S8000:G8000:R8000', org_code: 'A83008', role_name: '"Clinical":"Clinical Provision":"Clinical Practitioner Access Role"' };
const CLERK = { person_roleid: '555254242106', role_code: 'S8002:G8003:R8010', org_code: 'RR8' };

describe('unit: CIS2-shaped IdP identity and role selection', () => {
  it('takes the job role from the last part of role_code', () => {
    expect(jobRoleOf('S8000:G8000:R8000')).to.equal('R8000');
    expect(jobRoleOf('R8010')).to.equal('R8010');
    expect(jobRoleOf('S8000:G8000')).to.equal(undefined);
    expect(jobRoleOf('S8000:G8000:X1')).to.equal(undefined);
  });

  it('reads uid, name and role profiles from UserInfo, selected_roleid from the ID token', () => {
    const id = identityFromClaims({ sub: 'abc', selected_roleid: '555254242106' }, { uid: '555086689106', name: 'Dr Ada', nhsid_nrbac_roles: [GP, CLERK, { person_roleid: 'x', role_code: 'S1:G2' }, GP] });
    expect(id).to.deep.include({ subject: 'abc', sdsUserId: '555086689106', name: 'Dr Ada', selectedRoleId: '555254242106' });
    // The profile without a job role and the duplicate are dropped; quotes leave role_name.
    expect(id.roleProfiles.map((p) => p.jobRole)).to.deep.equal(['R8000', 'R8010']);
    expect(id.roleProfiles[0]).to.deep.equal({ personRoleId: GP.person_roleid, roleCode: GP.role_code, jobRole: 'R8000', orgCode: 'A83008', roleName: 'Clinical:Clinical Provision:Clinical Practitioner Access Role' });
  });

  it('refuses claims without sub', () => {
    expect(() => identityFromClaims({}, {})).to.throw(/sub/);
  });

  it('chooses as CIS2 does: selected_roleid, else the only profile, else a picker; none or an unknown selection refuses', () => {
    const base = { subject: 's', roleProfiles: identityFromClaims({ sub: 's' }, { nhsid_nrbac_roles: [GP, CLERK] }).roleProfiles };
    expect(chooseRole({ ...base, selectedRoleId: CLERK.person_roleid })).to.deep.include({ kind: 'chosen' });
    expect((chooseRole({ ...base, selectedRoleId: CLERK.person_roleid }) as { profile: { jobRole: string } }).profile.jobRole).to.equal('R8010');
    expect(chooseRole(base).kind).to.equal('pick');
    expect(chooseRole({ ...base, roleProfiles: base.roleProfiles.slice(0, 1) }).kind).to.equal('chosen');
    expect(chooseRole({ ...base, roleProfiles: [] }).kind).to.equal('refused');
    expect(chooseRole({ ...base, selectedRoleId: '1' }).kind).to.equal('refused');
  });
});

describe('unit: OIDC configuration', () => {
  const env = { OIDC_ISSUER: 'https://am.nhsint.auth-ptl.cis2.spineservices.nhs.uk/openam/oauth2/realms/root/realms/NHSIdentity/realms/Healthcare', OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 's' };

  it('defaults to CIS2 scopes, prompt=login, client_secret_basic, and switches password sign-in off', () => {
    const c = loadConfig(env);
    expect(c.oidc).to.deep.include({ scopes: 'openid profile nationalrbacaccess selectedrole', prompt: 'login', tokenAuthMethod: 'client_secret_basic', displayName: 'NHS CIS2' });
    expect(c.localLogin).to.equal(false);
    expect(loadConfig({ ...env, LOCAL_LOGIN: 'on' }).localLogin).to.equal(true);
    expect(loadConfig({}).localLogin).to.equal(true);
    expect(loadConfig({}).oidc).to.equal(undefined);
  });

  it('refuses incomplete or unsafe settings', () => {
    expect(() => loadConfig({ ...env, OIDC_ISSUER: 'http://idp.example' })).to.throw(/https/);
    expect(() => loadConfig({ ...env, OIDC_CLIENT_ID: '' })).to.throw(/OIDC_CLIENT_ID/);
    expect(() => loadConfig({ ...env, OIDC_CLIENT_SECRET: '' })).to.throw(/OIDC_CLIENT_SECRET/);
    expect(() => loadConfig({ ...env, OIDC_SCOPES: 'profile' })).to.throw(/openid/);
    expect(() => loadConfig({ OIDC_CLIENT_ID: 'c' })).to.throw(/OIDC_ISSUER/);
    expect(() => loadConfig({ LOCAL_LOGIN: 'off' })).to.throw(/LOCAL_LOGIN/);
    expect(() => loadConfig({ ...env, OIDC_CLIENT_SECRET: '', OIDC_TOKEN_AUTH_METHOD: 'private_key_jwt' })).to.throw(/OIDC_PRIVATE_KEY_FILE/);
    expect(loadConfig({ ...env, OIDC_ISSUER: 'http://127.0.0.1:8081' }).oidc?.issuer).to.equal('http://127.0.0.1:8081');
  });
});
