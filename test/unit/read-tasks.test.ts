/**
 * The --jsonl / --file reader of `mittelo enqueue`: which lines become which tasks, where the
 * user's extra fields go, and the file:line message for each kind of bad line. Also how tasks
 * are cut into `enqueue_many` batches.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { CliError, EXIT } from '../../src/cli/common.ts';
import { checkTaskField, parseJsonlTasks, readInput, singleTask } from '../../src/cli/read-tasks.ts';
import { batchesForHub } from '../../src/client/enqueue-batches.ts';
import type { NewTask } from '../../src/protocol/model.ts';
import { makeTempDir } from '../helpers/hub-process.ts';

/** The CliError that `fn` throws (failing the test when it throws nothing or something else). */
function usageError(fn: () => unknown): CliError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof CliError, `expected a CliError, got ${String(error)}`);
    assert.equal(error.exitCode, EXIT.usage);
    return error;
  }
  assert.fail('expected an error');
}

const jsonl = (...lines: unknown[]) =>
  lines.map((line) => (typeof line === 'string' ? line : JSON.stringify(line))).join('\n');

describe('parseJsonlTasks', () => {
  it('reads one task per line, skipping empty and blank lines, CRLF endings and a BOM', () => {
    const text = `\uFEFF${JSON.stringify({ prompt: 'a' })}\r\n\r\n   \n${JSON.stringify({ prompt: 'b' })}\n`;
    const { tasks, lines, ignored } = parseJsonlTasks(text, 'in.jsonl');
    assert.deepEqual(tasks, [{ prompt: 'a' }, { prompt: 'b' }]);
    assert.deepEqual(lines, [1, 4], 'the line each task came from');
    assert.deepEqual(ignored, []);
  });

  it('keeps every known field, and treats null as not set', () => {
    const line = {
      prompt: 'review this',
      backend: 'codex',
      tags: ['python', 'repo:x'],
      priority: -5,
      max_attempts: 3,
      timeout_s: 1.5,
      metadata: { pack: 'p1' },
    };
    assert.deepEqual(parseJsonlTasks(jsonl(line), 'f').tasks, [line]);
    const nulls = { prompt: 'p', backend: null, tags: null, priority: null, metadata: null };
    assert.deepEqual(parseJsonlTasks(jsonl(nulls), 'f').tasks, [{ prompt: 'p' }]);
  });

  it('puts fields it does not know into metadata when the line has none', () => {
    const { tasks, ignored } = parseJsonlTasks(jsonl({ prompt: 'p', id: 7, nested: { a: [1] } }), 'f');
    assert.deepEqual(tasks, [{ prompt: 'p', metadata: { id: 7, nested: { a: [1] } } }]);
    assert.deepEqual(ignored, []);
  });

  it('leaves unknown fields out, and reports them, when the line has its own metadata', () => {
    const text = jsonl({ prompt: 'p' }, { prompt: 'q', metadata: { k: 1 }, id: 7, name: 'n' });
    const { tasks, ignored } = parseJsonlTasks(text, 'f');
    assert.deepEqual(tasks, [{ prompt: 'p' }, { prompt: 'q', metadata: { k: 1 } }]);
    assert.deepEqual(ignored, [{ line: 2, fields: ['id', 'name'] }]);
  });

  it('applies the defaults from flags to lines that do not set the field themselves', () => {
    const text = jsonl({ prompt: 'a' }, { prompt: 'b', backend: 'gemini', priority: null });
    const { tasks } = parseJsonlTasks(text, 'f', { backend: 'codex', priority: 2, tags: ['x'] });
    assert.deepEqual(tasks, [
      { prompt: 'a', backend: 'codex', priority: 2, tags: ['x'] },
      { prompt: 'b', backend: 'gemini', priority: 2, tags: ['x'] },
    ]);
  });

  it('keeps not_before and delay_s (pack lines of `mittelo run` too); a line that sets either keeps its own', () => {
    const at = Math.floor(Date.now() / 1000) + 600;
    const text = jsonl({ prompt: 'a', not_before: at }, { prompt: 'b', delay_s: 1.5 }, { prompt: 'c' });
    assert.deepEqual(parseJsonlTasks(text, 'pack.jsonl').tasks, [
      { prompt: 'a', not_before: at },
      { prompt: 'b', delay_s: 1.5 },
      { prompt: 'c' },
    ]);
    // --delay 60 as the default: a line with its own not_before or delay_s does not also get it.
    assert.deepEqual(parseJsonlTasks(text, 'f', { delay_s: 60 }).tasks, [
      { prompt: 'a', not_before: at },
      { prompt: 'b', delay_s: 1.5 },
      { prompt: 'c', delay_s: 60 },
    ]);
  });

  const badLines: Array<[string, unknown, string]> = [
    ['not JSON', '{"prompt": "a"', 'not valid JSON'],
    ['an array', [1, 2], 'each line must be a JSON object like {"prompt": "..."}, got an array'],
    ['a string', '"just text"', 'each line must be a JSON object like {"prompt": "..."}, got a string'],
    ['null', 'null', 'each line must be a JSON object like {"prompt": "..."}, got null'],
    ['no prompt', { backend: 'codex' }, 'prompt is missing'],
    ['a number prompt', { prompt: 5 }, 'prompt must be a string'],
    ['an empty prompt', { prompt: '  ' }, 'prompt must not be empty'],
    ['a numeric backend', { prompt: 'p', backend: 3 }, 'backend must be a string'],
    ['a backend with spaces', { prompt: 'p', backend: 'my backend' }, 'backend must be a name'],
    ['tags as a string', { prompt: 'p', tags: 'a,b' }, 'tags must be an array of strings'],
    ['a numeric tag', { prompt: 'p', tags: ['a', 1] }, 'tags must be an array of strings'],
    ['a fractional priority', { prompt: 'p', priority: 1.5 }, 'priority must be an integer'],
    ['a string priority', { prompt: 'p', priority: '1' }, 'priority must be an integer'],
    ['zero attempts', { prompt: 'p', max_attempts: 0 }, 'max_attempts must be an integer from 1 to 100'],
    ['a negative timeout', { prompt: 'p', timeout_s: -1 }, 'timeout_s must be a number of seconds'],
    ['metadata as an array', { prompt: 'p', metadata: [1] }, 'metadata must be a JSON object'],
    [
      'a string not_before',
      { prompt: 'p', not_before: 'tomorrow' },
      'not_before must be a Unix time in seconds',
    ],
    [
      'not_before in milliseconds',
      { prompt: 'p', not_before: 1767225600000 },
      'not_before looks like milliseconds',
    ],
    [
      'not_before in two years',
      { prompt: 'p', not_before: Date.now() / 1000 + 2 * 365 * 86_400 },
      'not_before is more than a year from now',
    ],
    [
      'a negative delay',
      { prompt: 'p', delay_s: -3 },
      'delay_s must be a number of seconds from 0 to 31536000',
    ],
    [
      'both not_before and delay_s',
      { prompt: 'p', not_before: 1, delay_s: 1 },
      'delay_s: give not_before (a Unix time) or delay_s',
    ],
  ];
  for (const [what, line, message] of badLines) {
    it(`names the file and line of a line with ${what}`, () => {
      const text = jsonl({ prompt: 'fine' }, '', line, { prompt: 'also fine' });
      const error = usageError(() => parseJsonlTasks(text, 'tasks.jsonl'));
      assert.ok(
        error.message.startsWith(`tasks.jsonl:3: ${message}`),
        `"${error.message}" should start with "tasks.jsonl:3: ${message}"`,
      );
      assert.match(error.message, /nothing was enqueued/);
    });
  }

  it('reports the first bad line and the numbers of the others', () => {
    const lines = [{ prompt: 'ok' }, { prompt: 1 }, 'x', { prompt: 'ok' }];
    for (let i = 0; i < 7; i++) lines.push({ prompt: '' });
    const error = usageError(() => parseJsonlTasks(jsonl(...lines), 'many.jsonl'));
    assert.match(
      error.message,
      /^many\.jsonl:2: prompt must be a string \(8 more bad lines: 3, 5, 6, 7, 8, \.\.\.\)/,
    );
  });

  it('refuses a file with no tasks in it', () => {
    const error = usageError(() => parseJsonlTasks('\n\n  \n', 'empty.jsonl'));
    assert.match(error.message, /empty\.jsonl has no tasks/);
  });
});

describe('checkTaskField', () => {
  it('accepts the limits and refuses just beyond them', () => {
    assert.equal(checkTaskField('priority', 1_000_000), null);
    assert.notEqual(checkTaskField('priority', 1_000_001), null);
    assert.equal(checkTaskField('max_attempts', 100), null);
    assert.notEqual(checkTaskField('max_attempts', 101), null);
    assert.equal(checkTaskField('timeout_s', 7 * 24 * 3600), null);
    assert.notEqual(checkTaskField('timeout_s', 7 * 24 * 3600 + 1), null);
    assert.equal(
      checkTaskField(
        'tags',
        Array.from({ length: 32 }, (_, i) => `t${i}`),
      ),
      null,
    );
    assert.match(
      checkTaskField(
        'tags',
        Array.from({ length: 33 }, (_, i) => `t${i}`),
      ) ?? '',
      /at most 32/,
    );
    assert.equal(checkTaskField('backend', 'a'.repeat(64)), null);
    assert.notEqual(checkTaskField('backend', 'a'.repeat(65)), null);
  });
});

describe('singleTask', () => {
  it('takes the prompt as it is, with the defaults', () => {
    assert.deepEqual(singleTask('line 1\nline 2\n', '--file a.md', { backend: 'echo' }), {
      prompt: 'line 1\nline 2\n',
      backend: 'echo',
    });
  });

  it('refuses an empty prompt, naming where it came from', () => {
    assert.match(
      usageError(() => singleTask(' \n', '--file notes.md')).message,
      /^--file notes\.md is empty/,
    );
    assert.match(usageError(() => singleTask('', '--prompt')).message, /^--prompt is empty/);
  });
});

describe('readInput', () => {
  const dir = makeTempDir('mittelo-read-tasks-');
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file', async () => {
    const path = join(dir, 'prompt.md');
    writeFileSync(path, 'héllo\n');
    assert.equal(await readInput(path, '--file'), 'héllo\n');
  });

  it('says which flag and path could not be read, as a usage error', async () => {
    const missing = join(dir, 'nope.jsonl');
    await assert.rejects(readInput(missing, '--jsonl'), (error: unknown) => {
      assert.ok(error instanceof CliError);
      assert.equal(error.exitCode, EXIT.usage);
      assert.equal(error.message, `cannot read --jsonl ${missing}: no such file`);
      return true;
    });
    await assert.rejects(readInput(dir, '--file'), /it is a folder/);
  });
});

describe('batchesForHub', () => {
  const tasks = (n: number, prompt = 'p'): NewTask[] => Array.from({ length: n }, () => ({ prompt }));

  it('cuts at the task count, keeping order', () => {
    const all = tasks(12_001).map((task, i) => ({ ...task, priority: i }));
    const batches = batchesForHub(all);
    assert.deepEqual(
      batches.map((b) => b.length),
      [5000, 5000, 2001],
    );
    assert.deepEqual(batches.flat(), all);
  });

  it('cuts at the byte budget, and sends a task over the budget alone', () => {
    const big = { prompt: 'x'.repeat(500) };
    const batches = batchesForHub([...tasks(3), big, ...tasks(2)], 100, 200);
    assert.deepEqual(
      batches.map((b) => b.length),
      [3, 1, 2],
    );
    assert.equal(batches[1]![0], big);
    for (const batch of batchesForHub(tasks(1000, 'y'.repeat(50)), 5000, 1024)) {
      assert.ok(Buffer.byteLength(JSON.stringify(batch)) <= 1024 + batch.length);
    }
  });

  it('counts UTF-8 bytes, not characters', () => {
    // 100 three-byte characters: 300 bytes of prompt, so two such tasks do not fit in 400.
    const wide = tasks(3, '€'.repeat(100));
    assert.deepEqual(
      batchesForHub(wide, 5000, 400).map((b) => b.length),
      [1, 1, 1],
    );
  });

  it('sends nothing for no tasks', () => {
    assert.deepEqual(batchesForHub([]), []);
  });
});
