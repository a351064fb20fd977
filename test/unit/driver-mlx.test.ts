/**
 * The mlx driver beyond its recorded outputs: the interpreter and model choices, the invocation,
 * parsing edge cases, and the prerequisite checks on a pretended host (Apple silicon or not),
 * run against the fake interpreter test/fixtures/fake-clis/python-mlx.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { classify } from '../../src/backends/classify.ts';
import { driverBackend, driverContext } from '../../src/backends/drivers/driver-backend.ts';
import { DRIVERS } from '../../src/backends/drivers/index.ts';
import {
  type Host,
  MLX_DEFAULT_MODEL,
  mlxChecks,
  mlxSpec,
  parseMlx,
} from '../../src/backends/drivers/mlx.ts';
import { FAKE_CLIS } from '../helpers/fake-cli.ts';

const FAKE_PYTHON = join(FAKE_CLIS, 'python-mlx');
const APPLE: Host = { platform: 'darwin', arch: 'arm64' };
const LINUX: Host = { platform: 'linux', arch: 'x64' };
const run = { signal: new AbortController().signal, timeoutMs: 20_000, maxOutputBytes: 1 << 20 };
const task = { task_id: 1, prompt: 'say hi\nplease', worker_id: 'w1' };

function fakeEnv(mode = 'success', extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MITTELO_MLX_PYTHON: FAKE_PYTHON,
    MITTELO_MLX_MODEL: '',
    FAKE_CLI_MODE: mode,
    ...extra,
  };
}

describe('mlx driver: interpreter, model and invocation', () => {
  it('is registered, and runs python3 unless MITTELO_MLX_PYTHON names another interpreter', () => {
    assert.equal(DRIVERS.mlx?.name, 'mlx');
    assert.deepEqual(mlxSpec({}).binaries, ['python3']);
    assert.deepEqual(mlxSpec({ MITTELO_MLX_PYTHON: '/opt/py/bin/python3.12' }).binaries, [
      '/opt/py/bin/python3.12',
    ]);
    assert.match(
      mlxSpec({ MITTELO_MLX_PYTHON: 'python3.12' }).setup[0]!,
      /^python3\.12 -m pip install -U mlx-lm$/,
    );
  });

  it('passes the prompt on stdin with --prompt -, the default model unless MITTELO_MLX_MODEL or --model', () => {
    const spec = mlxSpec({});
    const plain = spec.invocation('hi\\n there', driverContext(spec, { env: {} }));
    assert.deepEqual(plain.args, [
      '-m',
      'mlx_lm.generate',
      '--model',
      MLX_DEFAULT_MODEL,
      '--prompt',
      '-',
      '--max-tokens',
      '1024',
    ]);
    assert.equal(plain.input, 'hi\\n there', 'stdin, so mlx-lm does not rewrite the literal \\n');
    const fromEnv = spec.invocation(
      'x',
      driverContext(spec, { env: { MITTELO_MLX_MODEL: 'mlx-community/Env-4bit' } }),
    );
    assert.equal(fromEnv.args[3], 'mlx-community/Env-4bit');
    const fromFlag = spec.invocation(
      'x',
      driverContext(spec, {
        env: { MITTELO_MLX_MODEL: 'mlx-community/Env-4bit' },
        model: 'mlx-community/Flag-4bit',
      }),
    );
    assert.equal(fromFlag.args[3], 'mlx-community/Flag-4bit');
  });

  it('parses output without separators, and a run that generated nothing', () => {
    assert.deepEqual(
      parseMlx('Calling `python -m mlx_lm.generate...` directly is deprecated.\nplain answer\n'),
      {
        text: 'plain answer',
      },
    );
    assert.deepEqual(parseMlx('==========\n\n==========\nNo text generated for this prompt\n'), { text: '' });
  });

  it('keeps a separator the model itself wrote inside the answer', () => {
    const parsed = parseMlx(
      '==========\nabove\n==========\nbelow\n==========\nPrompt: 3 tokens, 1.000 tokens-per-sec\n',
    );
    assert.equal(parsed.text, 'above\n==========\nbelow');
    assert.equal(parsed.usage?.input_tokens, 3);
  });

  it('classifies the earlier driver\'s "mlx-lm not available" as not installed, with the pip fix', () => {
    const result = classify(mlxSpec({}).rules, {
      exitCode: 1,
      output: 'RuntimeError: mlx-lm not available: pip install -U mlx-lm',
    });
    assert.equal(result.kind, 'not_installed');
    assert.match(result.fix!, /python3 -m pip install -U mlx-lm/);
    assert.match(result.fix!, /MITTELO_MLX_PYTHON/);
  });
});

describe('mlx driver: prerequisite checks', () => {
  it('refuses any machine but Apple silicon with a clear message and the openai alternative', async () => {
    for (const host of [LINUX, { platform: 'darwin', arch: 'x64' }, { platform: 'win32', arch: 'arm64' }]) {
      const context = driverContext(mlxSpec(fakeEnv()), { env: fakeEnv() });
      const problems = await mlxChecks(FAKE_PYTHON, context, host);
      assert.equal(problems.length, 1);
      assert.equal(problems[0]!.severity, 'fail');
      assert.equal(
        problems[0]!.message,
        `MLX needs Apple silicon (this machine is ${host.platform}/${host.arch})`,
      );
      assert.equal(
        problems[0]!.fix,
        "use the `openai` driver with llama.cpp's llama-server or Ollama instead (see docs/MLX_GUIDE.md)",
      );
    }
  });

  it('on Apple silicon with mlx-lm importable: ready, with the interpreter and its version', async () => {
    const env = fakeEnv();
    const report = await driverBackend(mlxSpec(env, APPLE), { env }).preflight();
    assert.equal(report.ready, true, JSON.stringify(report));
    assert.deepEqual(report.problems, []);
    assert.equal(report.details?.path, FAKE_PYTHON);
    assert.equal(report.details?.version, 'Python 3.12.4');
  });

  it('on Apple silicon without mlx-lm: not installed, with pip for that interpreter', async () => {
    const env = fakeEnv('not_installed');
    const report = await driverBackend(mlxSpec(env, APPLE), { env }).preflight();
    assert.equal(report.ready, false);
    const problem = report.problems[0]!;
    assert.equal(problem.kind, 'not_installed');
    assert.match(
      problem.message,
      /mlx-lm is not installed in .*python-mlx: ModuleNotFoundError: No module named 'mlx_lm'/,
    );
    assert.equal(
      problem.fix,
      `${FAKE_PYTHON} -m pip install -U mlx-lm (or set MITTELO_MLX_PYTHON to a Python that has it)`,
    );
  });

  it('on Apple silicon with an mlx-lm that cannot read stdin: refuses, since it would answer the prompt "-"', async () => {
    const env = fakeEnv('old_help');
    const report = await driverBackend(mlxSpec(env, APPLE), { env }).preflight();
    assert.equal(report.ready, false);
    assert.equal(report.problems[0]!.kind, 'config');
    assert.match(report.problems[0]!.message, /cannot read the prompt from stdin/);
  });

  it('with MITTELO_MLX_PYTHON naming nothing: not installed, naming that interpreter', async () => {
    const env = fakeEnv('success', { MITTELO_MLX_PYTHON: join(FAKE_CLIS, 'no-such-python') });
    const report = await driverBackend(mlxSpec(env, APPLE), { env }).preflight();
    assert.equal(report.ready, false);
    assert.equal(report.problems[0]!.kind, 'not_installed');
    assert.match(report.problems[0]!.message, /no-such-python/);
  });
});

describe('mlx driver: runs through the fake interpreter', () => {
  it('answers with the text between the separators and the token counts', async () => {
    const env = fakeEnv('success', { MITTELO_MLX_MODEL: 'mlx-community/Test-4bit' });
    const outcome = await driverBackend(mlxSpec(env), { env }).run(task, run);
    assert.deepEqual(outcome, {
      ok: true,
      output: 'mlx(mlx-community/Test-4bit, 1024) answers: say hi\nplease',
      usage: {
        input_tokens: 31,
        model: 'mlx-community/Test-4bit',
        prompt_tokens_per_sec: 212.904,
        output_tokens: 9,
        generation_tokens_per_sec: 98.114,
        peak_memory_gb: 1.024,
      },
    });
  });

  for (const [mode, kind, fix] of [
    ['not_installed', 'not_installed', /-m pip install -U mlx-lm/],
    ['auth', 'auth', /huggingface-cli login/],
    ['network', 'network', /huggingface\.co/],
    ['rate_limit', 'rate_limit', /wait and retry/],
    ['config', 'config', /pip install -U mlx-lm/],
  ] as const) {
    it(`${mode}: fails with kind ${kind} and its fix`, async () => {
      const env = fakeEnv(mode);
      const outcome = await driverBackend(mlxSpec(env), { env }).run(task, run);
      assert.equal(outcome.ok, false);
      if (outcome.ok) return;
      assert.equal(outcome.kind, kind, outcome.error);
      assert.match(outcome.fix ?? '', fix);
    });
  }

  it('a hung generate: timeout', async () => {
    const env = fakeEnv('hang');
    const outcome = await driverBackend(mlxSpec(env), { env }).run(task, { ...run, timeoutMs: 300 });
    assert.equal(outcome.ok, false);
    if (!outcome.ok) assert.equal(outcome.kind, 'timeout');
  });
});
