/**
 * src/workspace/ on real repositories made here: names, the repository check, a worktree made and
 * found again, finishing with uncommitted edits and with a backend's own commit, the diff cap,
 * keeping or removing the folder, and the listing clean-up uses.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkRepository } from '../../src/workspace/repository-check.ts';
import {
  cutDiff,
  finishWorktree,
  listTaskWorktrees,
  prepareWorktree,
  removeWorktree,
} from '../../src/workspace/task-worktree.ts';
import {
  taskBranch,
  taskIdOfName,
  taskWorktreeName,
  worktreeStamp,
} from '../../src/workspace/worktree-names.ts';

const ENV = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: ENV });
}

function repository(commit = true): string {
  const dir = mkdtempSync(join(tmpdir(), 'mittelo-worktree-'));
  made.push(dir);
  git(dir, 'init', '-q', '-b', 'main');
  if (commit) {
    writeFileSync(join(dir, 'a.txt'), 'one\n');
    git(dir, 'add', '.');
    git(dir, '-c', 'user.name=T', '-c', 'user.email=t@localhost', 'commit', '-q', '-m', 'start');
  }
  return execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: dir, encoding: 'utf8' }).trim();
}

describe('worktree names', () => {
  it('names a task by id and created_at, and reads the id back', () => {
    assert.equal(worktreeStamp(1.5), (1500).toString(36));
    assert.equal(taskWorktreeName(7, 1.5), `task-7-${(1500).toString(36)}`);
    assert.equal(taskBranch(7, 1.5), `mittelo/task-7-${(1500).toString(36)}`);
    assert.equal(taskIdOfName('mittelo/task-12-abc'), 12);
    assert.equal(taskIdOfName('feature/x'), null);
  });

  it('cuts a diff at the cap without splitting a character', () => {
    assert.equal(cutDiff('short', 100), 'short');
    const cut = cutDiff('ä'.repeat(10), 5);
    assert.ok(Buffer.byteLength(cut) <= 5);
    assert.equal(cut, 'ää');
    // At a line's end when one is near the cap; mid-line otherwise.
    assert.equal(cutDiff('aaaaaaaaa\nbbbb\n', 11), 'aaaaaaaaa\n');
    assert.equal(cutDiff('a\nbbbbbbbbbbbbb', 8), 'a\nbbbbbb');
  });
});

describe('checkRepository', () => {
  it('accepts a clean checkout and resolves the base', async () => {
    const repo = repository();
    const checked = await checkRepository(repo, 'main');
    assert.equal(checked.root, repo);
    assert.equal(checked.baseCommit, git(repo, 'rev-parse', 'main').trim());
  });

  it('refuses a folder with no commit, a missing base and a dirty checkout, creating nothing', async () => {
    await assert.rejects(checkRepository(repository(false), 'HEAD'), /has no commit yet/);
    const repo = repository();
    await assert.rejects(checkRepository(repo, 'nope'), /base ref "nope" does not exist/);
    writeFileSync(join(repo, 'b.txt'), 'new\n');
    await assert.rejects(checkRepository(repo, 'HEAD'), /uncommitted changes \(1 file, first: b\.txt\)/);
    assert.equal((await checkRepository(repo, 'HEAD', { allowDirty: true })).root, repo);
    assert.ok(!existsSync(join(repo, '.mittelo')));
    const plain = mkdtempSync(join(tmpdir(), 'mittelo-plain-'));
    made.push(plain);
    await assert.rejects(checkRepository(plain, 'HEAD'), /is not inside a git repository/);
  });
});

describe('task worktrees', () => {
  it('makes one, finds it again for a retry, records edits and removes the folder', async () => {
    const repo = repository();
    const first = await prepareWorktree({ repo, taskId: 3, createdAt: 100, baseRef: 'main' });
    assert.equal(first.reused, false);
    assert.equal(
      readFileSync(join(repo, '.mittelo', '.gitignore'), 'utf8')
        .trim()
        .split('\n')
        .at(-1),
      '*',
    );
    writeFileSync(join(first.path, 'a.txt'), 'two\n');
    const again = await prepareWorktree({ repo, taskId: 3, createdAt: 100, baseRef: 'main' });
    assert.equal(again.reused, true);
    assert.equal(again.path, first.path);
    assert.equal(readFileSync(join(again.path, 'a.txt'), 'utf8'), 'two\n', 'the retry sees the last run');
    assert.deepEqual(
      (await listTaskWorktrees(repo)).map((w) => [w.taskId, w.branch]),
      [[3, first.branch]],
    );
    const done = await finishWorktree({ ...again, taskId: 3, prompt: 'Change a\nmore', keep: false });
    assert.equal(done.change.files_changed, 1);
    assert.equal(done.change.insertions, 1);
    assert.equal(done.change.deletions, 1);
    assert.equal(done.committedLeftovers, true);
    assert.match(done.change.diff, /^\+two$/m);
    assert.equal(done.change.diff_truncated, false);
    assert.ok(!existsSync(first.path));
    assert.equal(git(repo, 'log', '-1', '--format=%s', first.branch).trim(), 'mittelo task 3: Change a');
    assert.equal(git(repo, 'status', '--porcelain'), '');
    assert.deepEqual(await listTaskWorktrees(repo), []);
  });

  it("counts a backend's own commit, keeps the folder when asked, and cuts a big diff", async () => {
    const repo = repository();
    const prepared = await prepareWorktree({ repo, taskId: 4, createdAt: 200, baseRef: 'HEAD' });
    writeFileSync(join(prepared.path, 'big.txt'), `${'x'.repeat(100)}\n`.repeat(4000));
    git(prepared.path, 'add', '.');
    git(prepared.path, '-c', 'user.name=B', '-c', 'user.email=b@localhost', 'commit', '-q', '-m', 'backend');
    writeFileSync(join(prepared.path, 'left.txt'), 'left over\n');
    const finished = await finishWorktree({ ...prepared, taskId: 4, prompt: 'big', keep: true });
    assert.equal(finished.commits, 2);
    assert.equal(finished.change.files_changed, 2);
    assert.equal(finished.change.insertions, 4001);
    assert.equal(finished.change.diff_truncated, true);
    assert.ok(Buffer.byteLength(finished.change.diff) <= finished.change.diff_cap_bytes);
    assert.equal(Buffer.byteLength(finished.fullDiff), finished.change.diff_bytes);
    assert.equal(finished.change.kept, true);
    assert.ok(existsSync(prepared.path));
    await removeWorktree(repo, prepared.path);
    assert.ok(!existsSync(prepared.path));
    assert.equal(git(repo, 'rev-parse', prepared.branch).trim(), finished.change.commit);
  });

  it('records nothing changed as commit null, and four at once do not trip over each other', async () => {
    const repo = repository();
    const all = await Promise.all(
      [1, 2, 3, 4].map((id) => prepareWorktree({ repo, taskId: id, createdAt: 300, baseRef: 'main' })),
    );
    const ends = await Promise.all(
      all.map((prepared, k) => {
        if (k > 0) writeFileSync(join(prepared.path, `f${k}.txt`), `${k}\n`);
        return finishWorktree({ ...prepared, taskId: k + 1, prompt: 'p', keep: false });
      }),
    );
    assert.equal(ends[0]!.change.commit, null);
    assert.equal(ends[0]!.change.diff, '');
    assert.deepEqual(
      ends.slice(1).map((end) => end.change.files_changed),
      [1, 1, 1],
    );
    mkdirSync(join(repo, 'sub'), { recursive: true });
    assert.deepEqual(await listTaskWorktrees(repo), []);
  });
});
