import { parseScopes, permissionString, type Permission, type ResourceScope, type ScopeContext } from './scopes.js';

/**
 * The scopes a token request is granted: the requested scopes intersected with the client's
 * registered scopes, both parsed by auth/scopes.ts, keeping only the contexts the grant type
 * allows (`system/` for client_credentials).
 *
 * The intersection is semantic, per pair of (requested, registered) resource scopes of one
 * context: the type is the narrower of the two (`*` yields to a named type; two different named
 * types do not meet), the permissions are the letters both hold, and the v2 queries of both apply
 * (their pairs are ANDed). When the result is exactly the requested scope (or the registered one)
 * its original text is kept, so a v1 request stays v1; otherwise it is written as a v2 scope.
 * Examples, registered `system/Patient.read system/Observation.rs`:
 *   `system/*.read`     → `system/Patient.read system/Observation.rs`
 *   `system/Patient.rs` → `system/Patient.rs`
 *   `system/Patient.cruds` → `system/Patient.read`
 * Malformed requested scopes, and anything that is not a resource scope, are not granted.
 */
export function grantScopes(requested: string, registered: string, contexts: readonly ScopeContext[] = ['system']): string[] {
  const want = parseScopes(requested).resources.filter((s) => contexts.includes(s.context));
  const have = parseScopes(registered).resources.filter((s) => contexts.includes(s.context));
  const granted: string[] = [];
  const add = (s: string) => { if (!granted.includes(s)) granted.push(s); };
  for (const r of want) {
    for (const g of have) {
      const meet = intersect(r, g);
      if (meet) add(meet);
    }
  }
  return granted;
}

function sameQuery(a: [string, string][] | undefined, b: [string, string][] | undefined): boolean {
  return JSON.stringify(a ?? []) === JSON.stringify(b ?? []);
}

function intersect(r: ResourceScope, g: ResourceScope): string | undefined {
  if (r.context !== g.context) return undefined;
  let type: string;
  if (r.resourceType === g.resourceType || g.resourceType === '*') type = r.resourceType;
  else if (r.resourceType === '*') type = g.resourceType;
  else return undefined;
  const perms: Permission[] = [...r.permissions].filter((p) => g.permissions.has(p));
  if (perms.length === 0) return undefined;
  const query: [string, string][] = [...(r.query ?? [])];
  for (const pair of g.query ?? []) if (!query.some(([n, v]) => n === pair[0] && v === pair[1])) query.push(pair);
  const same = (s: ResourceScope) => s.resourceType === type && s.permissions.size === perms.length && sameQuery(s.query, query.length ? query : undefined);
  if (same(r)) return r.source;
  if (same(g)) return g.source;
  const q = query.length ? `?${new URLSearchParams(query).toString()}` : '';
  return `${r.context}/${type}.${permissionString(perms)}${q}`;
}

/** The non-resource scopes of the authorization code grant (identity, launch context, refresh). */
export const LAUNCH_SCOPES = ['openid', 'fhirUser', 'profile', 'launch', 'launch/patient', 'launch/encounter', 'offline_access', 'online_access'] as const;

/**
 * The scopes an authorization code request is granted: `patient/` and `user/` resource scopes as
 * grantScopes intersects them, plus each identity/launch/refresh scope that is both requested and
 * registered. `launch` is kept only with an EHR launch context (`ehrLaunch`); `system/` scopes
 * never come from a user's authorization.
 */
export function grantUserScopes(requested: string, registered: string, ehrLaunch: boolean): string[] {
  const want = new Set(requested.split(/\s+/).filter(Boolean));
  const have = new Set(registered.split(/\s+/).filter(Boolean));
  const granted = grantScopes(requested, registered, ['patient', 'user']);
  for (const s of LAUNCH_SCOPES) {
    if (!want.has(s) || !have.has(s)) continue;
    if (s === 'launch' && !ehrLaunch) continue;
    granted.push(s);
  }
  return granted;
}
