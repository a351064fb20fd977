/**
 * A task's own folder (BackendTask.workdir, its worktree) is where a spawned backend runs, over
 * the shared MITTELO_SUBPROCESS_WORKDIR; without one the shared place stays as it was.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { shellBackend } from '../../src/backends/shell.ts';
import type { BackendTask } from '../../src/backends/types.ts';

const root = realpathSync(mkdtempSync(join(tmpdir(), 'mittelo-workdir-')));
after(() => rmSync(root, { recursive: true, force: true }));

const context = { signal: new AbortController().signal, timeoutMs: 60_000, maxOutputBytes: 4096 };
const base: BackendTask = { task_id: 1, prompt: 'pwd', worker_id: 'w', metadata: null };

describe('workdir of spawned backends', () => {
  it('runs in the task workdir, over MITTELO_SUBPROCESS_WORKDIR', async () => {
    const shared = join(root, 'shared');
    const own = mkdtempSync(join(root, 'own-'));
    const previous = process.env.MITTELO_SUBPROCESS_WORKDIR;
    process.env.MITTELO_SUBPROCESS_WORKDIR = shared;
    try {
      const backend = shellBackend('sh');
      const inOwn = await backend.run({ ...base, workdir: own }, context);
      assert.ok(inOwn.ok);
      assert.equal(inOwn.ok && inOwn.output.trim(), own);
      const inShared = await backend.run(base, context);
      assert.equal(inShared.ok && inShared.output.trim(), shared);
    } finally {
      if (previous === undefined) delete process.env.MITTELO_SUBPROCESS_WORKDIR;
      else process.env.MITTELO_SUBPROCESS_WORKDIR = previous;
    }
  });
});
