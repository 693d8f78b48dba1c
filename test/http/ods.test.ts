import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { Organization, OrganizationAffiliation } from 'fhir/r4.js';
import { defaultConfig } from '../../server/config.js';
import { startServer } from '../../server/server.js';
import { SPINE_ERROR_SYSTEM } from '../../fhir/spine-errors.js';
import { rowToOrganization, type OdsRow } from '../../resources/organization/import.js';
import {
  lastChangeDateExtension, ODS_ORGANIZATION_CODE_SYSTEM, ODS_RELATIONSHIP_SYSTEM, ODS_ROLE_SYSTEM, ORGANISATION_ROLE_URL,
} from '../../resources/organization/ods.js';
import { fhirFetch, startTestServer, TEST_STORE, type TestServer } from '../support/server.js';

const IMPORT = fileURLToPath(new URL('../../cli/import-ods.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures', import.meta.url));

/** A synthetic ODS Organization in the API's shape (the importer's mapping), with a LastChangeDate. */
function org(code: string, name: string, roles: string, extra: Partial<OdsRow> & { lastChange?: string } = {}): Organization {
  const { lastChange, ...row } = extra;
  const o = rowToOrganization({ code, name, postcode: '', role: roles, open_date: '2001-01-01', close_date: '', parent: '', ...row }, 1, '2025-06-01');
  if (lastChange) o.extension!.push(lastChangeDateExtension(lastChange));
  return o;
}

function affiliation(id: string, source: string, target: string, code: string, display: string): OrganizationAffiliation {
  return {
    resourceType: 'OrganizationAffiliation', id, active: true,
    organization: { reference: `Organization/${source}` },
    participatingOrganization: { reference: `Organization/${target}` },
    code: [{ coding: [{ system: ODS_RELATIONSHIP_SYSTEM, code, display }] }],
    period: { start: '2022-07-01' },
  };
}

const ids = (bundle: any, mode = 'match'): string[] =>
  (bundle.entry ?? []).filter((e: any) => e.search?.mode === mode).map((e: any) => e.resource.id).sort();

describe('HTTP: ODS (Organization = ODS code)', () => {
  let server: TestServer;

  const organizations = [
    org('X99B00', 'RIVERSIDE TEST ICB', 'RO318', { postcode: 'LS99 9ZZ', lastChange: '2023-01-10' }),
    org('X99A01', 'ALPHA TEST SURGERY', 'RO177;RO76', { postcode: 'LS99 1AA', parent: 'X99B00', lastChange: '2024-05-01' }),
    org('X99A02', 'ALPHABET TEST MEDICAL CENTRE', 'RO177;RO76', { postcode: 'LS98 2AB', parent: 'X99B00', lastChange: '2024-08-01' }),
    org('X99C02', 'BETA TEST PHARMACY', 'RO182', { postcode: 'BD99 2BB', lastChange: '2022-02-02' }),
    org('X99D03', 'CLOSED TEST PRACTICE', 'RO177;RO76', { postcode: 'LS99 3CC', parent: 'X99B00', close_date: '2010-03-31' }),
    org('X99E04', 'TEST PRESCRIBING HUB', 'RO177', { postcode: 'LS99 4DD' }),
  ];
  // X99A02's GP PRACTICE role has ended (role inactive, organisation still active).
  organizations[2].extension![1].extension!.find((e) => e.url === 'active')!.valueBoolean = false;

  before(async () => {
    server = await startTestServer();
    for (const o of organizations) {
      const res = await server.fhir(`/Organization/${o.id}`, { method: 'PUT', body: o });
      expect(res.status, res.text).to.equal(201);
    }
    for (const a of [
      affiliation('rel-a01-b00', 'X99A01', 'X99B00', 'RE4', 'IS COMMISSIONED BY'),
      affiliation('rel-c02-e04', 'X99C02', 'X99E04', 'RE6', 'IS OPERATED BY'),
    ]) {
      const res = await server.fhir(`/OrganizationAffiliation/${a.id}`, { method: 'PUT', body: a });
      expect(res.status, res.text).to.equal(201);
    }
  });
  after(async () => { await server?.stop(); });

  const search = async (query: string): Promise<string[]> => {
    const res = await server.fhir(`/Organization?${query}`);
    expect(res.status, `${query}: ${res.text}`).to.equal(200);
    return ids(res.json);
  };

  describe('ids and identifiers', () => {
    it('refuses an id that is not an ODS code with 400 and the Spine INVALID_RESOURCE_ID coding', async () => {
      for (const [path, init] of [
        ['/Organization/org-1', undefined],
        ['/Organization/rr8', undefined],
        ['/Organization/AB', { method: 'PUT', body: { resourceType: 'Organization', id: 'AB', name: 'Too short' } }],
      ] as const) {
        const res = await server.fhir(path, init);
        expect(res.status, path).to.equal(400);
        expect(res.json.resourceType).to.equal('OperationOutcome');
        expect(res.json.issue[0].details.coding[0]).to.include({ system: SPINE_ERROR_SYSTEM, code: 'INVALID_RESOURCE_ID' });
      }
    });

    it('reads an Organization by its ODS code', async () => {
      const res = await server.fhir('/Organization/X99A01');
      expect(res.status).to.equal(200);
      expect(res.json).to.include({ id: 'X99A01', name: 'ALPHA TEST SURGERY' });
      expect(res.json.identifier[0]).to.include({ system: ODS_ORGANIZATION_CODE_SYSTEM, value: 'X99A01' });
      expect(res.json.extension[0].url).to.equal(ORGANISATION_ROLE_URL);
      expect((await server.fhir('/Organization/X99Z99')).status).to.equal(404);
    });

    it('creates (POST) an Organization under its ODS code, and refuses a second one with that code', async () => {
      const body = { resourceType: 'Organization', identifier: [{ system: ODS_ORGANIZATION_CODE_SYSTEM, value: 'X99P01' }], name: 'POSTED CODE CLINIC' };
      const res = await server.fhir('/Organization', { method: 'POST', body });
      expect(res.status, res.text).to.equal(201);
      expect(res.json.id).to.equal('X99P01');
      expect(res.headers.get('location')).to.equal(`${server.url}/Organization/X99P01/_history/1`);
      expect((await server.fhir('/Organization/X99P01')).json.name).to.equal('POSTED CODE CLINIC');
      expect((await server.fhir('/Organization', { method: 'POST', body })).status).to.equal(409);
    });

    it('ignores a POST body\'s own id: the ODS identifier decides', async () => {
      const body = { resourceType: 'Organization', id: 'client-chosen', identifier: [{ system: ODS_ORGANIZATION_CODE_SYSTEM, value: 'X99P02' }], name: 'POSTED WITH ID' };
      const res = await server.fhir('/Organization', { method: 'POST', body });
      expect(res.status, res.text).to.equal(201);
      expect(res.json.id).to.equal('X99P02');
    });

    it('refuses a non-ODS id in a transaction PUT entry and a conditional update (nothing written)', async () => {
      const bundle = {
        resourceType: 'Bundle', type: 'transaction',
        entry: [{ resource: { resourceType: 'Organization', id: 'org-bad', name: 'x' }, request: { method: 'PUT', url: 'Organization/org-bad' } }],
      };
      const tx = await server.fhir('/', { method: 'POST', body: bundle });
      expect(tx.status, tx.text).to.equal(400);
      expect(JSON.stringify(tx.json)).to.contain('INVALID_RESOURCE_ID');
      const cond = await server.fhir('/Organization?name=nothing-matches-this', { method: 'PUT', body: { resourceType: 'Organization', id: 'bad-id', name: 'x' } });
      expect(cond.status, cond.text).to.equal(400);
      expect(cond.json.issue[0].details.coding[0].code).to.equal('INVALID_RESOURCE_ID');
      expect(await search('name=x')).to.deep.equal([]);
    });

    it('gives an Organization created without an ODS code a local code that reads back', async () => {
      const res = await server.fhir('/Organization', { method: 'POST', body: { resourceType: 'Organization', name: 'No code' } });
      expect(res.status, res.text).to.equal(201);
      expect(res.json.id).to.match(/^VX[A-Z0-9]{10}$/);
      expect((await server.fhir(`/Organization/${res.json.id}`)).status).to.equal(200);
    });

    it('refuses an ODS identifier that is not the id with 422 and the identifier\'s path', async () => {
      const body = { ...org('X99Q01', 'MISMATCH TEST', 'RO177'), identifier: [{ system: ODS_ORGANIZATION_CODE_SYSTEM, value: 'X99Q02' }] };
      const res = await server.fhir('/Organization/X99Q01', { method: 'PUT', body });
      expect(res.status).to.equal(422);
      expect(res.json.issue[0].expression).to.deep.equal(['Organization.identifier[0].value']);
      expect(res.json.issue[0].details.coding[0]).to.include({ system: SPINE_ERROR_SYSTEM, code: 'INVALID_VALUE' });
      expect((await server.fhir('/Organization/X99Q01')).status).to.equal(404);
    });

    it('refuses a role extension whose ODS role code is malformed (422)', async () => {
      const body = org('X99Q03', 'BAD ROLE TEST', 'RO177');
      body.extension![0].extension!.find((e) => e.url === 'roleCode')!.valueCoding = { system: ODS_ROLE_SYSTEM, code: 'GP' };
      const res = await server.fhir('/Organization/X99Q03', { method: 'PUT', body });
      expect(res.status).to.equal(422);
      expect(res.json.issue[0].expression[0]).to.match(/^Organization\.extension\[0\]\.extension\[\d\]\.value$/);
    });
  });

  describe('Organization search (the ODS API parameters)', () => {
    it('name is a case-insensitive starts-with match', async () => {
      expect(await search('name=alpha')).to.deep.equal(['X99A01', 'X99A02']);
      expect(await search('name=test')).to.deep.equal(['X99E04']);
    });

    it('name:contains and name:exact', async () => {
      expect(await search('name:contains=test%20surgery')).to.deep.equal(['X99A01']);
      expect(await search('name:contains=medical')).to.deep.equal(['X99A02']);
      expect(await search('name:exact=ALPHA%20TEST%20SURGERY')).to.deep.equal(['X99A01']);
      expect(await search('name:exact=alpha%20test%20surgery')).to.deep.equal([]);
      expect(await search('name:exact=ALPHA%20TEST')).to.deep.equal([]);
    });

    it('address-postalcode (starts-with, :exact)', async () => {
      expect(await search('address-postalcode=LS99')).to.deep.equal(['X99A01', 'X99B00', 'X99D03', 'X99E04']);
      expect(await search('address-postalcode:exact=BD99%202BB')).to.deep.equal(['X99C02']);
    });

    it('identifier with the ODS system, and _id', async () => {
      expect(await search(`identifier=${ODS_ORGANIZATION_CODE_SYSTEM}|X99A01`)).to.deep.equal(['X99A01']);
      expect(await search('identifier=X99C02')).to.deep.equal(['X99C02']);
      expect(await search('_id=X99C02,X99E04')).to.deep.equal(['X99C02', 'X99E04']);
    });

    it('roleCode by bare code, by system|code, comma as OR', async () => {
      expect(await search('roleCode=RO177')).to.deep.equal(['X99A01', 'X99A02', 'X99D03', 'X99E04']);
      expect(await search(`roleCode=${ODS_ROLE_SYSTEM}|RO76`)).to.deep.equal(['X99A01', 'X99A02', 'X99D03']);
      expect(await search('roleCode=RO182,RO318')).to.deep.equal(['X99B00', 'X99C02']);
      expect(await search('roleCode=urn:other|RO177')).to.deep.equal([]);
    });

    it('roleCode=RO177&roleCode:not=RO76 finds prescribing cost centres that are not GP practices', async () => {
      expect(await search('roleCode=RO177&roleCode:not=RO76')).to.deep.equal(['X99E04']);
    });

    it('activeRoleCode only matches roles whose active flag is true', async () => {
      expect(await search('activeRoleCode=RO76')).to.deep.equal(['X99A01']);
      expect(await search('activeRoleCode=RO177')).to.deep.equal(['X99A01', 'X99A02', 'X99E04']);
    });

    it('active', async () => {
      expect(await search('active=false')).to.deep.equal(['X99D03']);
      expect(await search('active=true&roleCode=RO76')).to.deep.equal(['X99A01', 'X99A02']);
    });

    it('lastChangeDate with gt and lt, compoundable', async () => {
      expect(await search('lastChangeDate=gt2024-01-01')).to.deep.equal(['X99A01', 'X99A02']);
      expect(await search('lastChangeDate=lt2023-06-01')).to.deep.equal(['X99B00', 'X99C02']);
      expect(await search('lastChangeDate=gt2023-01-01&lastChangeDate=lt2024-06-01')).to.deep.equal(['X99A01', 'X99B00']);
      expect(await search('lastChangeDate=2024-08-01')).to.deep.equal(['X99A02']);
    });

    it('partof, and the hierarchy through _revinclude', async () => {
      expect(await search('partof=X99B00')).to.deep.equal(['X99A01', 'X99A02', 'X99D03']);
      expect(await search('partof=Organization/X99B00&active=true')).to.deep.equal(['X99A01', 'X99A02']);
      const res = await server.fhir('/Organization?_id=X99B00&_revinclude=Organization:partof');
      expect(ids(res.json)).to.deep.equal(['X99B00']);
      expect(ids(res.json, 'include')).to.deep.equal(['X99A01', 'X99A02', 'X99D03']);
    });

    it('the ODS search parameters are listed in the CapabilityStatement', async () => {
      const cs = (await server.fhir('/metadata')).json;
      const params = cs.rest[0].resource.find((r: any) => r.type === 'Organization').searchParam.map((p: any) => p.name);
      expect(params).to.include.members(['roleCode', 'activeRoleCode', 'lastChangeDate', 'name', 'address-postalcode', 'partof']);
    });
  });

  describe('OrganizationAffiliation (ODS relationships)', () => {
    it('primary-organization with _include of the participating organisation', async () => {
      const res = await server.fhir('/OrganizationAffiliation?primary-organization=X99A01&_include=OrganizationAffiliation:participating-organization');
      expect(res.status).to.equal(200);
      expect(ids(res.json)).to.deep.equal(['rel-a01-b00']);
      expect(ids(res.json, 'include')).to.deep.equal(['X99B00']);
    });

    it('participating-organization with _include of the primary organisation', async () => {
      const res = await server.fhir('/OrganizationAffiliation?participating-organization=Organization/X99E04&_include=OrganizationAffiliation:primary-organization');
      expect(ids(res.json)).to.deep.equal(['rel-c02-e04']);
      expect(ids(res.json, 'include')).to.deep.equal(['X99C02']);
    });

    it('the relationship code (role) with the ODSRelationship system, and active', async () => {
      const res = await server.fhir(`/OrganizationAffiliation?role=${ODS_RELATIONSHIP_SYSTEM}|RE4&active=true`);
      expect(ids(res.json)).to.deep.equal(['rel-a01-b00']);
      const both = await server.fhir('/OrganizationAffiliation?role=RE4,RE6&_include=OrganizationAffiliation:primary-organization&_include=OrganizationAffiliation:participating-organization');
      expect(ids(both.json)).to.deep.equal(['rel-a01-b00', 'rel-c02-e04']);
      expect(ids(both.json, 'include')).to.deep.equal(['X99A01', 'X99B00', 'X99C02', 'X99E04']);
    });
  });
});

describe('npm run import:ods (cli/import-ods.js)', function () {
  this.timeout(60_000);
  let dataDir: string;

  before(function () {
    // The importer writes the store the configuration names; the mongo-fake run has no such store.
    if (TEST_STORE === 'mongo-fake') this.skip();
    dataDir = mkdtempSync(join(tmpdir(), 'vertebra-ods-import-'));
  });
  after(() => { if (dataDir) rmSync(dataDir, { recursive: true, force: true }); });

  const runImport = (file: string) => spawnSync(process.execPath, [IMPORT, file.includes('/') ? file : join(FIXTURES, file)], {
    env: { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: 'silent', MONGODB_URI: '' }, encoding: 'utf8',
  });

  it('imports every row, then a second run of the same file changes nothing (versionId stays 1)', async () => {
    const first = runImport('ods-organisations.csv');
    expect(first.status, first.stderr).to.equal(0);
    expect(first.stdout).to.match(/5 created, 0 updated, 0 unchanged, 0 failed/);
    expect(first.stderr).to.contain('\r[##############################] 5/5');

    const second = runImport('ods-organisations.csv');
    expect(second.status, second.stderr).to.equal(0);
    expect(second.stdout).to.match(/0 created, 0 updated, 5 unchanged, 0 failed/);

    const server = await startServer(defaultConfig({ port: 0, dataDir, logLevel: 'silent', auth: 'off' }), pino({ level: 'silent' }));
    try {
      const base = `http://127.0.0.1:${server.port}/fhir`;
      const all = await fhirFetch(base, '/Organization?_count=50');
      expect(ids(all.json)).to.deep.equal(['X99A01', 'X99B00', 'X99C02', 'X99D03', 'X99E04']);
      for (const e of all.json.entry) expect(e.resource.meta.versionId, e.resource.id).to.equal('1');
      const alpha = (await fhirFetch(base, '/Organization/X99A01')).json;
      expect(alpha.name).to.equal('ALPHA TEST SURGERY, NORTH');
      // X99A01's parent comes later in the file: the reference still resolves.
      expect(alpha.partOf.reference).to.equal('Organization/X99B00');
      expect(ids((await fhirFetch(base, '/Organization?partof=X99B00')).json)).to.deep.equal(['X99A01', 'X99D03', 'X99E04']);
      expect(ids((await fhirFetch(base, '/Organization?active=false')).json)).to.deep.equal(['X99D03']);
      expect(ids((await fhirFetch(base, '/Organization?roleCode=RO177&roleCode:not=RO76')).json)).to.deep.equal(['X99E04']);
      expect(ids((await fhirFetch(base, '/Organization?activeRoleCode=RO76')).json)).to.deep.equal(['X99A01']);
    } finally {
      await server.close();
    }
  });

  it('reports rows in error with their line and reason, imports the others and exits non-zero', () => {
    const res = runImport('ods-organisations-errors.csv');
    expect(res.status).to.equal(1);
    expect(res.stdout).to.match(/1 created, 0 updated, 0 unchanged, 4 failed/);
    expect(res.stderr).to.contain("line 3: code 'bad-code' is not an ODS code");
    expect(res.stderr).to.contain("line 4: role 'GP' is not an ODS role code");
    expect(res.stderr).to.contain("line 5: open_date '2020-02-30' is not a date");
    expect(res.stderr).to.contain('line 6: code X99F01 was already imported from line 2');
  });

  it('updates a row whose content changed, and only that one', async () => {
    const changed = join(dataDir, 'changed.csv');
    writeFileSync(changed, readFileSync(join(FIXTURES, 'ods-organisations.csv'), 'utf8').replace('BETA TEST PHARMACY', 'BETA TEST PHARMACY (RENAMED)'));
    const res = runImport(changed);
    expect(res.status, res.stderr).to.equal(0);
    expect(res.stdout).to.match(/0 created, 1 updated, 4 unchanged, 0 failed/);
    const server = await startServer(defaultConfig({ port: 0, dataDir, logLevel: 'silent', auth: 'off' }), pino({ level: 'silent' }));
    try {
      const pharmacy = (await fhirFetch(`http://127.0.0.1:${server.port}/fhir`, '/Organization/X99C02')).json;
      expect(pharmacy.name).to.equal('BETA TEST PHARMACY (RENAMED)');
      expect(pharmacy.meta.versionId).to.equal('2');
      expect((await fhirFetch(`http://127.0.0.1:${server.port}/fhir`, '/Organization/X99A01')).json.meta.versionId).to.equal('1');
    } finally {
      await server.close();
    }
  });

  it('explains its usage when no file is given', () => {
    const res = spawnSync(process.execPath, [IMPORT], { env: { ...process.env, DATA_DIR: dataDir }, encoding: 'utf8' });
    expect(res.status).to.equal(2);
    expect(res.stderr).to.contain('usage: npm run import:ods -- <file.csv>');
  });
});
