/**
 * The small parts behind retention and run folders: durations on the command line, the task-id
 * ranges run.json keeps, and how a resumed run adds to its results file.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parsePruneStatuses } from '../../src/cli/commands/prune.ts';
import { CliError } from '../../src/cli/common.ts';
import { parseDuration } from '../../src/cli/duration.ts';
import { formatBytes } from '../../src/cli/format.ts';
import type { ResultRecord } from '../../src/run/results.ts';
import { mergeRecords, writeRecords } from '../../src/run/results-file.ts';
import { enqueuedCount, RunRecorder, readManifest, taskLines } from '../../src/run/run-manifest.ts';
import { makeTempDir } from '../helpers/hub-process.ts';

describe('parseDuration', () => {
  it('reads a whole number and a unit', () => {
    assert.equal(parseDuration('30s', '--x'), 30);
    assert.equal(parseDuration('15m', '--x'), 900);
    assert.equal(parseDuration('2h', '--x'), 7200);
    assert.equal(parseDuration(' 7d ', '--x'), 604_800);
    assert.equal(parseDuration('2w', '--x'), 1_209_600);
    assert.equal(parseDuration('0s', '--x'), 0);
  });

  it('refuses anything else with the flag, the form and what it got (exit 2)', () => {
    for (const bad of ['7', '1.5h', '7 days', '-1d', 'd', '', '1y', '99999999w']) {
      assert.throws(
        () => parseDuration(bad, '--older-than'),
        (error: unknown) => {
          assert.ok(error instanceof CliError);
          assert.equal(error.exitCode, 2);
          assert.match(
            error.message,
            /^--older-than must be a duration: a whole number and a unit, s, m, h, d or w/,
          );
          assert.ok(error.message.includes(`got "${bad}"`));
          return true;
        },
      );
    }
    assert.throws(() => parseDuration('7', '--x'), /\(add a unit\)$/);
  });
});

describe('parsePruneStatuses', () => {
  it('takes comma-separated and repeated statuses, once each', () => {
    assert.deepEqual(parsePruneStatuses(['done,canceled', 'DONE', ' failed ']), [
      'done',
      'canceled',
      'failed',
    ]);
  });

  it('refuses unknown and unfinished statuses', () => {
    assert.throws(
      () => parsePruneStatuses(['done,leased']),
      /--status leased: prune removes finished tasks only/,
    );
    assert.throws(() => parsePruneStatuses(['gone']), /"gone" is not a task status/);
    assert.throws(() => parsePruneStatuses([',']), /--status needs at least one of done, failed, canceled/);
  });
});

describe('formatBytes', () => {
  it('uses powers of 1024', () => {
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(49_152), '48.0 KiB');
    assert.equal(formatBytes(13.4 * 1024 * 1024), '13.4 MiB');
  });
});

describe('run.json', () => {
  it('keeps enqueued tasks as ranges of consecutive ids and lines, written at once', () => {
    const folder = makeTempDir('mittelo-manifest-');
    const recorder = RunRecorder.create(
      folder,
      {
        pack: 'p.jsonl',
        pack_path: '/x/p.jsonl',
        pack_sha256: 'abc',
        tasks: 7,
        db: join(folder, 'hub.db'),
        hub: null,
        results: join(folder, 'results.jsonl'),
        agents: ['echo=2'],
      },
      () => {},
    );
    recorder.enqueued([1, 2, 3], [1, 2, 4]); // line 3 was blank
    recorder.enqueued([4, 5], [5, 6]);
    recorder.enqueued([9], [8]); // another client's tasks took ids 6-8
    const manifest = readManifest(folder);
    assert.deepEqual(manifest.enqueued, [
      [1, 1, 2],
      [3, 4, 3],
      [9, 8, 1],
    ]);
    assert.equal(enqueuedCount(manifest), 6);
    assert.deepEqual(
      [...taskLines(manifest)],
      [
        [1, 1],
        [2, 2],
        [3, 4],
        [4, 5],
        [5, 6],
        [9, 8],
      ],
    );
    assert.equal(manifest.ended, null);
    recorder.ended('interrupted');
    const resumed = RunRecorder.resume(folder, readManifest(folder), ['echo=1'], () => {});
    assert.equal(resumed.current.sessions, 2);
    assert.equal(readManifest(folder).ended, null, 'a resumed session is running again');
    assert.deepEqual(readManifest(folder).agents, ['echo=1']);
  });
});

describe('results file of a resumed run', () => {
  const record = (
    task_id: number,
    status: ResultRecord['status'],
    result: string | null = null,
  ): ResultRecord => ({
    task_id,
    line: task_id,
    status,
    backend: 'echo',
    worker_id: 'w',
    result,
    error: null,
    error_kind: null,
    error_fix: null,
    attempts: 1,
    duration_ms: 1,
    latency_ms: 1,
    usage: null,
    cost_usd: null,
    cost_basis: null,
    tokens: { input_tokens: 0, output_tokens: 0, cache_read_tokens: 0, cache_write_tokens: 0 },
    metadata: null,
    prompt: `p${task_id}`,
  });
  const lines = (path: string) =>
    readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ResultRecord);

  it('keeps the finished lines as they were and replaces the unfinished ones', async () => {
    const path = join(makeTempDir('mittelo-results-'), 'results.jsonl');
    await writeRecords(path, [record(1, 'done', 'first'), record(2, 'queued'), record(3, 'failed', 'x')]);
    await mergeRecords(path, [
      record(1, 'done', 'again?'),
      record(2, 'done', 'second'),
      record(3, 'failed', 'y'),
    ]);
    assert.deepEqual(
      lines(path).map((r) => [r.task_id, r.status, r.result]),
      [
        [1, 'done', 'first'],
        [3, 'failed', 'x'],
        [2, 'done', 'second'],
      ],
    );
  });

  it('appends when nothing is replaced, and writes the file when there was none (a killed run)', async () => {
    const folder = makeTempDir('mittelo-results-');
    const path = join(folder, 'results.jsonl');
    await mergeRecords(path, [record(1, 'done', 'a')]);
    assert.deepEqual(
      lines(path).map((r) => r.task_id),
      [1],
    );
    const before = readFileSync(path, 'utf8');
    await mergeRecords(path, [record(1, 'done', 'a'), record(2, 'done', 'b')]);
    assert.ok(readFileSync(path, 'utf8').startsWith(before));
    assert.deepEqual(
      lines(path).map((r) => r.task_id),
      [1, 2],
    );
    writeFileSync(path, `${readFileSync(path, 'utf8')}not json\n`);
    await mergeRecords(path, [record(3, 'done')]);
    assert.match(readFileSync(path, 'utf8'), /not json\n.*"task_id":3/);
  });
});
