/**
 * Structured answers end to end, as a user runs them: `mittelo run` of a pack whose lines carry
 * output_schema (and `--output-schema FILE` for the rest) on a shell agent that answers JSON,
 * fenced JSON, the wrong JSON or prose. Valid answers are done with `parsed` in the results file;
 * the others fail with kind bad_output after their attempts, the raw text kept. A schema that
 * does not compile is refused before anything starts.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ResultRecord } from '../../src/run/results.ts';
import { makeTempDir } from '../helpers/hub-process.ts';
import { runCli } from '../helpers/run-cli.ts';

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function workspace(files: Record<string, string>): string {
  const cwd = makeTempDir('mittelo-structured-');
  cleanups.push(() => rmSync(cwd, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(cwd, name), text);
  return cwd;
}

const ANSWER = {
  type: 'object',
  properties: { answer: { type: 'integer' } },
  required: ['answer'],
};
const LIST = { type: 'array', items: { type: 'string' }, minItems: 1 };

/** Answers by prompt: JSON, fenced JSON, JSON of the wrong shape, and prose. */
const SHELL = [
  'p=$(cat); case "$p" in',
  `json) echo '{"answer": 42}';;`,
  `list) echo 'The files: ["a.ts", "b.ts"]';;`,
  'fenced) printf \'Sure:\\n```json\\n{"answer": 7}\\n```\\n\';;',
  `wrong) echo '{"answer": "seven"}';;`,
  "*) echo 'I think the answer is forty-two.';;",
  'esac',
].join('\n');

describe('structured answers (mittelo run)', () => {
  it('stores valid answers as parsed; fails prose and wrong JSON with bad_output after their attempts', async () => {
    const cwd = workspace({
      'answer.schema.json': JSON.stringify(ANSWER),
      'pack.jsonl': `${[
        JSON.stringify({ prompt: 'json' }),
        JSON.stringify({ prompt: 'list', output_schema: LIST }),
        JSON.stringify({ prompt: 'fenced' }),
        JSON.stringify({ prompt: 'prose', max_attempts: 2 }),
        JSON.stringify({ prompt: 'wrong' }),
      ].join('\n')}\n`,
    });
    const out = join(cwd, 'out.jsonl');
    const ran = await runCli(
      [
        'run',
        'pack.jsonl',
        '--agent',
        'shell=1',
        '--shell-cmd',
        SHELL,
        '--output-schema',
        'answer.schema.json',
        '--out',
        out,
      ],
      { cwd },
    );
    assert.equal(ran.code, 1, `two tasks failed\n${ran.stdout}\n${ran.stderr}`);
    const records = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as ResultRecord);
    const [json, list, fenced, prose, wrong] = records;
    assert.equal(json!.status, 'done', json!.error ?? '');
    assert.deepEqual(json!.parsed, { answer: 42 }, 'the --output-schema default applied');
    assert.equal(list!.status, 'done', list!.error ?? '');
    assert.deepEqual(list!.parsed, ['a.ts', 'b.ts'], "the line's own schema, the array found in prose");
    assert.equal(list!.result, 'The files: ["a.ts", "b.ts"]\n', 'the text is kept as it came');
    assert.equal(fenced!.status, 'done', fenced!.error ?? '');
    assert.deepEqual(fenced!.parsed, { answer: 7 });

    assert.equal(prose!.status, 'failed');
    assert.equal(prose!.error_kind, 'bad_output');
    assert.equal(prose!.attempts, 2, 'retried: bad_output counts an attempt and is retryable');
    assert.match(prose!.error!, /^the answer is not JSON: /);
    assert.equal(prose!.result, 'I think the answer is forty-two.\n', 'the raw answer is kept');
    assert.equal(prose!.parsed, null);

    assert.equal(wrong!.status, 'failed');
    assert.equal(wrong!.error_kind, 'bad_output');
    assert.equal(wrong!.attempts, 1);
    assert.equal(wrong!.error, 'the answer does not match output_schema: /answer must be integer');
    assert.match(
      ran.stdout,
      /task \d+ \(line 5\) failed: bad_output: the answer does not match output_schema/,
    );
  });

  it('refuses a schema that does not compile, naming the line or the file, before anything starts', async () => {
    const cwd = workspace({
      'pack.jsonl': `${JSON.stringify({ prompt: 'ok' })}\n${JSON.stringify({ prompt: 'bad', output_schema: { type: 'nope' } })}\n`,
      'plain.jsonl': `${JSON.stringify({ prompt: 'ok' })}\n`,
      'typo.schema.json': JSON.stringify({ type: 'object', requird: ['a'] }),
      'broken.schema.json': '{"type": ',
      'list.schema.json': '[]',
    });
    const line = await runCli(['run', 'pack.jsonl', '--agent', 'echo=1'], { cwd });
    assert.equal(line.code, 2);
    assert.match(
      line.stderr,
      /^mittelo: pack\.jsonl:2: output_schema is not a valid JSON Schema: schema is invalid: data\/type must be .*; nothing was enqueued\n$/,
    );
    assert.equal(line.stdout, '');

    const typo = await runCli(
      ['run', 'plain.jsonl', '--agent', 'echo=1', '--output-schema', 'typo.schema.json'],
      {
        cwd,
      },
    );
    assert.equal(typo.code, 2);
    assert.equal(
      typo.stderr,
      'mittelo: --output-schema typo.schema.json is not a valid JSON Schema: strict mode: unknown keyword: "requird"\n',
    );
    const broken = await runCli(
      [
        'enqueue',
        '--jsonl',
        'plain.jsonl',
        '--output-schema',
        'broken.schema.json',
        '--host',
        '127.0.0.1',
        '--port',
        '9',
      ],
      { cwd },
    );
    assert.equal(broken.code, 2);
    assert.match(broken.stderr, /^mittelo: --output-schema broken\.schema\.json: not valid JSON \(.+\)\n$/);
    const list = await runCli(['enqueue', '--prompt', 'x', '--output-schema', 'list.schema.json'], { cwd });
    assert.equal(list.code, 2);
    assert.equal(
      list.stderr,
      'mittelo: --output-schema list.schema.json must be a JSON Schema (a JSON object)\n',
    );
    const missing = await runCli(['enqueue', '--prompt', 'x', '--output-schema', 'nowhere.json'], { cwd });
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, 'mittelo: cannot read --output-schema nowhere.json: no such file\n');
  });
});
