import { isResourceType } from '../fhir/definitions.js';

/**
 * SMART App Launch scope parsing (v1 and v2, hl7.org/fhir/smart-app-launch
 * scopes-and-launch-context). Pure: no tokens, no HTTP. The access decision (auth/access.ts)
 * works only on the ScopeSet this returns.
 *
 * Resource scopes:
 *   v1  `<patient|user|system>/<Type|*>.<read|write|*>`
 *   v2  `<patient|user|system>/<Type|*>.<c?r?u?d?s?>[?<search query>]`
 * v1 `read` = v2 `rs`, v1 `write` = v2 `cud`, v1 `*` = v2 `cruds`. A v2 permission string is a
 * non-empty subset of `cruds` in that order (`rs` is valid, `sr` and `rr` are not). A query is only
 * valid on a v2 scope.
 *
 * Fail closed: anything that starts like a resource scope (`patient/`, `user/`, `system/`) but is
 * not exactly one of the forms above lands in `invalid` and grants nothing; it is never repaired
 * or widened. Scopes are case-sensitive (OAuth 2.0 §3.3), so `Patient/Observation.read` is not a
 * SMART scope at all and goes to `other` with the NHS `urn:nhsd:...` scopes and anything unknown.
 */

export type ScopeContext = 'patient' | 'user' | 'system';
export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

/** The permission letters in their canonical (and only valid) order. */
export const PERMISSION_ORDER: readonly Permission[] = ['c', 'r', 'u', 'd', 's'];

export interface ResourceScope {
  context: ScopeContext;
  /** An R4 resource type, or `*` for every type. */
  resourceType: string | '*';
  permissions: Set<Permission>;
  /**
   * v2 only: the scope's search query as ordered [name, value] pairs (URLSearchParams decoding).
   * A resource is covered only when it matches every pair (repeated names AND, as in FHIR search).
   * Absent = unconstrained.
   */
  query?: [string, string][];
  /** 1 for `.read`/`.write`/`.*`, 2 for a `cruds` letter string. */
  version: 1 | 2;
  /** The scope exactly as it appeared in the scope string. */
  source: string;
}

export interface InvalidScope {
  scope: string;
  /** Why it was rejected; names only the scope's own text, never request data. */
  reason: string;
}

export interface ScopeSet {
  resources: ResourceScope[];
  launch: {
    /** `launch`: EHR launch, context comes from the launch parameter. */
    ehr: boolean;
    /** `launch/patient`: standalone launch asks for a patient. */
    patient: boolean;
    /** `launch/encounter`: standalone launch asks for an encounter. */
    encounter: boolean;
  };
  openid: boolean;
  fhirUser: boolean;
  profile: boolean;
  offlineAccess: boolean;
  onlineAccess: boolean;
  /** Well-formed scopes this module does not interpret (e.g. `urn:nhsd:apim:...`); they grant no FHIR access. */
  other: string[];
  /** Scopes that look like SMART resource scopes but are malformed; they grant nothing. */
  invalid: InvalidScope[];
}

const CONTEXT_PREFIX = /^(patient|user|system)\//;
/** context / type . permissions [? query]; the type and the permissions contain no `.`, `/` or `?`. */
const RESOURCE_SCOPE = /^(patient|user|system)\/([^./?]+)\.([^./?]+)(?:\?(.*))?$/s;
const V2_PERMISSIONS = /^c?r?u?d?s?$/;

const V1_PERMISSIONS: Record<string, readonly Permission[]> = {
  read: ['r', 's'],
  write: ['c', 'u', 'd'],
  '*': ['c', 'r', 'u', 'd', 's'],
};

export function emptyScopeSet(): ScopeSet {
  return {
    resources: [],
    launch: { ehr: false, patient: false, encounter: false },
    openid: false,
    fhirUser: false,
    profile: false,
    offlineAccess: false,
    onlineAccess: false,
    other: [],
    invalid: [],
  };
}

/** The result of parsing one scope token that starts with a context prefix. */
export type ResourceScopeResult = { ok: true; scope: ResourceScope } | { ok: false; reason: string };

/** Parses one `patient|user|system/...` token (exported for tests and the client-registration check). */
export function parseResourceScope(token: string): ResourceScopeResult {
  const m = RESOURCE_SCOPE.exec(token);
  if (!m) return { ok: false, reason: 'not of the form <patient|user|system>/<Type|*>.<permissions>[?query]' };
  const [, context, resourceType, perm, rawQuery] = m;
  if (resourceType !== '*' && !isResourceType(resourceType)) {
    return { ok: false, reason: `'${resourceType}' is not an R4 resource type` };
  }
  let permissions: Permission[];
  let version: 1 | 2;
  if (Object.hasOwn(V1_PERMISSIONS, perm)) {
    permissions = [...V1_PERMISSIONS[perm]];
    version = 1;
  } else if (V2_PERMISSIONS.test(perm)) {
    // The regex admits only c, r, u, d, s, each at most once, in order; `perm` is non-empty.
    permissions = perm.split('') as Permission[];
    version = 2;
  } else {
    return { ok: false, reason: `'${perm}' is neither read, write, * nor a subset of cruds in that order` };
  }
  const scope: ResourceScope = { context: context as ScopeContext, resourceType, permissions: new Set(permissions), version, source: token };
  if (rawQuery !== undefined) {
    if (version === 1) return { ok: false, reason: 'a query is only allowed on a SMART v2 (cruds) scope' };
    if (rawQuery === '') return { ok: false, reason: 'empty query after ?' };
    const pairs = [...new URLSearchParams(rawQuery)] as [string, string][];
    // An empty name or value would be ignored by FHIR search, silently widening the scope.
    if (pairs.length === 0 || pairs.some(([name, value]) => name === '' || value === '')) {
      return { ok: false, reason: 'every query parameter needs a name and a non-empty value' };
    }
    scope.query = pairs;
  }
  return { ok: true, scope };
}

/** Splits a space-delimited scope string (any whitespace) and classifies every scope in it. */
export function parseScopes(scope: string): ScopeSet {
  const set = emptyScopeSet();
  const seen = new Set<string>();
  for (const token of scope.split(/\s+/)) {
    if (token === '' || seen.has(token)) continue;
    seen.add(token);
    switch (token) {
      case 'launch': set.launch.ehr = true; continue;
      case 'launch/patient': set.launch.patient = true; continue;
      case 'launch/encounter': set.launch.encounter = true; continue;
      case 'openid': set.openid = true; continue;
      case 'fhirUser': set.fhirUser = true; continue;
      case 'profile': set.profile = true; continue;
      case 'offline_access': set.offlineAccess = true; continue;
      case 'online_access': set.onlineAccess = true; continue;
    }
    if (CONTEXT_PREFIX.test(token)) {
      const result = parseResourceScope(token);
      if (result.ok) set.resources.push(result.scope);
      else set.invalid.push({ scope: token, reason: result.reason });
      continue;
    }
    set.other.push(token);
  }
  return set;
}

/** The v2 letter string of a permission set, in canonical order (e.g. `rs`). */
export function permissionString(permissions: Iterable<Permission>): string {
  const have = new Set(permissions);
  return PERMISSION_ORDER.filter((p) => have.has(p)).join('');
}
