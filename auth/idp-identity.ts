/**
 * The staff identity an OpenID Connect IdP asserts, read the way NHS CIS2 Authentication shapes
 * it (nhs-spine.md §4): the ID token carries `sub` and, with the `selectedrole` scope,
 * `selected_roleid` (the role profile the user chose at sign-in); UserInfo carries `uid` (the SDS
 * user id, `profile` scope), `name`, and `nhsid_nrbac_roles[]` (`nationalrbacaccess` scope), each
 * role profile with `person_roleid`, `role_code` (`S8000:G8000:R8000`: staff group, sub-group,
 * job role), `org_code` (ODS) and `role_name`.
 *
 * Pure: no HTTP, no library types. auth/oidc.ts feeds it the validated claims.
 */

export interface RoleProfile {
  /** CIS2 `person_roleid`: the role profile id (SDS URPID). */
  personRoleId: string;
  /** CIS2 `role_code` as given, e.g. `S8000:G8000:R8000`. */
  roleCode: string;
  /** The national RBAC job role: the `R` code, the last part of `role_code`. */
  jobRole: string;
  orgCode?: string;
  roleName?: string;
}

export interface IdpIdentity {
  /** The ID token `sub`. */
  subject: string;
  /** The SDS user id (`uid`, else `nhsid_useruid`), when the IdP gives one. */
  sdsUserId?: string;
  name?: string;
  /** The role profiles that carry a usable job role code. */
  roleProfiles: RoleProfile[];
  /** The ID token's `selected_roleid`, when the IdP made the user choose. */
  selectedRoleId?: string;
}

const JOB_ROLE = /^R\d{4}$/;
const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/** The job role (`R8000`) of a CIS2 role code (`S8000:G8000:R8000`, or a bare `R8000`); undefined when it has none. */
export function jobRoleOf(roleCode: string): string | undefined {
  const last = roleCode.split(':').pop()!.trim();
  return JOB_ROLE.test(last) ? last : undefined;
}

/**
 * The identity from the ID token claims and (optionally) the UserInfo response. The selected role
 * is taken from the ID token only (CIS2 puts it there; a UserInfo copy is accepted as a fallback);
 * everything else from UserInfo first, then the ID token.
 */
export function identityFromClaims(idToken: Record<string, unknown>, userinfo: Record<string, unknown> = {}): IdpIdentity {
  const pick = (name: string): unknown => userinfo[name] ?? idToken[name];
  const subject = text(idToken.sub);
  if (!subject) throw new Error('the ID token has no sub');
  const identity: IdpIdentity = { subject, roleProfiles: [] };
  const sds = text(pick('uid')) ?? text(pick('nhsid_useruid'));
  if (sds) identity.sdsUserId = sds;
  const name = text(pick('name')) ?? text(pick('display_name'));
  if (name) identity.name = name;
  const selected = idToken.selected_roleid ?? userinfo.selected_roleid;
  if (typeof selected === 'string' || typeof selected === 'number') identity.selectedRoleId = String(selected);
  const roles = pick('nhsid_nrbac_roles');
  if (Array.isArray(roles)) {
    const seen = new Set<string>();
    for (const r of roles as Record<string, unknown>[]) {
      const personRoleId = r && (typeof r.person_roleid === 'string' || typeof r.person_roleid === 'number') ? String(r.person_roleid) : undefined;
      const roleCode = text(r?.role_code);
      const jobRole = roleCode && jobRoleOf(roleCode);
      if (!personRoleId || !roleCode || !jobRole || seen.has(personRoleId)) continue;
      seen.add(personRoleId);
      const profile: RoleProfile = { personRoleId, roleCode, jobRole };
      const org = text(r.org_code);
      if (org) profile.orgCode = org;
      const roleName = text(r.role_name);
      if (roleName) profile.roleName = roleName.replace(/"/g, '');
      identity.roleProfiles.push(profile);
    }
  }
  return identity;
}

export type RoleChoice =
  | { kind: 'chosen'; profile: RoleProfile }
  | { kind: 'pick'; profiles: RoleProfile[] }
  | { kind: 'refused'; reason: string };

/**
 * Which role profile the session takes, as CIS2's role selection does: the IdP's
 * `selected_roleid` when given (it must name one of the user's profiles); otherwise exactly one
 * profile is taken as is, several make the user pick, none refuses the sign-in.
 */
export function chooseRole(identity: IdpIdentity): RoleChoice {
  const { roleProfiles, selectedRoleId } = identity;
  if (selectedRoleId !== undefined) {
    const profile = roleProfiles.find((p) => p.personRoleId === selectedRoleId);
    return profile ? { kind: 'chosen', profile } : { kind: 'refused', reason: 'the selected role profile is not one of the user\'s national RBAC roles' };
  }
  if (roleProfiles.length === 0) return { kind: 'refused', reason: 'the user has no national RBAC role profile' };
  if (roleProfiles.length === 1) return { kind: 'chosen', profile: roleProfiles[0] };
  return { kind: 'pick', profiles: roleProfiles };
}
