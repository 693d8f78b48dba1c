import type { Extension, Parameters, Patient } from 'fhir/r4.js';
import { errors } from '../../fhir/errors.js';
import { spineIssue } from '../../fhir/spine-errors.js';
import { checkBody } from '../write-session.js';
import type { CandidateSearch, Reader, ScoredSearchResult } from '../hooks.js';
import { matchPatients, searchView } from './pds-match.js';
import { checkMinimumCriteria, DEFAULT_MAX_RESULTS, type DateCriterion, type PdsQuery } from './pds-query.js';
import { isValidNhsNumber, NHS_NUMBER_SYSTEM } from './nhs-number.js';

/**
 * `Patient/$match` (R4 patient-operation-match): a trace service for systems that hold
 * demographics but not the NHS number. The input Patient becomes a fuzzy PDS query over the same
 * matcher as the search; each candidate carries its score and a match-grade.
 */
const MATCH_GRADE = 'http://hl7.org/fhir/StructureDefinition/match-grade';
/** Certain only when every supplied criterion agrees exactly; a respelt name is at most probable. */
const CERTAIN = 0.99;
const PROBABLE = 0.9;
const DEFAULT_COUNT = 10;

export function matchGrade(score: number): 'certain' | 'probable' | 'possible' {
  return score >= CERTAIN ? 'certain' : score >= PROBABLE ? 'probable' : 'possible';
}

export async function patientMatch(body: unknown, reader: Reader, engine: CandidateSearch): Promise<ScoredSearchResult> {
  const { patient, onlyCertain, count } = readParameters(body);
  const query = queryFromPatient(patient);
  const scored = await matchPatients(query, engine);
  if (scored === undefined) return { kind: 'outcome', issues: [spineIssue('TOO_MANY_MATCHES')] };
  const graded = scored.map((s) => ({ ...s, grade: matchGrade(s.score) })).filter((s) => !onlyCertain || s.grade === 'certain');
  return {
    kind: 'scored',
    entries: graded.slice(0, count).map(({ patient: p, score, grade }) => ({
      resource: searchView(p, reader), score, extension: [{ url: MATCH_GRADE, valueCode: grade } as Extension],
    })),
  };
}

function readParameters(body: unknown): { patient: Patient; onlyCertain: boolean; count: number } {
  const parameters = body as Parameters | null;
  if (parameters?.resourceType !== 'Parameters' || !Array.isArray(parameters.parameter)) {
    throw errors.badRequest('$match takes a Parameters resource with a "resource" parameter holding a Patient');
  }
  const byName = (name: string) => parameters.parameter!.filter((p) => p?.name === name);
  const resources = byName('resource');
  if (resources.length !== 1 || resources[0].resource?.resourceType !== 'Patient') {
    throw errors.badRequest('$match needs exactly one "resource" parameter holding a Patient', ['Parameters.parameter']);
  }
  const patient = checkBody('Patient', resources[0].resource) as Patient;
  const onlyCertain = byName('onlyCertainMatches')[0]?.valueBoolean ?? false;
  const count = byName('count')[0]?.valueInteger ?? DEFAULT_COUNT;
  if (!Number.isInteger(count) || count < 1 || count > DEFAULT_MAX_RESULTS) {
    throw errors.badRequest(`"count" must be an integer from 1 to ${DEFAULT_MAX_RESULTS}`, ['Parameters.parameter']);
  }
  return { patient, onlyCertain, count };
}

/** A birth date of any precision as day criteria: 1980 → 1980-01-01..1980-12-31. */
function birthDateRange(birthDate: string): DateCriterion[] {
  if (birthDate.length >= 10) return [{ prefix: 'eq', date: birthDate.slice(0, 10) }];
  const [year, month] = birthDate.split('-');
  const lastDay = month ? new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate() : 31;
  return [{ prefix: 'ge', date: `${year}-${month ?? '01'}-01` }, { prefix: 'le', date: `${year}-${month ?? '12'}-${lastDay}` }];
}

/** The fuzzy query a Patient's demographics make (its first current name, home postcode, GP, telecom). */
function queryFromPatient(patient: Patient): PdsQuery {
  const name = patient.name?.find((n) => n.use === 'usual' || n.use === 'official') ?? patient.name?.[0];
  const postcode = (patient.address?.find((a) => a.use === 'home') ?? patient.address?.[0])?.postalCode;
  const gp = patient.generalPractitioner?.find((r) => r.identifier?.value)?.identifier?.value;
  const query: PdsQuery = {
    family: name?.family,
    given: name?.given ?? [],
    gender: patient.gender,
    birthdate: patient.birthDate ? birthDateRange(patient.birthDate) : [],
    deathDate: patient.deceasedDateTime ? [{ prefix: 'eq', date: patient.deceasedDateTime.slice(0, 10) }] : [],
    postcode,
    generalPractitioner: gp?.toUpperCase(),
    email: patient.telecom?.find((t) => t.system === 'email')?.value,
    phone: patient.telecom?.find((t) => t.system === 'phone')?.value,
    fuzzy: true,
    exactOnly: false,
    history: true,
    maxResults: DEFAULT_MAX_RESULTS,
  };
  const nhsNumber = patient.identifier?.find((i) => i.system === NHS_NUMBER_SYSTEM)?.value;
  if (nhsNumber !== undefined && !isValidNhsNumber(nhsNumber)) {
    throw errors.badRequest(`'${nhsNumber}' is not a valid NHS number`, ['Patient.identifier']);
  }
  for (const key of Object.keys(query) as (keyof PdsQuery)[]) if (query[key] === undefined) delete query[key];
  checkMinimumCriteria(query);
  return query;
}
