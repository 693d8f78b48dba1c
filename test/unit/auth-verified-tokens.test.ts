import { expect } from 'chai';
import { VerifiedTokenCache } from '../../auth/verified-tokens.js';
import type { AccessTokenClaims } from '../../auth/tokens.js';

const claims = (jti: string, expInSeconds = 300): AccessTokenClaims => {
  const now = Math.floor(Date.now() / 1000);
  return { iss: 'i', aud: 'a', sub: 's', client_id: 'c', scope: 'system/*.read', iat: now, exp: now + expInSeconds, jti };
};

describe('verified access token cache', () => {
  it('answers a verified token for its own audience until it expires or is revoked', () => {
    const revoked = new Set<string>();
    const cache = new VerifiedTokenCache((jti) => revoked.has(jti));
    cache.set('tok1', 'https://a/fhir', claims('j1'));
    cache.set('tok2', 'https://a/fhir', claims('j2', -1));
    expect(cache.get('tok1', 'https://a/fhir')?.jti).to.equal('j1');
    expect(cache.get('tok1', 'https://b/fhir')).to.equal(undefined); // verified for another audience only
    expect(cache.get('tok2', 'https://a/fhir')).to.equal(undefined); // expired
    revoked.add('j1');
    expect(cache.get('tok1', 'https://a/fhir')).to.equal(undefined); // revoked after it was cached
  });

  it('keeps at most its bound, dropping the oldest first', () => {
    const cache = new VerifiedTokenCache(() => false, 2);
    cache.set('t1', 'a', claims('1'));
    cache.set('t2', 'a', claims('2'));
    cache.set('t3', 'a', claims('3'));
    expect(cache.get('t1', 'a')).to.equal(undefined);
    expect(cache.get('t2', 'a')?.jti).to.equal('2');
    expect(cache.get('t3', 'a')?.jti).to.equal('3');
  });
});
