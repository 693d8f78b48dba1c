import { expect } from 'chai';
import { loadConfig } from '../../server/config.js';

describe('unit: TRUST_PROXY', () => {
  it('trusts no proxy unless told; takes a hop count, true, or the proxies\' addresses', () => {
    expect(loadConfig({}).trustProxy).to.equal(false);
    expect(loadConfig({ TRUST_PROXY: 'off' }).trustProxy).to.equal(false);
    expect(loadConfig({ TRUST_PROXY: '1' }).trustProxy).to.equal(1);
    expect(loadConfig({ TRUST_PROXY: 'true' }).trustProxy).to.equal(true);
    expect(loadConfig({ TRUST_PROXY: ' 10.0.0.0/8, loopback ' }).trustProxy).to.equal('10.0.0.0/8, loopback');
  });
});
