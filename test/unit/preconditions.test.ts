import { expect } from 'chai';
import type { Request } from 'express';
import { notModified, returnPreference, versionFromETag } from '../../server/preconditions.js';
import type { ResourceVersion } from '../../store/port.js';

function req(headers: Record<string, string>): Request {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { get: (name: string) => lower[name.toLowerCase()] } as unknown as Request;
}

const version: ResourceVersion = { resourceType: 'Patient', id: 'p', versionId: 3, lastUpdated: '2024-05-01T10:00:00.750Z', deleted: false, method: 'PUT' };

describe('unit: HTTP preconditions and Prefer', () => {
  it('reads weak and strong entity tags as versions; anything else never matches', () => {
    expect(versionFromETag('W/"3"')).to.equal(3);
    expect(versionFromETag('"12"')).to.equal(12);
    expect(versionFromETag('3')).to.be.NaN;
    expect(versionFromETag('W/"abc"')).to.be.NaN;
  });

  it('If-None-Match: matching tag, a list containing it, or * mean not modified', () => {
    expect(notModified(req({ 'If-None-Match': 'W/"3"' }), version)).to.equal(true);
    expect(notModified(req({ 'If-None-Match': 'W/"1", W/"3"' }), version)).to.equal(true);
    expect(notModified(req({ 'If-None-Match': '*' }), version)).to.equal(true);
    expect(notModified(req({ 'If-None-Match': 'W/"2"' }), version)).to.equal(false);
  });

  it('If-Modified-Since compares at one-second precision', () => {
    expect(notModified(req({ 'If-Modified-Since': 'Wed, 01 May 2024 10:00:00 GMT' }), version)).to.equal(true);
    expect(notModified(req({ 'If-Modified-Since': 'Wed, 01 May 2024 09:59:59 GMT' }), version)).to.equal(false);
    expect(notModified(req({ 'If-Modified-Since': 'garbage' }), version)).to.equal(false);
    expect(notModified(req({}), version)).to.equal(false);
  });

  it('Prefer: return= is read case-insensitively among other preferences', () => {
    expect(returnPreference(req({ Prefer: 'return=minimal' }))).to.equal('minimal');
    expect(returnPreference(req({ Prefer: 'handling=strict, return=OperationOutcome' }))).to.equal('OperationOutcome');
    expect(returnPreference(req({ Prefer: 'return=operationoutcome' }))).to.equal('OperationOutcome');
    expect(returnPreference(req({ Prefer: 'return=representation' }))).to.equal('representation');
    expect(returnPreference(req({ Prefer: 'respond-async' }))).to.equal('representation');
    expect(returnPreference(req({}))).to.equal('representation');
  });
});
