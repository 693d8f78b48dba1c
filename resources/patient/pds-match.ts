import type { Address, ContactPoint, HumanName, Patient } from 'fhir/r4.js';
import { spineIssue } from '../../fhir/spine-errors.js';
import type { CandidateSearch, Reader, ScoredEntry, ScoredSearchResult } from '../hooks.js';
import { foldName, nameSimilarity } from './name-similarity.js';
import type { DateCriterion, PdsQuery } from './pds-query.js';
import { isRestricted, redactForReader } from './restricted.js';
import { ODS_ORGANIZATION_CODE_SYSTEM } from '../organization/ods.js';
import {
  BIRTH_PLACE_URL, CONTACT_PREFERENCE_URL, MEDICAL_APPLIANCE_SUPPLIER_URL, NHS_COMMUNICATION_URL, NOMINATED_PHARMACY_URL, PREFERRED_DISPENSER_URL,
} from './extensions.js';

/**
 * PDS matching: finds the candidates of a demographic query through the generic search, decides
 * which match and scores them. Used by `GET /Patient` (PDS search) and `Patient/$match`.
 *
 * Scoring (PDS publishes only "1.0 is an exact match"; this is vertebra's own, stable function):
 *   score = Σ weight(c) × similarity(c) / Σ weight(c), over the criteria c the client gave,
 *   rounded to 4 decimals. Weights: family 3, birth date 3, given 2, postcode 2, gender 1,
 *   GP 1, death date 1, email 1, phone 1. Similarities are 0..1:
 *   - names: 1 for equal (case, accents and punctuation folded); a wildcard match 0.9; in a fuzzy
 *     search the better of Jaro-Winkler and a Soundex homophone (0.85), and names found swapped
 *     (family given as given and the reverse) count at 0.9 of their similarity;
 *   - postcode: 1 equal (spaces and case ignored), 0.9 by wildcard; fuzzy: 0.5 for the same
 *     outward code (the part before the last three characters);
 *   - birth date, gender, GP, death date, email, phone: 1 when they agree, else 0;
 *   - a name or address found only in the patient's history counts at 0.9.
 * A non-fuzzy search keeps only candidates that satisfy every criterion, so its scores are 1
 * unless a wildcard or history was needed. A fuzzy search keeps candidates scoring at least
 * FUZZY_THRESHOLD whose name similarity is at least NAME_THRESHOLD: birth date, gender, GP and
 * death date then only move the score (as PDS describes for death date and GP).
 */
const WEIGHTS = { family: 3, birthdate: 3, given: 2, postcode: 2, gender: 1, gp: 1, deathDate: 1, email: 1, phone: 1 } as const;
const WILDCARD_SIMILARITY = 0.9;
const HISTORY_FACTOR = 0.9;
const SWAPPED_FACTOR = 0.9;
const OUTWARD_CODE_SIMILARITY = 0.5;
export const FUZZY_THRESHOLD = 0.75;
export const NAME_THRESHOLD = 0.7;
/** Most candidates a query may draw from the store; broader queries are answered TOO_MANY_MATCHES. */
export const CANDIDATE_LIMIT = 2000;

type Weighted = keyof typeof WEIGHTS;


/** Runs a PDS query: scored matches best first, or TOO_MANY_MATCHES when there are more than allowed. */
export async function pdsSearch(query: PdsQuery, reader: Reader, engine: CandidateSearch): Promise<ScoredSearchResult> {
  const scored = await matchPatients(query, engine);
  if (scored === undefined || scored.length > query.maxResults) return tooManyMatches();
  return { kind: 'scored', entries: scored.map(({ patient, score }): ScoredEntry => ({ resource: searchView(patient, reader), score })) };
}

/** Every patient matching the query with its score, best first; undefined when there are too many candidates to tell. */
export async function matchPatients(query: PdsQuery, engine: CandidateSearch): Promise<{ patient: Patient; score: number }[] | undefined> {
  const { matches, more } = await engine.candidates('Patient', candidateCriteria(query), CANDIDATE_LIMIT);
  if (more) return undefined;
  // PDS never finds a restricted patient by where they live or who their GP is; the same holds for
  // the phone and email they hide, which would otherwise be confirmed by a match or its score.
  const byLocation = query.postcode !== undefined || query.generalPractitioner !== undefined || query.phone !== undefined || query.email !== undefined;
  const scored: { patient: Patient; score: number }[] = [];
  for (const version of matches) {
    const patient = JSON.parse(version.json!) as Patient;
    if (byLocation && isRestricted(patient)) continue;
    const score = scorePatient(query, patient);
    if (score === undefined || (query.exactOnly && score < 1)) continue;
    scored.push({ patient, score });
  }
  return scored.sort((a, b) => b.score - a.score || (a.patient.id! < b.patient.id! ? -1 : 1));
}

export function tooManyMatches(): ScoredSearchResult {
  return { kind: 'outcome', issues: [spineIssue('TOO_MANY_MATCHES')] };
}

/**
 * The generic search that finds every possible match: family (up to a wildcard, as FHIR's
 * case- and accent-insensitive starts-with, which covers every name in the history too) and the
 * birth date for a non-fuzzy search; the birth date alone for a fuzzy one, since a homophone or
 * a swapped name cannot be found by prefix. Every minimum criteria set has one or the other.
 */
export function candidateCriteria(query: PdsQuery): [string, string][] {
  const criteria: [string, string][] = query.birthdate.map((d) => ['birthdate', `${d.prefix}${d.date}`]);
  if (!query.fuzzy && query.family !== undefined) criteria.push(['family', query.family.split('*')[0]]);
  return criteria;
}

/** The score of one candidate, or undefined when it does not match. */
export function scorePatient(query: PdsQuery, patient: Patient): number | undefined {
  const parts: [Weighted, number][] = [];
  if (query.family !== undefined || query.given.length) {
    const names = nameScores(query, patient);
    if (names === undefined) return undefined;
    parts.push(...names);
  }
  if (query.birthdate.length) {
    if (!datesMatch(query.birthdate, patient.birthDate)) return undefined;
    parts.push(['birthdate', 1]);
  }
  const soft = (key: Weighted, agrees: boolean): boolean => {
    if (!agrees && !query.fuzzy) return false;
    parts.push([key, agrees ? 1 : 0]);
    return true;
  };
  if (query.gender !== undefined && !soft('gender', patient.gender === query.gender)) return undefined;
  if (query.deathDate.length && !soft('deathDate', datesMatch(query.deathDate, deathDate(patient)))) return undefined;
  if (query.generalPractitioner !== undefined && !soft('gp', gpCodes(patient).includes(query.generalPractitioner))) return undefined;
  if (query.email !== undefined && !soft('email', telecoms(patient, 'email', query.history).some((v) => v.toLowerCase() === query.email!.toLowerCase()))) return undefined;
  if (query.phone !== undefined && !soft('phone', telecoms(patient, 'phone', query.history).some((v) => digits(v) === digits(query.phone!)))) return undefined;
  if (query.postcode !== undefined) {
    const similarity = postcodeScore(query, patient);
    if (similarity === 0 && !query.fuzzy) return undefined;
    parts.push(['postcode', similarity]);
  }
  let total = 0;
  let weight = 0;
  for (const [key, similarity] of parts) {
    total += WEIGHTS[key] * similarity;
    weight += WEIGHTS[key];
  }
  const score = Math.round((total / weight) * 10_000) / 10_000;
  return query.fuzzy && score < FUZZY_THRESHOLD ? undefined : score;
}

/** The family/given part of the score from the best-matching name, or undefined when no name matches. */
function nameScores(query: PdsQuery, patient: Patient): [Weighted, number][] | undefined {
  let best: { parts: [Weighted, number][]; sum: number } | undefined;
  for (const { name, historic } of namesOf(patient, query.history)) {
    const parts = scoreName(query, name, historic);
    if (!parts) continue;
    const sum = parts.reduce((s, [k, v]) => s + WEIGHTS[k] * v, 0);
    if (!best || sum > best.sum) best = { parts, sum };
  }
  return best?.parts;
}

function scoreName(query: PdsQuery, name: HumanName, historic: boolean): [Weighted, number][] | undefined {
  const factor = historic ? HISTORY_FACTOR : 1;
  const family = name.family ?? '';
  if (!query.fuzzy) {
    const parts: [Weighted, number][] = [];
    if (query.family !== undefined) {
      const s = exactOrWildcard(query.family, family);
      if (s === 0) return undefined;
      parts.push(['family', s * factor]);
    }
    if (query.given.length) {
      const s = givenMatch(query.given, name.given ?? []);
      if (s === 0) return undefined;
      parts.push(['given', s * factor]);
    }
    return parts;
  }
  const givenNames = (name.given ?? []).flatMap((g) => g.split(/\s+/));
  const direct = fuzzyNameParts(query, family, givenNames, factor);
  const swapped = fuzzyNameParts(query, givenNames[0] ?? '', family.split(/\s+/), factor * SWAPPED_FACTOR);
  const pick = (p: [Weighted, number][]) => p.reduce((s, [k, v]) => s + WEIGHTS[k] * v, 0);
  const parts = pick(swapped) > pick(direct) ? swapped : direct;
  const weight = parts.reduce((s, [k]) => s + WEIGHTS[k], 0);
  return pick(parts) / weight >= NAME_THRESHOLD ? parts : undefined;
}

/** Family against family; the query's given names against as many of the candidate's, in order. */
function fuzzyNameParts(query: PdsQuery, family: string, givenNames: string[], factor: number): [Weighted, number][] {
  const parts: [Weighted, number][] = [];
  if (query.family !== undefined) parts.push(['family', nameSimilarity(query.family, family) * factor]);
  if (query.given.length) {
    const wanted = query.given.flatMap((g) => g.split(/\s+/));
    parts.push(['given', nameSimilarity(wanted.join(' '), givenNames.slice(0, wanted.length).join(' ')) * factor]);
  }
  return parts;
}

/** 1 when equal after folding, WILDCARD_SIMILARITY when a `*` pattern matches, else 0. */
function exactOrWildcard(pattern: string, value: string, fold: (s: string) => string = foldName): number {
  if (!pattern.includes('*')) return fold(pattern) === fold(value) ? 1 : 0;
  return globMatch(pattern.split('*').map(fold), fold(value)) ? WILDCARD_SIMILARITY : 0;
}

/**
 * Does `text` consist of `parts` in order with anything between them (a `*` pattern split at its
 * stars)? Greedy leftmost matching is exact for this pattern language and linear in the text, where
 * a regular expression with several `.*` can backtrack for seconds on a hostile pattern.
 */
export function globMatch(parts: string[], text: string): boolean {
  const first = parts[0];
  const last = parts[parts.length - 1];
  if (parts.length === 1) return text === first;
  if (!text.startsWith(first) || text.length < first.length + last.length || !text.endsWith(last)) return false;
  let at = first.length;
  const end = text.length - last.length;
  for (const middle of parts.slice(1, -1)) {
    const found = text.indexOf(middle, at);
    if (found < 0 || found + middle.length > end) return false;
    at = found + middle.length;
  }
  return true;
}

/** The query's given names, in order, against the name's (the first query value may be compound or a wildcard). */
function givenMatch(queryGiven: string[], nameGiven: string[]): number {
  const q = queryGiven.flatMap((g) => foldName(g.replace(/\*/g, ' * ')).split(' ')).filter((t) => t !== '');
  const n = nameGiven.flatMap((g) => foldName(g).split(' ')).filter((t) => t !== '');
  if (queryGiven[0]?.includes('*')) {
    return exactOrWildcard(queryGiven[0], n[0] ?? '') && queryGiven.slice(1).every((g, i) => foldName(g) === (n[i + 1] ?? '')) ? WILDCARD_SIMILARITY : 0;
  }
  return q.length <= n.length && q.every((t, i) => t === n[i]) ? 1 : 0;
}

function isCurrent(period: { end?: string } | undefined): boolean {
  return !period?.end || Date.parse(period.end) >= Date.now();
}

/** The names a query may match: current ones, plus old ones when history is asked for. */
function namesOf(patient: Patient, history: boolean): { name: HumanName; historic: boolean }[] {
  return (patient.name ?? []).map((name) => ({ name, historic: name.use === 'old' || !isCurrent(name.period) }))
    .filter((n) => history || !n.historic);
}

function postcodeScore(query: PdsQuery, patient: Patient): number {
  const wanted = normalisePostcode(query.postcode!);
  let best = 0;
  for (const address of patient.address ?? []) {
    if (address.use !== undefined && address.use !== 'home') continue;
    const historic = !isCurrent(address.period);
    if (historic && !query.history) continue;
    const code = normalisePostcode(address.postalCode ?? '');
    if (!code) continue;
    let s = exactOrWildcard(wanted, code, (x) => x);
    if (s === 0 && query.fuzzy && outwardCode(wanted) === outwardCode(code)) s = OUTWARD_CODE_SIMILARITY;
    best = Math.max(best, s * (historic ? HISTORY_FACTOR : 1));
  }
  return best;
}

/** Postcodes compare without case or spaces ("ls1 6ae" is "LS16AE"). */
function normalisePostcode(value: string): string {
  return value.replace(/\s+/g, '').toUpperCase();
}

function outwardCode(normalised: string): string {
  return normalised.length > 3 ? normalised.slice(0, -3) : normalised;
}

function deathDate(patient: Patient): string | undefined {
  return patient.deceasedDateTime?.slice(0, 10);
}

function datesMatch(criteria: DateCriterion[], value: string | undefined): boolean {
  if (!value) return false;
  const day = value.slice(0, 10);
  return criteria.every(({ prefix, date }) => (prefix === 'eq' ? day === date : prefix === 'ge' ? day >= date : day <= date));
}

function gpCodes(patient: Patient): string[] {
  return (patient.generalPractitioner ?? []).flatMap((ref) => {
    const codes: string[] = [];
    if (ref.identifier?.system === ODS_ORGANIZATION_CODE_SYSTEM && ref.identifier.value) codes.push(ref.identifier.value.toUpperCase());
    const m = /^Organization\/([A-Za-z0-9]+)$/.exec(ref.reference ?? '');
    if (m) codes.push(m[1].toUpperCase());
    return codes;
  });
}

function telecoms(patient: Patient, system: ContactPoint['system'], history: boolean): string[] {
  return (patient.telecom ?? []).filter((t) => t.system === system && t.value && (history || isCurrent(t.period))).map((t) => t.value!);
}

function digits(phone: string): string {
  return phone.replace(/[^\d+]/g, '');
}

const SEARCH_EXCLUDED_EXTENSIONS = new Set([
  BIRTH_PLACE_URL, NOMINATED_PHARMACY_URL, PREFERRED_DISPENSER_URL, MEDICAL_APPLIANCE_SUPPLIER_URL,
  NHS_COMMUNICATION_URL, CONTACT_PREFERENCE_URL,
]);

/**
 * What a PDS search returns of a patient (nhs-spine.md §1.3): identity, usual/nickname/temp names,
 * gender, birth and death, the current home address, telecom, GP and the restricted flag; not the
 * birthplace, other names and addresses, pharmacies, communication, contacts or preferences. Then
 * the reader's restricted-patient rules.
 */
export function searchView(patient: Patient, reader: Reader): Patient {
  const view: Patient = { ...patient };
  if (patient.name) view.name = patient.name.filter((n) => n.use === undefined || n.use === 'usual' || n.use === 'nickname' || n.use === 'temp');
  if (patient.address) view.address = patient.address.filter((a: Address) => (a.use === undefined || a.use === 'home') && isCurrent(a.period));
  if (patient.extension) view.extension = patient.extension.filter((e) => !SEARCH_EXCLUDED_EXTENSIONS.has(e.url));
  delete view.communication;
  delete view.contact;
  for (const key of ['name', 'address', 'extension'] as const) if ((view[key] as unknown[] | undefined)?.length === 0) delete view[key];
  return redactForReader(view, reader);
}
