import { expect } from 'chai';
import { FhirError } from '../../fhir/errors.js';
import { SearchParameterRegistry } from '../../search/registry.js';
import { compartmentCondition, parseSearch, type ParseOptions } from '../../search/parse.js';
import { parseNumber, splitEscaped, unescape } from '../../search/parse-values.js';
import type { Condition, SearchPlan } from '../../search/plan.js';

const registry = new SearchParameterRegistry();
const NOW = Date.parse('2025-01-01T00:00:00Z');
const DAY = 86_400_000;
const ms = (iso: string) => Date.parse(iso);
const base: ParseOptions = { defaultCount: 20, maxCount: 100, strict: false, now: () => NOW };

/** 'a=b&c=d' -> pairs, percent-decoded but with '+' kept (as a real query would have it %2B). */
function pairs(query: string): [string, string][] {
  if (query === '') return [];
  return query.split('&').map((p) => {
    const eq = p.indexOf('=');
    return [decodeURIComponent(p.slice(0, eq)), decodeURIComponent(p.slice(eq + 1))];
  });
}

function parse(types: string | string[], query: string, options: Partial<ParseOptions> = {}): Promise<SearchPlan> {
  return parseSearch(Array.isArray(types) ? types : [types], pairs(query), registry, { ...base, ...options });
}

async function where(type: string | string[], query: string, options: Partial<ParseOptions> = {}): Promise<Condition | undefined> {
  const plan = await parse(type, query, options);
  expect(plan.warnings, JSON.stringify(plan.warnings)).to.deep.equal([]);
  return plan.where;
}

async function fails(promise: Promise<unknown>, status = 400): Promise<FhirError> {
  try {
    await promise;
  } catch (e) {
    expect(e).to.be.instanceOf(FhirError);
    expect((e as FhirError).status).to.equal(status);
    return e as FhirError;
  }
  throw new Error('expected a FhirError');
}

const entry = (kind: string, param: string, ...clauses: object[]) => ({ kind: 'entry', entry: kind, param, clauses });
const or = (...conditions: object[]) => ({ kind: 'or', conditions });
const and = (...conditions: object[]) => ({ kind: 'and', conditions });

describe('search/parse: query -> SearchPlan', () => {
  describe('plan defaults and result parameters', () => {
    it('has the defaults: no condition, default count, accurate total', async () => {
      const plan = await parse('Patient', '');
      expect(plan).to.deep.equal({
        resourceTypes: ['Patient'], sort: [], count: 20, total: 'accurate', include: [], revinclude: [], warnings: [],
      });
    });

    it('_count: caps at maxCount, allows 0, rejects non-integers naming _count', async () => {
      expect((await parse('Patient', '_count=5')).count).to.equal(5);
      expect((await parse('Patient', '_count=1000')).count).to.equal(100);
      expect((await parse('Patient', '_count=0')).count).to.equal(0);
      expect((await parse('Patient', '', { defaultCount: 500 })).count).to.equal(100);
      for (const bad of ['-1', 'ten', '1.5']) {
        expect((await fails(parse('Patient', `_count=${bad}`))).message).to.include('_count');
      }
    });

    it('_total and _cursor', async () => {
      expect((await parse('Patient', '_total=none')).total).to.equal('none');
      expect((await parse('Patient', '_total=estimate')).total).to.equal('estimate');
      expect((await fails(parse('Patient', '_total=some'))).message).to.include('_total');
      expect((await parse('Patient', '_cursor=abc.def')).cursor).to.equal('abc.def');
    });

    it('leaves the result-shaping parameters to the server', async () => {
      const plan = await parse('Patient', '_summary=true&_elements=name&_format=json&_pretty=true&_contained=true&_containedType=contained');
      expect(plan.where).to.equal(undefined);
      expect(plan.warnings).to.deep.equal([]);
    });

    it('_sort: keys by parameter type, descending with -, _id and _lastUpdated special', async () => {
      const plan = await parse('Patient', '_sort=birthdate,-name,_id,-_lastUpdated&_sort=-birthdate,identifier');
      expect(plan.sort).to.deep.equal([
        { by: 'entry', entry: 'date', param: 'birthdate', column: 'low', descending: false },
        { by: 'entry', entry: 'string', param: 'name', column: 'value', descending: true },
        { by: 'id', descending: false },
        { by: 'lastUpdated', descending: true },
        { by: 'entry', entry: 'date', param: 'birthdate', column: 'high', descending: true },
        { by: 'entry', entry: 'token', param: 'identifier', column: 'code', descending: false },
      ]);
      const more = await parse('Observation', '_sort=subject,value-quantity&_sort:desc=date');
      expect(more.sort).to.deep.equal([
        { by: 'entry', entry: 'reference', param: 'subject', column: 'targetId', descending: false },
        { by: 'entry', entry: 'quantity', param: 'value-quantity', column: 'value', descending: false },
        { by: 'entry', entry: 'date', param: 'date', column: 'high', descending: true },
      ]);
      const uri = await parse('ValueSet', '_sort=url');
      expect(uri.sort).to.deep.equal([{ by: 'entry', entry: 'uri', param: 'url', column: 'value', descending: false }]);
    });

    it('_sort: unknown keys warn (lenient) or fail (strict)', async () => {
      const plan = await parse('Patient', '_sort=nonsense,name');
      expect(plan.sort).to.have.length(1);
      expect(plan.warnings[0].diagnostics).to.include('nonsense');
      expect((await fails(parse('Patient', '_sort=nonsense', { strict: true }))).message).to.include('nonsense');
      await fails(parse('Patient', '_sort=name,,gender'));
    });

    it('_include and _revinclude in all their forms', async () => {
      const plan = await parse('Observation',
        '_include=Observation:subject&_include=Observation:subject:Patient&_include:iterate=Patient:general-practitioner'
        + '&_include:recurse=Observation:performer&_include=Observation:*&_include=*'
        + '&_revinclude=Provenance:target&_revinclude:iterate=AuditEvent:entity:Observation');
      expect(plan.include).to.deep.equal([
        { sourceType: 'Observation', param: 'subject', iterate: false },
        { sourceType: 'Observation', param: 'subject', iterate: false, targetType: 'Patient' },
        { sourceType: 'Patient', param: 'general-practitioner', iterate: true },
        { sourceType: 'Observation', param: 'performer', iterate: true },
        { sourceType: 'Observation', iterate: false },
        { sourceType: 'Observation', iterate: false },
      ]);
      expect(plan.revinclude).to.deep.equal([
        { sourceType: 'Provenance', param: 'target', iterate: false },
        { sourceType: 'AuditEvent', param: 'entity', iterate: true, targetType: 'Observation' },
      ]);
      expect(plan.warnings).to.deep.equal([]);
    });

    it('_include: malformed values fail, unknown parameters warn', async () => {
      for (const bad of ['Observation', 'Observation:', 'Nope:subject', 'Observation:subject:Nope', 'a:b:c:d']) {
        expect((await fails(parse('Observation', `_include=${bad}`))).message).to.include('_include');
      }
      const plan = await parse('Observation', '_include=Observation:code&_revinclude=Provenance:nothing');
      expect(plan.include).to.deep.equal([]);
      expect(plan.revinclude).to.deep.equal([]);
      expect(plan.warnings).to.have.length(2);
      await fails(parse('Observation', '_include=Observation:code', { strict: true }));
    });
  });

  describe('escaping, OR and AND', () => {
    it('splits on unescaped separators and unescapes \\, \\| \\$ \\\\', () => {
      expect(splitEscaped('a,b\\,c,d', ',')).to.deep.equal(['a', 'b\\,c', 'd']);
      expect(splitEscaped('s\\|x|c', '|')).to.deep.equal(['s\\|x', 'c']);
      expect(unescape('a\\,b\\|c\\$d\\\\e')).to.equal('a,b|c$d\\e');
    });

    it('comma is OR, repetition is AND, \\, is a literal comma', async () => {
      expect(await where('Patient', 'family=smith,jones')).to.deep.equal(or(
        entry('string', 'family', { column: 'value', op: 'startsWith', value: 'smith' }),
        entry('string', 'family', { column: 'value', op: 'startsWith', value: 'jones' }),
      ));
      expect(await where('Patient', 'family=smith&given=ann')).to.deep.equal(and(
        entry('string', 'family', { column: 'value', op: 'startsWith', value: 'smith' }),
        entry('string', 'given', { column: 'value', op: 'startsWith', value: 'ann' }),
      ));
      expect(await where('Patient', 'family=smith\\,jones')).to.deep.equal(
        entry('string', 'family', { column: 'value', op: 'startsWith', value: 'smith,jones' }));
      expect(await where('Patient', 'identifier=http://x\\|y|12\\|3')).to.deep.equal(entry('token', 'identifier',
        { column: 'system', op: 'eq', value: 'http://x|y' }, { column: 'code', op: 'eq', value: '12|3' }));
    });

    it('an empty parameter is ignored (R4 search.html#errors); empty OR-parts are 400s naming the parameter', async () => {
      const empty = await parse('Patient', 'family=&gender=male');
      expect(empty.where).to.deep.equal(entry('token', 'gender', { column: 'code', op: 'eq', value: 'male' }));
      expect(empty.warnings).to.deep.equal([]);
      for (const q of ['family=a,', 'family=,a', 'birthdate=2020,,2021']) {
        const e = await fails(parse('Patient', q));
        expect(e.message).to.match(/family|birthdate/);
      }
    });
  });

  describe('string', () => {
    it('default is starts-with on the folded value; :exact on the original; :contains', async () => {
      expect(await where('Patient', 'name=Zoë')).to.deep.equal(entry('string', 'name', { column: 'value', op: 'startsWith', value: 'zoe' }));
      expect(await where('Patient', 'name:exact=Zoë')).to.deep.equal(entry('string', 'name', { column: 'exact', op: 'eq', value: 'Zoë' }));
      expect(await where('Patient', 'name:contains=ÉLO')).to.deep.equal(entry('string', 'name', { column: 'value', op: 'contains', value: 'elo' }));
    });

    it(':missing', async () => {
      expect(await where('Patient', 'family:missing=true')).to.deep.equal({ kind: 'missing', entry: 'string', param: 'family', missing: true });
      expect(await where('Patient', 'family:missing=false')).to.deep.equal({ kind: 'missing', entry: 'string', param: 'family', missing: false });
      expect((await fails(parse('Patient', 'family:missing=yes'))).message).to.include('family:missing');
    });

    it('a modifier that is not valid for strings is a 400 even when lenient (ignoring it would widen the search)', async () => {
      expect((await fails(parse('Patient', 'family:not=x'))).message).to.include('family:not');
      expect((await fails(parse('Patient', 'family:not=x', { strict: true }))).message).to.include('family');
    });
  });

  describe('token', () => {
    it('code, system|code, |code, system|', async () => {
      expect(await where('Patient', 'gender=female')).to.deep.equal(entry('token', 'gender', { column: 'code', op: 'eq', value: 'female' }));
      expect(await where('Patient', 'identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009')).to.deep.equal(entry('token', 'identifier',
        { column: 'system', op: 'eq', value: 'https://fhir.nhs.uk/Id/nhs-number' }, { column: 'code', op: 'eq', value: '9000000009' }));
      expect(await where('Patient', 'identifier=|123')).to.deep.equal(entry('token', 'identifier',
        { column: 'system', op: 'null' }, { column: 'code', op: 'eq', value: '123' }));
      expect(await where('Patient', 'identifier=https://fhir.nhs.uk/Id/nhs-number|')).to.deep.equal(entry('token', 'identifier',
        { column: 'system', op: 'eq', value: 'https://fhir.nhs.uk/Id/nhs-number' }));
      expect(await where('Patient', 'active=true')).to.deep.equal(entry('token', 'active', { column: 'code', op: 'eq', value: 'true' }));
      await fails(parse('Patient', 'identifier=|'));
      await fails(parse('Patient', 'identifier=a|b|c'));
    });

    it('_id uses the id condition; _id:not falls back to its token entries', async () => {
      expect(await where('Patient', '_id=a,b')).to.deep.equal({ kind: 'id', ids: ['a', 'b'] });
      expect(await where('Patient', '_id:not=a')).to.deep.equal({ kind: 'not', condition: entry('token', '_id', { column: 'code', op: 'eq', value: 'a' }) });
    });

    it(':text is a word-prefix match on the folded text', async () => {
      expect(await where('Observation', 'code:text=Systolic')).to.deep.equal(or(
        entry('token', 'code', { column: 'text', op: 'startsWith', value: 'systolic' }),
        entry('token', 'code', { column: 'text', op: 'contains', value: ' systolic' }),
      ));
    });

    it(':not negates the OR of its values', async () => {
      expect(await where('Patient', 'gender:not=male,other')).to.deep.equal({ kind: 'not', condition: or(
        entry('token', 'gender', { column: 'code', op: 'eq', value: 'male' }),
        entry('token', 'gender', { column: 'code', op: 'eq', value: 'other' }),
      ) });
    });

    it(':in / :not-in expand the ValueSet, one entry per system, plus system-less codes (code-typed elements)', async () => {
      const expandValueSet = async (url: string) => (url === 'http://vs/x'
        ? [{ system: 'http://s1', code: 'a' }, { system: 'http://s2', code: 'b' }, { system: 'http://s1', code: 'c' }]
        : url === 'http://vs/empty' ? [] : undefined);
      const inSet = or(
        entry('token', 'code', { column: 'system', op: 'eq', value: 'http://s1' }, { column: 'code', op: 'in', values: ['a', 'c'] }),
        entry('token', 'code', { column: 'system', op: 'eq', value: 'http://s2' }, { column: 'code', op: 'in', values: ['b'] }),
        entry('token', 'code', { column: 'system', op: 'null' }, { column: 'code', op: 'in', values: ['a', 'b', 'c'] }),
      );
      expect(await where('Observation', 'code:in=http://vs/x', { expandValueSet })).to.deep.equal(inSet);
      expect(await where('Observation', 'code:not-in=http://vs/x', { expandValueSet })).to.deep.equal({ kind: 'not', condition: inSet });
      expect(await where('Observation', 'code:in=http://vs/empty', { expandValueSet })).to.deep.equal(or());
      expect((await fails(parse('Observation', 'code:in=http://vs/unknown', { expandValueSet }))).message).to.include('code:in');
      await fails(parse('Observation', 'code:in=http://vs/x'));
    });

    it(':above / :below use the subsumption service; unknown systems are 400s', async () => {
      const subsumption = async (system: string, code: string, direction: 'above' | 'below') =>
        (system === 'http://snomed.info/sct' ? (direction === 'below' ? [code, 'child1', 'child2'] : [code, 'parent']) : undefined);
      expect(await where('Condition', 'code:below=http://snomed.info/sct|123', { subsumption })).to.deep.equal(entry('token', 'code',
        { column: 'system', op: 'eq', value: 'http://snomed.info/sct' }, { column: 'code', op: 'in', values: ['123', 'child1', 'child2'] }));
      expect(await where('Condition', 'code:above=http://snomed.info/sct|123', { subsumption })).to.deep.equal(entry('token', 'code',
        { column: 'system', op: 'eq', value: 'http://snomed.info/sct' }, { column: 'code', op: 'in', values: ['123', 'parent'] }));
      expect((await fails(parse('Condition', 'code:below=http://other|1', { subsumption }))).message).to.include('code:below');
      await fails(parse('Condition', 'code:below=http://snomed.info/sct|123'));
      await fails(parse('Condition', 'code:below=123', { subsumption }));
    });

    it(':of-type matches type system, type code and value on the of-type entries', async () => {
      expect(await where('Patient', 'identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|446053')).to.deep.equal(
        entry('token', 'identifier:of-type',
          { column: 'system', op: 'eq', value: 'http://terminology.hl7.org/CodeSystem/v2-0203' },
          { column: 'code', op: 'eq', value: 'MR' },
          { column: 'text', op: 'eq', value: '446053' }));
      await fails(parse('Patient', 'identifier:of-type=MR|446053'));
    });

    it(':missing', async () => {
      expect(await where('Patient', 'gender:missing=true')).to.deep.equal({ kind: 'missing', entry: 'token', param: 'gender', missing: true });
    });
  });

  describe('date', () => {
    const Y1980 = { low: ms('1980-01-01T00:00:00.000Z'), high: ms('1980-12-31T23:59:59.999Z') };
    const d = (...clauses: object[]) => entry('date', 'birthdate', ...clauses);

    it('eq (default and explicit): the entry lies within the precision range', async () => {
      const expected = d({ column: 'low', op: 'ge', value: Y1980.low }, { column: 'high', op: 'le', value: Y1980.high });
      expect(await where('Patient', 'birthdate=1980')).to.deep.equal(expected);
      expect(await where('Patient', 'birthdate=eq1980')).to.deep.equal(expected);
    });

    it('every prefix against the year 1980', async () => {
      const inside = d({ column: 'low', op: 'ge', value: Y1980.low }, { column: 'high', op: 'le', value: Y1980.high });
      const cases: Record<string, unknown> = {
        ne: or(d({ column: 'low', op: 'lt', value: Y1980.low }), d({ column: 'high', op: 'gt', value: Y1980.high })),
        gt: d({ column: 'high', op: 'gt', value: Y1980.high }),
        lt: d({ column: 'low', op: 'lt', value: Y1980.low }),
        ge: or(d({ column: 'high', op: 'gt', value: Y1980.high }), inside),
        le: or(d({ column: 'low', op: 'lt', value: Y1980.low }), inside),
        sa: d({ column: 'low', op: 'gt', value: Y1980.high }),
        eb: d({ column: 'high', op: 'lt', value: Y1980.low }),
      };
      for (const [prefix, expected] of Object.entries(cases)) {
        expect(await where('Patient', `birthdate=${prefix}1980`), prefix).to.deep.equal(expected);
      }
    });

    it('minute precision: ge2020-01-01T10:00 spans the minute', async () => {
      const low = ms('2020-01-01T10:00:00.000Z');
      const high = ms('2020-01-01T10:00:59.999Z');
      expect(await where('Observation', 'date=ge2020-01-01T10:00')).to.deep.equal(or(
        entry('date', 'date', { column: 'high', op: 'gt', value: high }),
        entry('date', 'date', { column: 'low', op: 'ge', value: low }, { column: 'high', op: 'le', value: high }),
      ));
    });

    it('zones: explicit offsets, and a + that arrived as a space', async () => {
      const low = ms('2020-01-01T09:00:00.000Z');
      const high = ms('2020-01-01T09:00:00.999Z');
      const expected = entry('date', 'date', { column: 'low', op: 'ge', value: low }, { column: 'high', op: 'le', value: high });
      expect(await where('Observation', 'date=2020-01-01T10:00:00%2B01:00')).to.deep.equal(expected);
      expect(await where('Observation', 'date=2020-01-01T10:00:00 01:00')).to.deep.equal(expected);
    });

    it('ap: the entry overlaps the value widened by 10% of its distance from now (at least a day)', async () => {
      const day = { low: ms('2015-01-01T00:00:00.000Z'), high: ms('2015-01-01T23:59:59.999Z') };
      const tol = Math.abs(NOW - (day.low + day.high) / 2) * 0.1;
      expect(tol).to.be.greaterThan(300 * DAY);
      expect(await where('Patient', 'birthdate=ap2015-01-01')).to.deep.equal(d(
        { column: 'low', op: 'le', value: day.high + tol }, { column: 'high', op: 'ge', value: day.low - tol }));
      const today = { low: NOW, high: NOW + DAY - 1 };
      expect(await where('Patient', 'birthdate=ap2025-01-01')).to.deep.equal(d(
        { column: 'low', op: 'le', value: today.high + DAY }, { column: 'high', op: 'ge', value: today.low - DAY }));
    });

    it('_lastUpdated is an ordinary date parameter', async () => {
      expect(await where('Patient', '_lastUpdated=gt2024-05')).to.deep.equal(
        entry('date', '_lastUpdated', { column: 'high', op: 'gt', value: ms('2024-05-31T23:59:59.999Z') }));
    });

    it('malformed dates and prefixes are 400s naming parameter and value', async () => {
      for (const bad of ['1980-13', '1980-02-30', 'yesterday', 'xx1980', '19800101', 'ge']) {
        const e = await fails(parse('Patient', `birthdate=${bad}`));
        expect(e.message).to.include('birthdate').and.to.include(bad);
      }
    });
  });

  describe('number', () => {
    const n = (...clauses: object[]) => entry('number', 'probability', ...clauses);
    const v = (op: string, value: number) => ({ column: 'value', op, value });

    it('implicit precision of the written value', () => {
      expect(parseNumber('100')).to.deep.equal({ value: 100, lo: 99.5, hi: 100.5 });
      expect(parseNumber('100.00')).to.deep.equal({ value: 100, lo: 99.995, hi: 100.005 });
      expect(parseNumber('1e2')).to.deep.equal({ value: 100, lo: 50, hi: 150 });
      expect(parseNumber('1.0e2')).to.deep.equal({ value: 100, lo: 95, hi: 105 });
      expect(parseNumber('-0.5')).to.deep.equal({ value: -0.5, lo: -0.55, hi: -0.45 });
      expect(parseNumber('.5')).to.deep.equal({ value: 0.5, lo: 0.45, hi: 0.55 });
      for (const bad of ['', '.', 'abc', '1,5', '1e', '--1', 'Infinity', 'NaN']) expect(parseNumber(bad), bad).to.equal(undefined);
    });

    it('every prefix', async () => {
      const cases: Record<string, unknown> = {
        '100': n(v('ge', 99.5), v('lt', 100.5)),
        eq100: n(v('ge', 99.5), v('lt', 100.5)),
        ne100: or(n(v('lt', 99.5)), n(v('ge', 100.5))),
        gt100: n(v('gt', 100)),
        lt100: n(v('lt', 100)),
        ge100: n(v('ge', 100)),
        le100: n(v('le', 100)),
        sa100: n(v('gt', 100)),
        eb100: n(v('lt', 100)),
        ap100: n(v('ge', 90), v('le', 110)),
        'eq1e2': n(v('ge', 50), v('lt', 150)),
      };
      for (const [value, expected] of Object.entries(cases)) {
        expect(await where('RiskAssessment', `probability=${value}`), value).to.deep.equal(expected);
      }
    });

    it('malformed numbers are 400s', async () => {
      for (const bad of ['abc', 'gtabc', 'zz100', '1..2']) {
        expect((await fails(parse('RiskAssessment', `probability=${bad}`))).message).to.include('probability');
      }
    });
  });

  describe('quantity', () => {
    const q = (...clauses: object[]) => entry('quantity', 'value-quantity', ...clauses);
    const v = (op: string, value: number) => ({ column: 'value', op, value });

    it('number|system|code, number||code (code or unit), bare number, prefixes', async () => {
      expect(await where('Observation', 'value-quantity=5.4|http://unitsofmeasure.org|mg')).to.deep.equal(q(
        v('ge', 5.35), v('lt', 5.45), { column: 'system', op: 'eq', value: 'http://unitsofmeasure.org' }, { column: 'code', op: 'eq', value: 'mg' }));
      expect(await where('Observation', 'value-quantity=gt5.4||mg')).to.deep.equal(or(
        q(v('gt', 5.4), { column: 'code', op: 'eq', value: 'mg' }),
        q(v('gt', 5.4), { column: 'unit', op: 'eq', value: 'mg' }),
      ));
      expect(await where('Observation', 'value-quantity=le5.4')).to.deep.equal(q(v('le', 5.4)));
      expect(await where('Observation', 'value-quantity=ne5|http://unitsofmeasure.org|mg')).to.deep.equal(or(
        q(v('lt', 4.5), { column: 'system', op: 'eq', value: 'http://unitsofmeasure.org' }, { column: 'code', op: 'eq', value: 'mg' }),
        q(v('ge', 5.5), { column: 'system', op: 'eq', value: 'http://unitsofmeasure.org' }, { column: 'code', op: 'eq', value: 'mg' }),
      ));
    });

    it('malformed quantities are 400s', async () => {
      for (const bad of ['5|mg', 'five||mg', '5|a|b|c', 'xx5']) {
        expect((await fails(parse('Observation', `value-quantity=${bad}`))).message).to.include('value-quantity');
      }
    });
  });

  describe('reference', () => {
    const r = (...clauses: object[]) => entry('reference', 'subject', ...clauses);
    const type = (t: string) => ({ column: 'targetType', op: 'eq', value: t });
    const id = (i: string) => ({ column: 'targetId', op: 'eq', value: i });

    it('Type/id, Type/id/_history/v, bare id (any allowed target), :[type]', async () => {
      expect(await where('Observation', 'subject=Patient/123')).to.deep.equal(r(type('Patient'), id('123')));
      expect(await where('Observation', 'subject=Patient/123/_history/2')).to.deep.equal(r(type('Patient'), id('123'),
        { column: 'targetVersion', op: 'eq', value: '2' }));
      expect(await where('Observation', 'subject=123')).to.deep.equal(r(
        { column: 'targetType', op: 'in', values: ['Group', 'Device', 'Patient', 'Location'] }, id('123')));
      expect(await where('Observation', 'subject:Patient=123')).to.deep.equal(r(type('Patient'), id('123')));
      expect(await where('Observation', 'subject:Patient=Patient/123')).to.deep.equal(r(type('Patient'), id('123')));
      await fails(parse('Observation', 'subject:Patient=Group/1'));
    });

    it('absolute URLs match only the url; under this server base they are local Type/id', async () => {
      expect(await where('Observation', 'subject=https://other.example/fhir/Patient/9')).to.deep.equal(
        r({ column: 'url', op: 'eq', value: 'https://other.example/fhir/Patient/9' }));
      expect(await where('Observation', 'subject=https://us.example/fhir/Patient/9', { localBase: 'https://us.example/fhir' }))
        .to.deep.equal(r(type('Patient'), id('9')));
      expect(await where('Observation', 'subject=urn:uuid:1234')).to.deep.equal(r({ column: 'url', op: 'eq', value: 'urn:uuid:1234' }));
    });

    it('canonical references with |version', async () => {
      expect(await where('QuestionnaireResponse', 'questionnaire=http://q.example/Questionnaire/phq9|1.2')).to.deep.equal(
        entry('reference', 'questionnaire', { column: 'url', op: 'eq', value: 'http://q.example/Questionnaire/phq9' },
          { column: 'targetVersion', op: 'eq', value: '1.2' }));
    });

    it(':identifier searches the identifier token entries', async () => {
      expect(await where('Observation', 'subject:identifier=https://fhir.nhs.uk/Id/nhs-number|9000000009')).to.deep.equal(
        entry('token', 'subject:identifier', { column: 'system', op: 'eq', value: 'https://fhir.nhs.uk/Id/nhs-number' },
          { column: 'code', op: 'eq', value: '9000000009' }));
    });

    it(':missing counts logical (identifier) references as present', async () => {
      expect(await where('Observation', 'subject:missing=true')).to.deep.equal(and(
        { kind: 'missing', entry: 'reference', param: 'subject', missing: true },
        { kind: 'missing', entry: 'token', param: 'subject:identifier', missing: true },
      ));
      expect(await where('Observation', 'subject:missing=false')).to.deep.equal(or(
        { kind: 'missing', entry: 'reference', param: 'subject', missing: false },
        { kind: 'missing', entry: 'token', param: 'subject:identifier', missing: false },
      ));
    });

    it('malformed references are 400s; a type the parameter cannot refer to warns', async () => {
      for (const bad of ['Nope/1', 'Patient/', 'a b', 'Patient/1/2/3/4']) {
        expect((await fails(parse('Observation', `subject=${bad}`))).message).to.include('subject');
      }
      const plan = await parse('Observation', 'subject:Medication=1');
      expect(plan.where).to.equal(undefined);
      expect(plan.warnings).to.have.length(1);
    });
  });

  describe('uri', () => {
    it('equality, :below, :above, :missing', async () => {
      const u = (op: string, value: string) => entry('uri', 'url', { column: 'value', op, value });
      expect(await where('ValueSet', 'url=http://a.example/vs/1')).to.deep.equal(u('eq', 'http://a.example/vs/1'));
      expect(await where('ValueSet', 'url:below=http://a.example/')).to.deep.equal(u('startsWith', 'http://a.example/'));
      expect(await where('ValueSet', 'url:above=http://a.example/vs/1/x')).to.deep.equal(u('prefixOf', 'http://a.example/vs/1/x'));
      expect(await where('ValueSet', 'url:missing=true')).to.deep.equal({ kind: 'missing', entry: 'uri', param: 'url', missing: true });
      expect(await where('Patient', '_profile=https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient')).to.deep.equal(
        entry('uri', '_profile', { column: 'value', op: 'eq', value: 'https://fhir.hl7.org.uk/StructureDefinition/UKCore-Patient' }));
    });
  });

  describe('Resource-level parameters', () => {
    it('_tag, _security are tokens; _source is a uri', async () => {
      expect(await where('Patient', '_tag=http://example.org/tags|demo&_security=R&_source=https://x/src')).to.deep.equal(and(
        entry('token', '_tag', { column: 'system', op: 'eq', value: 'http://example.org/tags' }, { column: 'code', op: 'eq', value: 'demo' }),
        entry('token', '_security', { column: 'code', op: 'eq', value: 'R' }),
        entry('uri', '_source', { column: 'value', op: 'eq', value: 'https://x/src' }),
      ));
    });
  });

  describe('chaining', () => {
    it('with a type modifier', async () => {
      expect(await where('Observation', 'subject:Patient.name=peter')).to.deep.equal({
        kind: 'chain', param: 'subject', targetTypes: ['Patient'],
        condition: entry('string', 'name', { column: 'value', op: 'startsWith', value: 'peter' }),
      });
    });

    it('without a type: every target that has the chained parameter', async () => {
      const c = await where('Observation', 'subject.name=peter') as Extract<Condition, { kind: 'chain' }>;
      expect(c.kind).to.equal('chain');
      expect(c.targetTypes).to.include('Patient').and.not.include('Device');
      for (const t of c.targetTypes) expect(registry.get(t, 'name')).to.not.equal(undefined);
      expect(c.condition).to.deep.equal(entry('string', 'name', { column: 'value', op: 'startsWith', value: 'peter' }));
    });

    it('two levels, with modifiers and OR on the last link', async () => {
      expect(await where('Observation', 'encounter.service-provider.name:exact=Leeds,York')).to.deep.equal({
        kind: 'chain', param: 'encounter', targetTypes: ['Encounter'], condition: {
          kind: 'chain', param: 'service-provider', targetTypes: ['Organization'], condition: or(
            entry('string', 'name', { column: 'exact', op: 'eq', value: 'Leeds' }),
            entry('string', 'name', { column: 'exact', op: 'eq', value: 'York' }),
          ),
        },
      });
      expect(await where('Observation', 'subject:Patient.general-practitioner:Organization.identifier=https://fhir.nhs.uk/Id/ods-organization-code|Y123')).to.deep.equal({
        kind: 'chain', param: 'subject', targetTypes: ['Patient'], condition: {
          kind: 'chain', param: 'general-practitioner', targetTypes: ['Organization'], condition: entry('token', 'identifier',
            { column: 'system', op: 'eq', value: 'https://fhir.nhs.uk/Id/ods-organization-code' }, { column: 'code', op: 'eq', value: 'Y123' }),
        },
      });
    });

    it('errors: chaining a non-reference, unknown chained parameters, bad values inside', async () => {
      expect((await fails(parse('Patient', 'name.family=x'))).message).to.include('name.family');
      const plan = await parse('Observation', 'subject:Patient.nonsense=x');
      expect(plan.where).to.equal(undefined);
      expect(plan.warnings[0].diagnostics).to.include('nonsense');
      await fails(parse('Observation', 'subject:Patient.nonsense=x', { strict: true }));
      expect((await fails(parse('Observation', 'subject:Patient.birthdate=notadate'))).message).to.include('subject:Patient.birthdate');
    });
  });

  describe('_has (reverse chaining)', () => {
    it('one level', async () => {
      expect(await where('Patient', '_has:Observation:patient:code=1234-5')).to.deep.equal({
        kind: 'has', sourceType: 'Observation', param: 'patient',
        condition: entry('token', 'code', { column: 'code', op: 'eq', value: '1234-5' }),
      });
    });

    it('nested', async () => {
      expect(await where('Patient', '_has:Observation:patient:_has:AuditEvent:entity:agent=Practitioner/7')).to.deep.equal({
        kind: 'has', sourceType: 'Observation', param: 'patient', condition: {
          kind: 'has', sourceType: 'AuditEvent', param: 'entity',
          condition: entry('reference', 'agent', { column: 'targetType', op: 'eq', value: 'Practitioner' }, { column: 'targetId', op: 'eq', value: '7' }),
        },
      });
    });

    it('malformed and unknown forms', async () => {
      await fails(parse('Patient', '_has:Observation:patient=x'));
      const plan = await parse('Patient', '_has:Nope:patient:code=x&_has:Observation:code:code=x&_has:Observation:device:code=x');
      expect(plan.where).to.equal(undefined);
      expect(plan.warnings).to.have.length(3);
      await fails(parse('Patient', '_has:Nope:patient:code=x', { strict: true }));
    });
  });

  describe('composite', () => {
    it('components split on $, each on param composite.i with its own type', async () => {
      expect(await where('Observation', 'code-value-quantity=http://loinc.org|8480-6$gt100')).to.deep.equal({
        kind: 'composite', param: 'code-value-quantity', components: [
          entry('token', 'code-value-quantity.0', { column: 'system', op: 'eq', value: 'http://loinc.org' }, { column: 'code', op: 'eq', value: '8480-6' }),
          entry('quantity', 'code-value-quantity.1', { column: 'value', op: 'gt', value: 100 }),
        ],
      });
    });

    it('a component with alternatives multiplies into alternative groups; OR of values', async () => {
      const c = await where('Observation', 'component-code-value-quantity=8480-6$ne100,8462-4$lt90');
      expect(c).to.deep.equal(or(
        { kind: 'composite', param: 'component-code-value-quantity', components: [
          entry('token', 'component-code-value-quantity.0', { column: 'code', op: 'eq', value: '8480-6' }),
          entry('quantity', 'component-code-value-quantity.1', { column: 'value', op: 'lt', value: 99.5 }),
        ] },
        { kind: 'composite', param: 'component-code-value-quantity', components: [
          entry('token', 'component-code-value-quantity.0', { column: 'code', op: 'eq', value: '8480-6' }),
          entry('quantity', 'component-code-value-quantity.1', { column: 'value', op: 'ge', value: 100.5 }),
        ] },
        { kind: 'composite', param: 'component-code-value-quantity', components: [
          entry('token', 'component-code-value-quantity.0', { column: 'code', op: 'eq', value: '8462-4' }),
          entry('quantity', 'component-code-value-quantity.1', { column: 'value', op: 'lt', value: 90 }),
        ] },
      ));
    });

    it('\\$ is a literal dollar; wrong component counts are 400s', async () => {
      const c = await where('Observation', 'code-value-string=abc$x\\$y') as Extract<Condition, { kind: 'composite' }>;
      expect(c.components[1]).to.deep.equal(entry('string', 'code-value-string.1', { column: 'value', op: 'startsWith', value: 'x$y' }));
      for (const bad of ['8480-6', '8480-6$1$2', '8480-6$', '$5']) {
        expect((await fails(parse('Observation', `code-value-quantity=${bad}`))).message).to.include('code-value-quantity');
      }
    });
  });

  describe('unknown and unsupported parameters', () => {
    it('lenient: a warning naming the parameter, and no condition', async () => {
      const plan = await parse('Patient', 'nonsense=1&family=x');
      expect(plan.where).to.deep.equal(entry('string', 'family', { column: 'value', op: 'startsWith', value: 'x' }));
      expect(plan.warnings).to.have.length(1);
      expect(plan.warnings[0]).to.include({ severity: 'warning', code: 'not-supported' });
      expect(plan.warnings[0].diagnostics).to.include('nonsense');
    });

    it('strict: a 400 naming the parameter', async () => {
      expect((await fails(parse('Patient', 'nonsense=1', { strict: true }))).message).to.include('nonsense');
    });

    it('_text, _content, _query, _filter, _list and special parameters (near) are not supported', async () => {
      for (const q of ['_text=x', '_content=x', '_query=x', '_filter=name eq x', '_list=1']) {
        const plan = await parse('Patient', q);
        expect(plan.where, q).to.equal(undefined);
        expect(plan.warnings, q).to.have.length(1);
        await fails(parse('Patient', q, { strict: true }));
      }
      const near = await parse('Location', 'near=42|-71|10|km');
      expect(near.warnings[0].diagnostics).to.include('near');
    });

    it('malformed values fail even when lenient', async () => {
      await fails(parse('Patient', 'birthdate=ge1980-1'));
    });

    it('names never reach the plan unvalidated', async () => {
      const plan = await parse('Patient', "name');DROP TABLE x;--=1&nam'e=1");
      expect(plan.where).to.equal(undefined);
      expect(plan.warnings).to.have.length(2);
      expect((await fails(parse('Patient', "name:exact'=1"))).message).to.include("exact'");
    });
  });

  describe('_type (system search)', () => {
    it('narrows the types; common parameters apply to all of them', async () => {
      const all = ['Patient', 'Observation', 'Encounter'];
      const plan = await parse(all, '_type=Patient,Observation&_id=1&_lastUpdated=ge2024');
      expect(plan.resourceTypes).to.deep.equal(['Patient', 'Observation']);
      expect(plan.warnings).to.deep.equal([]);
      expect(plan.where).to.deep.equal(and(
        { kind: 'id', ids: ['1'] },
        or(entry('date', '_lastUpdated', { column: 'high', op: 'gt', value: ms('2024-12-31T23:59:59.999Z') }),
          entry('date', '_lastUpdated', { column: 'low', op: 'ge', value: ms('2024-01-01T00:00:00.000Z') },
            { column: 'high', op: 'le', value: ms('2024-12-31T23:59:59.999Z') })),
      ));
    });

    it('a parameter missing from one of the types is a 400 (ignoring it would return everything of the others); bad types are 400s', async () => {
      expect((await fails(parse(['Patient', 'Observation'], 'birthdate=1980'))).message).to.include('birthdate');
      const unknownEverywhere = await parse(['Patient', 'Observation'], 'shoe-size=9');
      expect(unknownEverywhere.warnings).to.have.length(1);
      await fails(parse(['Patient', 'Observation'], '_type=Nope'));
      await fails(parse(['Patient'], '_type=Observation'));
    });
  });

  describe('size limits: 400s, never a store error', () => {
    it('too many values, parameters, sort keys or conditions; numbers out of range; values that fold to nothing', async () => {
      const many = Array.from({ length: 201 }, (_, i) => `n${i}`).join(',');
      expect((await fails(parse('Patient', `name=${many}`))).message).to.include('too large');
      expect((await fails(parse('Patient', Array.from({ length: 201 }, () => 'gender=male').join('&')))).message).to.include('too large');
      expect((await fails(parse('Patient', Array.from({ length: 150 }, (_, i) => `name=a${i},b${i},c${i}`).join('&')))).message).to.include('conditions');
      expect((await fails(parse('Patient', `_sort=${Array.from({ length: 11 }, () => 'birthdate').join(',')}`))).message).to.include('sort keys');
      expect((await fails(parse('Observation', 'value-quantity=ap1.7e308'))).message).to.include('out of range');
      expect((await fails(parse('Patient', 'name=\u0301'))).message, 'a lone combining accent').to.include('name');
      const deep = `${'_has:Patient:link:'.repeat(7)}name=x`;
      await fails(parse('Patient', deep));
    });
  });

  describe('compartments', () => {
    it('Observation in Patient/123: any of the compartment parameters refers to it', () => {
      const ref = (param: string) => entry('reference', param,
        { column: 'targetType', op: 'eq', value: 'Patient' }, { column: 'targetId', op: 'eq', value: '123' });
      expect(compartmentCondition('Patient', '123', 'Observation')).to.deep.equal(or(ref('subject'), ref('performer')));
      expect(compartmentCondition('Patient', '123', 'Encounter')).to.deep.equal(ref('subject'));
      expect(compartmentCondition('Patient', '123', 'Patient')).to.deep.equal(or({ kind: 'id', ids: ['123'] }, ref('link')));
    });

    it('types outside the compartment, and unknown compartments, are not found', () => {
      for (const [c, t] of [['Patient', 'Organization'], ['Patient', 'Nope'], ['Nope', 'Observation'], ['Device', 'Observation']]) {
        expect(() => compartmentCondition(c, '1', t), `${c}/${t}`).to.throw(FhirError).with.property('status', 404);
      }
      expect(() => compartmentCondition('Patient', 'bad id!', 'Observation')).to.throw(FhirError).with.property('status', 400);
    });
  });
});
