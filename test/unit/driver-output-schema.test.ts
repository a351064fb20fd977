/**
 * output_schema reaching the CLIs that take one: Claude Code's `--json-schema` and the
 * `structured_output` it answers with, and Codex's `--output-schema FILE`, the file written in
 * a folder of the run's own and gone after it. Real processes (the fake codex), no hub.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { claudeCode, parseClaude } from '../../src/backends/drivers/claude-code.ts';
import { codex } from '../../src/backends/drivers/codex.ts';
import { runDriver } from '../../src/backends/drivers/driver-backend.ts';
import { fakeCliEnv } from '../helpers/fake-cli.ts';

const SCHEMA = { type: 'object', properties: { prompt: { type: 'string' } }, required: ['prompt'] };
const home = mkdtempSync(join(tmpdir(), 'mittelo-schema-home-'));
after(() => rmSync(home, { recursive: true, force: true }));
const context = { env: {}, model: undefined, cwd: undefined };

describe('output_schema in the drivers', () => {
  it('claude gets --json-schema with the schema as JSON; without a schema, no flag', () => {
    const { args } = claudeCode.invocation('p', context, { outputSchema: SCHEMA });
    assert.equal(args[args.indexOf('--json-schema') + 1], JSON.stringify(SCHEMA));
    assert.ok(!claudeCode.invocation('p', context, { outputSchema: null }).args.includes('--json-schema'));
  });

  it("claude's structured_output is the answer, as JSON text, over the result's prose", () => {
    const stdout = [
      JSON.stringify({ type: 'system', subtype: 'init', model: 'm' }),
      JSON.stringify({
        type: 'result',
        subtype: 'success',
        is_error: false,
        result: 'Here it is.',
        structured_output: { prompt: 'x', n: [1] },
      }),
    ].join('\n');
    assert.equal(parseClaude(stdout).text, '{"prompt":"x","n":[1]}');
    const plain = stdout.replace(/,"structured_output":\{[^}]*\}\}/, '}');
    assert.equal(parseClaude(plain).text, 'Here it is.');
  });

  it('codex gets --output-schema FILE in a folder of the run, removed after the run', async () => {
    const outcome = await runDriver(
      codex,
      { env: fakeCliEnv('success', home, { OPENAI_API_KEY: 'sk-test' }) },
      { task_id: 7, prompt: 'shape it', worker_id: 'w', output_schema: SCHEMA },
      { signal: new AbortController().signal, timeoutMs: 20_000, maxOutputBytes: 1 << 20 },
    );
    assert.equal(outcome.ok, true, outcome.ok ? '' : outcome.error);
    if (!outcome.ok) return;
    // The fake codex reads the file (JSON or it fails) and names it in its answer.
    const answer = JSON.parse(outcome.output) as { prompt: string; schema_file: string };
    assert.equal(answer.prompt, 'shape it');
    assert.match(answer.schema_file, /mittelo-run-7-[0-9a-f-]+\/output-schema\.json$/);
    assert.equal(dirname(dirname(answer.schema_file)), tmpdir());
    assert.equal(existsSync(dirname(answer.schema_file)), false, 'the folder is gone after the run');
    const plain = codex.invocation('p', context, { outputSchema: null, runDir: '/x' });
    assert.ok(!plain.args.includes('--output-schema'));
    assert.equal(plain.files, undefined);
  });
});
