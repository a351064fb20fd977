/** `--limit` / `--rate` as people write them, and the lines status prints (src/cli/limit-flags.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capsFromFlags, describeCapState, parseRate } from '../../src/cli/limit-flags.ts';

describe('limit flags', () => {
  it('reads repeated --limit and --rate into one cap per scope', () => {
    assert.deepEqual(capsFromFlags(['claude_code=3', 'tag:gpu=1'], ['codex=20/min', 'claude_code=600/h']), [
      { scope: 'claude_code', concurrency: 3, rate_per_min: 10 },
      { scope: 'tag:gpu', concurrency: 1, rate_per_min: null },
      { scope: 'codex', concurrency: null, rate_per_min: 20 },
    ]);
    assert.equal(parseRate('20', '--rate'), 20);
  });

  it('refuses what it cannot read with one line saying how to write it', () => {
    assert.throws(
      () => capsFromFlags(['claude_code']),
      /--limit takes NAME=VALUE, got "claude_code"; for example --limit claude_code=3/,
    );
    assert.throws(() => capsFromFlags(['claude_code=0']), /whole number of tasks, 1 or more, got "0"/);
    assert.throws(() => capsFromFlags(['a b=1']), /is not a backend name or tag:NAME/);
    assert.throws(
      () => capsFromFlags([], ['codex=fast']),
      /"fast" is not a rate of 1 or more tasks per minute; write it as 20\/min/,
    );
    assert.throws(() => capsFromFlags(['x=1', 'x=2']), /--limit x is given twice/);
  });

  it('says how full a cap is and how many wait for a slot', () => {
    const cap = {
      scope: 'claude_code',
      concurrency: 3,
      rate_per_min: null,
      leased: 3,
      started_last_min: 0,
      waiting: 12,
    };
    assert.equal(describeCapState(cap), 'claude_code: 3/3 leased (cap 3), 12 wait for a slot');
    assert.equal(describeCapState({ ...cap, leased: 1 }), 'claude_code: 1/3 leased (cap 3), 12 queued');
  });
});
