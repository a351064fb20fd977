/**
 * The hub's memory of live output (src/hub/output-tails.ts) and the per-connection allowance of
 * `output` lines (src/hub/output-budget.ts): bounds, lost counts, the ended tasks' LRU, with a
 * clock the tests move.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutputBudget } from '../../src/hub/output-budget.ts';
import { type IncomingLine, OutputTails } from '../../src/hub/output-tails.ts';

const lines = (count: number, text = (i: number) => `line ${i}`): IncomingLine[] =>
  Array.from({ length: count }, (_, i) => ({ kind: 'stdout', text: text(i + 1) }));

describe('output tails', () => {
  it('numbers lines from 1, keeps their kind, time and text, and reads after a seq', () => {
    const tails = new OutputTails({ now: () => 1000 });
    const kept = tails.append(7, [
      { kind: 'text', text: 'a' },
      { kind: 'tool', text: 'b', at: 5 },
    ]);
    assert.deepEqual(kept, [
      { seq: 1, at: 1000, kind: 'text', text: 'a' },
      { seq: 2, at: 5, kind: 'tool', text: 'b' },
    ]);
    tails.append(7, lines(3));
    assert.equal(tails.lastSeq(7), 5);
    const read = tails.read(7, 2, 2)!;
    assert.deepEqual(
      read.lines.map((line) => [line.seq, line.text]),
      [
        [3, 'line 1'],
        [4, 'line 2'],
      ],
    );
    assert.equal(read.last_seq, 5);
    assert.equal(read.lost, 0);
    assert.deepEqual(tails.read(7, 5, 10)!.lines, []);
    assert.equal(tails.read(8, 0, 10), null, 'no output of another task');
  });

  it('keeps the newest lines within the line bound and counts the rest as lost', () => {
    const tails = new OutputTails({ bounds: { lines: 10 } });
    for (let i = 0; i < 25; i += 1) tails.append(1, lines(10));
    const read = tails.read(1, 0, 500)!;
    assert.equal(read.lines.length, 10);
    assert.equal(read.lines[0]!.seq, 241);
    assert.equal(read.last_seq, 250);
    assert.equal(read.lost, 240);
    // After a seq that is no longer kept: from the first kept one.
    assert.equal(tails.read(1, 3, 500)!.lines[0]!.seq, 241);
  });

  it('keeps within the byte bound, cuts long lines, and adds the dropped lines to lost', () => {
    const tails = new OutputTails({ bounds: { bytes: 1000, lineChars: 300 } });
    tails.append(
      1,
      lines(10, () => 'x'.repeat(400)),
      4,
    );
    const read = tails.read(1, 0, 500)!;
    assert.ok(read.lines.every((line) => line.text.length === 300));
    assert.equal(read.lines.length, 3, '3 x 300 bytes fit in 1000');
    assert.equal(read.lost, 7 + 4);
    // A single line over the byte bound is still kept: the newest is never lost.
    const big = new OutputTails({ bounds: { bytes: 10 } });
    big.append(2, [{ kind: 'text', text: 'y'.repeat(50) }]);
    assert.equal(big.read(2, 0, 10)!.lines.length, 1);
  });

  it('counts multi-byte text in bytes', () => {
    const tails = new OutputTails({ bounds: { bytes: 12 } });
    tails.append(1, [
      { kind: 'text', text: 'ööö' },
      { kind: 'text', text: 'äää' },
      { kind: 'text', text: 'üüü' },
    ]);
    assert.deepEqual(
      tails.read(1, 0, 10)!.lines.map((line) => line.text),
      ['äää', 'üüü'],
    );
  });

  it('keeps the tails of the last ended tasks only; a task that runs again goes on numbering', () => {
    const tails = new OutputTails({ bounds: { endedTasks: 2 } });
    for (const id of [1, 2, 3]) tails.append(id, lines(1));
    tails.taskEnded(1);
    tails.taskEnded(2);
    assert.deepEqual(tails.counts, { live: 1, ended: 2 });
    tails.taskEnded(3);
    assert.equal(tails.read(1, 0, 10), null, 'the oldest ended task is forgotten');
    assert.equal(tails.read(2, 0, 10)!.last_seq, 1);
    // Task 2 runs again (a retry): its tail continues, out of the ended ones.
    assert.equal(tails.append(2, lines(1))[0]!.seq, 2);
    assert.deepEqual(tails.counts, { live: 1, ended: 1 });
    tails.taskEnded(99); // no tail: nothing happens
    assert.deepEqual(tails.counts, { live: 1, ended: 1 });
  });
});

describe('output budget', () => {
  it('keeps calls while within the budget, drops them while in debt, and asks for a pause while in debt', () => {
    let now = 0;
    const budget = new OutputBudget(
      { linesPerSecond: 100, burstLines: 200, callCostLines: 10, maxPauseMs: 1000 },
      () => now,
    );
    assert.deepEqual(budget.charge(150), { keep: 150, pauseMs: 0 });
    // 40 left: this call is kept whole and puts the connection 70 lines in debt.
    assert.deepEqual(budget.charge(100), { keep: 100, pauseMs: 700 });
    // In debt: dropped. The debt is bounded by maxPauseMs, so the pause stays at most 1 s.
    assert.deepEqual(budget.charge(10_000), { keep: 0, pauseMs: 1000 });
    now = 2000;
    // Refilled (2 s x 100 = 200) from -100 to 100: kept, 10 in debt again.
    assert.deepEqual(budget.charge(100), { keep: 100, pauseMs: 100 });
    now = 2100;
    // Paused exactly as long as asked: within the budget again.
    assert.equal(budget.charge(1).keep, 1);
    now = 100_000;
    assert.deepEqual(budget.charge(1), { keep: 1, pauseMs: 0 });
  });
});
