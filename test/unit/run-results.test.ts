/** The pieces of `mittelo run` that are plain data: result records and the summary (enqueue batches: read-tasks.test.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { percentile, type ResultRecord, summarize } from '../../src/run/results.ts';

function record(
  status: ResultRecord['status'],
  backend: string | null,
  duration: number | null,
): ResultRecord {
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
    usage: null,
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
      { backend: '(unknown)', done: 0, failed: 0, canceled: 1, p50_ms: null, p95_ms: null },
      { backend: 'echo', done: 2, failed: 1, canceled: 0, p50_ms: 20, p95_ms: 30 },
      { backend: 'shell', done: 1, failed: 0, canceled: 0, p50_ms: 100, p95_ms: 100 },
    ]);
  });

  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(values, 50), 50);
    assert.equal(percentile(values, 95), 95);
    assert.equal(percentile(values, 100), 100);
    assert.equal(percentile([], 50), null);
  });
});
