/** The rules for unauthenticated connections (src/hub/auth-guard.ts), as pure logic with a fake clock. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AUTH_LIMIT_DEFAULTS,
  AuthGuard,
  addressKey,
  backoffDelayMs,
  resolveAuthLimits,
  WrongTokenBackoff,
} from '../../src/hub/auth-guard.ts';

const policy = { ...AUTH_LIMIT_DEFAULTS.backoff, freeFailures: 3, baseDelayMs: 100, maxDelayMs: 5000 };

describe('wrong-token back-off', () => {
  it('costs nothing for the first few failures, then doubles from 100 ms up to the cap', () => {
    const delays = [0, 1, 2, 3, 4, 5, 8, 9, 50, 5000].map((n) => backoffDelayMs(n, policy));
    assert.deepEqual(delays, [0, 0, 0, 100, 200, 400, 3200, 5000, 5000, 5000]);
  });

  it('checks one hello at a time per address, each a delay after the one before', () => {
    const backoff = new WrongTokenBackoff(policy);
    for (let i = 0; i < 4; i += 1) assert.equal(backoff.reserveCheck('10.0.0.1', 1000), 0);
    for (let i = 0; i < 4; i += 1) backoff.recordFailure('10.0.0.1', 1000);
    // Four failures: 200 ms. Three parallel hellos get turns 200 ms apart, not all at once.
    assert.deepEqual(
      [1000, 1000, 1000].map((now) => backoff.reserveCheck('10.0.0.1', now)),
      [200, 400, 600],
    );
    assert.equal(backoff.reserveCheck('10.0.0.2', 1000), 0, 'another address is not slowed down');
  });

  it('forgets an address after a quiet minute, and stays bounded in size', () => {
    const backoff = new WrongTokenBackoff({ ...policy, maxAddresses: 3 });
    for (let i = 0; i < 5; i += 1) backoff.recordFailure('10.0.0.9', 0);
    assert.ok(backoff.reserveCheck('10.0.0.9', 0) > 0);
    assert.equal(backoff.reserveCheck('10.0.0.9', 60_000), 0);
    assert.equal(backoff.size, 0);
    for (let i = 0; i < 10; i += 1) backoff.recordFailure(`10.0.1.${i}`, i);
    assert.equal(backoff.size, 3);
  });
});

describe('the cap on unauthenticated connections', () => {
  it('drops the oldest past the cap; settled connections no longer count', () => {
    const guard = new AuthGuard<string>(resolveAuthLimits({ maxUnauthenticated: 2 }));
    assert.deepEqual(guard.admit('a'), []);
    assert.deepEqual(guard.admit('b'), []);
    assert.deepEqual(guard.admit('c'), ['a']);
    guard.settled('b');
    assert.deepEqual(guard.admit('d'), []);
    assert.deepEqual(guard.admit('e'), ['c']);
    assert.equal(guard.unauthenticated, 2);
  });

  it('refuses limits that would lock every client out', () => {
    assert.throws(
      () => resolveAuthLimits({ maxUnauthenticated: 0 }),
      /maxUnauthenticated must be a positive/,
    );
    assert.throws(() => resolveAuthLimits({ helloTimeoutMs: -1 }), /helloTimeoutMs must be a positive/);
  });
});

describe('addressKey', () => {
  it('is the IPv4 address (mapped or not), or the IPv6 /64', () => {
    assert.equal(addressKey('127.0.0.1'), '127.0.0.1');
    assert.equal(addressKey('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(addressKey('2001:db8:0:1:aaaa::1'), '2001:db8:0:1::/64');
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey(undefined), 'unknown');
  });
});
