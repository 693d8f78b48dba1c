import { expect } from 'chai';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource } from 'fhir/r4.js';
import { parseFhirXml } from '../../fhir/xml.js';
import { pino } from 'pino';
import { parseFhirRequest } from '../../fhir/request.js';
import { assembleSpine } from '../../resources/spine.js';
import { defaultConfig } from '../../server/config.js';
import { resolve } from '../../server/route-table.js';
import { routeTable } from '../../server/routes.js';
import { startTestServer, type FhirResponse, type TestServer } from '../support/server.js';
import { writeSnomedFixture } from '../support/snomed-fixture.js';

/** The value of a Parameters output (first of that name). */
function out(res: FhirResponse, name: string): any {
  const p = res.json?.parameter?.find((q: any) => q.name === name);
  if (!p) return undefined;
  const key = Object.keys(p).find((k) => k.startsWith('value'));
  return key ? p[key] : p;
}
function all(res: FhirResponse, name: string): any[] {
  return (res.json?.parameter ?? []).filter((q: any) => q.name === name);
}
/** The parts of a property output, as code → values. */
function properties(res: FhirResponse): Record<string, unknown[]> {
  const byCode: Record<string, unknown[]> = {};
  for (const p of all(res, 'property')) {
    const code = p.part.find((x: any) => x.name === 'code').valueCode;
    const value = p.part.find((x: any) => x.name === 'value');
    const key = Object.keys(value).find((k) => k.startsWith('value'))!;
    (byCode[code] ??= []).push(value[key]);
  }
  return byCode;
}
const codes = (vs: any): string[] => (vs.expansion.contains ?? []).map((c: any) => c.code);

const GENDER_CS = 'http://hl7.org/fhir/administrative-gender';
const GENDER_VS = 'http://hl7.org/fhir/ValueSet/administrative-gender';
const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
const SCT = 'http://snomed.info/sct';

const LOCAL_CS = {
  resourceType: 'CodeSystem', url: 'http://example.org/fhir/CodeSystem/fruit', version: '1', name: 'Fruit', status: 'active', content: 'complete',
  caseSensitive: true, hierarchyMeaning: 'is-a',
  property: [{ code: 'colour', type: 'code' }, { code: 'seedless', type: 'boolean' }, { code: 'status', uri: 'http://hl7.org/fhir/concept-properties#status', type: 'code' }],
  concept: [
    { code: 'fruit', display: 'Fruit', concept: [
      { code: 'citrus', display: 'Citrus fruit', concept: [
        { code: 'orange', display: 'Blood orange', property: [{ code: 'colour', valueCode: 'orange' }] },
        { code: 'lemon', display: 'Lemon', designation: [{ language: 'fr', value: 'Citron' }], property: [{ code: 'colour', valueCode: 'yellow' }] },
      ] },
      { code: 'berry', display: 'Berry', concept: [
        { code: 'grape', display: 'Seedless grape', property: [{ code: 'colour', valueCode: 'green' }, { code: 'seedless', valueBoolean: true }] },
        { code: 'banana', display: 'Banana', property: [{ code: 'colour', valueCode: 'yellow' }, { code: 'status', valueCode: 'retired' }] },
      ] },
    ] },
  ],
};
const CITRUS_VS = {
  resourceType: 'ValueSet', url: 'http://example.org/fhir/ValueSet/citrus-but-lemon', status: 'active', name: 'CitrusButLemon',
  compose: {
    include: [{ system: LOCAL_CS.url, filter: [{ property: 'concept', op: 'is-a', value: 'citrus' }] }],
    exclude: [{ system: LOCAL_CS.url, concept: [{ code: 'lemon' }] }],
  },
};
const NESTED_VS = {
  resourceType: 'ValueSet', url: 'http://example.org/fhir/ValueSet/fruit-and-gender', status: 'active', name: 'Nested',
  compose: { include: [{ valueSet: [CITRUS_VS.url] }, { valueSet: [GENDER_VS] }, { system: LOCAL_CS.url, concept: [{ code: 'grape', display: 'Grape (listed)' }] }] },
};
const FRUIT_MAP = {
  resourceType: 'ConceptMap', url: 'http://example.org/fhir/ConceptMap/fruit-to-gender', status: 'active', name: 'Silly',
  sourceUri: 'http://example.org/fhir/ValueSet/fruits', targetUri: GENDER_VS,
  group: [{
    source: LOCAL_CS.url, target: GENDER_CS,
    element: [
      { code: 'orange', target: [{ code: 'female', display: 'Female', equivalence: 'wider' }] },
      { code: 'lemon', target: [{ equivalence: 'unmatched' }] },
    ],
  }],
};

describe('HTTP: terminology operations', () => {
  let server: TestServer;
  const ids: Record<string, string> = {};
  before(async () => {
    server = await startTestServer({ maxExpansion: 12 });
    for (const r of [LOCAL_CS, CITRUS_VS, NESTED_VS, FRUIT_MAP]) {
      const res = await server.fhir(`/${r.resourceType}`, { method: 'POST', body: r });
      expect(res.status, JSON.stringify(res.json)).to.equal(201);
      ids[r.url] = res.json.id;
    }
  });
  after(async () => { await server.stop(); });

  const post = (path: string, parameter: unknown[]) => server.fhir(path, { method: 'POST', body: { resourceType: 'Parameters', parameter } });

  describe('R4 base code systems and value sets', () => {
    it('$lookup, GET and POST: name, display, designations and properties', async () => {
      const get = await server.fhir(`/CodeSystem/$lookup?system=${GENDER_CS}&code=female`);
      expect(get.status).to.equal(200);
      expect(out(get, 'name')).to.equal('AdministrativeGender');
      expect(out(get, 'display')).to.equal('Female');
      expect(out(get, 'version')).to.equal('4.0.1');
      const byPost = await post('/CodeSystem/$lookup', [{ name: 'coding', valueCoding: { system: GENDER_CS, code: 'unknown' } }]);
      expect(out(byPost, 'display')).to.equal('Unknown');
    });

    it('$lookup on a v3 hierarchy returns parent and child properties, and can be restricted to them', async () => {
      const res = await server.fhir(`/CodeSystem/$lookup?system=${ACT_CODE}&code=_ActEncounterCode&property=child`);
      expect(res.status).to.equal(200);
      const props = properties(res);
      expect(props.child).to.include.members(['AMB', 'EMER', 'IMP']);
      expect(props.parent).to.equal(undefined);
      const amb = properties(await server.fhir(`/CodeSystem/$lookup?system=${ACT_CODE}&code=AMB`));
      expect(amb.parent).to.deep.equal(['_ActEncounterCode']);
    });

    it('$lookup errors: unknown code 404, system not held 404, nothing to look up 400', async () => {
      const unknownCode = await server.fhir(`/CodeSystem/$lookup?system=${GENDER_CS}&code=robot`);
      expect(unknownCode.status).to.equal(404);
      expect(unknownCode.json.resourceType).to.equal('OperationOutcome');
      const unknownSystem = await server.fhir(`/CodeSystem/$lookup?system=${SCT}&code=22298006`);
      expect(unknownSystem.status).to.equal(404);
      expect(unknownSystem.json.issue[0].diagnostics).to.match(/SNOMED CT is licensed/);
      expect((await server.fhir('/CodeSystem/$lookup?code=male')).status).to.equal(400);
      expect((await server.fhir(`/CodeSystem/$lookup?system=${GENDER_CS}&code=male&code=female`)).status).to.equal(400);
    });

    it('$subsumes on v3 ActCode, GET and POST (codings)', async () => {
      const s = await server.fhir(`/CodeSystem/$subsumes?system=${ACT_CODE}&codeA=_ActEncounterCode&codeB=AMB`);
      expect(s.status).to.equal(200);
      expect(out(s, 'outcome')).to.equal('subsumes');
      expect(out(await server.fhir(`/CodeSystem/$subsumes?system=${ACT_CODE}&codeA=AMB&codeB=_ActEncounterCode`), 'outcome')).to.equal('subsumed-by');
      expect(out(await server.fhir(`/CodeSystem/$subsumes?system=${ACT_CODE}&codeA=AMB&codeB=AMB`), 'outcome')).to.equal('equivalent');
      const p = await post('/CodeSystem/$subsumes', [
        { name: 'codingA', valueCoding: { system: ACT_CODE, code: 'AMB' } },
        { name: 'codingB', valueCoding: { system: ACT_CODE, code: 'EMER' } },
      ]);
      expect(out(p, 'outcome')).to.equal('not-subsumed');
      expect((await server.fhir(`/CodeSystem/$subsumes?system=${ACT_CODE}&codeA=AMB&codeB=nonsense`)).status).to.equal(422);
      expect((await server.fhir(`/CodeSystem/$subsumes?system=${SCT}&codeA=1&codeB=2`)).status).to.equal(404);
      expect((await server.fhir(`/CodeSystem/$subsumes?system=${ACT_CODE}&codeA=AMB`)).status).to.equal(400);
    });

    it('ValueSet $validate-code, GET and POST: valid, invalid, wrong display, codeableConcept', async () => {
      const ok = await server.fhir(`/ValueSet/$validate-code?url=${GENDER_VS}&system=${GENDER_CS}&code=male`);
      expect(ok.status).to.equal(200);
      expect(out(ok, 'result')).to.equal(true);
      expect(out(ok, 'display')).to.equal('Male');
      const bad = await server.fhir(`/ValueSet/$validate-code?url=${GENDER_VS}&system=${GENDER_CS}&code=robot`);
      expect(out(bad, 'result')).to.equal(false);
      expect(out(bad, 'message')).to.match(/robot/);
      const display = await server.fhir(`/ValueSet/$validate-code?url=${GENDER_VS}&system=${GENDER_CS}&code=male&display=Gentleman`);
      expect(out(display, 'result')).to.equal(false);
      expect(out(display, 'message')).to.match(/Gentleman/);
      const cc = await post('/ValueSet/$validate-code', [
        { name: 'url', valueUri: GENDER_VS },
        { name: 'codeableConcept', valueCodeableConcept: { coding: [{ system: 'http://example.org/other', code: 'x' }, { system: GENDER_CS, code: 'other', display: 'Other' }] } },
      ]);
      expect(out(cc, 'result')).to.equal(true);
      const wrongSystem = await post('/ValueSet/$validate-code', [
        { name: 'url', valueUri: GENDER_VS }, { name: 'coding', valueCoding: { system: 'http://example.org/other', code: 'male' } },
      ]);
      expect(out(wrongSystem, 'result')).to.equal(false);
    });

    it('ValueSet $validate-code errors: unknown value set 404, no system 400, several forms 400, codeableConcept in GET 400', async () => {
      expect((await server.fhir(`/ValueSet/$validate-code?url=http://example.org/nope&system=${GENDER_CS}&code=male`)).status).to.equal(404);
      expect((await server.fhir(`/ValueSet/$validate-code?url=${GENDER_VS}&code=male`)).status).to.equal(400);
      expect((await server.fhir(`/ValueSet/$validate-code?url=${GENDER_VS}&code=male&system=${GENDER_CS}&coding=${GENDER_CS}|male`)).status).to.equal(400);
      expect((await server.fhir(`/ValueSet/$validate-code?url=${GENDER_VS}&codeableConcept=x`)).status).to.equal(400);
      expect((await server.fhir(`/ValueSet/$validate-code?system=${GENDER_CS}&code=male`)).status).to.equal(400);
    });

    it('CodeSystem $validate-code, GET and POST', async () => {
      const ok = await server.fhir(`/CodeSystem/$validate-code?url=${GENDER_CS}&code=female`);
      expect(out(ok, 'result')).to.equal(true);
      expect(out(ok, 'display')).to.equal('Female');
      const bad = await post('/CodeSystem/$validate-code', [{ name: 'url', valueUri: GENDER_CS }, { name: 'code', valueCode: 'FEMALE' }]);
      expect(out(bad, 'result')).to.equal(false); // administrative-gender is case-sensitive
      const coding = await post('/CodeSystem/$validate-code', [{ name: 'coding', valueCoding: { system: ACT_CODE, code: 'AMB' } }]);
      expect(out(coding, 'result')).to.equal(true);
    });

    it('$expand, GET and POST: total, filter (word prefix, case-insensitive), count and offset', async () => {
      const full = await server.fhir(`/ValueSet/$expand?url=${GENDER_VS}`);
      expect(full.status).to.equal(200);
      expect(full.json.resourceType).to.equal('ValueSet');
      expect(full.json.expansion.total).to.equal(4);
      expect(codes(full.json)).to.deep.equal(['male', 'female', 'other', 'unknown']);
      expect(full.json.expansion.contains[0]).to.deep.include({ system: GENDER_CS, code: 'male', display: 'Male' });
      const filtered = await server.fhir(`/ValueSet/$expand?url=${GENDER_VS}&filter=FEM`);
      expect(codes(filtered.json)).to.deep.equal(['female']);
      expect(filtered.json.expansion.total).to.equal(1);
      const paged = await post('/ValueSet/$expand', [{ name: 'url', valueUri: GENDER_VS }, { name: 'offset', valueInteger: 1 }, { name: 'count', valueInteger: 2 }]);
      expect(codes(paged.json)).to.deep.equal(['female', 'other']);
      expect(paged.json.expansion.total).to.equal(4);
      expect(paged.json.expansion.offset).to.equal(1);
      const none = await server.fhir(`/ValueSet/$expand?url=${GENDER_VS}&count=0`);
      expect(none.json.expansion.total).to.equal(4);
      expect(none.json.expansion.contains).to.equal(undefined);
    });

    it('$expand errors: unknown value set 404, bad count 400, POST without a Parameters 400, no value set 400', async () => {
      expect((await server.fhir('/ValueSet/$expand?url=http://example.org/nope')).status).to.equal(404);
      expect((await server.fhir(`/ValueSet/$expand?url=${GENDER_VS}&count=-1`)).status).to.equal(400);
      expect((await server.fhir('/ValueSet/$expand', { method: 'POST', body: { resourceType: 'Patient' } })).status).to.equal(400);
      expect((await server.fhir('/ValueSet/$expand')).status).to.equal(400);
      const put = await server.fhir('/ValueSet/$expand', { method: 'PUT', body: {} });
      expect(put.status).to.equal(405);
    });

    it('a value set bigger than the expansion limit is 422 too-costly (limit 12 on this server)', async () => {
      const res = await server.fhir('/ValueSet/$expand?url=http://hl7.org/fhir/ValueSet/languages');
      expect(res.status).to.equal(422);
      expect(res.json.issue[0].code).to.equal('too-costly');
    });
  });

  describe('posted CodeSystem, ValueSet and ConceptMap', () => {
    it('$expand by url and on the instance: is-a filter, exclude, display from the system', async () => {
      const byUrl = await server.fhir(`/ValueSet/$expand?url=${CITRUS_VS.url}`);
      expect(byUrl.status).to.equal(200);
      expect(codes(byUrl.json)).to.deep.equal(['citrus', 'orange']);
      expect(byUrl.json.expansion.contains[1]).to.deep.include({ system: LOCAL_CS.url, version: '1', code: 'orange', display: 'Blood orange' });
      const instance = await server.fhir(`/ValueSet/${ids[CITRUS_VS.url]}/$expand`);
      expect(codes(instance.json)).to.deep.equal(['citrus', 'orange']);
      const post = await server.fhir(`/ValueSet/${ids[CITRUS_VS.url]}/$expand`, { method: 'POST', body: { resourceType: 'Parameters', parameter: [{ name: 'filter', valueString: 'blood' }] } });
      expect(codes(post.json)).to.deep.equal(['orange']);
      expect((await server.fhir('/ValueSet/no-such-id/$expand')).status).to.equal(404);
    });

    it('nested value sets are imported and flattened; a listed concept keeps its listed display', async () => {
      const res = await server.fhir(`/ValueSet/$expand?url=${NESTED_VS.url}`);
      expect(codes(res.json)).to.deep.equal(['citrus', 'orange', 'male', 'female', 'other', 'unknown', 'grape']);
      expect(res.json.expansion.contains.at(-1).display).to.equal('Grape (listed)');
    });

    it('inline value sets (POST): filters =, in, regex, exists, descendent-of, is-not-a, property =, and activeOnly', async () => {
      const expand = async (filter: object[], extra: object[] = []) => {
        const res = await post('/ValueSet/$expand', [
          { name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active', compose: { include: [{ system: LOCAL_CS.url, filter }] } } }, ...extra,
        ]);
        expect(res.status, JSON.stringify(res.json)).to.equal(200);
        return codes(res.json).sort();
      };
      expect(await expand([{ property: 'concept', op: 'descendent-of', value: 'berry' }])).to.deep.equal(['banana', 'grape']);
      expect(await expand([{ property: 'concept', op: 'is-not-a', value: 'citrus' }])).to.deep.equal(['banana', 'berry', 'fruit', 'grape']);
      expect(await expand([{ property: 'concept', op: 'in', value: 'lemon,grape,kiwi' }])).to.deep.equal(['grape', 'lemon']);
      expect(await expand([{ property: 'concept', op: '=', value: 'lemon' }])).to.deep.equal(['lemon']);
      expect(await expand([{ property: 'code', op: 'regex', value: '[bg].*' }])).to.deep.equal(['banana', 'berry', 'grape']);
      expect(await expand([{ property: 'colour', op: '=', value: 'yellow' }])).to.deep.equal(['banana', 'lemon']);
      expect(await expand([{ property: 'seedless', op: 'exists', value: 'true' }])).to.deep.equal(['grape']);
      expect(await expand([{ property: 'colour', op: '=', value: 'yellow' }], [{ name: 'activeOnly', valueBoolean: true }])).to.deep.equal(['lemon']);
      const unsupported = await post('/ValueSet/$expand', [{ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active', compose: { include: [{ system: LOCAL_CS.url, filter: [{ property: 'concept', op: 'whatever', value: 'x' }] }] } } }]);
      expect(unsupported.status).to.equal(422);
    });

    it('$validate-code on the instance and by url, through the is-a rule and the exclusion', async () => {
      const yes = await server.fhir(`/ValueSet/${ids[CITRUS_VS.url]}/$validate-code?system=${LOCAL_CS.url}&code=orange`);
      expect(out(yes, 'result')).to.equal(true);
      expect(out(yes, 'display')).to.equal('Blood orange');
      const excluded = await post(`/ValueSet/${ids[CITRUS_VS.url]}/$validate-code`, [{ name: 'coding', valueCoding: { system: LOCAL_CS.url, code: 'lemon' } }]);
      expect(out(excluded, 'result')).to.equal(false);
      const nested = await server.fhir(`/ValueSet/$validate-code?url=${NESTED_VS.url}&system=${GENDER_CS}&code=other`);
      expect(out(nested, 'result')).to.equal(true);
      const csInstance = await server.fhir(`/CodeSystem/${ids[LOCAL_CS.url]}/$validate-code?code=grape&display=seedless%20GRAPE`);
      expect(out(csInstance, 'result')).to.equal(true);
      expect(out(await server.fhir(`/CodeSystem/${ids[LOCAL_CS.url]}/$validate-code?code=kiwi`), 'result')).to.equal(false);
    });

    it('$subsumes on the instance, and $lookup of a posted system with designations', async () => {
      const res = await server.fhir(`/CodeSystem/${ids[LOCAL_CS.url]}/$subsumes?codeA=fruit&codeB=lemon`);
      expect(out(res, 'outcome')).to.equal('subsumes');
      const posted = await post(`/CodeSystem/${ids[LOCAL_CS.url]}/$subsumes`, [{ name: 'codeA', valueCode: 'grape' }, { name: 'codeB', valueCode: 'citrus' }]);
      expect(out(posted, 'outcome')).to.equal('not-subsumed');
      const lemon = await server.fhir(`/CodeSystem/$lookup?system=${LOCAL_CS.url}&code=lemon`);
      expect(out(lemon, 'name')).to.equal('Fruit');
      expect(all(lemon, 'designation')[0].part).to.deep.include({ name: 'value', valueString: 'Citron' });
      expect(properties(lemon)).to.deep.include({ colour: ['yellow'], parent: ['citrus'] });
      // $lookup is type level only in R4
      expect((await server.fhir(`/CodeSystem/${ids[LOCAL_CS.url]}/$lookup?code=lemon`)).status).to.equal(404);
    });

    it('$translate, GET and POST, type and instance level, forward and reverse', async () => {
      const get = await server.fhir(`/ConceptMap/$translate?system=${LOCAL_CS.url}&code=orange`);
      expect(get.status).to.equal(200);
      expect(out(get, 'result')).to.equal(true);
      const match = all(get, 'match')[0].part;
      expect(match).to.deep.include({ name: 'equivalence', valueCode: 'wider' });
      expect(match).to.deep.include({ name: 'concept', valueCoding: { system: GENDER_CS, code: 'female', display: 'Female' } });
      expect(match).to.deep.include({ name: 'source', valueUri: FRUIT_MAP.url });
      const unmatched = await post(`/ConceptMap/${ids[FRUIT_MAP.url]}/$translate`, [{ name: 'coding', valueCoding: { system: LOCAL_CS.url, code: 'lemon' } }]);
      expect(out(unmatched, 'result')).to.equal(false);
      expect(all(unmatched, 'match')[0].part[0].valueCode).to.equal('unmatched');
      const reverse = await post('/ConceptMap/$translate', [
        { name: 'url', valueUri: FRUIT_MAP.url }, { name: 'system', valueUri: GENDER_CS }, { name: 'code', valueCode: 'female' }, { name: 'reverse', valueBoolean: true },
      ]);
      expect(all(reverse, 'match')[0].part).to.deep.include({ name: 'concept', valueCoding: { system: LOCAL_CS.url, code: 'orange' } });
      expect(all(reverse, 'match')[0].part[0].valueCode).to.equal('narrower');
      expect((await server.fhir('/ConceptMap/$translate?url=http://example.org/nope&system=x&code=y')).status).to.equal(404);
      expect((await server.fhir('/ConceptMap/$translate?code=y')).status).to.equal(400);
    });

    it('$translate with an R4 base ConceptMap', async () => {
      const res = await server.fhir('/ConceptMap/$translate?system=http://hl7.org/fhir/administrative-gender&code=male&targetsystem=http://terminology.hl7.org/CodeSystem/v2-0001');
      expect(out(res, 'result')).to.equal(true);
      expect(all(res, 'match').map((m: any) => m.part.find((p: any) => p.name === 'concept').valueCoding.code)).to.include('M');
    });

    it('expansions are cached and follow writes: an updated CodeSystem changes the next expansion', async () => {
      expect(codes((await server.fhir(`/ValueSet/$expand?url=${CITRUS_VS.url}`)).json)).to.deep.equal(['citrus', 'orange']);
      const updated = structuredClone(LOCAL_CS) as any;
      updated.id = ids[LOCAL_CS.url];
      updated.concept[0].concept[0].concept.push({ code: 'lime', display: 'Lime' });
      expect((await server.fhir(`/CodeSystem/${updated.id}`, { method: 'PUT', body: updated })).status).to.equal(200);
      expect(codes((await server.fhir(`/ValueSet/$expand?url=${CITRUS_VS.url}`)).json)).to.deep.equal(['citrus', 'orange', 'lime']);
      expect(out(await server.fhir(`/ValueSet/$validate-code?url=${CITRUS_VS.url}&system=${LOCAL_CS.url}&code=lime`), 'result')).to.equal(true);
    });

    it('search :in and :below use the same service', async () => {
      const obs = (code: string) => ({ resourceType: 'Observation', status: 'final', code: { coding: [{ system: LOCAL_CS.url, code }] } });
      for (const c of ['orange', 'lemon', 'grape']) await server.fhir('/Observation', { method: 'POST', body: obs(c) });
      const inVs = await server.fhir(`/Observation?code:in=${encodeURIComponent(CITRUS_VS.url)}`);
      expect(inVs.json.entry.map((e: any) => e.resource.code.coding[0].code)).to.deep.equal(['orange']);
      const below = await server.fhir(`/Observation?code:below=${encodeURIComponent(`${LOCAL_CS.url}|citrus`)}&_sort=code`);
      expect(below.json.entry.map((e: any) => e.resource.code.coding[0].code).sort()).to.deep.equal(['lemon', 'orange']);
    });
  });

  describe('honesty about code systems the server does not hold', () => {
    it('CodeSystem $validate-code of SNOMED CT, LOINC and dm+d codes: result false with x-caused-by-unknown-system, never true', async () => {
      for (const [system, code] of [[SCT, '22298006'], ['http://loinc.org', '8867-4'], ['https://dmd.nhs.uk', '39720311000001101']]) {
        const res = await server.fhir(`/CodeSystem/$validate-code?url=${system}&code=${code}`);
        expect(res.status).to.equal(200);
        expect(out(res, 'result')).to.equal(false);
        expect(out(res, 'message')).to.match(/could not be found, so the code cannot be validated/);
        expect(out(res, 'x-caused-by-unknown-system')).to.equal(system);
      }
    });

    it('ValueSet $validate-code through a value set needing SNOMED CT: false with the cause; an implicit SNOMED value set cannot expand (422)', async () => {
      const vs = { resourceType: 'ValueSet', status: 'active', compose: { include: [{ system: SCT, filter: [{ property: 'concept', op: 'is-a', value: '404684003' }] }] } };
      const res = await post('/ValueSet/$validate-code', [{ name: 'valueSet', resource: vs }, { name: 'coding', valueCoding: { system: SCT, code: '22298006' } }]);
      expect(out(res, 'result')).to.equal(false);
      expect(out(res, 'x-caused-by-unknown-system')).to.equal(SCT);
      const expand = await server.fhir(`/ValueSet/$expand?url=${encodeURIComponent(`${SCT}?fhir_vs=isa/404684003`)}`);
      expect(expand.status).to.equal(422);
      expect(expand.json.issue[0].diagnostics).to.match(/not held/);
    });

    it('validateCode for the profile validator: valid, invalid, unknown', async () => {
      const t = server.engine.terminology;
      expect(await t.validateCode(GENDER_VS, { system: GENDER_CS, code: 'male' })).to.equal('valid');
      expect(await t.validateCode(GENDER_VS, { code: 'female' })).to.equal('valid'); // a FHIR `code` element: the system is implied
      expect(await t.validateCode(GENDER_VS, { system: GENDER_CS, code: 'robot' })).to.equal('invalid');
      expect(await t.validateCode('http://example.org/no-such-vs', { system: GENDER_CS, code: 'male' })).to.equal('unknown');
      expect(await t.validateCode(`${SCT}?fhir_vs`, { system: SCT, code: '22298006' })).to.equal('unknown');
      expect(await t.validateCode(CITRUS_VS.url, { system: LOCAL_CS.url, code: 'lemon' })).to.equal('invalid');
    });
  });

  it('with authorization on, the operations are reads of the terminology type (operation → r); $lookup has no instance level', () => {
    // What the route table says each request needs (undefined: no row serves it).
    const table = routeTable({ engine: server.engine, config: defaultConfig(), spine: assembleSpine(), startedAt: '', logger: pino({ level: 'silent' }) });
    const accessRequestFor = (method: string, path: string) => {
      try {
        const request = parseFhirRequest(method, path);
        const access = resolve(table, request).access;
        return typeof access === 'function' ? access(request) : access;
      } catch {
        return undefined;
      }
    };
    expect(accessRequestFor('GET', '/ValueSet/$expand')).to.deep.equal({ interaction: 'operation', resourceTypes: ['ValueSet'] });
    expect(accessRequestFor('POST', '/ConceptMap/m1/$translate')).to.deep.equal({ interaction: 'operation', resourceTypes: ['ConceptMap'] });
    expect(accessRequestFor('GET', '/CodeSystem/$lookup')).to.deep.equal({ interaction: 'operation', resourceTypes: ['CodeSystem'] });
    expect(accessRequestFor('GET', '/CodeSystem/cs1/$lookup')).to.equal(undefined);
    expect(accessRequestFor('GET', '/Patient/$expand')).to.not.deep.equal({ interaction: 'operation', resourceTypes: ['Patient'] });
  });

  it('the CapabilityStatement lists the operations on CodeSystem, ValueSet and ConceptMap', async () => {
    const resources = (await server.fhir('/metadata')).json.rest[0].resource;
    const ops = (type: string) => resources.find((r: any) => r.type === type).operation.map((o: any) => o.name);
    expect(ops('CodeSystem')).to.include.members(['lookup', 'validate-code', 'subsumes']);
    expect(ops('ValueSet')).to.include.members(['expand', 'validate-code']);
    expect(ops('ConceptMap')).to.include.members(['translate']);
    const expand = resources.find((r: any) => r.type === 'ValueSet').operation.find((o: any) => o.name === 'expand');
    expect(expand.definition).to.equal('http://hl7.org/fhir/OperationDefinition/ValueSet-expand');
  });
});

const UKCORE = '/work/shared/ukcore';

/** The UK Core files of a folder; those our strict XML parser refuses are collected in `refused`. */
function ukCore(folder: string, pattern: RegExp, refused: string[]): Resource[] {
  const out: Resource[] = [];
  for (const f of readdirSync(join(UKCORE, folder)).filter((n) => pattern.test(n))) {
    try {
      out.push(parseFhirXml(readFileSync(join(UKCORE, folder, f), 'utf8')));
    } catch {
      refused.push(f);
    }
  }
  return out;
}

describe('HTTP: terminology from UK Core (IG conformance resources)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    const refused: string[] = [];
    const resources = [
      ...ukCore('codesystems', /^CodeSystem-.*\.xml$/, refused),
      ...ukCore('valuesets', /^ValueSet-.*\.xml$/, refused),
      ...ukCore('conceptmaps', /^ConceptMap-.*\.xml$/, refused),
    ];
    // The published file has a stray character after an element ("Gypsy/ Traveller" />c).
    expect(refused).to.deep.equal(['CodeSystem-UKCore-EthnicCategoryScotland.xml']);
    expect(server.engine.terminology.addConformanceResources(resources)).to.equal(resources.length);
  });
  after(async () => { await server.stop(); });

  const ETHNIC = 'https://fhir.hl7.org.uk/ValueSet/UKCore-EthnicCategory';
  const ETHNIC_ENGLAND = 'https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland';

  it('the ethnic category value set expands from its two code systems (35 codes), with filter and paging', async () => {
    const res = await server.fhir(`/ValueSet/$expand?url=${ETHNIC}`);
    expect(res.status).to.equal(200);
    expect(res.json.expansion.total).to.equal(35);
    const page = await server.fhir(`/ValueSet/$expand?url=${ETHNIC}&filter=irish&count=10`);
    expect(page.json.expansion.contains.map((c: any) => c.display)).to.satisfy((ds: string[]) => ds.length > 0 && ds.every((d) => /irish/i.test(d)));
  });

  it('$validate-code on UK Core value sets', async () => {
    const ok = await server.fhir(`/ValueSet/$validate-code?url=${ETHNIC}&system=${ETHNIC_ENGLAND}&code=A`);
    expect(out(ok, 'result')).to.equal(true);
    const bad = await server.fhir(`/ValueSet/$validate-code?url=${ETHNIC}&system=${ETHNIC_ENGLAND}&code=ZZ`);
    expect(out(bad, 'result')).to.equal(false);
    const verification = 'https://fhir.hl7.org.uk/ValueSet/UKCore-NHSNumberVerificationStatus';
    const verified = await server.fhir(`/ValueSet/$validate-code?url=${verification}&system=https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland&code=01`);
    expect(out(verified, 'result')).to.equal(true);
    expect(out(verified, 'display')).to.equal('Number present and verified');
    expect(await server.engine.terminology.validateCode(verification, { system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland', code: '99' })).to.equal('invalid');
  });

  it('a UK Core value set over SNOMED CT answers unknown without a SNOMED release, never valid', async () => {
    const t = server.engine.terminology;
    expect(await t.validateCode('https://fhir.hl7.org.uk/ValueSet/UKCore-AllergyCode', { system: SCT, code: '91936005' })).to.equal('unknown');
  });

  it('UK Core ConceptMaps translate', async () => {
    const res = await server.fhir(`/ConceptMap/$translate?url=https://fhir.hl7.org.uk/ConceptMap/ConceptMap-UKCore-AdministrativeGender&system=${GENDER_CS}&code=female`);
    expect(out(res, 'result')).to.equal(true);
    expect(all(res, 'match')[0].part).to.deep.include({ name: 'concept', valueCoding: { system: 'https://fhir.hl7.org.uk/CodeSystem/NHSDataModelAndDictionary-PersonStatedGenderCode', code: '2', display: 'Female' } });
  });
});

describe('HTTP: SNOMED CT from an RF2 release (SNOMED_RF2_PATH, made-up fixture)', () => {
  let server: TestServer;
  let rf2: string;
  before(async () => {
    rf2 = writeSnomedFixture();
    server = await startTestServer({ snomedRf2Path: rf2 });
  });
  after(async () => {
    await server.stop();
    rmSync(rf2, { recursive: true, force: true });
  });

  it('$lookup: the preferred term as display, FSN and synonyms as designations, parents and children', async () => {
    const res = await server.fhir(`/CodeSystem/$lookup?system=${SCT}&code=1000111`);
    expect(res.status).to.equal(200);
    expect(out(res, 'name')).to.equal('SNOMED CT');
    expect(out(res, 'version')).to.equal('http://snomed.info/sct/900000000000207008/version/20250101');
    expect(out(res, 'display')).to.equal('Fixture heart failure');
    const designations = all(res, 'designation').map((d: any) => d.part.find((p: any) => p.name === 'value').valueString);
    expect(designations).to.include.members(['Fixture heart failure (disorder)', 'Fixture heart failure (synonym)']);
    const props = properties(res);
    expect(props.parent).to.have.members(['1000110', '1000120']);
    expect(props.inactive).to.deep.equal([false]);
    const pneumonia = await server.fhir(`/CodeSystem/$lookup?system=${SCT}&code=1000121`);
    expect(all(pneumonia, 'designation').map((d: any) => d.part.at(-1).valueString)).not.to.include('Withdrawn fixture term');
  });

  it('$subsumes through multiple parents; attribute relationships are not is-a', async () => {
    const check = async (a: string, b: string) => out(await server.fhir(`/CodeSystem/$subsumes?system=${SCT}&codeA=${a}&codeB=${b}`), 'outcome');
    expect(await check('1000120', '1000111')).to.equal('subsumes');
    expect(await check('1000111', '1000000')).to.equal('subsumed-by');
    expect(await check('1000200', '1000111')).to.equal('not-subsumed');
    expect(await check('1000100', '1000300')).to.equal('not-subsumed'); // its is-a row is inactive
  });

  it('implicit value sets: ?fhir_vs=isa/<id> expands and validates; ?fhir_vs is every concept', async () => {
    const isa = encodeURIComponent(`${SCT}?fhir_vs=isa/1000120`);
    const res = await server.fhir(`/ValueSet/$expand?url=${isa}`);
    expect(res.status).to.equal(200);
    expect(codes(res.json).sort()).to.deep.equal(['1000111', '1000120', '1000121', '1000122']);
    expect(out(await server.fhir(`/ValueSet/$validate-code?url=${isa}&system=${SCT}&code=1000122`), 'result')).to.equal(true);
    expect(out(await server.fhir(`/ValueSet/$validate-code?url=${isa}&system=${SCT}&code=1000210`), 'result')).to.equal(false);
    const everything = await server.fhir(`/ValueSet/$expand?url=${encodeURIComponent(`${SCT}?fhir_vs`)}&filter=heart`);
    expect(codes(everything.json).sort()).to.deep.equal(['1000110', '1000111', '1000210']);
    expect(await server.engine.terminology.validateCode(`${SCT}?fhir_vs=isa/1000100`, { system: SCT, code: '1000122' })).to.equal('valid');
  });

  it('$validate-code: known, unknown and inactive concepts; search :below on SNOMED CT', async () => {
    expect(out(await server.fhir(`/CodeSystem/$validate-code?url=${SCT}&code=1000121`), 'result')).to.equal(true);
    const unknown = await server.fhir(`/CodeSystem/$validate-code?url=${SCT}&code=9999999`);
    expect(out(unknown, 'result')).to.equal(false);
    expect(out(unknown, 'x-caused-by-unknown-system')).to.equal(undefined); // the system is held: the code is simply not in it
    for (const code of ['1000121', '1000122', '1000210']) {
      await server.fhir('/Condition', { method: 'POST', body: { resourceType: 'Condition', subject: { reference: 'Patient/x' }, code: { coding: [{ system: SCT, code }] } } });
    }
    const below = await server.fhir(`/Condition?code:below=${encodeURIComponent(`${SCT}|1000120`)}`);
    expect(below.json.entry.map((e: any) => e.resource.code.coding[0].code).sort()).to.deep.equal(['1000121', '1000122']);
  });
});

describe('HTTP: SNOMED_RF2_PATH without a release', () => {
  it('stops the start with the reason', async () => {
    const empty = writeSnomedFixture();
    try {
      await startTestServer({ snomedRf2Path: join(empty, 'Snapshot', 'Refset') }).then(
        (s) => s.stop().then(() => expect.fail('the server should not start')),
        (e: Error) => expect(e.message).to.match(/has no sct2_Concept_/),
      );
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
