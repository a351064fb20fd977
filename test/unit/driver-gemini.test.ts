/**
 * The gemini driver's parts that the recorded outputs do not reach: the command line, the npx
 * fallback, which auth it finds (and says it found), the exit-code rules, the retry signals.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { classify } from '../../src/backends/classify.ts';
import { driverContext, interpretRun, resolveCommand } from '../../src/backends/drivers/driver-backend.ts';
import { findGeminiAuth, gemini, geminiAuthChecks, parseGemini } from '../../src/backends/drivers/gemini.ts';
import { makeTempDir } from '../helpers/hub-process.ts';

const temp = makeTempDir('mittelo-gemini-unit-');
after(() => rmSync(temp, { recursive: true, force: true }));

function folder(name: string): string {
  const path = join(temp, name);
  mkdirSync(path, { recursive: true });
  return path;
}

function executable(dir: string, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\nexit 0\n');
  chmodSync(path, 0o755);
  return path;
}

const context = (env: NodeJS.ProcessEnv, model?: string) => driverContext(gemini, { env, model });

describe('gemini invocation', () => {
  it('pipes the prompt on stdin with no -p, asks for JSON and skips the trust check', () => {
    const run = gemini.invocation('say hi', context({}));
    // No level given: read, gemini's plan (read-only) mode.
    assert.deepEqual(run.args, ['--output-format', 'json', '--skip-trust', '--approval-mode', 'plan']);
    assert.equal(run.input, 'say hi');
  });

  it("takes the model from --model or MITTELO_GEMINI_MODEL, the approval mode from the task's level", () => {
    const env = { MITTELO_GEMINI_MODEL: 'flash' };
    assert.deepEqual(gemini.invocation('x', context(env), { permissions: 'full' }).args, [
      '--output-format',
      'json',
      '--skip-trust',
      '--model',
      'flash',
      '--approval-mode',
      'yolo',
    ]);
    assert.deepEqual(gemini.invocation('x', context(env, 'pro')).args.slice(3, 5), ['--model', 'pro']);
  });
});

describe('gemini command', () => {
  it('falls back to `npx -y @google/gemini-cli` when no gemini is on PATH', () => {
    const bin = folder('npx-only');
    const npx = executable(bin, 'npx');
    const resolved = resolveCommand(gemini, { PATH: bin });
    assert.deepEqual(resolved, {
      command: npx,
      prefixArgs: ['-y', '@google/gemini-cli'],
      path: `${npx} -y @google/gemini-cli`,
      viaFallback: true,
    });
  });

  it('prefers an installed gemini over npx', () => {
    const bin = folder('both');
    executable(bin, 'npx');
    const installed = executable(bin, 'gemini');
    assert.equal(resolveCommand(gemini, { PATH: bin })?.command, installed);
  });

  it('finds nothing without either', () => {
    assert.equal(resolveCommand(gemini, { PATH: folder('empty-bin') }), null);
  });
});

describe('gemini auth', () => {
  it('names the variable it found', () => {
    assert.equal(findGeminiAuth(context({ GEMINI_API_KEY: 'k' })), 'GEMINI_API_KEY is set');
    assert.equal(
      findGeminiAuth(context({ GOOGLE_GENAI_USE_VERTEXAI: 'true' })),
      'GOOGLE_GENAI_USE_VERTEXAI is set',
    );
  });

  it('names the auth method settings.json selects, under HOME or GEMINI_CLI_HOME', () => {
    const home = folder('home-oauth');
    mkdirSync(join(home, '.gemini'));
    const settings = join(home, '.gemini', 'settings.json');
    writeFileSync(
      settings,
      '// comments are allowed\n{"security": {"auth": {"selectedType": "oauth-personal"}}}\n',
    );
    assert.equal(findGeminiAuth(context({ HOME: home })), `${settings} selects oauth-personal`);
    assert.equal(
      findGeminiAuth(context({ HOME: folder('home-none'), GEMINI_CLI_HOME: home })),
      `${settings} selects oauth-personal`,
    );
    assert.equal(
      findGeminiAuth(context({ HOME: folder('home-none'), MITTELO_SUBPROCESS_HOME: home })),
      `${settings} selects oauth-personal`,
    );
  });

  it('finds a key in ~/.gemini/.env', () => {
    const home = folder('home-env');
    mkdirSync(join(home, '.gemini'));
    writeFileSync(join(home, '.gemini', '.env'), 'OTHER=1\nexport GEMINI_API_KEY=abc\n');
    assert.equal(
      findGeminiAuth(context({ HOME: home })),
      `GEMINI_API_KEY is set in ${join(home, '.gemini', '.env')}`,
    );
  });

  it('fails the preflight when settings.json exists but selects no auth method', async () => {
    const home = folder('home-unselected');
    mkdirSync(join(home, '.gemini'));
    writeFileSync(join(home, '.gemini', 'settings.json'), '{"ui": {"theme": "Default"}}');
    assert.equal(findGeminiAuth(context({ HOME: home })), null);
    const problems = await geminiAuthChecks(context({ HOME: home }));
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.severity, 'fail');
    assert.equal(problems[0]!.kind, 'auth');
    assert.match(problems[0]!.message, /no settings\.json selects an auth method/);
    assert.match(problems[0]!.fix!, /set GEMINI_API_KEY/);
  });

  it('leaves a home with no auth files to the preflight, which already reports it', async () => {
    assert.deepEqual(await geminiAuthChecks(context({ HOME: folder('home-bare') })), []);
    assert.deepEqual(await geminiAuthChecks(context({ GEMINI_API_KEY: 'k' })), []);
  });
});

function outcome(exitCode: number, stderr: string, stdout = '') {
  return interpretRun(
    gemini,
    { exitCode, signal: null, stdout, stderr, stdoutCut: 0, timedOut: false, spawnError: null },
    { timeoutMs: 60_000, maxOutputBytes: 1 << 20 },
  );
}

describe('gemini rules', () => {
  it('classifies the documented exit codes', () => {
    const kinds = [42, 44, 52, 53].map((code) => {
      const result = outcome(code, 'Error: something');
      return result.ok ? 'ok' : result.kind;
    });
    assert.deepEqual(kinds, ['config', 'config', 'config', 'unknown']);
    const limit = outcome(53, 'Reached max session turns');
    assert.ok(!limit.ok && limit.fix?.includes('maxSessionTurns'));
  });

  it('classifies a rejected key and a damaged install', () => {
    assert.equal(
      classify(gemini.rules, { exitCode: 1, output: 'API key not valid. Please pass a valid API key.' }).kind,
      'auth',
    );
    assert.equal(
      classify(gemini.rules, {
        exitCode: 1,
        output:
          "Error [ERR_MODULE_NOT_FOUND]: Cannot find module '/usr/lib/node_modules/@google/gemini-cli/bundle/gemini.js'",
      }).kind,
      'not_installed',
    );
  });

  it('reports a JSON error on stdout even when gemini exits 0', () => {
    const result = outcome(
      0,
      '',
      '{"response": "", "error": {"type": "Error", "message": "boom", "code": 1}}',
    );
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.error.includes('boom'));
  });

  it('parses text output too (a gemini that ignored --output-format)', () => {
    assert.deepEqual(parseGemini('plain answer\n', ''), { text: 'plain answer' });
  });
});

describe('gemini signals', () => {
  const signalFor = (line: string) => gemini.signals?.find((signal) => signal.pattern.test(line))?.kind;

  it('stops a 429 retry loop as rate_limit, other retries as network', () => {
    assert.equal(
      signalFor('Attempt 1 failed with status 429. Retrying with backoff... ApiError: {}'),
      'rate_limit',
    );
    assert.equal(
      signalFor(
        'Attempt 2 failed. Retrying with backoff... Error: exception TypeError: fetch failed sending request',
      ),
      'network',
    );
    assert.equal(signalFor('Attempt 1 failed with status 503. Retrying with backoff...'), 'network');
    assert.equal(signalFor('Ripgrep is not available. Falling back to GrepTool.'), undefined);
  });
});
