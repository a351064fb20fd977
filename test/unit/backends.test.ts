/**
 * The backend registry and the generic backends: echo, shell (direct spawn vs /bin/sh), folder
 * backends and their lookup order, the subprocess environment, and unknown names.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { backendFolders, findFolderBackend } from '../../src/backends/folder.ts';
import { builtInBackendNames, createBackend, knownBackendNames } from '../../src/backends/registry.ts';
import { shellInvocation } from '../../src/backends/shell.ts';
import { subprocessPlace } from '../../src/backends/subprocess-env.ts';
import type { Backend } from '../../src/backends/types.ts';
import { isMitteloError } from '../../src/errors.ts';
import { HANG_GUARD_MS, makeTempDir, REPO_ROOT } from '../helpers/hub-process.ts';

const dir = makeTempDir('mittelo-backends-');
after(() => rmSync(dir, { recursive: true, force: true }));

const context = () => ({
  signal: new AbortController().signal,
  timeoutMs: HANG_GUARD_MS,
  maxOutputBytes: 1 << 20,
});
const run = (backend: Backend, prompt: string) =>
  backend.run({ task_id: 7, prompt, worker_id: 'w-1' }, context());

function makeFolderBackend(
  root: string,
  name: string,
  file: string,
  body: string,
  executable: boolean,
): void {
  mkdirSync(join(root, name), { recursive: true });
  const path = join(root, name, file);
  writeFileSync(path, body);
  chmodSync(path, executable ? 0o755 : 0o644);
}

describe('echo', () => {
  it('answers echo:<prompt> without a process', async () => {
    const echo = createBackend('echo');
    assert.equal(echo.instant, true);
    assert.deepEqual(await run(echo, 'hi'), { ok: true, output: 'echo:hi' });
    assert.equal((await echo.preflight()).ready, true);
  });
});

describe('shell', () => {
  it('spawns a plain command directly and anything with shell syntax through /bin/sh -c', () => {
    assert.deepEqual(shellInvocation('cat'), { command: 'cat', args: [], label: 'shell command `cat`' });
    assert.deepEqual(shellInvocation(' wc  -c '), {
      command: 'wc',
      args: ['-c'],
      label: 'shell command ` wc  -c `',
    });
    assert.equal(shellInvocation('tr a-z A-Z | rev').command, '/bin/sh');
    assert.equal(shellInvocation('echo "$MITTELO_TASK_ID"').command, '/bin/sh');
    assert.deepEqual(shellInvocation('exit 3').args, ['-c', 'exit 3'], 'a shell builtin needs the shell');
  });

  it('runs the command with the prompt on stdin and the task and worker ids in its environment', async () => {
    const shell = createBackend('shell', { shellCmd: 'cat; echo " $MITTELO_TASK_ID $MITTELO_WORKER_ID"' });
    assert.deepEqual(await run(shell, 'prompt'), { ok: true, output: 'prompt 7 w-1\n' });
  });

  it('fails a non-zero exit with the stderr of the run', async () => {
    const shell = createBackend('shell', { shellCmd: 'echo broken pipe dream >&2; exit 4' });
    const outcome = await run(shell, 'x');
    assert.equal(outcome.ok, false);
    assert.match(!outcome.ok ? outcome.error : '', /exited with code 4: broken pipe dream/);
  });

  it('needs --shell-cmd, and its preflight finds a missing program', async () => {
    assert.throws(() => createBackend('shell'), /--shell-cmd/);
    const report = await createBackend('shell', { shellCmd: 'mittelo-missing-program --x' }).preflight();
    assert.equal(report.ready, false);
    assert.match(report.problems[0]!.message, /mittelo-missing-program is not on PATH/);
    assert.equal((await createBackend('shell', { shellCmd: 'cat' }).preflight()).ready, true);
  });

  it('says which program could not start', async () => {
    const outcome = await run(createBackend('shell', { shellCmd: 'mittelo-missing-program' }), 'x');
    assert.equal(outcome.ok, false);
    assert.equal(!outcome.ok && outcome.kind, 'not_installed');
  });
});

describe('folder backends', () => {
  const first = join(dir, 'first');
  const second = join(dir, 'second');
  makeFolderBackend(first, 'upper', 'run', '#!/bin/sh\ntr a-z A-Z\n', true);
  makeFolderBackend(second, 'upper', 'run', '#!/bin/sh\necho from-second\n', true);
  makeFolderBackend(second, 'pyrev', 'run.py', 'import sys\nprint(sys.stdin.read()[::-1])\n', false);
  makeFolderBackend(second, 'plain', 'run', 'read line; echo "bash read: $line"\n', false);
  makeFolderBackend(second, '_template', 'run', '#!/bin/sh\ncat\n', true);

  it('uses the first folder in lookup order that has the name', async () => {
    const backend = createBackend('upper', { folders: [first, second] });
    assert.deepEqual(await run(backend, 'abc'), { ok: true, output: 'ABC' });
  });

  it('runs run.py with python3 and a non-executable run with bash', async () => {
    const settings = { folders: [first, second] };
    assert.deepEqual(await run(createBackend('pyrev', settings), 'abc'), { ok: true, output: 'cba\n' });
    assert.deepEqual(await run(createBackend('plain', settings), 'hello'), {
      ok: true,
      output: 'bash read: hello\n',
    });
  });

  it('looks in MITTELO_BACKENDS_DIR, then ./backends, then the package backends/', () => {
    const folders = backendFolders({ MITTELO_BACKENDS_DIR: `${first}:${second}` }, dir);
    assert.deepEqual(folders, [first, second, join(dir, 'backends'), join(REPO_ROOT, 'backends')]);
  });

  it('lists folder backends but not _template ones, and never looks outside a folder', () => {
    const names = knownBackendNames({ folders: [first, second] });
    assert.deepEqual(names, [...builtInBackendNames(), 'plain', 'pyrev', 'upper']);
    assert.deepEqual(builtInBackendNames().slice(0, 2), ['echo', 'shell']);
    for (const driver of [
      'claude_code',
      'codex',
      'gemini',
      'opencode',
      'kiro',
      'kimi',
      'mlx',
      'glm',
      'openai',
    ]) {
      assert.ok(builtInBackendNames().includes(driver), driver);
    }
    assert.equal(findFolderBackend('_template', [second]), null);
    assert.equal(findFolderBackend('../second/upper', [first]), null);
  });

  it('ships an example folder backend with the package', async () => {
    const backend = createBackend('upper', { folders: [join(REPO_ROOT, 'backends')] });
    assert.deepEqual(await run(backend, 'shipped'), { ok: true, output: 'SHIPPED' });
  });
});

describe('unknown backends', () => {
  it('fail fast, naming the known backends and how to add a folder backend', () => {
    try {
      createBackend('cladue', { folders: [] });
      assert.fail('expected an error');
    } catch (error) {
      assert.ok(isMitteloError(error));
      assert.match(error.message, /unknown backend "cladue"\. Known backends: echo, shell, .*claude_code/);
      assert.match(error.message, /backends\/cladue\/run/);
    }
  });
});

describe('subprocess environment', () => {
  it('withholds the hub token and moves HOME and the XDG folders under MITTELO_SUBPROCESS_HOME', () => {
    const home = join(dir, 'sandbox');
    const work = join(dir, 'work');
    const place = subprocessPlace(
      { MITTELO_TASK_ID: '1' },
      {
        PATH: '/bin',
        HOME: '/root',
        MITTELO_TOKEN: 'secret',
        MITTELO_SUBPROCESS_HOME: home,
        MITTELO_SUBPROCESS_WORKDIR: work,
      },
    );
    assert.equal(place.env.MITTELO_TOKEN, undefined);
    assert.equal(place.env.HOME, home);
    assert.equal(place.env.XDG_CONFIG_HOME, join(home, '.config'));
    assert.equal(place.env.XDG_CACHE_HOME, join(home, '.cache'));
    assert.equal(place.env.MITTELO_TASK_ID, '1');
    assert.equal(place.cwd, work);
    writeFileSync(join(place.env.XDG_CONFIG_HOME!, 'probe'), 'writable');
    assert.equal(readFileSync(join(home, '.config', 'probe'), 'utf8'), 'writable');
  });

  it('leaves HOME alone without MITTELO_SUBPROCESS_HOME', () => {
    const place = subprocessPlace({}, { HOME: '/home/someone' });
    assert.equal(place.env.HOME, '/home/someone');
    assert.equal(place.cwd, undefined);
  });
});
