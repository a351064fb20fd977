/** The hub's per-minute throughput history (src/hub/throughput-history.ts), with a clock the tests move. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HISTORY_MINUTES, ThroughputHistory } from '../../src/hub/throughput-history.ts';

const MINUTE_MS = 60_000;
/** A minute boundary, so the tests know which minute each record falls in. */
const T0 = 29_000_000 * MINUTE_MS;

describe('throughput history', () => {
  it('counts done, failed and enqueued per minute, oldest first, leaving empty minutes out', () => {
    let now = T0 + 5_000;
    const history = new ThroughputHistory({ scope: 'hub', now: () => now });
    history.record('task.enqueued', 3);
    history.record('task.done', 1);
    history.record('task.done', 1);
    // Events that are no finish or enqueue, and empty batches, count nothing.
    history.record('task.leased', 5);
    history.record('task.requeued', 1);
    history.record('task.failed', 0);
    now = T0 + 2 * MINUTE_MS + 1_000;
    history.record('task.failed', 2);

    const series = history.series();
    assert.equal(series.bucket_s, 60);
    assert.equal(series.scope, 'hub');
    assert.equal(series.now, now / 1000);
    assert.equal(series.since, (T0 + 5_000) / 1000);
    assert.deepEqual(series.minutes, [
      { start: T0 / 1000, done: 2, failed: 0, enqueued: 3 },
      { start: (T0 + 2 * MINUTE_MS) / 1000, done: 0, failed: 2, enqueued: 0 },
    ]);
    // Only the last minute asked for.
    assert.deepEqual(
      history.series(1).minutes.map((m) => m.start),
      [(T0 + 2 * MINUTE_MS) / 1000],
    );
  });

  it('keeps a day in a fixed ring: older minutes drop out, a reused slot starts from zero', () => {
    let now = T0;
    const history = new ThroughputHistory({ scope: 'fleet', now: () => now });
    history.record('task.done', 7);
    now = T0 + (HISTORY_MINUTES - 1) * MINUTE_MS;
    assert.equal(history.series().minutes.length, 1, 'still within the day');
    now = T0 + HISTORY_MINUTES * MINUTE_MS;
    assert.deepEqual(history.series().minutes, [], 'a day later the minute is gone');
    // The same slot, a day later: its old count does not come back.
    history.record('task.done', 1);
    assert.deepEqual(history.series().minutes, [{ start: now / 1000, done: 1, failed: 0, enqueued: 0 }]);
    // A week of records costs the same memory: every answer stays within a day.
    for (let minute = 0; minute < 7 * HISTORY_MINUTES; minute += 7) {
      now = T0 + minute * MINUTE_MS;
      history.record('task.enqueued', 1);
    }
    assert.ok(history.series().minutes.length <= HISTORY_MINUTES);
    assert.equal(history.series(100_000).minutes.length, history.series().minutes.length);
  });
});
