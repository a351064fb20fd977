/**
 * The verification runs as a user runs them — `smoke`, `system-run`, `matrix`, `verify-drivers` —
 * with echo and with fake CLIs, and the evidence they leave: files present, fields filled,
 * statuses right. SKIPPED is checked too: a machine that may not listen on localhost (a real
 * bind() that fails with EPERM, through an LD_PRELOAD shim) and a backend that is not logged in.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fakeCliEnv } from '../helpers/fake-cli.ts';
import { makeTempDir, REPO_ROOT } from '../helpers/hub-process.ts';
import { runCli } from '../helpers/run-cli.ts';

const dir = makeTempDir('mittelo-verify-');
const reports = join(dir, 'reports');
const home = join(dir, 'home');
let denyBind = '';
before(() => {
  denyBind = join(dir, 'deny-bind.so');
  execFileSync('cc', [
    '-shared',
    '-fPIC',
    '-o',
    denyBind,
    join(REPO_ROOT, 'test', 'fixtures', 'sandbox', 'deny-bind.c'),
  ]);
});
after(() => rmSync(dir, { recursive: true, force: true }));

const json = (folder: string, file: string) => JSON.parse(readFileSync(join(folder, file), 'utf8'));
const folderOf = (stdout: string) => /^artifacts: (.+)$/m.exec(stdout)![1]!;
/** Ready claude (a key), logged-out codex (its status command says so): the fakes on PATH. */
const fakes = (mode = 'success') =>
  fakeCliEnv(mode, home, { ANTHROPIC_API_KEY: 'sk-ant-test', FAKE_CLI_LOGGED_IN: '0' });

describe('mittelo smoke', () => {
  it('echo + echo: SUCCESS, with run.json, result.json and summary.md filled in', async () => {
    const ran = await runCli(['smoke', '--reports-dir', reports], { cwd: REPO_ROOT });
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /^pair smoke SUCCESS: all 6 tasks done$/m);
    const folder = folderOf(ran.stdout);
    assert.match(folder, /reports\/swarm\/\d{8}-\d{6}_echo_echo$/);
    assert.match(ran.stderr, /· 6\/6 finished \(6 done\)/, 'progress while it runs');
    const info = json(folder, 'run.json');
    assert.match(info.git_sha, /^[0-9a-f]{40}$/, 'run inside the repository: the sha is known');
    assert.equal(info.node, process.version);
    assert.ok(info.platform);
    assert.equal(info.args.backendA, 'echo');
    assert.equal(info.doctor.core.length, 4);
    assert.equal(typeof info.models, 'object');
    const result = json(folder, 'result.json');
    assert.equal(result.ok, true);
    assert.equal(result.error, null);
    assert.equal(result.tasks.length, 6);
    assert.ok(
      result.tasks.every(
        (t: { status: string; latency_ms: number }) => t.status === 'done' && t.latency_ms >= 0,
      ),
    );
    const summary = readFileSync(join(folder, 'summary.md'), 'utf8');
    assert.match(summary, /- status: \*\*SUCCESS\*\*/);
    assert.match(summary, /- latency \(enqueue to done\): p50 \d+ ms, p95 \d+ ms/);
    assert.match(summary, /\| echo \| 6 \| 0 \|/);
  });

  it('a machine that may not listen on localhost: SKIPPED with the exact reason, exit 0', async () => {
    const ran = await runCli(['smoke', '--reports-dir', reports, '--json'], {
      env: { LD_PRELOAD: denyBind },
    });
    assert.equal(ran.code, 0, ran.stderr);
    const result = JSON.parse(ran.stdout);
    assert.equal(result.status, 'SKIPPED');
    assert.match(
      result.reason,
      /cannot listen on 127\.0\.0\.1:0 for the hub: EPERM, operation not permitted/,
    );
    const summary = readFileSync(join(result.folder, 'summary.md'), 'utf8');
    assert.match(summary, /- status: \*\*SKIPPED\*\*\n- reason: cannot listen on .* EPERM/);
    assert.equal(json(result.folder, 'result.json').ok, false);
  });

  it('a backend that is not logged in: SKIPPED, naming it and the fix', async () => {
    const ran = await runCli(['smoke', '--backend-b', 'claude_code', '--reports-dir', reports, '--json'], {
      env: fakeCliEnv('success', home, { FAKE_CLI_LOGGED_IN: '0' }),
    });
    assert.equal(ran.code, 0, ran.stderr);
    const result = JSON.parse(ran.stdout);
    assert.equal(result.status, 'SKIPPED');
    assert.match(
      result.reason,
      /claude_code is not ready: Claude Code is not logged in.*\(fix: run `claude` once/,
    );
  });

  it('echo + a fake claude that answers: SUCCESS with a per-backend split', async () => {
    const ran = await runCli(
      ['smoke', '--backend-b', 'claude_code', '--tasks', '4', '--reports-dir', reports],
      {
        env: fakes(),
      },
    );
    assert.equal(ran.code, 0, ran.stderr);
    const summary = readFileSync(join(folderOf(ran.stdout), 'summary.md'), 'utf8');
    assert.match(summary, /\| claude_code \| 2 \| 0 \|/);
    assert.match(summary, /\| echo \| 2 \| 0 \|/);
  });
});

describe('mittelo system-run', () => {
  it('echo: SUCCESS; result.json has the exit code, latency and output', async () => {
    const ran = await runCli(['system-run', '--backend', 'echo', '--reports-dir', reports, '--json']);
    assert.equal(ran.code, 0, ran.stderr);
    const result = JSON.parse(ran.stdout);
    assert.equal(result.status, 'SUCCESS');
    assert.match(result.folder, /reports\/e2e\/\d{8}-\d{6}_echo$/);
    const saved = json(result.folder, 'result.json');
    assert.equal(saved.rc, 0);
    assert.equal(saved.output, 'echo:Reply with one short sentence that says hello.');
    assert.equal(typeof saved.latency_ms, 'number');
  });

  it('a fake claude that is not logged in: FAILURE (exit 1) with stdout, rc, kind and fix, HOME sandboxed in the run folder', async () => {
    const ran = await runCli(['system-run', '--backend', 'claude_code', '--reports-dir', reports], {
      env: fakes('auth'),
    });
    assert.equal(ran.code, 1);
    assert.match(ran.stdout, /^system run claude_code FAILURE: auth: .*Not logged in/m);
    assert.match(ran.stdout, /^fix: run `claude` once and `\/login`, or set ANTHROPIC_API_KEY$/m);
    const folder = folderOf(ran.stdout);
    const saved = json(folder, 'result.json');
    assert.equal(saved.rc, 1);
    assert.equal(saved.kind, 'auth');
    assert.match(saved.stdout, /"is_error":true/);
    assert.equal(saved.stderr, '');
    assert.equal(saved.home, join(folder, 'home'));
    assert.ok(existsSync(join(folder, 'home', '.config')), 'the sandbox HOME was made for the CLI');
    assert.match(readFileSync(join(folder, 'summary.md'), 'utf8'), /- kind: auth\n- fix: run `claude` once/);
  });
});

describe('mittelo matrix and verify-drivers', () => {
  it('matrix: preflight every included backend, run the ready ones, one table', async () => {
    const ran = await runCli(['matrix', '--include', 'echo,claude_code,codex', '--reports-dir', reports], {
      env: fakes(),
    });
    assert.equal(ran.code, 0, ran.stderr);
    const folder = folderOf(ran.stdout);
    const summary = readFileSync(join(folder, 'summary.md'), 'utf8');
    assert.match(summary, /\| echo \| ready \| SUCCESS \| \d+ \| - \| - \|/);
    assert.match(summary, /\| claude_code \| ready \| SUCCESS \| \d+ \| - \| - \|/);
    assert.match(summary, /\| codex \| not ready \| SKIPPED \| - \| auth \| run `codex login`/);
    const runs = readdirSync(folder).filter((name) => existsSync(join(folder, name, 'result.json')));
    assert.deepEqual(runs.sort(), ['claude_code', 'echo']);
  });

  it('verify-drivers: PASS for a working driver, SKIP for a logged-out one; --strict makes SKIP a FAIL (exit 1)', async () => {
    const args = ['verify-drivers', '--include', 'claude_code,codex', '--reports-dir', reports];
    const lenient = await runCli(args, { env: fakes() });
    assert.equal(lenient.code, 0, lenient.stderr);
    assert.match(lenient.stdout, /^claude_code +PASS +the backend answered/m);
    assert.match(lenient.stdout, /^codex +SKIP +Codex is not logged in/m);
    const folder = folderOf(lenient.stdout);
    assert.match(folder, /reports\/verify_cli_drivers\/\d{8}-\d{6}_all$/);
    assert.match(readFileSync(join(folder, 'summary.md'), 'utf8'), /PASS 1, FAIL 0, SKIP 1/);
    const strict = await runCli([...args, '--strict'], { env: fakes() });
    assert.equal(strict.code, 1);
    assert.match(strict.stdout, /^codex +FAIL +--strict: could not be checked here/m);
    assert.match(strict.stderr, /driver verification failed: codex/);
  });

  it('verify-drivers: a driver that is ready but fails its run is a FAIL', async () => {
    const ran = await runCli(['verify-drivers', '--include', 'claude_code', '--reports-dir', reports], {
      env: fakes('config'),
    });
    assert.equal(ran.code, 1);
    assert.match(ran.stdout, /^claude_code +FAIL +config: /m);
  });
});
