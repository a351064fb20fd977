/** The pieces of `mittelo run` that are plain data: result records and the summary (enqueue batches: read-tasks.test.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Task } from '../../src/protocol/model.ts';
import { tokensOf } from '../../src/protocol/usage-tokens.ts';
import { percentile, type ResultRecord, resultRecord, summarize } from '../../src/run/results.ts';
import { makeTask } from '../helpers/fixtures.ts';

const NO_SPEND = { input_tokens: 0, output_tokens: 0, cost_usd: null, estimated_usd: 0, cost_unknown: 0 };

function record(
  status: ResultRecord['status'],
  backend: string | null,
  duration: number | null,
  spend: Partial<Pick<ResultRecord, 'usage' | 'cost_usd' | 'cost_basis'>> = {},
): ResultRecord {
  const usage = spend.usage ?? null;
  return {
    task_id: 1,
    line: 1,
    status,
    backend,
    worker_id: backend ? `${backend}-1` : null,
    result: null,
    error: null,
    error_kind: null,
    error_fix: null,
    attempts: 1,
    duration_ms: duration,
    latency_ms: duration ?? 0,
    usage,
    cost_usd: spend.cost_usd ?? null,
    cost_basis: spend.cost_basis ?? null,
    tokens: tokensOf(usage),
    metadata: null,
    prompt: 'p',
  };
}

describe('summarize', () => {
  it('counts per backend with duration percentiles, and what never finished', () => {
    const records = [
      record('done', 'echo', 10),
      record('done', 'echo', 30),
      record('failed', 'echo', 20),
      record('done', 'shell', 100),
      record('canceled', null, null),
    ];
    const summary = summarize(records, 7, 1234);
    assert.equal(summary.total, 7);
    assert.equal(summary.done, 3);
    assert.equal(summary.failed, 1);
    assert.equal(summary.canceled, 1);
    assert.equal(summary.unfinished, 2);
    assert.equal(summary.wall_ms, 1234);
    assert.deepEqual(summary.backends, [
      { backend: '(unknown)', done: 0, failed: 0, canceled: 1, p50_ms: null, p95_ms: null, ...NO_SPEND },
      { backend: 'echo', done: 2, failed: 1, canceled: 0, p50_ms: 20, p95_ms: 30, ...NO_SPEND },
      { backend: 'shell', done: 1, failed: 0, canceled: 0, p50_ms: 100, p95_ms: 100, ...NO_SPEND },
    ]);
    assert.deepEqual(summary.spend, NO_SPEND);
  });

  it('sums tokens and known cost per backend and in all; unknown cost is counted, not added', () => {
    const records = [
      record('done', 'claude_code', 10, {
        usage: { input_tokens: 1200, output_tokens: 30, cache_read_input_tokens: 5 },
        cost_usd: 0.1,
        cost_basis: 'reported',
      }),
      record('failed', 'claude_code', 10, {
        usage: { input_tokens: 800, output_tokens: 20 },
        cost_usd: 0.2,
        cost_basis: 'reported',
      }),
      record('done', 'codex', 10, {
        usage: { input_tokens: 50, output_tokens: 7 },
        cost_usd: 0.05,
        cost_basis: 'estimated',
      }),
      // Counts under other CLIs' names (prompt_tokens, completion_tokens) are read as well.
      record('done', 'codex', 10, {
        usage: { prompt_tokens: 9, completion_tokens: 1 },
        cost_basis: 'unknown',
      }),
      // Not finished: no backend ran it to an end, so its (stale) cost is not in the sums.
      record('queued', null, null, { usage: { input_tokens: 1 }, cost_usd: 9, cost_basis: 'reported' }),
    ];
    const summary = summarize(records, 5, 1);
    const spendOf = (name: string) => {
      const {
        backend: _b,
        done: _d,
        failed: _f,
        canceled: _c,
        p50_ms: _p,
        p95_ms: _q,
        ...spend
      } = summary.backends.find((b) => b.backend === name)!;
      return spend;
    };
    // 0.1 + 0.2 is 0.30000000000000004 in floats: sums are kept to a millionth of a dollar.
    assert.deepEqual(spendOf('claude_code'), {
      input_tokens: 2000,
      output_tokens: 50,
      cost_usd: 0.3,
      estimated_usd: 0,
      cost_unknown: 0,
    });
    assert.deepEqual(spendOf('codex'), {
      input_tokens: 59,
      output_tokens: 8,
      cost_usd: 0.05,
      estimated_usd: 0.05,
      cost_unknown: 1,
    });
    assert.deepEqual(summary.spend, {
      input_tokens: 2059,
      output_tokens: 58,
      cost_usd: 0.35,
      estimated_usd: 0.05,
      cost_unknown: 1,
    });
  });
});

describe('resultRecord', () => {
  it("carries the task's cost, its basis and the token counts of its usage", () => {
    const task: Task = makeTask(1, {
      status: 'done',
      usage: { input_tokens: 3, output_tokens: 2, cache_creation_input_tokens: 4 },
      cost_usd: 0.0042,
      cost_basis: 'reported',
    });
    const line = resultRecord(task, 7, () => 'claude_code');
    assert.equal(line.cost_usd, 0.0042);
    assert.equal(line.cost_basis, 'reported');
    assert.deepEqual(line.tokens, {
      input_tokens: 3,
      output_tokens: 2,
      cache_read_tokens: 0,
      cache_write_tokens: 4,
    });
  });

  it('says null, not 0, for a task whose hub keeps no cost (an older hub)', () => {
    const { cost_usd: _c, cost_basis: _b, ...old } = makeTask(2, { status: 'done' });
    const line = resultRecord(old as Task, 1, () => null);
    assert.equal(line.cost_usd, null);
    assert.equal(line.cost_basis, null);
  });
});

describe('percentile', () => {
  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(values, 50), 50);
    assert.equal(percentile(values, 95), 95);
    assert.equal(percentile(values, 100), 100);
    assert.equal(percentile([], 50), null);
  });
});
