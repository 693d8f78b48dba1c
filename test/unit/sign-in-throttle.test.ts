import { expect } from 'chai';
import { SignInThrottle } from '../../auth/sign-in-throttle.js';

describe('sign-in throttle', () => {
  const rule = { limit: 3, windowSeconds: 60, lockSeconds: 300 };

  it('locks a key after `limit` failures inside the window, for `lockSeconds`, then lets it try again', () => {
    let now = 0;
    const t = new SignInThrottle(rule, () => now);
    expect(t.failed('a')).to.equal(0);
    expect(t.failed('a')).to.equal(0);
    expect(t.retryAfter('a')).to.equal(0);
    expect(t.failed('a')).to.equal(300);
    expect(t.retryAfter('a')).to.equal(300);
    expect(t.retryAfter('b')).to.equal(0);
    now = 299_500;
    expect(t.retryAfter('a')).to.equal(1);
    now = 300_000;
    expect(t.retryAfter('a')).to.equal(0);
    expect(t.failed('a')).to.equal(0); // a fresh count after the lock
  });

  it('forgets failures older than the window, and a success clears the count', () => {
    let now = 0;
    const t = new SignInThrottle(rule, () => now);
    t.failed('a');
    t.failed('a');
    now = 61_000;
    expect(t.failed('a')).to.equal(0); // the first two fell out of the window
    t.failed('b');
    t.failed('b');
    t.succeeded('b');
    expect(t.failed('b')).to.equal(0);
  });
});
