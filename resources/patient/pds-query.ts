import { spineError } from '../../fhir/spine-errors.js';

/**
 * The PDS demographic search query (nhs-spine.md §1.3): which requests it covers, and their
 * validation into a typed query. Matching and scoring are in pds-match.ts.
 */

/** Search parameters of the PDS API; a Patient search using only these is a PDS search. */
const PDS_CRITERIA = ['family', 'given', 'gender', 'birthdate', 'death-date', 'address-postalcode', 'address-postcode', 'general-practitioner', 'email', 'phone'] as const;
const PDS_CONTROLS = ['_fuzzy-match', '_exact-match', '_history', '_max-results'] as const;
/** Parameters that shape any response and do not make a query generic. */
const NEUTRAL = new Set(['_format', '_pretty']);
const PDS_PARAMETERS = new Set<string>([...PDS_CRITERIA, ...PDS_CONTROLS]);

export const DEFAULT_MAX_RESULTS = 50;

export interface PdsQuery {
  family?: string;
  /** Given names in order; the first may be compound ("John Paul"). */
  given: string[];
  gender?: string;
  /** Birth date constraints as `eq|ge|le` + yyyy-mm-dd; two make a range. */
  birthdate: DateCriterion[];
  deathDate: DateCriterion[];
  postcode?: string;
  /** ODS code of the registered GP practice. */
  generalPractitioner?: string;
  email?: string;
  phone?: string;
  fuzzy: boolean;
  exactOnly: boolean;
  history: boolean;
  maxResults: number;
}

export interface DateCriterion {
  prefix: 'eq' | 'ge' | 'le';
  date: string;
}

/**
 * A Patient search is a PDS search when it has at least one PDS parameter and nothing else (no
 * modifiers, no generic parameters such as `_count` or `identifier`): PDS clients then get PDS
 * semantics and errors, while any other FHIR client keeps the generic search.
 */
export function isPdsSearch(params: [string, string][]): boolean {
  let pds = false;
  for (const [name] of params) {
    if (PDS_PARAMETERS.has(name)) pds = true;
    else if (!NEUTRAL.has(name)) return false;
  }
  return pds;
}

const invalidValue = (field: string, value: string) => spineError(400, 'INVALID_VALUE', `Invalid value - '${value}' in field '${field}'`);
const invalidSearch = (why: string) => spineError(400, 'INVALID_SEARCH_DATA', `Invalid search data provided - '${why}'`);

function single(params: [string, string][], name: string): string | undefined {
  const values = params.filter(([n]) => n === name).map(([, v]) => v);
  if (values.length > 1) throw invalidSearch(`${name} may be given only once`);
  return values[0];
}

function bool(params: [string, string][], name: string): boolean {
  const value = single(params, name);
  if (value === undefined) return false;
  if (value !== 'true' && value !== 'false') throw invalidValue(name, value);
  return value === 'true';
}

function dates(params: [string, string][], name: string): DateCriterion[] {
  const values = params.filter(([n]) => n === name).map(([, v]) => v);
  if (values.length > 2) throw invalidSearch(`${name} may be given at most twice (a range)`);
  return values.map((value) => {
    const m = /^(eq|ge|le)?(\d{4}-\d{2}-\d{2})$/.exec(value);
    if (!m || Number.isNaN(Date.parse(`${m[2]}T00:00:00Z`)) || new Date(`${m[2]}T00:00:00Z`).toISOString().slice(0, 10) !== m[2]) {
      throw invalidValue(name, value);
    }
    return { prefix: (m[1] ?? 'eq') as DateCriterion['prefix'], date: m[2] };
  });
}

/** A `*` wildcard is allowed (outside fuzzy search) but not in the first two characters. */
function checkWildcard(field: string, value: string, fuzzy: boolean, allowed: boolean): void {
  if (!value.includes('*')) return;
  if (!allowed) throw invalidSearch(`wildcards are not allowed in ${field}`);
  if (fuzzy) throw invalidSearch('wildcards are not allowed in a fuzzy search');
  if (value.indexOf('*') < 2) throw invalidSearch(`a wildcard in ${field} must follow at least two characters`);
}

/** Validates a PDS search (isPdsSearch true) into a query; throws the Spine errors PDS sends. */
export function parsePdsQuery(params: [string, string][]): PdsQuery {
  const fuzzy = bool(params, '_fuzzy-match');
  const query: PdsQuery = {
    given: params.filter(([n]) => n === 'given').map(([, v]) => v.trim()),
    birthdate: dates(params, 'birthdate'),
    deathDate: dates(params, 'death-date'),
    fuzzy,
    exactOnly: bool(params, '_exact-match'),
    history: bool(params, '_history') || fuzzy, // a fuzzy search always includes history
    maxResults: DEFAULT_MAX_RESULTS,
  };
  const maxResults = single(params, '_max-results');
  if (maxResults !== undefined) {
    if (!/^\d{1,2}$/.test(maxResults) || Number(maxResults) < 1 || Number(maxResults) > DEFAULT_MAX_RESULTS) throw invalidValue('_max-results', maxResults);
    query.maxResults = Number(maxResults);
  }
  const family = single(params, 'family')?.trim();
  if (family !== undefined) {
    if (family === '' || family.length > 35) throw invalidValue('family', family);
    checkWildcard('family', family, fuzzy, true);
    query.family = family;
  }
  query.given.forEach((g, i) => {
    if (g === '' || g.length > 35) throw invalidValue('given', g);
    checkWildcard('given', g, fuzzy, i === 0); // a wildcard matches only the start of the first given name
  });
  const gender = single(params, 'gender');
  if (gender !== undefined) {
    if (!['male', 'female', 'other', 'unknown'].includes(gender)) throw invalidValue('gender', gender);
    query.gender = gender;
  }
  const postalcode = single(params, 'address-postalcode');
  const postcode = single(params, 'address-postcode'); // deprecated PDS name
  if (postalcode !== undefined && postcode !== undefined) throw invalidSearch('address-postcode and address-postalcode cannot be used together');
  const anyPostcode = (postalcode ?? postcode)?.trim();
  if (anyPostcode !== undefined) {
    if (anyPostcode.replace(/\s/g, '').length < 2) throw invalidValue('address-postalcode', anyPostcode);
    checkWildcard('address-postalcode', anyPostcode, fuzzy, true);
    query.postcode = anyPostcode;
  }
  const gp = single(params, 'general-practitioner');
  if (gp !== undefined) {
    if (!/^[A-Za-z0-9]{3,12}$/.test(gp)) throw invalidValue('general-practitioner', gp);
    query.generalPractitioner = gp.toUpperCase();
  }
  const email = single(params, 'email');
  if (email !== undefined) {
    checkWildcard('email', email, fuzzy, false);
    query.email = email;
  }
  const phone = single(params, 'phone');
  if (phone !== undefined) {
    checkWildcard('phone', phone, fuzzy, false);
    query.phone = phone;
  }
  checkMinimumCriteria(query);
  return query;
}

/**
 * PDS minimum criteria: a non-fuzzy search needs family and birth date; a fuzzy one needs
 * given + family + birth date, or family or given with birth date, gender and postcode.
 */
export function checkMinimumCriteria(q: PdsQuery): void {
  const has = { family: q.family !== undefined, given: q.given.length > 0, birthdate: q.birthdate.length > 0, gender: q.gender !== undefined, postcode: q.postcode !== undefined };
  const enough = q.fuzzy
    ? has.birthdate && ((has.given && has.family) || ((has.family || has.given) && has.gender && has.postcode))
    : has.family && has.birthdate;
  if (!enough) throw invalidSearch('No searches were performed as the search criteria did not meet the minimum requirements');
}
