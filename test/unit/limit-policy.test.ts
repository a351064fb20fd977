/** The agent's rules for vendor limits (src/agent/limit-policy.ts): pauses, backoff, free retries. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  freeRetriesSoFar,
  limitPause,
  MAX_FREE_RETRIES,
  transientDelayMs,
  transientError,
} from '../../src/agent/limit-policy.ts';

const NOW = 1_778_560_000;

describe('limit policy', () => {
  it('pauses until the reset plus the margin, named by its window', () => {
    assert.deepEqual(limitPause({ resets_at: NOW + 600, window: 'five_hour' }, NOW, 0), {
      until: NOW + 660,
      reason: 'five-hour usage limit',
    });
    // A reset already past still waits the margin.
    assert.equal(limitPause({ resets_at: NOW - 5, window: 'weekly' }, NOW, 0, 10).until, NOW + 10);
  });

  it('without a reset time: 5 min, doubling with each hit in a row, at most 1 h, said as such', () => {
    const first = limitPause({ resets_at: null, window: null }, NOW, 1);
    assert.equal(first.until, NOW + 300);
    assert.equal(first.reason, 'usage limit; no reset time given: backing off 5 min');
    assert.equal(limitPause({ resets_at: null, window: null }, NOW, 2).until, NOW + 600);
    assert.equal(limitPause({ resets_at: null, window: null }, NOW, 9).until, NOW + 3600);
  });

  it('counts transient retries in the error the task carries back', () => {
    assert.equal(freeRetriesSoFar({ error: null, error_kind: null }), 0);
    const error = transientError('POST u answered 529: overloaded', 3);
    assert.equal(freeRetriesSoFar({ error, error_kind: 'overloaded' }), 3);
    // Another kind's error (a setup failure's release) starts no count.
    assert.equal(freeRetriesSoFar({ error, error_kind: 'auth' }), 0);
    assert.equal(MAX_FREE_RETRIES, 5);
  });

  it('backs off with jitter, never below the Retry-After', () => {
    assert.equal(
      transientDelayMs(1, undefined, () => 0),
      1000,
    );
    assert.equal(
      transientDelayMs(1, undefined, () => 0.999),
      2998,
    );
    assert.equal(
      transientDelayMs(3, undefined, () => 0.5),
      8000,
    );
    assert.equal(
      transientDelayMs(10, undefined, () => 0.5),
      60_000,
    );
    assert.equal(
      transientDelayMs(1, 30, () => 0.5),
      30_000,
    );
  });
});
