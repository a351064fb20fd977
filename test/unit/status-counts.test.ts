/** StatusCounts: in-memory per-status counts that follow commits and forget failed writes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StatusCounts } from '../../src/store/sqlite/status-counts.ts';

describe('StatusCounts', () => {
  it('starts from the rows counted at open, with every status present', () => {
    const counts = new StatusCounts([
      { status: 'queued', n: 2 },
      { status: 'done', n: 5 },
    ]);
    assert.deepEqual(counts.current(), { queued: 2, leased: 0, done: 5, failed: 0, canceled: 0 });
  });

  it('shows an open batch in current() and keeps it after the commit', () => {
    const counts = new StatusCounts([{ status: 'queued', n: 1 }]);
    counts.track(() => counts.move('queued', 'leased'));
    counts.track(() => counts.move(null, 'queued', 3));
    assert.deepEqual(counts.current(), { queued: 3, leased: 1, done: 0, failed: 0, canceled: 0 });
    counts.committedBatch();
    counts.track(() => counts.move('leased', 'done'));
    counts.committedBatch();
    assert.deepEqual(counts.current(), { queued: 3, leased: 0, done: 1, failed: 0, canceled: 0 });
  });

  it('drops the moves of a write that throws, and of a batch that rolls back', () => {
    const counts = new StatusCounts([{ status: 'queued', n: 4 }]);
    assert.throws(() =>
      counts.track(() => {
        counts.move('queued', 'leased', 2);
        throw new Error('constraint failed');
      }),
    );
    assert.equal(counts.current().leased, 0);
    counts.track(() => counts.move('queued', 'canceled'));
    counts.rolledBackBatch();
    assert.deepEqual(counts.current(), { queued: 4, leased: 0, done: 0, failed: 0, canceled: 0 });
  });

  it('refuses a move outside a tracked write (a bug, not a count)', () => {
    const counts = new StatusCounts([]);
    assert.throws(() => counts.move('queued', 'done'), /outside of a tracked write/);
  });
});
