/**
 * The agent's forwarding of live output (src/agent/output-forwarder.ts), with a fake clock and
 * fake timers: batching, the per-call bounds, drop counting over the rate, the flush when a run
 * ends, one call in flight per task, and silence towards a hub without live_output.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ForwarderLimits, type OutputCall, OutputForwarder } from '../../src/agent/output-forwarder.ts';

interface Timer {
  at: number;
  run: () => void;
}

/** A forwarder on a fake clock; `advance` runs the timers that fall due. */
function harness(
  options: { limits?: Partial<ForwarderLimits>; enabled?: () => boolean; answer?: boolean } = {},
) {
  let now = 1_000_000;
  const timers = new Set<Timer>();
  const calls: OutputCall[] = [];
  const pending: Array<() => void> = [];
  const forwarder = new OutputForwarder({
    send: (call) => {
      calls.push(structuredClone(call));
      if (options.answer === false) return new Promise<void>((resolve) => pending.push(resolve));
      return Promise.resolve();
    },
    enabled: options.enabled ?? (() => true),
    limits: options.limits,
    nowMs: () => now,
    setTimer: (run, ms) => {
      const timer = { at: now + ms, run };
      timers.add(timer);
      return timer;
    },
    clearTimer: (timer) => timers.delete(timer as Timer),
  });
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  return {
    forwarder,
    calls,
    timers,
    pending,
    settle,
    async advance(ms: number) {
      now += ms;
      for (const timer of [...timers].sort((a, b) => a.at - b.at)) {
        if (timer.at > now) continue;
        timers.delete(timer);
        timer.run();
        await settle();
      }
      await settle();
    },
  };
}

const task = { task_id: 7, lease_token: 'tok' };

describe('output forwarder', () => {
  it('gathers lines into one call per interval, with the lease and worker, split at newlines', async () => {
    const h = harness();
    const onOutput = h.forwarder.stream(task, 'w1');
    onOutput({ kind: 'stdout', text: 'a' });
    onOutput({ kind: 'text', text: 'b\nc\n' });
    assert.equal(h.calls.length, 0, 'nothing sent in the same turn');
    await h.advance(0);
    assert.equal(h.calls.length, 1);
    assert.deepEqual(
      { ...h.calls[0]!, lines: h.calls[0]!.lines.map((line) => [line.kind, line.text]) },
      {
        task_id: 7,
        lease_token: 'tok',
        worker_id: 'w1',
        lines: [
          ['stdout', 'a'],
          ['text', 'b'],
          ['text', 'c'],
        ],
      },
    );
    assert.equal(h.calls[0]!.lines[0]!.at, 1_000_000 / 1000);
    onOutput({ kind: 'stdout', text: 'd' });
    await h.advance(100);
    assert.equal(h.calls.length, 1, 'not before the interval since the last call');
    await h.advance(100);
    assert.equal(h.calls.length, 2);
    assert.deepEqual(
      h.calls[1]!.lines.map((line) => line.text),
      ['d'],
    );
  });

  it('cuts a call at maxLines and maxBytes, and long lines at lineChars', async () => {
    const h = harness({ limits: { maxLines: 3, maxBytes: 25, lineChars: 10, burstLines: 100 } });
    const onOutput = h.forwarder.stream(task, 'w1');
    for (let i = 0; i < 5; i += 1) onOutput({ kind: 'stdout', text: `${i}`.repeat(20) });
    await h.advance(0);
    // 10 bytes a line after the cut: 2 fit in 25 bytes.
    assert.deepEqual(
      h.calls[0]!.lines.map((line) => line.text),
      ['0000000000', '1111111111'],
    );
    await h.advance(200);
    await h.advance(200);
    assert.equal(h.calls.length, 3);
    assert.equal(h.calls.flatMap((call) => call.lines).length, 5);
  });

  it('drops lines over the rate, counts them in the next call, and refills with time', async () => {
    const h = harness({ limits: { linesPerSecond: 10, burstLines: 5 } });
    const onOutput = h.forwarder.stream(task, 'w1');
    for (let i = 0; i < 8; i += 1) onOutput({ kind: 'stdout', text: `l${i}` });
    await h.advance(0);
    assert.deepEqual(
      h.calls[0]!.lines.map((line) => line.text),
      ['l0', 'l1', 'l2', 'l3', 'l4'],
    );
    assert.equal(h.calls[0]!.dropped, 3);
    await h.advance(1000); // 10 tokens again (5 at most: the burst)
    for (let i = 0; i < 5; i += 1) onOutput({ kind: 'stdout', text: `m${i}` });
    await h.advance(0);
    assert.equal(h.calls[1]!.lines.length, 5);
    assert.equal(h.calls[1]!.dropped, undefined, 'the count went with the call before');
  });

  it('sends what is left at once when the run ends, and a status line for drops alone', async () => {
    const h = harness({ limits: { maxLines: 2, linesPerSecond: 1, burstLines: 5 } });
    const onOutput = h.forwarder.stream(task, 'w1');
    for (let i = 0; i < 5; i += 1) onOutput({ kind: 'stdout', text: `l${i}` });
    h.forwarder.end(7);
    // Three calls at once (2 + 2 + 1), none waiting for a timer or an answer.
    assert.deepEqual(
      h.calls.map((call) => call.lines.map((line) => line.text)),
      [['l0', 'l1'], ['l2', 'l3'], ['l4']],
    );
    assert.equal(h.timers.size, 0, 'no timer left behind');
    await h.advance(1000);
    assert.equal(h.calls.length, 3, 'the task is forgotten');

    const only = harness({ limits: { linesPerSecond: 1, burstLines: 1 } });
    const second = only.forwarder.stream({ task_id: 8, lease_token: null }, 'w1');
    second({ kind: 'stdout', text: 'kept' });
    await only.advance(0);
    second({ kind: 'stdout', text: 'dropped 1' });
    second({ kind: 'stdout', text: 'dropped 2' });
    only.forwarder.end(8);
    assert.equal(only.calls.length, 2);
    assert.equal(only.calls[1]!.dropped, 2);
    assert.equal(only.calls[1]!.lines[0]!.kind, 'status');
    assert.match(only.calls[1]!.lines[0]!.text, /^2 output line\(s\) not forwarded/);
  });

  it('keeps one call in flight per task: lines wait for its answer, bounded by maxQueued', async () => {
    const h = harness({ answer: false, limits: { maxQueued: 3, burstLines: 100 } });
    const onOutput = h.forwarder.stream(task, 'w1');
    onOutput({ kind: 'stdout', text: 'first' });
    await h.advance(0);
    assert.equal(h.calls.length, 1);
    for (let i = 0; i < 5; i += 1) onOutput({ kind: 'stdout', text: `w${i}` });
    await h.advance(1000);
    assert.equal(h.calls.length, 1, 'the hub has not answered');
    h.pending.shift()!();
    await h.settle();
    await h.advance(0);
    assert.equal(h.calls.length, 2);
    assert.deepEqual(
      h.calls[1]!.lines.map((line) => line.text),
      ['w0', 'w1', 'w2'],
    );
    assert.equal(h.calls[1]!.dropped, 2);
  });

  it('sends nothing to a hub without live_output, and survives a send that throws', async () => {
    let enabled = false;
    const h = harness({ enabled: () => enabled });
    const onOutput = h.forwarder.stream(task, 'w1');
    onOutput({ kind: 'stdout', text: 'nobody hears this' });
    await h.advance(1000);
    h.forwarder.end(7);
    assert.equal(h.calls.length, 0);

    enabled = true;
    const failing = new OutputForwarder({
      send: () => {
        throw new Error('not connected');
      },
      enabled: () => true,
    });
    const run = failing.stream(task, 'w1');
    run({ kind: 'stdout', text: 'x' });
    failing.end(7);
    failing.close();
  });
});
