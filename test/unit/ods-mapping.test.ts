import { expect } from 'chai';
import type { Organization } from 'fhir/r4.js';
import { parseCsv } from '../../resources/organization/csv.js';
import { headerColumns, rowToOrganization, RowError, sameContent, toRow, type OdsRow } from '../../resources/organization/import.js';
import {
  ODS_ORGANIZATION_CODE_SYSTEM, ODS_ROLE_SYSTEM, ORGANISATION_ROLE_URL, PERIOD_TYPE_SYSTEM, TYPED_PERIOD_URL, roleCodes,
} from '../../resources/organization/ods.js';
import { organizationHooks, validateOdsCode, validateOrganization } from '../../resources/organization/hooks.js';
import { FhirError } from '../../fhir/errors.js';
import { SPINE_ERROR_SYSTEM } from '../../fhir/spine-errors.js';
import { thrownFhirError } from '../support/fhir-errors.js';

const TODAY = '2025-06-01';

function row(overrides: Partial<OdsRow> = {}): OdsRow {
  return { code: 'X99A01', name: 'ALPHA TEST SURGERY', postcode: 'ls99 1aa', role: 'RO177;RO76', open_date: '2001-01-01', close_date: '', parent: 'X99B00', ...overrides };
}

const fhirError = thrownFhirError;

describe('ODS import: row to Organization', () => {
  it('maps a row to an ODS-shaped Organization whose id is the ODS code', () => {
    const org = rowToOrganization(row(), 2, TODAY);
    expect(org.id).to.equal('X99A01');
    expect(org.identifier).to.deep.equal([{ use: 'official', system: ODS_ORGANIZATION_CODE_SYSTEM, value: 'X99A01' }]);
    expect(org.name).to.equal('ALPHA TEST SURGERY');
    expect(org.active).to.equal(true);
    expect(org.address).to.deep.equal([{ postalCode: 'LS99 1AA' }]);
    expect(org.partOf).to.deep.equal({ reference: 'Organization/X99B00', identifier: { system: ODS_ORGANIZATION_CODE_SYSTEM, value: 'X99B00' } });
    expect(org.meta?.profile).to.include('https://fhir.hl7.org.uk/StructureDefinition/UKCore-Organization');
  });

  it('carries the roles as Extension-England-OrganisationRole, primary first, with legal and operational periods', () => {
    const org = rowToOrganization(row(), 2, TODAY);
    expect(org.extension!.map((e) => e.url)).to.deep.equal([ORGANISATION_ROLE_URL, ORGANISATION_ROLE_URL]);
    expect(roleCodes(org)).to.deep.equal([{ code: 'RO177', active: true }, { code: 'RO76', active: true }]);
    const sub = org.extension![0].extension!;
    expect(sub.find((e) => e.url === 'roleCode')!.valueCoding).to.deep.equal({ system: ODS_ROLE_SYSTEM, code: 'RO177' });
    const periods = sub.filter((e) => e.url === TYPED_PERIOD_URL);
    expect(periods.map((p) => p.extension![0].valueCoding)).to.deep.equal([
      { system: PERIOD_TYPE_SYSTEM, code: 'Legal', display: 'Legal' },
      { system: PERIOD_TYPE_SYSTEM, code: 'Operational', display: 'Operational' },
    ]);
    expect(periods[0].extension![1].valuePeriod).to.deep.equal({ start: '2001-01-01' });
    expect(sub.find((e) => e.url === 'active')!.valueBoolean).to.equal(true);
  });

  it('closes an organisation whose close date is past: active=false, roles inactive, period ended', () => {
    const org = rowToOrganization(row({ close_date: '2010-03-31' }), 2, TODAY);
    expect(org.active).to.equal(false);
    expect(roleCodes(org).every((r) => !r.active)).to.equal(true);
    expect(org.extension![0].extension!.find((e) => e.url === TYPED_PERIOD_URL)!.extension![1].valuePeriod).to.deep.equal({ start: '2001-01-01', end: '2010-03-31' });
  });

  it('keeps an organisation with a future (or today\'s) close date active', () => {
    expect(rowToOrganization(row({ close_date: '2099-01-01' }), 2, TODAY).active).to.equal(true);
    expect(rowToOrganization(row({ close_date: TODAY }), 2, TODAY).active).to.equal(true);
  });

  it('leaves out the address and partOf when postcode and parent are empty', () => {
    const org = rowToOrganization(row({ postcode: '', parent: '' }), 2, TODAY);
    expect(org).not.to.have.property('address');
    expect(org).not.to.have.property('partOf');
  });

  const bad: [string, Partial<OdsRow>, RegExp][] = [
    ['an invalid code', { code: 'bad-code' }, /code 'bad-code' is not an ODS code/],
    ['an empty name', { name: '' }, /name is empty/],
    ['no role', { role: ' ; ' }, /role is empty/],
    ['a role that is not an RO code', { role: 'RO177;GP' }, /role 'GP'/],
    ['a repeated role', { role: 'RO177;RO177' }, /twice/],
    ['an impossible date', { open_date: '2020-02-30' }, /open_date '2020-02-30' is not a date/],
    ['a date in another format', { close_date: '31/03/2010' }, /close_date/],
    ['a close date before the open date', { open_date: '2010-01-01', close_date: '2009-12-31' }, /before open_date/],
    ['an invalid parent', { parent: 'no!' }, /parent 'no!'/],
    ['itself as parent', { parent: 'X99A01' }, /own parent/],
  ];
  for (const [what, overrides, reason] of bad) {
    it(`refuses a row with ${what}, naming the line`, () => {
      expect(() => rowToOrganization(row(overrides), 7, TODAY)).to.throw(RowError, reason).with.property('line', 7);
    });
  }

  it('reads the header by column name, in any order, and refuses a header lacking columns', () => {
    const [header, data] = parseCsv('parent,close_date,open_date,role,postcode,name,code\nQ99,,2001-01-01,RO76,,"A, B",X99A01\n');
    const org = rowToOrganization(toRow(data, headerColumns(header)), data.line, TODAY);
    expect(org).to.include({ id: 'X99A01', name: 'A, B' });
    expect(org.partOf!.reference).to.equal('Organization/Q99');
    expect(() => headerColumns(parseCsv('code,name\n')[0])).to.throw(RowError, /postcode, role, open_date, close_date, parent/);
  });

  it('sameContent ignores versionId, lastUpdated and key order, and nothing else', () => {
    const org = rowToOrganization(row(), 2, TODAY);
    const stored = { meta: { ...org.meta, versionId: '3', lastUpdated: '2025-01-01T00:00:00Z' }, ...JSON.parse(JSON.stringify(org)) };
    stored.meta = { lastUpdated: '2025-01-01T00:00:00Z', versionId: '3', ...org.meta };
    expect(sameContent(stored, org)).to.equal(true);
    expect(sameContent({ ...stored, name: 'OTHER' }, org)).to.equal(false);
    expect(sameContent(stored, rowToOrganization(row({ close_date: '2010-03-31' }), 2, TODAY))).to.equal(false);
  });
});

describe('ODS hooks: Organization id and identifier rules', () => {
  it('accepts ODS codes as ids and refuses others with a Spine INVALID_RESOURCE_ID 400', () => {
    for (const ok of ['RR8', 'G81086', 'Y56', 'ABCDEFGHIJ12']) expect(() => validateOdsCode(ok)).not.to.throw();
    for (const bad of ['rr8', 'AB', 'ABCDEFGHIJ123', 'org-1', 'A 1']) {
      const e = fhirError(() => validateOdsCode(bad));
      expect(e.status).to.equal(400);
      expect(e.issues[0].details!.coding![0]).to.include({ system: SPINE_ERROR_SYSTEM, code: 'INVALID_RESOURCE_ID' });
    }
  });

  it('refuses an ODS identifier that differs from the id (422, with the path)', () => {
    const org: Organization = { resourceType: 'Organization', id: 'RR8', identifier: [{ system: 'urn:other', value: 'x' }, { system: ODS_ORGANIZATION_CODE_SYSTEM, value: 'RJY' }] };
    const e = fhirError(() => validateOrganization(org));
    expect(e.status).to.equal(422);
    expect(e.issues[0].expression).to.deep.equal(['Organization.identifier[1].value']);
    expect(() => validateOrganization({ ...org, id: 'RJY' })).not.to.throw();
  });

  it('assignId takes the code from the ODS identifier, ignoring a create body\'s own id', async () => {
    const hooks = organizationHooks();
    const body: Organization = { resourceType: 'Organization', id: 'client-chosen', identifier: [{ system: ODS_ORGANIZATION_CODE_SYSTEM, value: 'RR8' }] };
    expect(await hooks.assignId!(body, async () => false)).to.equal('RR8');
    expect(await hooks.assignId!({ resourceType: 'Organization' }, async () => false)).to.match(/^VX[A-Z0-9]{10}$/);
  });

  it('refuses a role extension without a roleCode or with a malformed ODS role code', () => {
    const withRole = (extension: object[]): Organization => ({ resourceType: 'Organization', id: 'RR8', extension: [{ url: ORGANISATION_ROLE_URL, extension: extension as never }] });
    expect(fhirError(() => validateOrganization(withRole([{ url: 'active', valueBoolean: true }]))).status).to.equal(422);
    const e = fhirError(() => validateOrganization(withRole([{ url: 'roleCode', valueCoding: { system: ODS_ROLE_SYSTEM, code: 'GP' } }])));
    expect(e.issues[0].expression).to.deep.equal(['Organization.extension[0].extension[0].value']);
    expect(() => validateOrganization(withRole([{ url: 'roleCode', valueCodeableConcept: { coding: [{ system: ODS_ROLE_SYSTEM, code: 'RO76' }] } }]))).not.to.throw();
  });

  it('assigns a created Organization its ODS code, or a local code of the ODS alphabet when it has none', async () => {
    const hooks = organizationHooks();
    const coded: Organization = { resourceType: 'Organization', identifier: [{ system: ODS_ORGANIZATION_CODE_SYSTEM, value: 'G81086' }] };
    expect(await hooks.assignId!(coded, async () => false)).to.equal('G81086');
    const uncoded: Organization = { resourceType: 'Organization', name: 'No code' };
    const local = await hooks.assignId!(uncoded, async () => false);
    expect(local).to.match(/^VX[A-Z0-9]{10}$/);
    expect(() => validateOdsCode(local)).not.to.throw();
  });
});
