/**
 * What the terminal shows, as pure functions: tables that use the width they have (cutting only
 * what does not fit, the widest flexible column first), counts with thousands separators, and
 * the progress line's rate, elapsed time and ETA. The interval of the plain progress lines is the
 * one docs/AGENTS.md states.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  columnWidths,
  DEFAULT_WIDTH,
  formatCount,
  formatStatsLine,
  formatTable,
  formatTaskTable,
  outputWidth,
} from '../../src/cli/format.ts';
import {
  barLine,
  formatEta,
  formatSpan,
  PLAIN_EVERY_MS,
  plainLine,
  progressFigures,
} from '../../src/cli/progress.ts';
import { FIXTURE_NOW as NOW, makeTask as task } from '../helpers/fixtures.ts';
import { REPO_ROOT } from '../helpers/hub-process.ts';

const longest = (text: string) => Math.max(...text.split('\n').map((line) => line.length));

describe('tables use the width they have', () => {
  it('cuts nothing while the table fits', () => {
    const rows = [['1', 'a'.repeat(30), 'b'.repeat(30)]];
    assert.deepEqual(columnWidths(['ID', 'X', 'Y'], rows, { flexible: [1, 2], width: 80 }), [2, 30, 30]);
    const table = formatTable(['ID', 'X', 'Y'], rows, { flexible: [1, 2], width: 80 });
    assert.ok(table.includes('a'.repeat(30)) && table.includes('b'.repeat(30)));
    assert.equal(table.includes('…'), false);
  });

  it('takes from the widest flexible column first, until the line fits exactly', () => {
    const rows = [['1', 'a'.repeat(20), 'b'.repeat(60)]];
    // 2 + 20 + 60 + two gaps of 2 = 86: 16 too many for 70, all taken from the 60.
    assert.deepEqual(columnWidths(['ID', 'X', 'Y'], rows, { flexible: [1, 2], width: 70 }), [2, 20, 44]);
    // Far too narrow: both shrink, evenly once they are as wide as each other.
    assert.deepEqual(columnWidths(['ID', 'X', 'Y'], rows, { flexible: [1, 2], width: 40 }), [2, 17, 17]);
    const table = formatTable(['ID', 'X', 'Y'], rows, { flexible: [1, 2], width: 40 });
    assert.equal(longest(table), 40);
    assert.match(table, /^1 {3}a{16}… {2}b{16}…$/m);
  });

  it('never cuts a column that is not flexible, nor a flexible one below its heading or 10 characters', () => {
    const rows = [['fixed-and-long-cell', 'x'.repeat(50)]];
    const widths = columnWidths(['KEEP', 'RESULT/ERROR'], rows, { flexible: [1], width: 20 });
    assert.deepEqual(widths, [19, 12], 'the line runs over rather than lose the fixed column');
  });

  it('the status table shows whole worker ids and prompts when there is room, and cuts the longest text when not', () => {
    const worker = 'box-4242-1a2b3c4d-codex-17';
    const prompt = 'Review src/parser.ts for error handling and report every problem';
    const tasks = [task(7, { worker_id: worker, prompt, result: 'No issues found. '.repeat(20) })];
    const wide = formatTaskTable(tasks, NOW, 400);
    assert.ok(wide.includes(worker) && wide.includes(prompt), wide);
    const narrow = formatTaskTable(tasks, NOW, 200);
    assert.equal(longest(narrow), 200);
    assert.ok(narrow.includes(worker), 'the worker id is shorter than the rest: kept whole');
    assert.ok(narrow.includes(prompt), 'the prompt still fits once the result is cut');
    assert.match(narrow, /No issues found\..*…$/m);
    const tight = formatTaskTable(tasks, NOW, 120);
    assert.equal(longest(tight), 120);
    assert.ok(tight.includes(worker), 'the prompt and the result are cut before the worker id');
    assert.match(tight, /Review src\/parser\.ts.*… +No issues.*…$/m);
  });

  it('measures the terminal, else COLUMNS, else a default', () => {
    const tty = { isTTY: true, columns: 173 } as NodeJS.WriteStream;
    assert.equal(outputWidth(tty), 173);
    const pipe = { isTTY: false } as NodeJS.WriteStream;
    const saved = process.env.COLUMNS;
    try {
      process.env.COLUMNS = '61';
      assert.equal(outputWidth(pipe), 61);
      delete process.env.COLUMNS;
      assert.equal(outputWidth(pipe), DEFAULT_WIDTH);
      process.env.COLUMNS = 'wide';
      assert.equal(outputWidth(pipe), DEFAULT_WIDTH);
    } finally {
      if (saved === undefined) delete process.env.COLUMNS;
      else process.env.COLUMNS = saved;
    }
  });
});

describe('numbers for people', () => {
  it('groups thousands and shows whole numbers', () => {
    assert.equal(formatCount(0), '0');
    assert.equal(formatCount(999), '999');
    assert.equal(formatCount(12_345), '12,345');
    assert.equal(formatCount(1_234_567), '1,234,567');
    assert.equal(formatCount(70.87467899999999), '71');
  });

  it('the counts line groups them too', () => {
    const line = formatStatsLine({ queued: 12_345, leased: 2, done: 1_000_000, failed: 0, canceled: 0 });
    assert.equal(line, 'queued 12,345 · leased 2 · done 1,000,000 · failed 0 · canceled 0 · total 1,012,347');
  });
});

describe('progress: rate, elapsed time and ETA', () => {
  const counts = { total: 100, done: 20, failed: 4, canceled: 1 };

  it('estimates the time left from the rate so far', () => {
    const figures = progressFigures(counts, 10_000);
    assert.equal(figures.finished, 25);
    assert.equal(figures.rate, 2.5);
    assert.equal(figures.etaS, 30);
    assert.equal(progressFigures({ ...counts, done: 0, failed: 0, canceled: 0 }, 10_000).etaS, null);
    assert.equal(progressFigures({ total: 3, done: 3, failed: 0, canceled: 0 }, 10_000).etaS, 0);
  });

  it('writes spans in at most two units', () => {
    assert.equal(formatSpan(7.4), '7s');
    assert.equal(formatSpan(185), '3m05s');
    assert.equal(formatSpan(7440), '2h04m');
    assert.equal(formatEta(null), 'eta ?');
    assert.equal(formatEta(30), 'eta 30s');
  });

  it('the bar line carries counts, rate, elapsed time and ETA', () => {
    assert.equal(
      barLine('run', '####----', counts, 10_000),
      'run |####----| 25/100 | 20 done, 5 failed | 2.5/s | 10s | eta 30s',
    );
    assert.equal(
      barLine('wait', '', { total: 20_000, done: 12_000, failed: 0, canceled: 0 }, 60_000),
      'wait || 12,000/20,000 | 12,000 done, 0 failed | 200/s | 1m00s | eta 40s',
    );
  });

  it('the plain line says the same, and keeps the shape logs are searched for', () => {
    assert.equal(
      plainLine(counts, 10_000),
      'progress: 25/100 finished (20 done, 5 failed), 2.5/s, 10.0 s, eta 30s',
    );
    assert.match(
      plainLine({ ...counts, done: 0, failed: 0, canceled: 0 }, 0),
      /progress: 0\/100 finished .* eta \?$/,
    );
  });

  it('the plain interval is the one docs/AGENTS.md and docs/CLI.md state', () => {
    for (const name of ['AGENTS.md', 'CLI.md']) {
      const doc = readFileSync(join(REPO_ROOT, 'docs', name), 'utf8');
      const stated = [...doc.matchAll(/a\s+plain\s+line\s+every\s+(\d+)\s+seconds/g)].map((m) =>
        Number(m[1]),
      );
      assert.ok(stated.length > 0, `docs/${name} says how often the plain progress line comes`);
      for (const seconds of stated) assert.equal(seconds * 1000, PLAIN_EVERY_MS, `docs/${name}`);
    }
  });
});
